"""Probe accuracy of the Craft ``BeliefTracker`` on false-belief scenarios, with baselines.

For each scenario of :func:`palaestra.envs.craft.scenarios.false_belief_scenarios` (chests
with single items, items moved by the world while agents look away, trees cut), the
parallel env ``palaestra/craft-v0`` runs ``--steps`` steps with every agent walking between
the chests (a seeded scripted wanderer: it dwells by a chest and takes, puts, gives or
places now and then). One :class:`~palaestra.memory.BeliefTracker` per agent reads only that
agent's observation and info. At every step (the reset observation included) every probe
of ``env.probes(agent)`` is scored against its ``belief`` answer (what the agent perceived,
by the simulator's rules) for four answerers:

- ``tracker``: ``tracker.answer(probe)`` (the perception layer);
- ``reality``: the probe's ``reality`` answer (right exactly on true-belief probes);
- ``own belief``: for a second-order probe, the tracker's own first-order answer about the
  same target (the answer of a listener who ignores the other mind); for a first-order
  probe this is the tracker itself;
- ``random``: uniform over the candidate answers of the probe's kind (items: ``unknown``,
  ``used``, each chest, each agent; tiles: ``unknown`` and each tile kind), seeded.

Rows: order 1 and 2, split into true-belief (belief = reality) and false-belief probes, and
totals. Intervals: 95% percentile bootstrap over scenarios (``--bootstrap`` resamples of
whole scenarios, since probes of one episode are not independent).

Run: ``python benchmarks/tom_probes.py --scenarios 1000 --seed 0 --steps 60``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

import numpy as np
import pettingzoo

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.craft.beliefs import Probe
from palaestra.envs.craft.scenarios import chest_positions, false_belief_scenarios
from palaestra.envs.craft.vocabulary import TILES
from palaestra.memory.tracker import BeliefTracker

METHODS = ("tracker", "reality", "own belief", "random")
CELLS = ((1, False), (1, True), (2, False), (2, True))
"""(order, false belief) of each counted cell."""
MOVES = {1: (0, -1), 2: (1, 0), 3: (0, 1), 4: (-1, 0)}


class Wanderer:
    """Walks between the chests (and a spot or two), dwells, takes, puts, gives, places."""

    def __init__(self, task: dict[str, Any], rng: random.Random) -> None:
        self.rng = rng
        w, h = len(task["layout"][0]), len(task["layout"])
        self.spots = [*chest_positions(task), (rng.randrange(w), rng.randrange(h))]
        self.target, self.dwell = rng.choice(self.spots), 0

    def act(self, obs: dict[str, Any], legal: list[int]) -> int:
        """The next action, legal by ``info["legal_actions"]``."""
        rng = self.rng
        x, y = (int(v) for v in obs["position"])
        tx, ty = self.target
        distance = abs(tx - x) + abs(ty - y)
        if distance <= 1:
            if self.dwell <= 0:
                self.dwell, self.target = rng.randint(0, 6), rng.choice(self.spots)
            self.dwell -= 1
            busy = [a for a in legal if 13 <= a < 41]  # place, put, take, give
            return rng.choice(busy) if busy and rng.random() < 0.4 else 0
        if rng.random() < 0.1:
            return rng.choice(legal)
        moves = [a for a in legal if a in MOVES]
        closer = [
            a for a in moves if abs(tx - x - MOVES[a][0]) + abs(ty - y - MOVES[a][1]) < distance
        ]
        return rng.choice(closer or moves or [0])


def candidates(probe: Probe, chests: int, agents: list[str]) -> list[str]:
    """The answers a probe of this kind can have in this episode."""
    if probe.kind == "tile":
        return ["unknown", *TILES[1:]]
    return ["unknown", "used", *(f"chest {c}" for c in range(chests)), *agents]


def run_scenario(
    env: Any, task: dict[str, Any], seed: int, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """One episode; returns ``(correct[cell, method], count[cell])``."""
    correct = np.zeros((len(CELLS), len(METHODS)), dtype=np.int64)
    count = np.zeros(len(CELLS), dtype=np.int64)
    cell_of = {c: k for k, c in enumerate(CELLS)}
    obs, infos = env.reset(seed=seed, options={"task": task})
    agents = list(env.agents)
    trackers = {a: BeliefTracker(a) for a in agents}
    rng = random.Random(seed)
    guess = random.Random(seed + 1_000_003)
    policies = {a: Wanderer(task, rng) for a in agents}
    chests = len(task["chests"])
    for t in range(steps + 1):
        for agent in obs:
            tracker = trackers[agent]
            tracker.observe(obs[agent], infos[agent])
            probes = env.probes(agent)
            mine = {p.target: tracker.answer(p) for p in probes if p.order == 1}
            for p in probes:
                k = cell_of[(p.order, p.false_belief)]
                answer = mine[p.target] if p.order == 1 else tracker.answer(p)
                count[k] += 1
                correct[k, 0] += answer == p.belief
                correct[k, 1] += p.reality == p.belief
                correct[k, 2] += mine[p.target] == p.belief
                correct[k, 3] += guess.choice(candidates(p, chests, agents)) == p.belief
        if not env.agents or t == steps:
            break
        actions = {a: policies[a].act(obs[a], list(infos[a]["legal_actions"])) for a in obs}
        obs, _, _, _, infos = env.step(actions)
    return correct, count


def bootstrap(
    correct: np.ndarray, count: np.ndarray, resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile 95% intervals of pooled accuracy, resampling whole scenarios.

    Args:
        correct: ``(scenarios, rows, methods)`` correct answers.
        count: ``(scenarios, rows)`` probes.
    """
    s = correct.shape[0]
    weights = np.random.default_rng(seed).multinomial(s, np.full(s, 1.0 / s), size=resamples)
    hits = np.einsum("bs,srm->brm", weights, correct)
    totals = np.einsum("bs,sr->br", weights, count)[:, :, None]
    rates = np.divide(hits, totals, out=np.full(hits.shape, np.nan), where=totals > 0)
    return np.nanpercentile(rates, 2.5, axis=0), np.nanpercentile(rates, 97.5, axis=0)


def rows(correct: np.ndarray, count: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The table's rows: each cell, each order's total, and the grand total."""
    names, c_rows, n_rows = [], [], []
    for k, (order, false) in enumerate(CELLS):
        names.append(f"order {order}, {'false' if false else 'true'} belief")
        c_rows.append(correct[:, k])
        n_rows.append(count[:, k])
        if false:
            names.append(f"order {order}, all")
            c_rows.append(correct[:, k - 1] + correct[:, k])
            n_rows.append(count[:, k - 1] + count[:, k])
    names.append("all probes")
    c_rows.append(correct.sum(axis=1))
    n_rows.append(count.sum(axis=1))
    return names, np.stack(c_rows, axis=1), np.stack(n_rows, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=60, help="steps per episode")
    parser.add_argument("--agents", type=int, default=2, choices=(2, 3, 4))
    parser.add_argument("--obs-mode", choices=("both", "vector"), default="both")
    parser.add_argument("--close-chests", type=float, default=0.15)
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args()
    print(f"command: python benchmarks/tom_probes.py {' '.join(sys.argv[1:])}")
    start, cpu = time.perf_counter(), time.process_time()
    tasks = false_belief_scenarios(
        args.scenarios,
        args.seed,
        num_agents=args.agents,
        steps=args.steps,
        close_chests=args.close_chests,
    )
    env = pettingzoo.make(
        "parallel",
        "palaestra/craft-v0",
        max_agents=args.agents,
        obs_mode=args.obs_mode,
        max_cycles=args.steps,
    )
    results = [
        run_scenario(env, task, args.seed * 100_003 + k, args.steps) for k, task in enumerate(tasks)
    ]
    correct = np.stack([c for c, _ in results])
    count = np.stack([n for _, n in results])
    names, c_rows, n_rows = rows(correct, count)
    low, high = bootstrap(c_rows, n_rows, args.bootstrap, args.seed)
    print(
        f"\n{args.scenarios} scenarios, {args.agents} agents, {args.steps} steps, "
        f"obs_mode {args.obs_mode}; accuracy against the probes' belief answers, % "
        f"[95% scenario-bootstrap interval]\n"
    )
    print("| probes | count | tracker wrong | " + " | ".join(METHODS) + " |")
    print("| --- | ---: | ---: |" + " --- |" * len(METHODS))
    for r, name in enumerate(names):
        n = int(n_rows[:, r].sum())
        cells = []
        for m in range(len(METHODS)):
            acc = 100 * c_rows[:, r, m].sum() / n if n else float("nan")
            cells.append(f"{acc:.2f} [{100 * low[r, m]:.2f}, {100 * high[r, m]:.2f}]")
        wrong = n - int(c_rows[:, r, 0].sum())
        print(f"| {name} | {n} | {wrong} | " + " | ".join(cells) + " |")
    print(
        "\n`own belief` equals `tracker` on first-order probes (the tracker's own answer);"
        " `reality` is right exactly on true-belief probes."
    )
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    print(f"\nwall time {wall:.1f} s, CPU time {used:.1f} s")


if __name__ == "__main__":
    main()
