"""A long Craft run into a bounded memory store: size stays flat, commits stay fast.

A random legal-action agent plays ``palaestra/Craft-v0`` for ``--steps`` env steps (seeded);
after each env episode it commits one :class:`~palaestra.memory.store.Episode` (a summary,
the outcome, the last five key events: inventory and tile changes) and learns one fact, with
a :class:`~palaestra.llm.HashingEmbedder` embedding each summary. The same run goes into two
stores: one bounded by ``--max-episodes`` and one unbounded (``max_episodes`` above the
number of episodes), and the benchmark prints for each:

* env episodes committed, episodes kept at the end, and the most ever kept;
* the database's size (``stats()["database_bytes"]``: pages in use or free, WAL included)
  when the bound is first reached, at the end and at most, and the WAL file's largest size
  (SQLite checkpoints it every 1000 pages, so it stays near 4 MiB whatever the run's length);
* commit latency (mean, median, 99th percentile, each commit one ``BEGIN IMMEDIATE``
  transaction fsynced with ``synchronous=FULL``) and recall latency over the kept episodes.

Usage:
    python benchmarks/memory_store.py [--steps 100000] [--max-episodes 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import palaestra  # noqa: F401  (registers the envs)
from palaestra.llm.embedders import HashingEmbedder
from palaestra.memory.store import Episode, MemoryStore


def key_events(info: dict) -> list[str]:
    """Craft's inventory and tile events as short texts (moves are not key events)."""
    found = []
    for event in info.get("events", []):
        if event["type"] == "inventory":
            found.append(f"{'got' if event['change'] > 0 else 'used'} {event['item']}")
        elif event["type"] == "tile":
            found.append(f"{event['before']} became {event['after']}")
    return found


def run(folder: Path, steps: int, max_episodes: int, seed: int) -> dict:
    """Play and commit; return the measurements."""
    env = gym.make("palaestra/Craft-v0")
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    events: list[str] = []
    commits, sizes, kept_max, episodes, wal_max = [], [], 0, 0, 0
    size_at_bound = None
    with MemoryStore(folder, embedder=HashingEmbedder(), max_episodes=max_episodes) as store:
        for _ in range(steps):
            action = int(rng.choice(np.flatnonzero(obs["action_mask"])))
            obs, _, terminated, truncated, info = env.step(action)
            events += key_events(info)
            if not (terminated or truncated):
                continue
            got = sorted({e.split()[-1] for e in events if e.startswith("got")})
            summary = f"{info['goal']}: {'success' if info['success'] else 'failure'}"
            summary += f" in {info['steps']} steps; got {', '.join(got) or 'nothing'}"
            outcome = {"success": bool(info["success"]), "steps": int(info["steps"])}
            start = time.perf_counter()
            new = store.commit_episode(Episode("random", summary, outcome, events[-5:], seed=seed))
            commits.append(time.perf_counter() - start)
            store.learn("random", "goal", str(info["goal"]), episode=new)
            episodes += 1
            stats = store.stats()
            kept_max = max(kept_max, stats["episodes"])
            sizes.append(stats["database_bytes"])
            wal_max = max(wal_max, stats["wal_bytes"])
            if size_at_bound is None and stats["episodes"] >= max_episodes:
                size_at_bound = sizes[-1]
            events = []
            obs, info = env.reset()
        start = time.perf_counter()
        for query in ("collect wood", "craft table success", "place stone", "failure"):
            store.recall(query, 5)
        recall = (time.perf_counter() - start) / 4
        kept = store.stats()["episodes"]
    env.close()
    ms = sorted(c * 1000 for c in commits)
    return {
        "episodes": episodes,
        "kept": kept,
        "kept_max": kept_max,
        "size_at_bound": size_at_bound,
        "size_end": sizes[-1],
        "size_max": max(sizes),
        "wal_max": wal_max,
        "commit_mean_ms": statistics.fmean(ms),
        "commit_p50_ms": ms[len(ms) // 2],
        "commit_p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))],
        "recall_ms": recall * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--max-episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bounded = run(Path(tmp) / "bounded", args.steps, args.max_episodes, args.seed)
        unbounded = run(Path(tmp) / "unbounded", args.steps, 10**9, args.seed)
    print(f"palaestra/Craft-v0, {args.steps} steps, random legal actions, seed {args.seed}")
    print(
        f"{'store':<22}{'episodes':>9}{'kept':>7}{'kept max':>9}{'KiB at bound':>13}"
        f"{'KiB end':>9}{'KiB max':>9}{'WAL KiB':>9}{'commit ms':>10}{'p99 ms':>8}{'recall ms':>10}"
    )
    for name, r in ((f"max_episodes={args.max_episodes}", bounded), ("unbounded", unbounded)):
        at_bound = "-" if r["size_at_bound"] is None else f"{r['size_at_bound'] / 1024:.0f}"
        print(
            f"{name:<22}{r['episodes']:>9}{r['kept']:>7}{r['kept_max']:>9}{at_bound:>13}"
            f"{r['size_end'] / 1024:>9.0f}{r['size_max'] / 1024:>9.0f}{r['wal_max'] / 1024:>9.0f}"
            f"{r['commit_mean_ms']:>10.2f}{r['commit_p99_ms']:>8.2f}{r['recall_ms']:>10.2f}"
        )
    ratio = unbounded["size_end"] / bounded["size_end"]
    print(f"unbounded / bounded database size at the end: {ratio:.2f}")


if __name__ == "__main__":
    main()
