"""Throughput of palaestra's game envs against their peers, measured in the same run.

Sections (``--only`` picks one; each prints its own lines):

* ``holdem``: hands per second of ``palaestra/holdem-v0`` (PettingZoo AEC) against
  PettingZoo's ``texas_holdem_no_limit_v6`` (RLCard's engine), both driven through the AEC
  API (``agent_iter``, ``last``, ``step``) with seeded uniformly random legal actions,
  default settings (two players, 100 big blinds). Repeats alternate between the two envs
  so that machine noise hits both alike; the median of each is reported with their ratio.
  The peer needs RLCard: ``pip install rlcard`` (a benchmark-only dependency).
* ``craft``: env steps per second of ``palaestra/Craft-v0`` (default task) in the vector,
  text and both observation modes, through ``env.step`` with seeded random legal actions
  picked from ``info["legal_actions"]`` (observation, mask and legal-action texts built
  every step), resetting at episode end; and of ``palaestra/craft-v0`` with 2 and 4
  agents in vector mode. The target is 20,000 steps/s in vector mode on one core.
* ``gauntlet``: env steps per second of ``palaestra/Gauntlet-v0`` (default task) in the
  vector, text and both observation modes, driven as ``craft`` is (seeded random legal
  actions from ``info["legal_actions"]``, reset at the end of each run), and of the bare
  engine (``Run.step`` with random legal actions from ``Run.legal_indices()``, no
  observation) for reference. The target is 20,000 steps/s in vector mode on one core.

The process is pinned to one core (``--cpu``, ``os.sched_setaffinity``) so the figures do
not depend on how the scheduler spreads work; pass ``--cpu -1`` to leave it free.

Usage:
    python benchmarks/games_throughput.py [--hands 3000] [--repeats 5] [--players 2]
        [--steps 50000] [--only holdem|craft|gauntlet] [--cpu 0]

To add a section, write a ``bench_<name>(...)`` function that prints its figures and add it
to :data:`SECTIONS`; ``--only`` accepts every key of that dict.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import palaestra  # noqa: F401  (registers the envs)


def play_hands(env: Any, hands: int, seed: int) -> float:
    """Play ``hands`` hands of an AEC env with random legal actions; return seconds."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    start = time.perf_counter()
    for k in range(hands):
        if k:
            env.reset()
        for _agent in env.agent_iter():
            obs, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                action = None
            else:
                legal = np.flatnonzero(obs["action_mask"])
                action = int(legal[rng.integers(len(legal))])
            env.step(action)
    return time.perf_counter() - start


def _palaestra_holdem(players: int) -> Any:
    import pettingzoo

    return pettingzoo.make("aec", "palaestra/holdem-v0", num_players=players)


def _rlcard_holdem(players: int) -> Any | None:
    try:
        from pettingzoo.classic import texas_holdem_no_limit_v6
    except Exception as err:  # RLCard missing
        print(f"  peer unavailable ({err}); install it with: pip install rlcard")
        return None
    return texas_holdem_no_limit_v6.env(num_players=players)


def bench_holdem(hands: int, repeats: int, players: int) -> dict[str, float]:
    """Hands per second of holdem-v0 and of RLCard's no-limit hold'em, and their ratio."""
    makers: dict[str, Callable[[int], Any]] = {
        "palaestra holdem-v0": _palaestra_holdem,
        "pettingzoo texas_holdem_no_limit_v6 (rlcard)": _rlcard_holdem,
    }
    print(f"  {hands} hands x {repeats} interleaved repeats, {players} players, seeded random play")
    envs = {name: make(players) for name, make in makers.items()}
    envs = {name: env for name, env in envs.items() if env is not None}
    rates: dict[str, list[float]] = {name: [] for name in envs}
    for env in envs.values():
        play_hands(env, max(50, hands // 20), seed=123)  # warm-up
    for repeat in range(repeats):
        for name, env in envs.items():
            rates[name].append(hands / play_hands(env, hands, seed=1000 + repeat))
    results = {}
    for name, values in rates.items():
        results[name] = statistics.median(values)
        spread = f"{min(values):.0f}-{max(values):.0f}"
        print(f"  {name}: {results[name]:.0f} hands/s (median of {repeats}, range {spread})")
    names = list(results)
    if len(names) == 2:
        ratio = results[names[0]] / results[names[1]]
        print(f"  ratio holdem-v0 / rlcard: {ratio:.2f}x")
        results["ratio"] = ratio
    return results


def craft_steps(env: Any, steps: int, seed: int) -> float:
    """Step a Craft-v0 env ``steps`` times with random legal actions; return seconds."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        legal = list(info["legal_actions"])
        _, _, terminated, truncated, info = env.step(legal[rng.integers(len(legal))])
        if terminated or truncated:
            _, info = env.reset()
    return time.perf_counter() - start


def craft_parallel_steps(env: Any, steps: int, seed: int) -> float:
    """Step a craft-v0 env ``steps`` times (all agents act each step); return seconds."""
    rng = np.random.default_rng(seed)
    _, infos = env.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
        actions = {}
        for agent in env.agents:
            legal = list(infos[agent]["legal_actions"])
            actions[agent] = legal[rng.integers(len(legal))]
        _, _, _, _, infos = env.step(actions)
        if not env.agents:
            _, infos = env.reset()
    return time.perf_counter() - start


def bench_craft(steps: int, repeats: int) -> dict[str, float]:
    """Env steps per second of Craft-v0 per observation mode, and of craft-v0."""
    import gymnasium as gym
    import pettingzoo

    print(f"  {steps} steps x {repeats} interleaved repeats, default task, random legal play")
    runs: dict[str, tuple[Any, Callable[[Any, int, int], float]]] = {
        f"Craft-v0 {mode}": (gym.make("palaestra/Craft-v0", obs_mode=mode), craft_steps)
        for mode in ("vector", "text", "both")
    }
    for agents in (2, 4):
        env = pettingzoo.make(
            "parallel", "palaestra/craft-v0", max_agents=agents,
            task={"num_agents": agents},
        )  # fmt: skip
        runs[f"craft-v0 {agents} agents vector"] = (env, craft_parallel_steps)
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for env, run in runs.values():
        run(env, max(500, steps // 20), 123)  # warm-up
    for repeat in range(repeats):
        for name, (env, run) in runs.items():
            rates[name].append(steps / run(env, steps, 1000 + repeat))
    results = {}
    for name, values in rates.items():
        results[name] = statistics.median(values)
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(f"  {name}: {results[name]:,.0f} env steps/s (median of {repeats}, range {spread})")
    for env, _ in runs.values():
        env.close()
    return results


def gauntlet_engine_steps(run_maker: Callable[[], Any], steps: int, seed: int) -> float:
    """Step bare Gauntlet runs ``steps`` times with random legal actions; return seconds."""
    rng = np.random.default_rng(seed)
    run = run_maker()
    start = time.perf_counter()
    for _ in range(steps):
        legal = run.legal_indices()
        run.step(legal[rng.integers(len(legal))])
        if run.over:
            run = run_maker()
    return time.perf_counter() - start


def bench_gauntlet(steps: int, repeats: int) -> dict[str, float]:
    """Env steps per second of Gauntlet-v0 per observation mode, and of its bare engine."""
    import gymnasium as gym

    from palaestra.envs.gauntlet import Run

    print(f"  {steps} steps x {repeats} interleaved repeats, default task, random legal play")
    engine_rng = np.random.default_rng(0)
    runs: dict[str, Callable[[int, int], float]] = {}
    for mode in ("vector", "text", "both"):
        env = gym.make("palaestra/Gauntlet-v0", obs_mode=mode)
        runs[f"Gauntlet-v0 {mode}"] = lambda n, s, env=env: craft_steps(env, n, s)
    runs["Gauntlet engine (Run.step, no observation)"] = lambda n, s: gauntlet_engine_steps(
        lambda: Run(None, engine_rng), n, s
    )
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run(max(500, steps // 20), 123)  # warm-up
    for repeat in range(repeats):
        for name, run in runs.items():
            rates[name].append(steps / run(steps, 1000 + repeat))
    results = {}
    for name, values in rates.items():
        results[name] = statistics.median(values)
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(f"  {name}: {results[name]:,.0f} steps/s (median of {repeats}, range {spread})")
    return results


SECTIONS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "holdem": lambda args: bench_holdem(args.hands, args.repeats, args.players),
    "craft": lambda args: bench_craft(args.steps, args.repeats),
    "gauntlet": lambda args: bench_gauntlet(args.steps, args.repeats),
}
"""The benchmark sections by name, run in this order; each takes the parsed arguments."""


def main(argv: list[str] | None = None) -> None:
    """Run the sections asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hands", type=int, default=3000, help="hold'em hands per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats per env")
    parser.add_argument("--players", type=int, default=2, help="seats at the hold'em table")
    parser.add_argument("--steps", type=int, default=50_000, help="env steps per repeat")
    parser.add_argument("--only", choices=list(SECTIONS), default=None, help="one section")
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: no pinning)")
    args = parser.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    warnings.filterwarnings("ignore")
    for name, run in SECTIONS.items():
        if args.only in (None, name):
            pinned = f"pinned to core {args.cpu}" if args.cpu >= 0 else "not pinned"
            print(f"[{name}] {pinned}")
            run(args)


if __name__ == "__main__":
    main()
