"""Win rates of Gauntlet's baselines, with 95% intervals, over seeded runs of one task.

The task is ``palaestra/Gauntlet-v0``'s default (ascension 0, the easiest; 3 fights of the
``standard`` enemy set, rests after every second fight). Each agent plays the same seeds
0 .. runs-1 (``reset(seed=k)``, the agent reseeded with ``k``); the interval is Wilson's
score interval for a binomial proportion (z = 1.96). Mean floor reached and mean HP left
are printed beside.

Usage:
    python benchmarks/gauntlet_baselines.py [--runs 200] [--task '{"fights": 3}']
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import gymnasium as gym

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import GreedyGauntletAgent, LookaheadGauntletAgent, RandomGauntletAgent


def wilson(wins: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's score interval for ``wins`` successes out of ``n``."""
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def play(env: gym.Env, agent: Any, runs: int, task: dict[str, Any]) -> dict[str, float]:
    """Play ``runs`` seeded runs; return the win count and means of floor and HP left."""
    wins = floors = hp = 0
    for seed in range(runs):
        agent.reset(seed=seed)
        obs, info = env.reset(seed=seed, options={"task": task})
        while True:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
            if terminated or truncated:
                break
        wins += info["success"]
        floors += info["floor"]
        hp += info["hp_left"]
    return {"wins": wins, "floor": floors / runs, "hp_left": hp / runs}


def main(argv: list[str] | None = None) -> None:
    """Print each baseline's win rate with its 95% interval."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="seeded runs per agent")
    parser.add_argument("--task", type=json.loads, default={}, help="the task, as JSON")
    args = parser.parse_args(argv)
    env = gym.make("palaestra/Gauntlet-v0", illegal_action="raise")
    agents = {
        "RandomGauntletAgent": RandomGauntletAgent(),
        "GreedyGauntletAgent": GreedyGauntletAgent(),
        "LookaheadGauntletAgent (cheats)": LookaheadGauntletAgent(env),
    }
    print(f"task {args.task or 'default'}, {args.runs} seeded runs per agent")
    for name, agent in agents.items():
        start = time.perf_counter()
        result = play(env, agent, args.runs, args.task)
        low, high = wilson(int(result["wins"]), args.runs)
        rate = result["wins"] / args.runs
        print(
            f"  {name}: win rate {rate:.3f} [95% {low:.3f}, {high:.3f}], "
            f"mean floor {result['floor']:.2f}, mean HP left {result['hp_left']:.1f} "
            f"({time.perf_counter() - start:.1f} s)"
        )
    env.close()


if __name__ == "__main__":
    main()
