"""Does believing things about opponents win chips? ``AdaptiveTagAgent`` on ``Holdem-v0``.

Three players take the learner's seat (seat 0 of a 3-handed ``palaestra/Holdem-v0``, one
hand per episode, 100 big blinds each) against two built-in opponents of one style
(``random``, ``calling_station``, ``tag``), with the same deals for all three:

- ``adaptive``: :class:`~palaestra.agents.holdem_tom.AdaptiveTagAgent`, beliefs kept;
- ``reset``: the same agent with its opponent model cleared after every hand;
- ``tag``: the plain baseline :class:`~palaestra.agents.TagAgent`.

Result: big blinds won per 100 hands, mean over seeds with the 95% Student-t interval, and
the paired differences ``adaptive - reset`` and ``adaptive - tag`` per seed (hand ``i`` of
seed ``s`` resets with its own seed, so the three players get the same cards; only the
random opponents' choices differ where the players' actions change what they draw).

Run: ``python benchmarks/holdem_tom.py`` (defaults: 5 seeds x 1000 hands).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stats import mean_ci

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents.holdem_baselines import TagAgent
from palaestra.agents.holdem_tom import AdaptiveTagAgent

STYLES = ("random", "calling_station", "tag")
PLAYERS = ("adaptive", "reset", "tag")
DIFFS = (("adaptive", "reset"), ("adaptive", "tag"))
"""Paired differences reported (same seeds, so the same deals)."""


def bb_per_100(player: str, style: str, seed: int, hands: int) -> float:
    """Big blinds per 100 hands of ``player`` against two ``style`` opponents."""
    env = gym.make("palaestra/Holdem-v0", opponents=style, seat=0, task={"num_players": 3})
    if player == "tag":
        agent = TagAgent(env)
    else:
        agent = AdaptiveTagAgent(
            env, seed=seed, memory="persistent" if player == "adaptive" else "hand"
        )
    total = 0.0
    for hand in range(hands):
        obs, info = env.reset(seed=seed * 1_000_003 + hand)
        done = False
        while not done:
            obs, reward, done, _, info = env.step(agent.act(obs, info))
            total += reward
        if hasattr(agent, "observe"):
            agent.observe(obs, info)
    return 100.0 * total / hands


def cell(values: list[float]) -> str:
    """``mean [low, high]``, the 95% Student-t interval over seeds (null for one seed)."""
    mean, half = mean_ci(values)
    if math.isnan(half):
        return f"{mean:.1f} [null]"
    return f"{mean:.1f} [{mean - half:.1f}, {mean + half:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--hands", type=int, default=1000)
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"python benchmarks/holdem_tom.py --seeds {args.seeds} --hands {args.hands}")
    heads = [f"{p} bb/100 [95% CI]" for p in PLAYERS] + [f"{a} - {b}" for a, b in DIFFS]
    print("| opponents | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for style in STYLES:
        values = {
            p: [bb_per_100(p, style, s, args.hands) for s in range(args.seeds)] for p in PLAYERS
        }
        columns = [values[p] for p in PLAYERS]
        columns += [[x - y for x, y in zip(values[a], values[b], strict=True)] for a, b in DIFFS]
        print(f"| {style} | " + " | ".join(cell(c) for c in columns) + " |", flush=True)
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
