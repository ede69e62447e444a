"""The skill library's storage layer: opening, records, inserting versions, retiring.

:class:`LibraryBase` is the part of :class:`~palaestra.skills.library.SkillLibrary` that owns
the connection (see :mod:`palaestra.skills.library` for the rules and
:mod:`palaestra.skills._library_schema` for the tables).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from palaestra.llm.base import Embedder
from palaestra.llm.sqlite import (
    MissingRecordError,
    StoreError,
    open_database,
    read_transaction,
    write_transaction,
)
from palaestra.llm.vectors import embedder_identity, to_blob
from palaestra.skills import _library_schema as schema
from palaestra.skills._library_schema import SKILL_STATUSES, LibraryConfig, SkillRecord
from palaestra.skills.families import vocabulary
from palaestra.skills.language import Skill, SkillError, render
from palaestra.skills.parse import compile_skill

log = logging.getLogger(__name__)
_L = TypeVar("_L", bound="LibraryBase")

_COLUMNS = (
    "id, family, name, version, status, origin, source, runs, successes, failures, "
    "unverified, steps, reward, created, updated, superseded_by, note"
)


class SkillSourceError(StoreError):
    """A stored skill's source no longer compiles (the message names the skill id)."""


def _int_id(value: Any, name: str = "skill_id") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be an int >= 1; got {value!r}")
    return int(value)


def _statuses(status: Sequence[str] | str) -> tuple[str, ...]:
    found = (status,) if isinstance(status, str) else tuple(status)
    bad = [s for s in found if s not in SKILL_STATUSES]
    if bad or not found:
        raise ValueError(f"status must be some of {SKILL_STATUSES}; got {status!r}")
    return found


def _family(family: Any) -> str:
    if not isinstance(family, str):
        raise ValueError(f"family must be a string; got {family!r}")
    return vocabulary(family).family  # ValueError naming the known families


class LibraryBase:
    """The connection, records and inserts of a skill library (see the module)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        embedder: Embedder | None = None,
        config: LibraryConfig | None = None,
        timeout: float = 30.0,
        synchronous: str = "FULL",
    ) -> None:
        if embedder is not None and (
            not callable(getattr(embedder, "embed", None))
            or not isinstance(getattr(embedder, "dim", None), int)
        ):
            raise ValueError(
                f"embedder must have an int `dim` and `embed(texts)`; got {embedder!r}"
            )
        if config is not None and not isinstance(config, LibraryConfig):
            raise ValueError(f"config must be a LibraryConfig; got {config!r}")
        self.embedder = embedder
        self.config = config or LibraryConfig()
        path = Path(path)
        self.file = path / schema.FILENAME if path.is_dir() else path
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = open_database(
            self.file,
            schema.MIGRATIONS,
            app_id=schema.APPLICATION_ID,
            timeout=timeout,
            synchronous=synchronous,
        )
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._index: Any = None  # the retrieval index (_library_retrieval._Index)
        self._compiled: dict[int, Skill] = {}
        found = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name='skills_fts'")
        self.full_text = found.fetchone() is not None and schema.has_fts5(self._conn)
        """Whether :meth:`search` works (the file has the FTS5 index and SQLite has FTS5)."""

    # ----------------------------------------------------------------- plumbing
    @property
    def model(self) -> str | None:
        """The embedder's identity as stored beside its vectors (:func:`embedder_identity`)."""
        return None if self.embedder is None else embedder_identity(self.embedder)

    def close(self) -> None:
        """Close the connection (idempotent); the file keeps everything committed."""
        with self._lock:
            if self._conn is not None and os.getpid() == self._pid:
                self._conn.close()
            self._conn = None

    def __enter__(self: _L) -> _L:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SkillLibrary({str(self.file)!r}, embedder={self.model})"

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the skill library {self.file} is closed")
        if os.getpid() != self._pid:
            raise StoreError(
                f"open the skill library {self.file} again in each process (pid {os.getpid()})"
            )
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, write_transaction(self._db()) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock, read_transaction(self._db()) as conn:
            yield conn

    @staticmethod
    def _tick(conn: sqlite3.Connection, *, index: bool = False) -> int:
        bump = ", index_gen = index_gen + 1" if index else ""
        conn.execute(f"UPDATE clock SET seq = seq + 1{bump} WHERE id = 0")
        return int(conn.execute("SELECT seq FROM clock WHERE id = 0").fetchone()[0])

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.embedder is None:
            raise StoreError(f"{self.file}: embedding needs an embedder")
        vectors = np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.embedder.dim):
            raise StoreError(
                f"{self.model} returned shape {vectors.shape} for {len(texts)} texts; "
                f"expected ({len(texts)}, {self.embedder.dim})"
            )
        return vectors

    # ----------------------------------------------------------------- reading records
    def _compile(self, conn: sqlite3.Connection, skill_id: int, family: str, source: str) -> Skill:
        cached = self._compiled.get(skill_id)
        if cached is not None:
            return cached
        callees = {}
        for callee, cfam, csource in conn.execute(
            "SELECT s.id, s.family, s.source FROM calls c JOIN skills s ON s.id = c.callee "
            "WHERE c.caller = ? ORDER BY s.id",
            (skill_id,),
        ).fetchall():
            compiled = self._compile(conn, callee, cfam, csource)
            callees[compiled.name] = compiled
        try:
            skill = compile_skill(source, family, skills=callees)
        except (SkillError, ValueError) as err:
            raise SkillSourceError(
                f"skill {skill_id} in {self.file} no longer compiles as a {family} skill: {err}"
            ) from err
        if len(self._compiled) >= 8192:
            self._compiled.clear()
        self._compiled[skill_id] = skill
        return skill

    def _records(
        self, conn: sqlite3.Connection, where: str = "", args: Sequence[Any] = ()
    ) -> list[SkillRecord]:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM skills{where}", tuple(args)).fetchall()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        links: dict[int, list[int]] = {i: [] for i in ids}
        calls: dict[int, list[int]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for child, parent in conn.execute(
                f"SELECT child, parent FROM lineage WHERE child IN ({marks}) ORDER BY parent", chunk
            ):
                links[child].append(parent)
            for caller, callee in conn.execute(
                f"SELECT caller, callee FROM calls WHERE caller IN ({marks}) ORDER BY callee", chunk
            ):
                calls[caller].append(callee)
        out = []
        for r in rows:
            sid, family, name, version, status, origin, source = r[:7]
            out.append(
                SkillRecord(
                    sid,
                    family,
                    name,
                    version,
                    status,
                    origin,
                    source,
                    self._compile(conn, sid, family, source),
                    schema.stats_from_row(r[7:13]),
                    tuple(links[sid]),
                    tuple(calls[sid]),
                    r[13],
                    r[14],
                    r[15],
                    r[16],
                )
            )
        return out

    def get(self, skill_id: int) -> SkillRecord:
        """The skill version with this id, its skill recompiled from the stored source.

        Raises:
            MissingRecordError: no such id.
            SkillSourceError: its stored source no longer compiles (naming the id).
        """
        skill_id = _int_id(skill_id)
        with self._read() as conn:
            found = self._records(conn, " WHERE id = ?", (skill_id,))
        if not found:
            raise MissingRecordError(f"no skill {skill_id} in {self.file}")
        return found[0]

    def skills(
        self, *, status: Sequence[str] | str | None = None, family: str | None = None
    ) -> list[SkillRecord]:
        """Skill versions in id order, optionally only of some statuses and one family."""
        where, args = [], []
        if status is not None:
            wanted = _statuses(status)
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            args += wanted
        if family is not None:
            where.append("family = ?")
            args.append(_family(family))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._read() as conn:
            return self._records(conn, clause + " ORDER BY id", args)

    def lineage(self, skill_id: int) -> list[SkillRecord]:
        """Every ancestor (parents, their parents...) of a skill version, newest id first."""
        skill_id = _int_id(skill_id)
        with self._read() as conn:
            if conn.execute("SELECT 1 FROM skills WHERE id = ?", (skill_id,)).fetchone() is None:
                raise MissingRecordError(f"no skill {skill_id} in {self.file}")
            ids = [
                r[0]
                for r in conn.execute(
                    "WITH RECURSIVE up(id) AS (SELECT parent FROM lineage WHERE child = ? "
                    "UNION SELECT l.parent FROM lineage l JOIN up ON l.child = up.id) "
                    "SELECT id FROM up",
                    (skill_id,),
                )
            ]
            marks = ",".join("?" * len(ids))
            return (
                self._records(conn, f" WHERE id IN ({marks}) ORDER BY id DESC", ids) if ids else []
            )

    # ----------------------------------------------------------------- proposing
    def _flatten(self, skill: Skill, out: dict[tuple[str, str], Skill]) -> None:
        for callee in skill.callees:
            self._flatten(callee, out)
        out.setdefault((skill.family, render(skill)), skill)

    def _check_skill(self, skill: Any, name: str = "skill") -> Skill:
        if not isinstance(skill, Skill):
            raise ValueError(f"{name} must be a compiled Skill (compile_skill); got {skill!r}")
        _family(skill.family)
        text = render(skill)
        try:
            again = compile_skill(text, skill.family, skills={c.name: c for c in skill.callees})
        except SkillError as err:
            raise ValueError(
                f"{name} {skill.name!r} does not compile from its source: {err}"
            ) from err
        if again != skill:
            raise ValueError(f"{name} {skill.name!r} does not survive render and compile_skill")
        return skill

    def _vectors(self, skills: Sequence[Skill]) -> list[np.ndarray | None]:
        if self.embedder is None or not skills:
            return [None] * len(skills)
        texts = [
            schema.embedding_text(s.family, s.name, s.description, schema.params_text(s))
            for s in skills
        ]
        return list(self._embed(texts))

    def _insert(
        self,
        conn: sqlite3.Connection,
        skill: Skill,
        origin: str,
        vectors: dict[tuple[str, str], np.ndarray | None],
        parents: Sequence[tuple[int, str]] = (),
    ) -> tuple[int, bool]:
        """Insert one version (its callees first); an existing source returns its id."""
        text = render(skill)
        # The rendered text names callees but not their versions: the digest also covers the
        # exact callee versions, so a caller compiled against another version is another skill.
        callees = [self._insert(conn, c, origin, vectors)[0] for c in skill.callees]
        keyed = text + "".join(f"\ncalls {i}" for i in callees)
        digest = hashlib.sha256(keyed.encode()).hexdigest()
        row = conn.execute(
            "SELECT id FROM skills WHERE family = ? AND digest = ?", (skill.family, digest)
        ).fetchone()
        if row is not None:
            return int(row[0]), False
        seq = self._tick(conn, index=True)
        version = conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM skills WHERE family = ? AND name = ?",
            (skill.family, skill.name),
        ).fetchone()[0]
        new = conn.execute(
            "INSERT INTO skills (family, name, version, digest, source, description, params, "
            "origin, status, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'candidate', ?, ?)",
            (
                skill.family,
                skill.name,
                version,
                digest,
                text,
                skill.description,
                schema.params_text(skill),
                origin,
                seq,
                seq,
            ),
        ).lastrowid
        conn.executemany("INSERT OR IGNORE INTO calls VALUES (?, ?)", [(new, c) for c in callees])
        conn.executemany(
            "INSERT OR IGNORE INTO lineage VALUES (?, ?, ?)", [(new, p, rel) for p, rel in parents]
        )
        vector = vectors.get((skill.family, text))
        if vector is not None:
            conn.execute(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                (new, self.model, vector.size, to_blob(vector)),
            )
        return int(new), True

    @staticmethod
    def _exist(conn: sqlite3.Connection, ids: Sequence[int], file: Path) -> list[tuple]:
        rows = []
        for i in ids:
            row = conn.execute(
                "SELECT id, family, status FROM skills WHERE id = ?", (i,)
            ).fetchone()
            if row is None:
                raise MissingRecordError(f"no skill {i} in {file}")
            rows.append(row)
        return rows

    # ----------------------------------------------------------------- status changes
    def _retire(
        self, conn: sqlite3.Connection, ids: Sequence[int], note: str, by: int | None
    ) -> None:
        seq = self._tick(conn, index=True)
        conn.executemany(
            "UPDATE skills SET status = 'retired', updated = ?, note = ?, "
            "superseded_by = COALESCE(?, superseded_by) WHERE id = ?",
            [(seq, note, by, i) for i in ids],
        )
