"""The memory store under real processes: concurrent writers, ``kill -9``, a long Craft run.

Writers are separate Python interpreters (``subprocess`` running ``python -c``), each with its
own :class:`~palaestra.memory.store.MemoryStore` on one shared folder.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import numpy as np

import palaestra  # noqa: F401  (registers the envs)
from palaestra.memory.store import Episode, MemoryStore

WRITER = textwrap.dedent(
    """
    import sys
    from palaestra.memory.store import Episode, MemoryStore

    name, count = sys.argv[1], int(sys.argv[2])
    with MemoryStore(sys.argv[3]) as store:
        for i in range(count):
            n = i % 5 + 1
            events = [f"{name} step {j}" for j in range(n)]
            new = store.commit_episode(Episode(name, f"{name} episode {i} with {n} events",
                                               {"i": i, "n": n}, events))
            store.add_counts("", "shared", "tally", {"episodes": 1, "events": n})
            print(new, n, flush=True)
    """
)


def _writer(name: str, count: int, folder) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, name, str(count), str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_processes_writing_500_episodes_each_lose_none(tmp_path):
    folder = tmp_path / "shared"  # not created yet: the four writers race to create it
    start = time.perf_counter()
    procs = [_writer(f"agent_{w}", 500, folder) for w in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    elapsed = time.perf_counter() - start
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    reported = [tuple(map(int, line.split())) for out, _ in outputs for line in out.splitlines()]
    assert len(reported) == 2000 and len({i for i, _ in reported}) == 2000
    with MemoryStore(folder) as store:
        assert store.stats()["episodes"] == 2000
        for w in range(4):
            mine = store.episodes(f"agent_{w}")
            assert len(mine) == 500
            # Each writer's own episodes come back in its commit order, none duplicated.
            assert [e.outcome["i"] for e in reversed(mine)] == list(range(500))
        total_events = sum(n for _, n in reported)
        assert store.stats()["events"] == total_events
        assert store.counts("", "shared", "tally") == {
            "episodes": 2000.0,
            "events": float(total_events),
        }
        assert store.fact("", "shared", "tally").count == 2000
    assert elapsed < 60, f"4 x 500 episodes took {elapsed:.1f} s"


def test_kill_9_mid_write_keeps_every_reported_episode_whole(tmp_path):
    folder = tmp_path / "killed"
    MemoryStore(folder).close()
    proc = _writer("victim", 100_000, folder)
    reported: list[tuple[int, int]] = []
    while len(reported) < 150:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        reported.append(tuple(map(int, line.split())))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    reported += [tuple(map(int, line.split())) for line in proc.stdout.read().splitlines()]
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    conn = sqlite3.connect(folder / "memory.sqlite")  # recovers from the WAL as it opens
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    conn.close()
    with MemoryStore(folder) as store:
        for episode_id, n in reported:
            episode = store.episode(episode_id)
            assert len(episode.events) == n == episode.outcome["n"]
        stored = store.episodes()
        assert len(stored) >= len(reported)
        for episode in stored:  # no half episode, reported or not
            assert len(episode.events) == episode.outcome["n"]
            assert episode.summary.endswith(f"with {episode.outcome['n']} events")


def _key_events(info: dict) -> list[str]:
    """Craft's inventory and tile events as short texts (moves are not key events)."""
    found = []
    for event in info.get("events", []):
        if event["type"] == "inventory":
            found.append(f"{'got' if event['change'] > 0 else 'used'} {event['item']}")
        elif event["type"] == "tile":
            found.append(f"{event['before']} became {event['after']}")
    return found


def test_a_100k_step_craft_run_stays_within_the_bounds(tmp_path):
    """A random legal-action agent on Craft-v0, one episode committed per env episode."""
    bound = 60
    env = gym.make("palaestra/Craft-v0")
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    steps, episodes, events, sizes = 0, 0, [], []
    with MemoryStore(tmp_path / "craft", max_episodes=bound, max_facts=50) as store:
        while steps < 100_000:
            action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
            obs, _, terminated, truncated, info = env.step(action)
            steps += 1
            events += _key_events(info)
            if terminated or truncated:
                summary = f"{info['goal']}: {'success' if info['success'] else 'failure'}"
                store.commit_episode(
                    Episode(
                        "random",
                        summary,
                        {"success": bool(info["success"]), "steps": int(info["steps"])},
                        events[-5:],
                        seed=episodes,
                    )
                )
                store.learn("random", "goal", str(info["goal"]), episode=episodes + 1)
                episodes += 1
                events = []
                stats = store.stats()
                assert stats["episodes"] == min(episodes, bound)
                sizes.append(stats["database_bytes"])
                obs, info = env.reset()
        assert [e.seed for e in store.recent(bound)] == list(
            range(episodes - 1, episodes - 1 - bound, -1)
        )
    env.close()
    assert episodes > 3 * bound
    # Once the bound is reached, evicted pages are reused: the database stops growing.
    at_bound = sizes[bound - 1]
    assert max(sizes) <= at_bound * 1.25, (at_bound, max(sizes))
    assert sizes[-1] < sizes[bound - 1] * episodes / bound / 2  # far below unbounded growth
