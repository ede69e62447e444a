"""Theory of mind in a mixed-expertise team (MindForge's setting) on ``palaestra/craft-v0``.

A novice who knows no recipe and an expert on an island who knows them all
(:func:`palaestra.envs.craft.teams.mixed_expertise_tasks`): the novice must be taught.
Three teams play the same tasks with the same seeds:

- ``tom``: two :class:`~palaestra.agents.ToMCrafter` (belief tracker, talk on);
- ``cooperative``: two :class:`~palaestra.agents.CooperativeCrafter` (no tracker, talk on);
- ``talk_off``: two ``CooperativeCrafter`` with ``talk=False``.

Part 1 reports team success (Wilson 95% interval) and steps to success (mean and 95%
Student-t interval over the successful episodes) per goal, without and with scheduled
false-belief world events, over ``--scenarios`` tasks per cell.

Part 2 (lifelong) plays ``--sequences`` sequences of 10 consecutive episodes with random
goals: the ``tom`` team with one persistent :class:`~palaestra.memory.MemoryStore` per
sequence (recipes learned through messages are in semantic memory at the next episode and
become the novice's ``knowledge`` there) against the same team with memory reset every
episode; success and steps per episode index, with intervals over sequences.

Run: ``python benchmarks/tom_team.py`` (defaults: 200 scenarios per cell, 50 sequences).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pettingzoo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stats import mean_ci, wilson

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import CooperativeCrafter, ToMCrafter
from palaestra.agents.tom_crafter import remembered_recipes
from palaestra.envs.craft.teams import EXPERT, MIXED_GOALS, NOVICE, mixed_expertise_tasks
from palaestra.memory import MemoryStore

MAX_CYCLES = 150
TEAMS = ("tom", "cooperative", "talk_off")


def make_team(kind: str, env: Any, store: MemoryStore | None = None) -> dict[str, Any]:
    """The two agents of a team."""
    if kind == "tom":
        return {a: ToMCrafter(env, a, store=store) for a in (NOVICE, EXPERT)}
    return {a: CooperativeCrafter(env, a, talk=kind != "talk_off") for a in (NOVICE, EXPERT)}


def play_team(env: Any, team: dict[str, Any], task: dict[str, Any], seed: int) -> dict[str, Any]:
    """One episode; returns the novice's last info (``success``, ``steps``)."""
    observations, infos = env.reset(seed=seed, options={"task": task})
    for agent in team.values():
        agent.reset()
    last_obs, last_info = observations, infos
    while env.agents:
        actions = {a: team[a].act(observations[a], infos[a]) for a in env.agents}
        observations, _, _, _, infos = env.step(actions)
        if observations:
            last_obs, last_info = observations, infos
    for name, agent in team.items():
        if hasattr(agent, "end_episode"):
            agent.end_episode(last_obs[name], last_info[name])
    return last_info[NOVICE]


def _fmt_rate(k: int, n: int) -> str:
    low, high = wilson(k, n)
    return f"{k / n:.3f} [{low:.3f}, {high:.3f}]"


def _fmt_steps(steps: list[float]) -> str:
    if not steps:
        return "null (no success)"
    mean, half = mean_ci(steps)
    return f"{mean:.1f} ± {half:.1f}" if not math.isnan(half) else f"{mean:.1f}"


def part_one(scenarios: int, seed: int) -> None:
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=2, max_cycles=MAX_CYCLES)
    print("\n### Team success and steps to success\n")
    print("| goal | events | team | success [95% CI] | steps to success (mean ± 95% CI) |")
    print("| --- | --- | --- | --- | --- |")
    for events in (False, True):
        for g, goal in enumerate(MIXED_GOALS):
            tasks = mixed_expertise_tasks(
                scenarios, seed + 1000 * g + 500 * events, goals=(goal,), events=events
            )
            for kind in TEAMS:
                wins, steps = 0, []
                for k, task in enumerate(tasks):
                    info = play_team(env, make_team(kind, env), task, seed=k)
                    if info["success"]:
                        wins += 1
                        steps.append(float(info["steps"]))
                label = "yes" if events else "no"
                row = f"| {goal} | {label} | {kind} | {_fmt_rate(wins, len(tasks))} |"
                print(f"{row} {_fmt_steps(steps)} |", flush=True)


def part_two(sequences: int, seed: int, length: int = 10) -> None:
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=2, max_cycles=MAX_CYCLES)
    goals = tuple(g for g in MIXED_GOALS if g not in ("collect dirt", "collect wood"))
    results: dict[str, list[list[tuple[bool, int]]]] = {"persistent": [], "reset": []}
    for mode in results:
        for s in range(sequences):
            tasks = mixed_expertise_tasks(length, seed + 7919 * s, goals=goals)
            run: list[tuple[bool, int]] = []
            with tempfile.TemporaryDirectory() as folder:
                for k, task in enumerate(tasks):
                    path = Path(folder) / (f"episode_{k}" if mode == "reset" else "memory")
                    with MemoryStore(path) as store:
                        knowledge = remembered_recipes(store, NOVICE)
                        task = {**task, "knowledge": [knowledge, task["knowledge"][1]]}
                        info = play_team(env, make_team("tom", env, store), task, seed=k)
                    run.append((bool(info["success"]), int(info["steps"])))
            results[mode].append(run)
    print(f"\n### Lifelong: {sequences} sequences of {length} episodes\n")
    print("| episode | persistent success | persistent steps | reset success | reset steps |")
    print("| --- | --- | --- | --- | --- |")
    for k in range(length):
        cells = []
        for mode in ("persistent", "reset"):
            column = [run[k] for run in results[mode]]
            wins = sum(ok for ok, _ in column)
            cells += [_fmt_rate(wins, len(column)), _fmt_steps([n for ok, n in column if ok])]
        print(f"| {k + 1} | " + " | ".join(cells) + " |", flush=True)
    for mode in ("persistent", "reset"):
        per_seq = [sum(n for _, n in run) / length for run in results[mode]]
        mean, half = mean_ci(per_seq)
        print(f"{mode}: mean steps per episode over a sequence {mean:.1f} ± {half:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=200, help="tasks per goal x events cell")
    parser.add_argument("--sequences", type=int, default=50, help="lifelong sequences")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--part", choices=("1", "2", "both"), default="both")
    args = parser.parse_args()
    print(f"command: python benchmarks/tom_team.py {' '.join(sys.argv[1:])}")
    start = time.perf_counter()
    if args.part in ("1", "both"):
        part_one(args.scenarios, args.seed)
    if args.part in ("2", "both"):
        part_two(args.sequences, args.seed)
    print(f"\nwall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
