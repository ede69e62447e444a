"""Semantic and episodic memory for agents: one SQLite store per memory folder.

Glossary:
    fact, counters, insight: semantic memory, see :mod:`palaestra.memory.semantic`
        (:class:`MemoryStore` has all of its methods: ``learn``, ``fact``, ``facts``,
        ``forget``, ``add_counts``, ``counts``, ``add_insight``, ``upvote``, ``downvote``,
        ``edit_insight``, ``insights``).
    episode: episodic memory, one row per finished episode: a summary, a JSON outcome, the
        key events as short texts (in their own table), the task and seed, and the
        summary's embedding (in its own table).
    sequence number: ``created`` of an episode and ``updated`` of a fact or insight are
        values of one counter in the file, incremented by every write transaction; they
        order writes across processes (the clock is never read).

The database is ``path / "memory.sqlite"``, opened with the conventions of
:mod:`palaestra.llm.sqlite` (WAL, ``synchronous=FULL``: an episode whose commit returned
survives a process kill and a power loss; a busy timeout; foreign keys; migrations).
Several agents, threads and processes may share a store: each process opens its own
:class:`MemoryStore` (a store must not be carried across ``fork``); every write is one short
``BEGIN IMMEDIATE`` transaction; concurrent writers wait on the busy timeout; readers see
only committed episodes.

Embeddings are the summary's vector from the store's ``embedder`` (any
:class:`palaestra.llm.base.Embedder`), stored as float32 BLOBs with the embedder's identity
(``ClassName/dim``). :meth:`~MemoryStore.recall` ranks by cosine similarity computed in
numpy; it refuses to compare vectors from another embedder identity
(:meth:`~MemoryStore.reembed` re-embeds them) and skips episodes stored without one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from palaestra.llm.base import Embedder
from palaestra.llm.sqlite import (
    MissingRecordError,
    StoreError,
    application_id,
    file_bytes,
    open_database,
    read_transaction,
    schema_version,
)
from palaestra.llm.vectors import cosine_scores, embedder_identity, from_blobs, to_blob, top_k
from palaestra.memory.semantic import (
    SOURCES,
    Fact,
    Insight,
    SemanticMemory,
    check_positive,
    check_text,
    chunks,
    to_json,
)

log = logging.getLogger(__name__)

__all__ = ["FILENAME", "SCHEMA_VERSION", "SOURCES", "Episode", "Fact", "Insight", "MemoryStore"]

FILENAME = "memory.sqlite"
APPLICATION_ID = application_id("pmem")
"""``PRAGMA application_id`` of memory stores: another kind of store's file is refused."""
_text = check_text
_positive = check_positive
_json = to_json

_V1 = """
CREATE TABLE IF NOT EXISTS clock (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO clock VALUES (0, 0);
CREATE TABLE IF NOT EXISTS facts (
    agent TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    source TEXT NOT NULL, count INTEGER NOT NULL, first_episode INTEGER, last_episode INTEGER,
    updated INTEGER NOT NULL, PRIMARY KEY (agent, kind, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facts_updated ON facts (updated);
CREATE TABLE IF NOT EXISTS insights (
    id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL, text TEXT NOT NULL,
    count INTEGER NOT NULL CHECK (count > 0), updated INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS insights_rank ON insights (count, id);
CREATE TABLE IF NOT EXISTS episodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL, summary TEXT NOT NULL,
    outcome TEXT NOT NULL, task TEXT, seed INTEGER, created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS episodes_agent ON episodes (agent, id);
CREATE TABLE IF NOT EXISTS events (
    episode INTEGER NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (episode, position)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS embeddings (
    episode INTEGER PRIMARY KEY REFERENCES episodes (id) ON DELETE CASCADE,
    model TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL);
"""
MIGRATIONS = (_V1,)
"""Version 1 creates what a version-0 file lacks (its scripts are ``IF NOT EXISTS``)."""
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Episode:
    """One finished episode of one agent.

    Attributes:
        agent: Whose episode it is (``""``: shared).
        summary: One line, the text that is embedded and recalled.
        outcome: JSON object: ``success``, ``steps``, ``reward``...
        events: Key events as short texts, in order (a list is turned into a tuple).
        task: The episode's task (JSON object), or None.
        seed: The reset seed, or None.
        id: Set by the store (None before the commit).
        created: The commit's sequence number, set by the store.
    """

    agent: str
    summary: str
    outcome: Mapping[str, Any]
    events: tuple[str, ...] = ()
    task: Mapping[str, Any] | None = None
    seed: int | None = None
    id: int | None = None
    created: int | None = None

    def __post_init__(self) -> None:
        _text(self.agent, "Episode.agent", empty=True)
        _text(self.summary, "Episode.summary")
        if not isinstance(self.outcome, Mapping):
            raise ValueError(f"Episode.outcome must be a mapping; got {self.outcome!r}")
        if isinstance(self.events, str) or not isinstance(self.events, Sequence):
            raise ValueError(f"Episode.events must be a sequence of strings; got {self.events!r}")
        object.__setattr__(self, "events", tuple(self.events))
        for i, text in enumerate(self.events):
            _text(text, f"Episode.events[{i}]", empty=True)
        if self.task is not None and not isinstance(self.task, Mapping):
            raise ValueError(f"Episode.task must be a mapping or None; got {self.task!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise ValueError(f"Episode.seed must be an int or None; got {self.seed!r}")


class MemoryStore(SemanticMemory):
    """Facts, counters, insights and episodes of agents in one SQLite file (see the module).

    Eviction keeps the store bounded (the bounds are settings of the opening process, not
    stored in the file, so processes sharing a store should pass the same ones):

    - episodes over ``max_episodes`` (all agents together): the oldest in commit order are
      deleted, with their events and embeddings, in the transaction that commits the new one;
    - facts (and counters) over ``max_facts``: the least recently updated are deleted in the
      transaction that adds the new one;
    - insights over ``max_insights``: the lowest count is deleted (ties: the oldest), never
      the one being added.

    Deleted pages are reused by later rows, so the database stops growing once the bounds
    are reached (``benchmarks/memory_store.py``: 336 Craft episodes into
    ``max_episodes=100``: 208 KiB when the bound was reached, 216 KiB at the end, against
    580 KiB unbounded); the WAL file beside it is checkpointed every 1000 pages (about
    4 MiB).

    Args:
        path: A folder (created if missing); the database is ``path / "memory.sqlite"``.
        embedder: An embedder (``dim`` and ``embed(texts)``) for :meth:`recall`, or None.
        max_episodes: Most episodes kept.
        max_facts: Most facts kept.
        max_insights: Most insights kept.
        timeout: Seconds a writer waits for another process's write lock.

    Raises:
        ValueError: A bound below 1 or a bad embedder.
        palaestra.llm.sqlite.CorruptStoreError: The file is not a sound SQLite database.
        palaestra.llm.sqlite.StoreVersionError: The file was written by a newer version.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        embedder: Embedder | None = None,
        max_episodes: int = 10_000,
        max_facts: int = 100_000,
        max_insights: int = 1_000,
        timeout: float = 30.0,
    ) -> None:
        self.max_episodes = _positive(max_episodes, "max_episodes")
        self.max_facts = _positive(max_facts, "max_facts")
        self.max_insights = _positive(max_insights, "max_insights")
        if embedder is not None:
            dim = getattr(embedder, "dim", None)
            if not callable(getattr(embedder, "embed", None)) or not isinstance(dim, int):
                raise ValueError(
                    f"embedder must have an int `dim` and `embed(texts)`; got {embedder!r}"
                )
        self.embedder = embedder
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(
                f"path must be a folder (the store is path/{FILENAME}); {self.path} is a file"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.file = self.path / FILENAME
        self._conn = open_database(
            self.file, MIGRATIONS, app_id=APPLICATION_ID, timeout=timeout, synchronous="FULL"
        )
        self._lock = threading.RLock()
        self._pid = os.getpid()

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

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"MemoryStore({str(self.path)!r}, embedder={self.model})"

    # ----------------------------------------------------------------- episodes
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)
        if vectors.shape != (len(texts), self.embedder.dim):
            raise StoreError(
                f"{self.model} returned shape {vectors.shape} for {len(texts)} texts; "
                f"expected ({len(texts)}, {self.embedder.dim})"
            )
        return vectors

    def commit_episode(self, episode: Episode) -> int:
        """Store an episode, its events and its embedding in one transaction.

        Evicts the oldest episodes beyond ``max_episodes`` in the same transaction.

        Args:
            episode: The episode (its ``id`` and ``created`` are ignored).

        Returns:
            The new episode's id (ids grow in commit order and are never reused).
        """
        if not isinstance(episode, Episode):
            raise ValueError(f"commit_episode takes an Episode; got {episode!r}")
        outcome = _json(dict(episode.outcome), "outcome")
        task = None if episode.task is None else _json(dict(episode.task), "task")
        vector = None if self.embedder is None else self._embed([episode.summary])[0]
        with self._write() as conn:
            seq = self._tick(conn)
            cur = conn.execute(
                "INSERT INTO episodes (agent, summary, outcome, task, seed, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (episode.agent, episode.summary, outcome, task, episode.seed, seq),
            )
            new = int(cur.lastrowid)
            conn.executemany(
                "INSERT INTO events VALUES (?, ?, ?)",
                [(new, i, text) for i, text in enumerate(episode.events)],
            )
            if vector is not None:
                conn.execute(
                    "INSERT INTO embeddings VALUES (?, ?, ?, ?)",
                    (new, self.model, vector.size, to_blob(vector)),
                )
            self._evict(conn, "episodes", self.max_episodes, "id")
        return new

    def _episodes(self, where: str, args: Sequence[Any], limit: str = "") -> list[Episode]:
        with self._lock:
            self._check_open()
            with read_transaction(self._conn) as conn:  # one snapshot: episodes and events
                rows = conn.execute(
                    "SELECT id, agent, summary, outcome, task, seed, created FROM episodes"
                    f"{where} ORDER BY id DESC{limit}",
                    tuple(args),
                ).fetchall()
                events: dict[int, list[str]] = {r[0]: [] for r in rows}
                for chunk in chunks([r[0] for r in rows], 500):
                    marks = ",".join("?" * len(chunk))
                    for episode, text in conn.execute(
                        f"SELECT episode, text FROM events WHERE episode IN ({marks}) "
                        "ORDER BY episode, position",
                        chunk,
                    ):
                        events[episode].append(text)
        return [
            Episode(
                agent,
                summary,
                json.loads(outcome),
                tuple(events[i]),
                None if task is None else json.loads(task),
                seed,
                i,
                created,
            )
            for i, agent, summary, outcome, task, seed, created in rows
        ]

    def episode(self, episode_id: int) -> Episode:
        """The episode with this id (:class:`MissingRecordError` if absent or evicted)."""
        found = self._episodes(" WHERE id=?", (_positive(episode_id, "episode_id"),))
        if not found:
            raise MissingRecordError(
                f"no episode {episode_id} in {self.file} (never committed, or evicted)"
            )
        return found[0]

    def episodes(self, agent: str | None = None, k: int | None = None) -> list[Episode]:
        """Episodes, most recent first.

        Args:
            agent: Only this agent's (exactly; None: all).
            k: At most this many (None: all).
        """
        where, args = (
            ("", []) if agent is None else (" WHERE agent=?", [_text(agent, "agent", empty=True)])
        )
        limit = "" if k is None else f" LIMIT {_positive(k, 'k')}"
        return self._episodes(where, args, limit)

    def recent(self, k: int = 5, *, agent: str | None = None) -> list[Episode]:
        """The ``k`` most recent episodes (of ``agent``, or of all), most recent first."""
        return self.episodes(agent, _positive(k, "k"))

    def recall(
        self, query: str, k: int = 5, *, agent: str | None = None
    ) -> list[tuple[Episode, float]]:
        """The ``k`` episodes whose summaries are most similar to ``query``.

        Args:
            query: A text (a goal, a situation).
            k: How many.
            agent: Only this agent's episodes (None: all).

        Returns:
            (episode, cosine similarity) pairs, best first; equal scores: most recent first.
            Episodes stored without an embedding are not candidates.

        Raises:
            StoreError: The store has no embedder, or the candidates' vectors come from
                another embedder (call :meth:`reembed`).
        """
        _text(query, "query", empty=True)
        k = _positive(k, "k")
        if self.embedder is None:
            raise StoreError(
                "recall() needs an embedder: open the store with "
                "MemoryStore(path, embedder=palaestra.llm.HashingEmbedder()) or another Embedder"
            )
        join = "SELECT e.episode, e.model, e.vector FROM embeddings e"
        if agent is None:
            rows = self._read(join)
        else:
            rows = self._read(
                f"{join} JOIN episodes p ON p.id = e.episode WHERE p.agent=?",
                (_text(agent, "agent", empty=True),),
            )
        if not rows:
            return []
        others = sorted({model for _, model, _ in rows} - {self.model})
        if others:
            raise StoreError(
                f"{self.file} holds episode vectors from {others}, not from this store's "
                f"embedder {self.model}; call store.reembed() to embed them again"
            )
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        matrix = from_blobs([r[2] for r in rows], self.embedder.dim)
        scores = cosine_scores(matrix, self._embed([query])[0])
        order = top_k(scores, k, ids)
        chosen = [int(i) for i in ids[order]]
        found = {
            e.id: e for e in self._episodes(f" WHERE id IN ({','.join('?' * len(chosen))})", chosen)
        }
        return [
            (found[i], float(s)) for i, s in zip(chosen, scores[order], strict=True) if i in found
        ]

    def reembed(self, batch: int = 256) -> int:
        """Embed every episode stored without a vector or with another embedder's.

        Returns:
            How many episodes were embedded.
        """
        if self.embedder is None:
            raise StoreError("reembed() needs an embedder: open the store with embedder=...")
        batch = _positive(batch, "batch")
        rows = self._read(
            "SELECT p.id, p.summary FROM episodes p LEFT JOIN embeddings e ON e.episode = p.id "
            "WHERE e.model IS NULL OR e.model != ?",
            (self.model,),
        )
        for chunk in chunks(rows, batch):
            vectors = self._embed([summary for _, summary in chunk])
            with self._write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings SELECT ?, ?, ?, ? WHERE EXISTS "
                    "(SELECT 1 FROM episodes WHERE id = ?)",
                    [
                        (i, self.model, v.size, to_blob(v), i)
                        for (i, _), v in zip(chunk, vectors, strict=True)
                    ],
                )
        return len(rows)

    def stats(self) -> dict[str, int]:
        """Rows per table, the schema version and sizes in bytes.

        ``database_bytes`` is the database's size including what the WAL holds (pages times
        page size: what the file holds after a checkpoint, free pages included);
        ``file_bytes`` and ``wal_bytes`` are the two files' sizes on disk now.
        """
        with self._lock:
            self._check_open()
            out = {
                table: int(self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in ("facts", "insights", "episodes", "events", "embeddings")
            }
            out["schema_version"] = schema_version(self._conn)
            pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
            out["database_bytes"] = int(
                pages * self._conn.execute("PRAGMA page_size").fetchone()[0]
            )
        out.update(file_bytes(self.file))
        return out
