"""The skill library: versioned skills with verified statistics and lineage, in one SQLite file.

Glossary:
    version: one stored text of a skill. A skill is stored by its rendered source
        (:func:`~palaestra.skills.render`) and recompiled on read with
        ``compile_skill(source, family)``; the same source in the same family is the same
        version (:meth:`SkillLibrary.propose` is idempotent), another source under a taken
        name is the next version (1, 2, ...).
    status: ``candidate`` (proposed, not yet proven), ``active`` (proven on the simulator,
        returned by default retrieval) or ``retired`` (pruned or merged away; kept forever,
        never deleted, never returned unless asked for).
    verified run: a run whose postcondition the caller checked on the world after it ran
        (``verified=not unmet_postcondition(skill, observation_after, args)``). A run is a
        **success** only when it ended ``done`` and was verified; a **failure** when it
        ended ``failed``/``budget`` or verification found the postcondition false; a
        ``done`` run with ``verified=None`` is **unverified**: recorded, evidence of nothing.
        An LLM critic's opinion is not a verification and can never promote a skill.
    lineage: ``derived`` (a proposal's ``parents``) and ``merged`` (merge results) links.

API (records are frozen dataclasses: :class:`SkillRecord`, :class:`SkillStats`,
:class:`RunRecord`, :class:`Retrieved`)::

    lib = SkillLibrary(path, embedder=HashingEmbedder())     # or MiniLMEmbedder()
    rec = lib.propose(skill, source="mined", parents=())     # -> SkillRecord (candidate)
    lib.propose_many(skills, source="mined")                 # one transaction
    lib.record_run(rec.id, outcome, verified=not unmet_postcondition(skill, obs, args),
                   agent="a", episode=3, reward=1.0)         # -> RunRecord
    lib.retrieve("get wood", 5, family="craft", status=("active",), explore=0.2, rng=0)
    lib.search("wood tree", 5)                               # FTS5 where available
    lib.get(id); lib.skills(status=..., family=...); lib.lineage(id); lib.runs(id, k=10)
    lib.merge([a, b], into=skill); lib.prune(PruneRule()); lib.retire(id)
    lib.stats(); lib.export(json_path); lib.import_(json_path)

Rules (:class:`LibraryConfig`, defaults in brackets), applied inside the ``BEGIN IMMEDIATE``
transaction that records each run:

- promotion: a candidate becomes active when it has at least ``min_successes`` [3]
  verified successes and the lower ``confidence`` [0.95] bound of its success rate under
  the Beta(1 + successes, 1 + failures) posterior is at least ``promote_at`` [0.5]: four
  verified successes in a row, or 8 of 9, or 14 of 20;
- demotion: an active skill with at least ``demote_after`` [10] verified outcomes whose
  upper bound is below ``demote_below`` [0.25] goes back to candidate;
- retirement happens only through :meth:`~SkillLibrary.prune` (a :class:`PruneRule` or a
  predicate), :meth:`~SkillLibrary.retire` or :meth:`~SkillLibrary.merge`.

Retrieval by meaning: a skill's embedding text is its name (underscores as spaces), its
description and its parameters (``"collect wood: walk dir until next to a tree (dir:
direction)"``). Vectors from the library's ``embedder`` (any :class:`palaestra.llm.base.Embedder`:
``MiniLMEmbedder`` when the ``[llm]`` extra is installed, ``HashingEmbedder`` otherwise)
are float32 BLOBs keyed by the embedder's identity (``ClassName/dim``); skills stored
without one are embedded when the index is next built. The index (a numpy matrix) is
rebuilt from the store whenever ``clock.index_gen``, bumped by every write that changes
what retrieval sees, differs from the one it was built at, so other processes' proposals
and status changes become visible on the next call. Ranking: cosine similarity, ties newest
first. ``explore`` lets candidates with few verified outcomes into part of the result
(Thompson sampling of similarity x a Beta posterior draw, seeded by ``rng``).
:meth:`~SkillLibrary.search` is full-text search (FTS5, BM25) where SQLite has FTS5.

Store conventions: :mod:`palaestra.llm.sqlite` (WAL, ``synchronous=FULL``: a run whose
``record_run`` returned survives a kill and a power loss; busy timeout; schema version with
migrations, a newer file refused). Many agents, threads and processes share one library:
each process opens its own :class:`SkillLibrary`. The run log is bounded by
``max_runs`` (oldest rows evicted); the per-skill counters stay exact.

Export/import: :meth:`~SkillLibrary.export` writes JSON atomically (temporary file, fsync,
rename); :meth:`~SkillLibrary.import_` adds every skill as a ``candidate`` (statistics in the
file are informational, never imported; a skill already in the library keeps its record).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from palaestra.llm.sqlite import (
    MissingRecordError,
    file_bytes,
    schema_version,
)
from palaestra.skills import _library_schema as schema
from palaestra.skills._library_retrieval import RetrievalMixin
from palaestra.skills._library_schema import (
    ORIGINS,
    SKILL_STATUSES,
    LibraryConfig,
    PruneRule,
    Retrieved,
    RunRecord,
    SkillRecord,
    SkillStats,
)
from palaestra.skills._library_store import SkillSourceError, _int_id, _statuses
from palaestra.skills.language import Skill
from palaestra.skills.parse import compile_skill
from palaestra.skills.runner import STATUSES, Outcome

log = logging.getLogger(__name__)

__all__ = [
    "EXPORT_FORMAT",
    "ORIGINS",
    "SKILL_STATUSES",
    "LibraryConfig",
    "PruneRule",
    "Retrieved",
    "RunRecord",
    "SkillLibrary",
    "SkillRecord",
    "SkillSourceError",
    "SkillStats",
]

EXPORT_FORMAT = "palaestra-skill-library/1"


class SkillLibrary(RetrievalMixin):
    """Skills with verified statistics, lineage and retrieval in one SQLite file (see module).

    Args:
        path: The database file (its missing folders are created), or an existing folder
            (the file is then ``path / "skills.sqlite"``).
        embedder: An :class:`~palaestra.llm.base.Embedder` for :meth:`retrieve`, or None.
        config: Promotion, demotion, exploration and bounds (:class:`LibraryConfig`).
        timeout: Seconds a writer waits for another process's write lock.
        synchronous: ``"FULL"`` (commits survive a power loss) or ``"NORMAL"``.

    Raises:
        ValueError: a bad embedder or config.
        palaestra.llm.sqlite.StoreVersionError: the file was written by a newer version.
        palaestra.llm.sqlite.CorruptStoreError: the file is not a sound SQLite database.
    """

    def propose(
        self, skill: Skill, *, source: str = "human", parents: Sequence[int] = ()
    ) -> SkillRecord:
        """Add a skill as a ``candidate`` (its callees too); the same source returns its record.

        Args:
            skill: A compiled skill (:func:`~palaestra.skills.compile_skill`).
            source: Who proposes it: ``mined``, ``llm``, ``human`` or ``import``.
            parents: Ids of the versions it derives from (lineage ``derived``).

        Returns:
            The new record, or the existing one (any status: a retired skill is not revived).

        Raises:
            ValueError: not a Skill, an unknown family, a bad origin or parent id.
            MissingRecordError: a parent that is not in the library.
        """
        skill = self._check_skill(skill)
        if source not in ORIGINS or source == "merge":
            raise ValueError(f"source must be one of mined, llm, human, import; got {source!r}")
        if isinstance(parents, str | bytes) or not isinstance(parents, Sequence):
            raise ValueError(f"parents must be a sequence of skill ids; got {parents!r}")
        parent_ids = sorted({_int_id(p, "parent id") for p in parents})
        flat: dict[tuple[str, str], Skill] = {}
        self._flatten(skill, flat)
        vectors = dict(zip(flat, self._vectors(list(flat.values())), strict=True))
        with self._write() as conn:
            self._exist(conn, parent_ids, self.file)
            new, _ = self._insert(
                conn, skill, source, vectors, [(p, "derived") for p in parent_ids]
            )
        return self.get(new)

    def propose_many(self, skills: Sequence[Skill], *, source: str = "mined") -> list[SkillRecord]:
        """:meth:`propose` several skills (no parents) in one transaction, embedded in one batch.

        Returns:
            Their records, in the order given (a repeated source gives the same record).
        """
        if isinstance(skills, str | bytes) or not isinstance(skills, Sequence):
            raise ValueError(f"skills must be a sequence of Skill; got {skills!r}")
        checked = [self._check_skill(s, f"skills[{i}]") for i, s in enumerate(skills)]
        if source not in ORIGINS or source == "merge":
            raise ValueError(f"source must be one of mined, llm, human, import; got {source!r}")
        flat: dict[tuple[str, str], Skill] = {}
        for skill in checked:
            self._flatten(skill, flat)
        vectors = dict(zip(flat, self._vectors(list(flat.values())), strict=True))
        with self._write() as conn:
            ids = [self._insert(conn, s, source, vectors)[0] for s in checked]
        found: dict[int, SkillRecord] = {}
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                chunk = sorted(set(ids[start : start + 500]))
                marks = ",".join("?" * len(chunk))
                found.update(
                    (r.id, r) for r in self._records(conn, f" WHERE id IN ({marks})", chunk)
                )
        return [found[i] for i in ids]

    # ----------------------------------------------------------------- runs
    def _next_status(self, status: str, stats: SkillStats) -> str:
        cfg = self.config
        if (
            status == "candidate"
            and stats.successes >= cfg.min_successes
            and stats.lower(cfg.confidence) >= cfg.promote_at
        ):
            return "active"
        if (
            status == "active"
            and stats.evidence >= cfg.demote_after
            and stats.upper(cfg.confidence) < cfg.demote_below
        ):
            return "candidate"
        return status

    def record_run(
        self,
        skill_id: int,
        outcome: Outcome | str,
        *,
        verified: bool | None = None,
        agent: str | None = None,
        episode: int | None = None,
        steps: int | None = None,
        reward: float | None = None,
    ) -> RunRecord:
        """Record one run and update the skill's counters and status in one transaction.

        Args:
            skill_id: The version that ran.
            outcome: The runner's :class:`~palaestra.skills.Outcome`, or its status text.
            verified: The simulator's check of the postcondition on the world after the run
                (``not unmet_postcondition(skill, observation, args)``); None: not checked.
            agent: Who ran it.
            episode: The episode it ran in.
            steps: Actions taken (default: ``outcome.steps``, or 0 for a status text).
            reward: Env reward over the run, or None.

        Returns:
            The run, with the skill's status after it (``active`` when this run promoted it).

        Raises:
            MissingRecordError: no such skill.
            ValueError: a bad outcome, verified flag, steps, reward, agent or episode.
        """
        skill_id = _int_id(skill_id)
        if isinstance(outcome, Outcome):
            status, reason, default_steps = outcome.status, outcome.reason, outcome.steps
        elif isinstance(outcome, str):
            status, reason, default_steps = outcome, "", 0
        else:
            raise ValueError(f"outcome must be an Outcome or one of {STATUSES}; got {outcome!r}")
        if status not in STATUSES:
            raise ValueError(f"outcome status must be one of {STATUSES}; got {status!r}")
        if verified is not None and not isinstance(verified, bool | np.bool_):
            raise ValueError(f"verified must be True, False or None; got {verified!r}")
        steps = default_steps if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be an int >= 0; got {steps!r}")
        if reward is not None and (
            isinstance(reward, bool)
            or not isinstance(reward, int | float)
            or not np.isfinite(reward)
        ):
            raise ValueError(f"reward must be a finite number or None; got {reward!r}")
        if agent is not None and not isinstance(agent, str):
            raise ValueError(f"agent must be a string or None; got {agent!r}")
        if episode is not None and (isinstance(episode, bool) or not isinstance(episode, int)):
            raise ValueError(f"episode must be an int or None; got {episode!r}")
        verified = None if verified is None else bool(verified)
        success = status == "done" and verified is True
        failure = status != "done" or verified is False
        with self._write() as conn:
            row = conn.execute(
                "SELECT status, runs, successes, failures, unverified, steps, reward "
                "FROM skills WHERE id = ?",
                (skill_id,),
            ).fetchone()
            if row is None:
                raise MissingRecordError(f"no skill {skill_id} in {self.file}")
            old = row[0]
            stats = schema.stats_from_row(row[1:])
            stats = SkillStats(
                stats.runs + 1,
                stats.successes + success,
                stats.failures + failure,
                stats.unverified + (not success and not failure),
                stats.steps + steps,
                stats.reward + (reward or 0.0),
            )
            new_status = self._next_status(old, stats)
            seq = self._tick(conn, index=new_status != old)
            run = conn.execute(
                "INSERT INTO runs (skill, status, verified, success, steps, reward, agent, "
                "episode, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (skill_id, status, verified, success, steps, reward, agent, episode, reason, seq),
            ).lastrowid
            note = "" if new_status == old else f"{old} -> {new_status} after run {run}"
            conn.execute(
                "UPDATE skills SET runs = ?, successes = ?, failures = ?, unverified = ?, "
                "steps = ?, reward = ?, status = ?, updated = ?, "
                "note = CASE WHEN ? = '' THEN note ELSE ? END WHERE id = ?",
                (*stats.as_dict().values(), new_status, seq, note, note, skill_id),
            )
            conn.execute("DELETE FROM runs WHERE id <= ?", (run - self.config.max_runs,))
        if note:
            log.info("skill %d: %s", skill_id, note)
        return RunRecord(
            run,
            skill_id,
            status,
            verified,
            success,
            steps,
            reward,
            agent,
            episode,
            reason,
            seq,
            new_status,
        )

    def runs(self, skill_id: int | None = None, *, k: int | None = None) -> list[RunRecord]:
        """Recorded runs (of one skill, or all) still in the run log, newest first."""
        where, args = "", []
        if skill_id is not None:
            where, args = " WHERE skill = ?", [_int_id(skill_id)]
        if k is not None:
            args.append(_int_id(k, "k"))
        limit = "" if k is None else " LIMIT ?"
        with self._read() as conn:
            rows = conn.execute(
                "SELECT r.id, r.skill, r.status, r.verified, r.success, r.steps, r.reward, "
                "r.agent, r.episode, r.reason, r.created, s.status FROM runs r "
                f"JOIN skills s ON s.id = r.skill{where.replace('skill', 'r.skill')} "
                f"ORDER BY r.id DESC{limit}",
                args,
            ).fetchall()
        return [
            RunRecord(r[0], r[1], r[2], None if r[3] is None else bool(r[3]), bool(r[4]), *r[5:])
            for r in rows
        ]

    def retire(self, skill_id: int, *, note: str = "retired by hand") -> SkillRecord:
        """Retire one version (never deleted; it keeps its runs and lineage)."""
        skill_id = _int_id(skill_id)
        if not isinstance(note, str):
            raise ValueError(f"note must be a string; got {note!r}")
        with self._write() as conn:
            self._exist(conn, [skill_id], self.file)
            self._retire(conn, [skill_id], note, None)
        return self.get(skill_id)

    def prune(self, rule: PruneRule | Callable[[SkillRecord], bool] | None = None) -> list[int]:
        """Retire every candidate or active skill the rule picks, in one transaction.

        Args:
            rule: A :class:`PruneRule` (default: ``PruneRule()``) or a predicate on
                :class:`SkillRecord` (True: retire).

        Returns:
            The ids retired, ascending.
        """
        rule = PruneRule() if rule is None else rule
        if not isinstance(rule, PruneRule) and not callable(rule):
            raise ValueError(f"rule must be a PruneRule or a predicate; got {rule!r}")
        with self._write() as conn:
            seq = int(conn.execute("SELECT seq FROM clock WHERE id = 0").fetchone()[0])
            live = self._records(conn, " WHERE status != 'retired' ORDER BY id")
            if isinstance(rule, PruneRule):
                chosen = [r.id for r in live if rule.retires(r, seq)]
                note = f"pruned by {rule}"
            else:
                chosen = [r.id for r in live if rule(r)]
                note = f"pruned by {getattr(rule, '__name__', 'a predicate')}"
            if chosen:
                self._retire(conn, chosen, note, None)
        log.info("pruned %d skills from %s", len(chosen), self.file)
        return chosen

    def merge(self, ids: Sequence[int], into: Skill, *, note: str = "") -> SkillRecord:
        """Replace near-duplicates by one version with ``merged`` lineage to each of them.

        ``into`` becomes a new ``candidate`` version (it must earn promotion like any other),
        unless its source is already in the library: then that version (one of ``ids``, say)
        is the survivor and keeps its status and statistics. Every other version of ``ids``
        is retired with ``superseded_by`` set to the survivor.

        Raises:
            ValueError: no ids, a family other than ``into``'s, a retired version or survivor.
            MissingRecordError: an unknown id.
        """
        if isinstance(ids, str | bytes) or not isinstance(ids, Sequence) or not ids:
            raise ValueError(f"ids must be a non-empty sequence of skill ids; got {ids!r}")
        wanted = sorted({_int_id(i) for i in ids})
        into = self._check_skill(into, "into")
        flat: dict[tuple[str, str], Skill] = {}
        self._flatten(into, flat)
        vectors = dict(zip(flat, self._vectors(list(flat.values())), strict=True))
        with self._write() as conn:
            for sid, family, status in self._exist(conn, wanted, self.file):
                if family != into.family:
                    raise ValueError(f"skill {sid} is a {family} skill; into is {into.family}")
                if status == "retired":
                    raise ValueError(f"skill {sid} is retired and cannot be merged")
            survivor, _ = self._insert(conn, into, "merge", vectors)
            if (
                conn.execute("SELECT status FROM skills WHERE id = ?", (survivor,)).fetchone()[0]
                == "retired"
            ):
                raise ValueError(f"into is skill {survivor}, which is retired")
            others = [i for i in wanted if i != survivor]
            conn.executemany(
                "INSERT OR IGNORE INTO lineage VALUES (?, ?, 'merged')",
                [(survivor, i) for i in others],
            )
            if others:
                self._retire(conn, others, note or f"merged into skill {survivor}", survivor)
        return self.get(survivor)

    # ----------------------------------------------------------------- statistics
    def stats(self) -> dict[str, Any]:
        """Counts by status, by family and by both, runs logged, schema version and sizes."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT family, status, COUNT(*), SUM(runs) FROM skills GROUP BY family, status"
            ).fetchall()
            logged = int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
            version = schema_version(conn)
        by_status = dict.fromkeys(SKILL_STATUSES, 0)
        by_family: dict[str, int] = {}
        both: dict[str, dict[str, int]] = {}
        for family, status, count, _ in rows:
            by_status[status] += count
            by_family[family] = by_family.get(family, 0) + count
            both.setdefault(family, dict.fromkeys(SKILL_STATUSES, 0))[status] = count
        return {
            "skills": sum(by_status.values()),
            "by_status": by_status,
            "by_family": by_family,
            "by_family_status": both,
            "runs": sum(int(r[3] or 0) for r in rows),
            "runs_logged": logged,
            "schema_version": version,
            "full_text": self.full_text,
            **file_bytes(self.file),
        }

    # ----------------------------------------------------------------- export / import
    def export(
        self, path: str | os.PathLike[str], *, status: Sequence[str] | str = ("candidate", "active")
    ) -> int:
        """Write skills of ``status`` (and every callee they need) to a JSON file, atomically.

        Returns:
            How many skill versions were written.
        """
        wanted = _statuses(status)
        with self._read() as conn:
            ids = {
                r[0]
                for r in conn.execute(
                    f"SELECT id FROM skills WHERE status IN ({','.join('?' * len(wanted))})", wanted
                )
            }
            frontier = list(ids)
            while frontier:
                marks = ",".join("?" * len(frontier))
                found = {
                    r[0]
                    for r in conn.execute(
                        f"SELECT callee FROM calls WHERE caller IN ({marks})", frontier
                    )
                }
                frontier = list(found - ids)
                ids |= found
            records = self._records(conn, " ORDER BY id") if ids else []
        entries = [
            {
                "id": r.id,
                "family": r.family,
                "name": r.name,
                "version": r.version,
                "status": r.status,
                "origin": r.origin,
                "source": r.source,
                "parents": [p for p in r.parents if p in ids],
                "calls": list(r.calls),
                "stats": r.stats.as_dict(),
            }
            for r in records
            if r.id in ids
        ]
        payload = {
            "format": EXPORT_FORMAT,
            "schema_version": schema.SCHEMA_VERSION,
            "skills": entries,
        }
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return len(entries)

    def import_(self, path: str | os.PathLike[str]) -> list[SkillRecord]:
        """Add every skill of an :meth:`export` file as a ``candidate``, in one transaction.

        Every entry is compiled first (a bad one raises ``ValueError`` naming it, and nothing
        is written). Statistics in the file are not imported; lineage within the file is
        kept; a source already in the library keeps its record and status.

        Returns:
            The records of the file's skills, in the file's order.
        """
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"cannot read a skill export from {path}: {err}") from err
        if not isinstance(payload, dict) or payload.get("format") != EXPORT_FORMAT:
            raise ValueError(f"{path} is not a skill library export (format {EXPORT_FORMAT})")
        compiled: dict[int, Skill] = {}
        parents: dict[int, list[int]] = {}
        for n, entry in enumerate(payload.get("skills", [])):
            try:
                sid, calls = int(entry["id"]), [int(c) for c in entry.get("calls", [])]
                callees = {compiled[c].name: compiled[c] for c in calls}
                # Parents must come earlier in the file (an entry is not its own parent).
                earlier = [int(p) for p in entry.get("parents", []) if int(p) in compiled]
                compiled[sid] = compile_skill(entry["source"], entry["family"], skills=callees)
                parents[sid] = earlier
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{path}: skill entry {n} cannot be imported: {err!r}") from err
        flat: dict[tuple[str, str], Skill] = {}
        for skill in compiled.values():
            self._flatten(skill, flat)
        vectors = dict(zip(flat, self._vectors(list(flat.values())), strict=True))
        mapped: dict[int, int] = {}
        with self._write() as conn:
            for sid, skill in compiled.items():
                links = [(mapped[p], "derived") for p in parents[sid]]
                mapped[sid], _ = self._insert(conn, skill, "import", vectors, links)
        with self._read() as conn:
            marks = ",".join("?" * len(mapped))
            found = (
                {
                    r.id: r
                    for r in self._records(conn, f" WHERE id IN ({marks})", list(mapped.values()))
                }
                if mapped
                else {}
            )
        return [found[mapped[sid]] for sid in compiled]
