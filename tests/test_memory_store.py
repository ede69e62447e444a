"""The SQLite memory store: facts, counters, ExpeL insights, episodes, recall, bounds, schema.

Multi-process writers, ``kill -9`` and the long Craft run are in
``tests/test_memory_store_processes.py``.
"""

from __future__ import annotations

import os
import re
import sqlite3

import numpy as np
import pytest

from palaestra.llm.embedders import HashingEmbedder
from palaestra.llm.sqlite import (
    CorruptStoreError,
    MissingRecordError,
    StoreError,
    StoreVersionError,
    open_database,
    write_transaction,
)
from palaestra.memory.store import SCHEMA_VERSION, Episode, MemoryStore


def _episode(agent: str, summary: str, n_events: int = 2, **outcome) -> Episode:
    return Episode(
        agent, summary, outcome or {"success": True}, [f"event {i}" for i in range(n_events)]
    )


# --------------------------------------------------------------------------- facts
def test_learn_upserts_counts_and_keeps_first_and_last_episode(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        first = store.learn("agent_0", "recipe", "planks")
        assert (first.count, first.value, first.source) == (1, True, "observed")
        store.learn("agent_0", "recipe", "planks", episode=4, source="told")
        store.learn("agent_0", "recipe", "planks", {"via": "agent_1"}, episode=9)
        fact = store.fact("agent_0", "recipe", "planks")
        assert fact.count == 3
        assert (fact.first_episode, fact.last_episode) == (4, 9)
        assert fact.value == {"via": "agent_1"} and fact.source == "observed"
        assert fact.updated > first.updated
        store.learn("", "recipe", "sticks")  # shared by all agents
        store.learn("agent_1", "recipe", "table")
        assert [f.key for f in store.facts("agent_0", "recipe")] == ["sticks", "planks"]
        assert [f.key for f in store.facts("agent_0", "recipe", shared=False)] == ["planks"]
        assert len(store.facts()) == 3
        assert store.forget("agent_0", "recipe", "planks")
        assert not store.forget("agent_0", "recipe", "planks")
        assert store.fact("agent_0", "recipe", "planks") is None
    with MemoryStore(tmp_path / "m") as store:  # persisted
        assert {f.key for f in store.facts()} == {"sticks", "table"}


def test_fact_inputs_are_validated_with_the_field_named(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        with pytest.raises(ValueError, match="source must be one of"):
            store.learn("a", "recipe", "planks", source="guessed")
        with pytest.raises(ValueError, match="kind"):
            store.learn("a", "", "planks")
        with pytest.raises(ValueError, match="key"):
            store.learn("a", "recipe", "")
        with pytest.raises(ValueError, match="value must be JSON"):
            store.learn("a", "recipe", "planks", value={1, 2})
        with pytest.raises(ValueError, match="value must be JSON"):
            store.learn("a", "recipe", "planks", value=float("nan"))
        with pytest.raises(ValueError, match="episode"):
            store.learn("a", "recipe", "planks", episode=0)
        assert store.facts() == []  # nothing half-written


def test_add_counts_adds_and_returns_totals(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        assert store.counts("", "opponent", "p1") == {}
        assert store.add_counts("", "opponent", "p1", {"raise": 1, "call": 2}) == {
            "raise": 1.0,
            "call": 2.0,
        }
        assert store.add_counts("", "opponent", "p1", {"raise": 3, "fold": 0.5}) == {
            "raise": 4.0,
            "call": 2.0,
            "fold": 0.5,
        }
        assert store.counts("", "opponent", "p1") == {"raise": 4.0, "call": 2.0, "fold": 0.5}
        assert store.fact("", "opponent", "p1").count == 2
        with pytest.raises(ValueError, match="finite number"):
            store.add_counts("", "opponent", "p1", {"raise": float("inf")})
        store.learn("", "opponent", "p2", "tight")
        with pytest.raises(StoreError, match="not counters"):
            store.add_counts("", "opponent", "p2", {"raise": 1})
        assert store.fact("", "opponent", "p2").value == "tight"  # rolled back


# --------------------------------------------------------------------------- insights
def test_insights_follow_expel_counters(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        a = store.add_insight("ask an expert for recipes you lack")
        b = store.add_insight("craft planks before sticks", agent="agent_0")
        assert (a.count, b.count) == (2, 2)  # ExpeL: a new insight starts at 2
        assert store.upvote(b.id).count == 3
        assert store.add_insight("ask an expert for recipes you lack").count == 3  # same text
        edited = store.edit_insight(a.id, "ask the expert before crafting")
        assert (edited.text, edited.count) == ("ask the expert before crafting", 4)
        assert [i.id for i in store.insights()] == [a.id, b.id]
        assert [i.id for i in store.insights("agent_0", k=1)] == [a.id]  # shared ones count
        assert [i.id for i in store.insights("agent_0", shared=False)] == [b.id]
        assert store.downvote(b.id).count == 2
        assert store.downvote(b.id).count == 1
        assert store.downvote(b.id) is None  # reached 0: removed
        assert [i.id for i in store.insights()] == [a.id]
        with pytest.raises(MissingRecordError, match=f"no insight {b.id}"):
            store.upvote(b.id)
        with pytest.raises(MissingRecordError):
            store.downvote(b.id)
        with pytest.raises(ValueError, match="k must be"):
            store.insights(k=0)


def test_insights_over_the_bound_evict_the_lowest_count_then_the_oldest(tmp_path):
    with MemoryStore(tmp_path / "m", max_insights=3) as store:
        one = store.add_insight("one")
        two = store.add_insight("two")
        three = store.add_insight("three")
        store.upvote(one.id)  # counts: one 3, two 2, three 2
        four = store.add_insight("four")  # evicts the oldest of the lowest count: two
        assert {i.id for i in store.insights()} == {one.id, three.id, four.id}
        assert two.id not in {i.id for i in store.insights()}
        store.downvote(four.id)  # four 1: the lowest, but a new insight never evicts itself
        five = store.add_insight("five")
        assert {i.text for i in store.insights()} == {"one", "three", "five"}
        assert store.insights()[0].id == one.id
        assert five.count == 2


# --------------------------------------------------------------------------- episodes
def test_episodes_round_trip_in_commit_order(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        task = {"goal": "craft table", "knowledge": [["planks"], []]}
        first = store.commit_episode(
            Episode(
                "agent_0",
                "craft table: success",
                {"success": True, "steps": 40},
                ["a", "b"],
                task=task,
                seed=7,
            )
        )
        second = store.commit_episode(
            _episode("agent_1", "collect dirt: failure", 0, success=False)
        )
        third = store.commit_episode(_episode("agent_0", "craft sticks: success", 3))
        assert first < second < third
        got = store.episode(first)
        assert (got.agent, got.summary, got.events, got.task, got.seed) == (
            "agent_0",
            "craft table: success",
            ("a", "b"),
            task,
            7,
        )
        assert got.outcome == {"success": True, "steps": 40}
        assert [e.id for e in store.recent(5)] == [third, second, first]
        assert [e.id for e in store.recent(1, agent="agent_0")] == [third]
        assert [e.id for e in store.episodes("agent_0")] == [third, first]
        assert store.episode(second).events == ()
        created = [store.episode(i).created for i in (first, second, third)]
        assert created == sorted(created) and len(set(created)) == 3
        with pytest.raises(MissingRecordError, match="no episode 99"):
            store.episode(99)


def test_episode_inputs_are_validated_with_the_field_named(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        with pytest.raises(ValueError, match="outcome must be JSON"):
            store.commit_episode(Episode("a", "s", {"reward": np.float32(1.0)}, ()))
        with pytest.raises(ValueError, match="task must be JSON"):
            store.commit_episode(Episode("a", "s", {}, (), task={"x": object()}))
        with pytest.raises(ValueError, match=r"Episode\.summary"):
            Episode("a", "", {}, ())
        with pytest.raises(ValueError, match=r"Episode.events\[1\]"):
            Episode("a", "s", {}, ("ok", 3))
        with pytest.raises(ValueError, match=r"Episode\.outcome"):
            Episode("a", "s", [("success", True)], ())
        with pytest.raises(ValueError, match="k must be"):
            store.recent(0)
        assert store.stats()["episodes"] == 0
    for bound in ("max_episodes", "max_facts", "max_insights"):
        with pytest.raises(ValueError, match=bound):
            MemoryStore(tmp_path / "n", **{bound: 0})


def test_episodes_over_the_bound_evict_the_oldest_with_their_events(tmp_path):
    with MemoryStore(tmp_path / "m", max_episodes=5, embedder=HashingEmbedder(dim=32)) as store:
        ids = [
            store.commit_episode(_episode("a", f"episode {i}", n_events=i % 4)) for i in range(12)
        ]
        kept = ids[-5:]
        assert [e.id for e in store.episodes()] == kept[::-1]
        stats = store.stats()
        assert stats["episodes"] == 5 and stats["embeddings"] == 5
        assert stats["events"] == sum(i % 4 for i in range(7, 12))  # evicted events went too
        with pytest.raises(MissingRecordError):
            store.episode(ids[0])


def test_facts_over_the_bound_evict_the_least_recently_updated(tmp_path):
    with MemoryStore(tmp_path / "m", max_facts=3) as store:
        for key in ("a", "b", "c"):
            store.learn("x", "k", key)
        store.learn("x", "k", "a")  # a is now the most recently updated
        store.learn("x", "k", "d")  # evicts b
        assert [f.key for f in store.facts()] == ["a", "c", "d"]


# --------------------------------------------------------------------------- recall
def test_recall_ranks_the_episode_sharing_the_query_words_first(tmp_path):
    embedder = HashingEmbedder(dim=256)
    with MemoryStore(tmp_path / "m", embedder=embedder) as store:
        summaries = [
            "collect dirt near the river: success in 9 steps",
            "craft wooden pickaxe at the table: failure in 300 steps",
            "trade planks with the expert: success in 40 steps",
        ]
        ids = [store.commit_episode(_episode("agent_0", s)) for s in summaries]
        store.commit_episode(_episode("agent_1", "craft wooden pickaxe: success"))
        for query, want in (("wooden pickaxe", 1), ("dirt", 0), ("planks expert", 2)):
            found = store.recall(query, 3, agent="agent_0")
            assert found[0][0].id == ids[want]
            scores = [score for _, score in found]
            assert scores == sorted(scores, reverse=True) and len(found) == 3
            q = embedder.embed([query])[0]
            expected = float(q @ embedder.embed([summaries[want]])[0])  # unit vectors
            assert found[0][1] == pytest.approx(expected, abs=1e-5)
        both = store.recall("wooden pickaxe", 2)
        assert {e.agent for e, _ in both} == {"agent_0", "agent_1"}


def test_recall_breaks_ties_by_recency_and_needs_a_matching_embedder(tmp_path):
    with MemoryStore(tmp_path / "m", embedder=HashingEmbedder(dim=64)) as store:
        old = store.commit_episode(_episode("a", "same words"))
        new = store.commit_episode(_episode("a", "same words"))
        assert [e.id for e, _ in store.recall("same words", 2)] == [new, old]
    with MemoryStore(tmp_path / "m") as store, pytest.raises(StoreError, match="embedder"):
        store.recall("same words")
    # Same class and size, another seed: other vectors, so they must not be compared.
    seeded = HashingEmbedder(dim=64, seed=1)
    stale = r"HashingEmbedder\(dim=64.*seed=0\).*reembed"
    with (
        MemoryStore(tmp_path / "m", embedder=seeded) as store,
        pytest.raises(StoreError, match=stale),
    ):
        store.recall("same words")
    with MemoryStore(tmp_path / "m", embedder=HashingEmbedder(dim=32)) as store:
        with pytest.raises(StoreError, match=r"HashingEmbedder\(dim=64.*reembed"):
            store.recall("same words")
        assert store.reembed() == 2
        assert [e.id for e, _ in store.recall("same words", 1)] == [new]


# --------------------------------------------------------------------------- schema and files
def test_store_is_wal_and_its_schema_version_is_recorded(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        assert store.stats()["schema_version"] == SCHEMA_VERSION == 1
        file = store.file
    conn = sqlite3.connect(file)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_a_newer_schema_is_refused_naming_file_and_versions(tmp_path):
    MemoryStore(tmp_path / "m").close()
    conn = sqlite3.connect(tmp_path / "m" / "memory.sqlite")
    conn.execute("PRAGMA user_version = 7")
    conn.close()
    with pytest.raises(StoreVersionError) as err:
        MemoryStore(tmp_path / "m")
    message = str(err.value)
    assert "memory.sqlite" in message and "7" in message and str(SCHEMA_VERSION) in message


def test_a_version_0_store_is_migrated_on_open(tmp_path):
    """An older layout: episodes and events only (no embeddings, insights, facts nor clock)."""
    (tmp_path / "m").mkdir()
    conn = sqlite3.connect(tmp_path / "m" / "memory.sqlite")
    conn.executescript(
        """
        CREATE TABLE episodes (id INTEGER PRIMARY KEY AUTOINCREMENT, agent TEXT NOT NULL,
            summary TEXT NOT NULL, outcome TEXT NOT NULL, task TEXT, seed INTEGER,
            created INTEGER NOT NULL);
        CREATE TABLE events (episode INTEGER NOT NULL REFERENCES episodes (id) ON DELETE CASCADE,
            position INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (episode, position));
        INSERT INTO episodes VALUES (1, 'agent_0', 'old episode', '{"success": true}', NULL, 3, 1);
        INSERT INTO events VALUES (1, 0, 'crafted planks');
        """
    )
    conn.close()
    with MemoryStore(tmp_path / "m", embedder=HashingEmbedder(dim=32)) as store:
        assert store.stats()["schema_version"] == 1
        old = store.episode(1)
        assert (old.summary, old.events, old.seed) == ("old episode", ("crafted planks",), 3)
        new = store.commit_episode(_episode("agent_0", "new episode"))
        assert new == 2
        assert store.add_insight("new tables work").count == 2
        assert store.reembed() == 1  # the old episode had no vector
        assert [e.id for e, _ in store.recall("old episode", 1)] == [1]


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "db.sqlite"
    open_database(path, ["CREATE TABLE a (x INTEGER);"]).close()

    def broken(conn):
        conn.execute("CREATE TABLE b (y INTEGER)")
        raise RuntimeError("step 3 fails")

    with pytest.raises(RuntimeError, match="step 3"):
        open_database(path, ["CREATE TABLE a (x INTEGER);", "CREATE TABLE c (z);", broken])
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"a"} and conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_write_transactions_commit_whole_or_not_at_all(tmp_path):
    conn = open_database(tmp_path / "db.sqlite", ["CREATE TABLE t (x INTEGER);"])
    with write_transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")
    with pytest.raises(ZeroDivisionError), write_transaction(conn):
        conn.execute("INSERT INTO t VALUES (3)")
        _ = 1 / 0
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x")] == [1, 2]
    conn.close()


def test_random_bytes_are_refused_naming_the_file(tmp_path):
    (tmp_path / "m").mkdir()
    file = tmp_path / "m" / "memory.sqlite"
    file.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(CorruptStoreError, match=re.escape(str(file))):
        MemoryStore(tmp_path / "m")


def test_a_truncated_database_is_refused_naming_the_file(tmp_path):
    with MemoryStore(tmp_path / "m") as store:
        for i in range(300):
            store.commit_episode(_episode("a", f"episode {i} " + "padding " * 40, n_events=3))
        file = store.file
    assert not os.path.exists(f"{file}-wal")  # the last close checkpointed everything
    size = file.stat().st_size
    with open(file, "r+b") as f:
        f.truncate(size // 2)
    with pytest.raises(CorruptStoreError, match=re.escape(str(file))):
        MemoryStore(tmp_path / "m")


def test_a_closed_store_says_so(tmp_path):
    store = MemoryStore(tmp_path / "m")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.recent()
