"""Retrieval for the skill library: the numpy index rebuilt from the store, and FTS5 search.

:class:`RetrievalMixin` holds :meth:`~palaestra.skills.library.SkillLibrary.retrieve` and
:meth:`~palaestra.skills.library.SkillLibrary.search` (see :mod:`palaestra.skills.library`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from palaestra.llm.sqlite import StoreError
from palaestra.llm.vectors import from_blobs, normalize_rows, to_blob, top_k
from palaestra.skills import _library_schema as schema
from palaestra.skills._library_schema import SKILL_STATUSES, Retrieved, SkillRecord
from palaestra.skills._library_store import (
    LibraryBase,
    SkillSourceError,
    _family,
    _int_id,
    _statuses,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Index:
    gen: int
    model: str
    ids: np.ndarray
    families: np.ndarray
    statuses: np.ndarray  # codes: indices into SKILL_STATUSES
    matrix: np.ndarray


class RetrievalMixin(LibraryBase):
    """Retrieval by meaning and full-text search (see the module)."""

    # ----------------------------------------------------------------- retrieval
    def _index_now(self) -> _Index:
        if self.embedder is None:
            raise StoreError(
                "retrieve() needs an embedder: open the library with "
                "SkillLibrary(path, embedder=palaestra.llm.HashingEmbedder()) or another Embedder"
            )
        model = self.model
        for attempt in range(3):
            with self._read() as conn:
                gen = int(conn.execute("SELECT index_gen FROM clock WHERE id = 0").fetchone()[0])
                if (
                    self._index is not None
                    and self._index.gen == gen
                    and self._index.model == model
                ):
                    return self._index
                rows = conn.execute(
                    "SELECT s.id, s.family, s.status, s.name, s.description, s.params, e.vector "
                    "FROM skills s LEFT JOIN embeddings e ON e.skill = s.id AND e.model = ? "
                    "ORDER BY s.id",
                    (model,),
                ).fetchall()
            missing = [r for r in rows if r[6] is None]
            if missing and attempt < 2:
                self._store_vectors(missing)
                continue
            rows = [r for r in rows if r[6] is not None]
            matrix = from_blobs([r[6] for r in rows], self.embedder.dim)
            self._index = _Index(
                gen,
                model,
                np.array([r[0] for r in rows], dtype=np.int64),
                np.array([r[1] for r in rows], dtype=object),
                np.array([SKILL_STATUSES.index(r[2]) for r in rows], dtype=np.int8),
                normalize_rows(matrix),
            )
            log.debug("rebuilt the skill index of %s: %d vectors", self.file, len(rows))
            return self._index
        raise AssertionError("unreachable")  # pragma: no cover

    def _store_vectors(self, rows: Sequence[tuple]) -> None:
        for start in range(0, len(rows), 256):
            chunk = rows[start : start + 256]
            vectors = self._embed([schema.embedding_text(*r[1:2], *r[3:6]) for r in chunk])
            with self._write() as conn:
                self._tick(conn, index=True)
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                    [
                        (r[0], self.model, v.size, to_blob(v))
                        for r, v in zip(chunk, vectors, strict=True)
                    ],
                )

    def _fetch(self, ids: Sequence[int]) -> dict[int, SkillRecord]:
        if not ids:
            return {}
        with self._read() as conn:
            marks = ",".join("?" * len(ids))
            try:
                return {r.id: r for r in self._records(conn, f" WHERE id IN ({marks})", ids)}
            except SkillSourceError:
                pass  # find which ones, one at a time
            out: dict[int, SkillRecord] = {}
            for i in ids:
                try:
                    out.update((r.id, r) for r in self._records(conn, " WHERE id = ?", (i,)))
                except SkillSourceError as err:
                    log.warning("retrieval skips a skill: %s", err)
        return out

    def retrieve(
        self,
        query: str,
        k: int = 5,
        *,
        family: str | None = None,
        status: Sequence[str] | str = ("active",),
        explore: float = 0.0,
        rng: np.random.Generator | int | None = None,
    ) -> list[Retrieved]:
        """The ``k`` skills whose embedding texts are nearest in meaning to ``query``.

        Args:
            query: A goal or a situation, in words.
            k: How many (fewer when the library has fewer).
            family: Only this family's skills (None: all).
            status: The statuses retrieved (default: active only; retired ones only when
                asked for by name).
            explore: The expected share of the ``k`` slots (0-1) given to candidates with
                fewer than ``config.explore_runs`` verified outcomes: ``explore * k`` slots,
                the fraction as a coin flip; each goes to the candidate with the highest
                similarity x a draw from its Beta(1 + s, 1 + f) posterior (Thompson sampling).
            rng: A numpy Generator or a seed for the explore draws (None: fresh entropy).

        Returns:
            Results sorted by similarity, best first (equal: newest first), with statistics.

        Raises:
            ValueError: an empty query, ``k < 1``, a bad status, family or explore share.
            StoreError: the library has no embedder.
        """
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"query must be a non-empty string; got {query!r}")
        k = _int_id(k, "k")
        wanted = _statuses(status)
        fam = None if family is None else _family(family)
        if (
            isinstance(explore, bool)
            or not isinstance(explore, int | float)
            or not 0 <= explore <= 1
        ):
            raise ValueError(f"explore must be a share in [0, 1]; got {explore!r}")
        index = self._index_now()
        if len(index.ids) == 0:
            return []
        q = self._embed([query])[0].astype(np.float32)
        norm = float(np.linalg.norm(q))
        scores = (index.matrix @ (q / norm if norm > 0 else q)).astype(np.float64)
        in_family = np.ones(len(index.ids), bool) if fam is None else index.families == fam
        base = in_family & np.isin(index.statuses, [SKILL_STATUSES.index(w) for w in wanted])
        slots = 0
        if explore > 0:
            gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
            slots = min(k, int(explore * k) + int(gen.random() < explore * k % 1))
        chosen = [int(i) for i in top_k(np.where(base, scores, -np.inf), k, index.ids) if base[i]]
        explored: list[int] = []
        if slots:
            pool = in_family & (index.statuses == SKILL_STATUSES.index("candidate"))
            pool[chosen] = False
            near = [
                int(i) for i in top_k(np.where(pool, scores, -np.inf), 4 * k, index.ids) if pool[i]
            ]
            counts = self._evidence([int(index.ids[i]) for i in near])
            fresh = [
                i
                for i in near
                if sum(counts.get(int(index.ids[i]), (0, 0))) < self.config.explore_runs
            ]
            if fresh:
                draws = [
                    scores[i]
                    * gen.beta(1 + counts[int(index.ids[i])][0], 1 + counts[int(index.ids[i])][1])
                    for i in fresh
                ]
                explored = [fresh[j] for j in np.argsort(draws, kind="stable")[::-1][:slots]]
                chosen = chosen[: k - len(explored)]
        picked = chosen + explored
        records = self._fetch([int(index.ids[i]) for i in picked])
        results = []
        for i in picked:
            record = records.get(int(index.ids[i]))
            # The index may be a write behind: the status read now is the one that counts.
            if record is not None and (
                record.status == "candidate" if i in explored else record.status in wanted
            ):
                results.append(Retrieved(record, float(scores[i]), i in explored))
        results.sort(key=lambda r: (-r.similarity, -r.record.id))
        return results

    def _evidence(self, ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        if not ids:
            return {}
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, successes, failures FROM skills "
                f"WHERE id IN ({','.join('?' * len(ids))})",
                list(ids),
            ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def search(
        self,
        text: str,
        k: int = 5,
        *,
        family: str | None = None,
        status: Sequence[str] | str = ("active",),
    ) -> list[Retrieved]:
        """Full-text search (FTS5, BM25) over names, descriptions and parameters.

        The text's words are matched with OR (any word may match); results are ranked by
        BM25, best first, ``similarity`` being ``-bm25`` (higher is better).

        Raises:
            StoreError: this SQLite has no FTS5 (:attr:`full_text` is False).
            ValueError: a text with no word, ``k < 1``, a bad status or family.
        """
        if not self.full_text:
            raise StoreError(f"full-text search needs SQLite with FTS5; {self.file} has none")
        if not isinstance(text, str):
            raise ValueError(f"text must be a string; got {text!r}")
        words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
        if not words:
            raise ValueError(f"text must contain a word; got {text!r}")
        k = _int_id(k, "k")
        wanted = _statuses(status)
        match = " OR ".join(f'"{w}"' for w in words)
        args: list[Any] = [match, *wanted]
        clause = ""
        if family is not None:
            clause, args = " AND s.family = ?", [*args, _family(family)]
        with self._read() as conn:
            rows = conn.execute(
                "SELECT s.id, -bm25(skills_fts) FROM skills_fts JOIN skills s "
                "ON s.id = skills_fts.rowid WHERE skills_fts MATCH ? "
                f"AND s.status IN ({','.join('?' * len(wanted))}){clause} "
                "ORDER BY bm25(skills_fts), s.id DESC LIMIT ?",
                [*args, k],
            ).fetchall()
        records = self._fetch([r[0] for r in rows])
        return [Retrieved(records[i], float(score)) for i, score in rows if i in records]
