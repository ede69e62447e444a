"""Semantic memory of a :class:`~palaestra.memory.store.MemoryStore`: facts, counters, insights.

Glossary:
    fact: a JSON value keyed by ``(agent, kind, key)``, with its ``source`` (``observed``,
        ``told`` or ``inferred``, the latest one given), how many times it was learned
        (``count``), the first and the latest episode that taught it, and ``updated``, the
        sequence number of its last write. Agent ``""`` holds facts shared by all agents;
        :meth:`~SemanticMemory.facts` of an agent includes them unless ``shared=False``.
    counters: a fact whose value is a JSON object of numbers, changed through
        :meth:`~SemanticMemory.add_counts`, one atomic read-modify-write (``BEGIN IMMEDIATE``)
        so that counters several processes add to stay exact.
    insight: a rule of thumb with an importance count, updated as in ExpeL (Zhao et al.,
        2024, "ExpeL: LLM Agents Are Experiential Learners"): ADD starts at 2 (the same text
        added again by the same agent is an upvote), EDIT replaces the text and adds 1
        (rewording a rule is a vote for its idea), UPVOTE adds 1, DOWNVOTE subtracts 1, and an
        insight whose count reaches 0 is removed. Insights are listed highest count first,
        ties oldest first; an agent's include the shared ones (agent ``""``).

Bounds: a new fact beyond ``max_facts`` evicts the least recently updated ones; a new
insight beyond ``max_insights`` evicts the lowest count (ties: the oldest), never itself.

:class:`SemanticMemory` is the part of :class:`~palaestra.memory.store.MemoryStore` that
holds these methods; it uses the store's connection helpers (``_write``, ``_read``,
``_tick``) and bounds.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from palaestra.llm.sqlite import MissingRecordError, StoreError, write_transaction

log = logging.getLogger(__name__)

__all__ = ["SOURCES", "Fact", "Insight", "SemanticMemory"]

SOURCES = ("observed", "told", "inferred")
NEW_INSIGHT_COUNT = 2

T = TypeVar("T")


def to_json(value: Any, name: str) -> str:
    """``value`` as compact JSON with sorted keys; a ``ValueError`` naming ``name`` if not JSON."""
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be JSON (no NaN or infinity); got {value!r}: {e}") from e


def check_text(value: Any, name: str, *, empty: bool = False) -> str:
    """``value`` if it is a string (non-empty unless ``empty``); else a ``ValueError`` naming it."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string; got {value!r}")
    if not empty and not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value


def check_positive(value: Any, name: str) -> int:
    """``value`` if it is an int >= 1 (not a bool); else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return value


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (SQLite limits bound parameters)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


_text = check_text
_positive = check_positive
_json = to_json


def _optional_id(value: Any, name: str) -> int | None:
    return None if value is None else _positive(value, name)


@dataclass(frozen=True)
class Fact:
    """One semantic fact (see the module's glossary); ``updated`` is a sequence number."""

    agent: str
    kind: str
    key: str
    value: Any
    source: str
    count: int
    first_episode: int | None
    last_episode: int | None
    updated: int


@dataclass(frozen=True)
class Insight:
    """One rule of thumb and its importance count (ExpeL)."""

    id: int
    agent: str
    text: str
    count: int


def _fact(row: tuple) -> Fact:
    agent, kind, key, value, source, count, first, last, updated = row
    return Fact(agent, kind, key, json.loads(value), source, count, first, last, updated)


class SemanticMemory:
    """Facts, counters and insights over a store's connection (see the module).

    Attributes:
        file: The database file.
        max_facts: Most facts kept (see the module's bounds).
        max_insights: Most insights kept.
    """

    file: Path
    _conn: sqlite3.Connection | None
    _lock: threading.RLock
    _pid: int
    max_facts: int
    max_insights: int

    def _check_open(self) -> None:
        if self._conn is None:
            raise StoreError(f"the memory store {self.file} is closed")
        if os.getpid() != self._pid:
            raise StoreError(
                f"open the memory store {self.file} again in each process (pid {os.getpid()})"
            )

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._lock:
            self._check_open()
            with write_transaction(self._conn) as conn:
                yield conn

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            self._check_open()
            return self._conn.execute(sql, tuple(args)).fetchall()

    @staticmethod
    def _tick(conn: Any) -> int:
        conn.execute("UPDATE clock SET seq = seq + 1 WHERE id = 0")
        return int(conn.execute("SELECT seq FROM clock WHERE id = 0").fetchone()[0])

    # ----------------------------------------------------------------- facts
    @staticmethod
    def _key(agent: Any, kind: Any, key: Any) -> tuple[str, str, str]:
        return _text(agent, "agent", empty=True), _text(kind, "kind"), _text(key, "key")

    def _upsert(
        self,
        conn: Any,
        agent: str,
        kind: str,
        key: str,
        value: str,
        source: str,
        episode: int | None,
        merge: Callable[[Any], str] | None = None,
    ) -> None:
        seq = self._tick(conn)
        row = conn.execute(
            "SELECT value FROM facts WHERE agent=? AND kind=? AND key=?", (agent, kind, key)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO facts VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)",
                (agent, kind, key, value, source, episode, episode, seq),
            )
            self._evict(conn, "facts", self.max_facts, "updated")
            return
        if merge is not None:
            value = merge(json.loads(row[0]))
        conn.execute(
            "UPDATE facts SET value=?, source=?, count=count+1, "
            "first_episode=COALESCE(first_episode, ?), last_episode=COALESCE(?, last_episode), "
            "updated=? WHERE agent=? AND kind=? AND key=?",
            (value, source, episode, episode, seq, agent, kind, key),
        )

    @staticmethod
    def _evict(conn: Any, table: str, bound: int, order: str) -> int:
        excess = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] - bound
        if excess <= 0:
            return 0
        rowid = "agent, kind, key" if table == "facts" else "id"
        conn.execute(
            f"DELETE FROM {table} WHERE ({rowid}) IN "
            f"(SELECT {rowid} FROM {table} ORDER BY {order} LIMIT ?)",
            (excess,),
        )
        log.debug("evicted %d rows from %s (bound %d)", excess, table, bound)
        return excess

    def learn(
        self,
        agent: str,
        kind: str,
        key: str,
        value: Any = True,
        *,
        source: str = "observed",
        episode: int | None = None,
    ) -> Fact:
        """Upsert a fact: set its value and source, count one more time it was learned.

        Args:
            agent: Whose fact (``""``: shared by all agents).
            kind: What sort of fact (``"recipe"``, ``"knows"``...).
            key: Which one.
            value: Its JSON value.
            source: ``observed``, ``told`` or ``inferred``.
            episode: The episode that taught it: kept as ``first_episode`` (the first one
                given) and ``last_episode`` (the latest one given).

        Returns:
            The fact as stored.
        """
        agent, kind, key = self._key(agent, kind, key)
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}; got {source!r}")
        encoded = _json(value, "value")
        episode = _optional_id(episode, "episode")
        with self._write() as conn:
            self._upsert(conn, agent, kind, key, encoded, source, episode)
        return self.fact(agent, kind, key)  # type: ignore[return-value]

    def fact(self, agent: str, kind: str, key: str) -> Fact | None:
        """The fact ``(agent, kind, key)`` exactly (no shared fallback), or None."""
        agent, kind, key = self._key(agent, kind, key)
        rows = self._read(
            "SELECT * FROM facts WHERE agent=? AND kind=? AND key=?", (agent, kind, key)
        )
        return _fact(rows[0]) if rows else None

    def facts(
        self, agent: str | None = None, kind: str | None = None, *, shared: bool = True
    ) -> list[Fact]:
        """Facts sorted by (agent, kind, key).

        Args:
            agent: Whose facts (None: every agent's). With ``shared``, an agent's facts
                include the shared ones (agent ``""``).
            kind: Only this kind (None: all).
            shared: Include shared facts when ``agent`` is given.
        """
        where, args = [], []
        if agent is not None:
            agents = [_text(agent, "agent", empty=True)] + ([""] if shared and agent else [])
            where.append(f"agent IN ({','.join('?' * len(agents))})")
            args += agents
        if kind is not None:
            where.append("kind=?")
            args.append(_text(kind, "kind"))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return [_fact(r) for r in self._read(f"SELECT * FROM facts{clause} ORDER BY 1, 2, 3", args)]

    def forget(self, agent: str, kind: str, key: str) -> bool:
        """Delete a fact; True if there was one."""
        agent, kind, key = self._key(agent, kind, key)
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM facts WHERE agent=? AND kind=? AND key=?", (agent, kind, key)
            )
            return cur.rowcount > 0

    def add_counts(
        self, agent: str, kind: str, key: str, counts: Mapping[str, float]
    ) -> dict[str, float]:
        """Add to named counters atomically (``BEGIN IMMEDIATE``) and return the new totals.

        Args:
            agent: Whose counters (``""``: shared).
            kind: What sort (``"opponent"``...).
            key: Which one (an opponent's name...).
            counts: Name -> finite amount to add (names not given keep their totals).

        Returns:
            Every counter of the fact after the addition.
        """
        agent, kind, key = self._key(agent, kind, key)
        if not isinstance(counts, Mapping):
            raise ValueError(f"counts must be a mapping of name -> number; got {counts!r}")
        for name, amount in counts.items():
            _text(name, "counter name")
            if (
                isinstance(amount, bool)
                or not isinstance(amount, int | float)
                or not math.isfinite(amount)
            ):
                raise ValueError(f"counts[{name!r}] must be a finite number; got {amount!r}")
        totals: dict[str, float] = {}

        def merge(old: Any) -> str:
            if not isinstance(old, dict) or not all(
                isinstance(v, int | float) for v in old.values()
            ):
                raise StoreError(f"fact ({agent!r}, {kind!r}, {key!r}) is not counters: {old!r}")
            totals.update({k: float(v) for k, v in old.items()})
            for name, amount in counts.items():
                totals[name] = totals.get(name, 0.0) + float(amount)
            return _json(totals, "counts")

        with self._write() as conn:
            first = {name: float(amount) for name, amount in counts.items()}
            self._upsert(conn, agent, kind, key, _json(first, "counts"), "observed", None, merge)
        return dict(totals) if totals else first

    def counts(self, agent: str, kind: str, key: str) -> dict[str, float]:
        """The counters of ``(agent, kind, key)`` ({} when there are none)."""
        found = self.fact(agent, kind, key)
        if found is None:
            return {}
        if not isinstance(found.value, dict):
            raise StoreError(
                f"fact ({agent!r}, {kind!r}, {key!r}) is not counters: {found.value!r}"
            )
        return {k: float(v) for k, v in found.value.items()}

    # ----------------------------------------------------------------- insights
    def _insight(self, insight_id: int) -> Insight | None:
        rows = self._read("SELECT id, agent, text, count FROM insights WHERE id=?", (insight_id,))
        return Insight(*rows[0]) if rows else None

    def _vote(self, insight_id: Any, sql: str, args: tuple = ()) -> Insight | None:
        insight_id = _positive(insight_id, "insight_id")
        with self._write() as conn:
            seq = self._tick(conn)
            cur = conn.execute(sql, (*args, seq, insight_id))
            if cur.rowcount == 0:
                raise MissingRecordError(f"no insight {insight_id} in {self.file}")
        return self._insight(insight_id)

    def add_insight(self, text: str, *, agent: str = "") -> Insight:
        """ADD: a new insight at count 2; the same text again (same agent) is an upvote."""
        text = _text(text, "text").strip()
        _text(text, "text")
        agent = _text(agent, "agent", empty=True)
        with self._write() as conn:
            seq = self._tick(conn)
            row = conn.execute(
                "SELECT id FROM insights WHERE agent=? AND text=?", (agent, text)
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE insights SET count=count+1, updated=? WHERE id=?", (seq, row[0])
                )
                new = row[0]
            else:
                cur = conn.execute(
                    "INSERT INTO insights (agent, text, count, updated) VALUES (?, ?, ?, ?)",
                    (agent, text, NEW_INSIGHT_COUNT, seq),
                )
                new = cur.lastrowid
                excess = (
                    conn.execute("SELECT COUNT(*) FROM insights").fetchone()[0] - self.max_insights
                )
                if excess > 0:
                    conn.execute(
                        "DELETE FROM insights WHERE id IN (SELECT id FROM insights WHERE id != ? "
                        "ORDER BY count, id LIMIT ?)",
                        (new, excess),
                    )
        return self._insight(new)  # type: ignore[return-value]

    def upvote(self, insight_id: int) -> Insight:
        """UPVOTE: count + 1."""
        return self._vote(insight_id, "UPDATE insights SET count=count+1, updated=? WHERE id=?")  # type: ignore[return-value]

    def downvote(self, insight_id: int) -> Insight | None:
        """DOWNVOTE: count - 1; at 0 the insight is removed and None returned."""
        insight_id = _positive(insight_id, "insight_id")
        with self._write() as conn:
            seq = self._tick(conn)
            cur = conn.execute(
                "UPDATE insights SET count=count-1, updated=? WHERE id=? AND count > 1",
                (seq, insight_id),
            )
            if cur.rowcount == 0:
                if conn.execute("DELETE FROM insights WHERE id=?", (insight_id,)).rowcount == 0:
                    raise MissingRecordError(f"no insight {insight_id} in {self.file}")
                return None
        return self._insight(insight_id)

    def edit_insight(self, insight_id: int, text: str) -> Insight:
        """EDIT: replace the text; the count goes up by one."""
        text = _text(text, "text").strip()
        _text(text, "text")
        return self._vote(
            insight_id, "UPDATE insights SET text=?, count=count+1, updated=? WHERE id=?", (text,)
        )  # type: ignore[return-value]

    def insights(
        self, agent: str | None = None, k: int | None = None, *, shared: bool = True
    ) -> list[Insight]:
        """Insights, highest count first (ties: oldest first).

        Args:
            agent: Whose (None: all); with ``shared``, the shared ones (agent ``""``) too.
            k: At most this many (None: all).
            shared: Include shared insights when ``agent`` is given.
        """
        where, args = "", []
        if agent is not None:
            agents = [_text(agent, "agent", empty=True)] + ([""] if shared and agent else [])
            where, args = f" WHERE agent IN ({','.join('?' * len(agents))})", agents
        limit = f" LIMIT {_positive(k, 'k')}" if k is not None else ""
        rows = self._read(
            f"SELECT id, agent, text, count FROM insights{where} ORDER BY count DESC, id{limit}",
            args,
        )
        return [Insight(*r) for r in rows]
