"""Throughput of ``palaestra/Carry-v0`` and the share of each step spent in physics.

Runs the env made by ``gym.make`` (with Gymnasium's default wrappers) on one CPU core with
seeded uniform random actions, resetting when an episode ends, and prints:

* env steps per second at the shipped control rate (50 Hz, 3 physics substeps per step);
* in a second pass over the same seeds, the time spent inside ``pybullet.stepSimulation``
  (timed by a wrapper whose own cost is counted as non-physics time), and so the physics
  share of a step: physics time / total time. A share of 0.5 means the Python around the
  physics costs as much as the physics;
* the throughput of the ``partner_load="compliant"`` task (the partner's spring and the
  learner's pitch torque, applied before every substep) over the default ``rigid`` one, runs
  of the two interleaved on the same seeds, best of ``--repeats`` each (target: >= 0.9).

Usage:
    python benchmarks/carry_throughput.py [--steps 20000] [--repeats 3] [--cpu 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.carry import sim as carry_sim


def run(steps: int, task: dict, seed: int) -> tuple[float, int]:
    """Step the env ``steps`` times; return (seconds, resets)."""
    env = gym.make("palaestra/Carry-v0")
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(steps, 3)).astype(np.float32)
    env.reset(seed=seed, options={"task": task})
    resets = 0
    start = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i])
        if terminated or truncated:
            env.reset()
            resets += 1
    elapsed = time.perf_counter() - start
    env.close()
    return elapsed, resets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (-1: no pinning)")
    parser.add_argument("--object", default="box", choices=["box", "table", "stretcher"])
    parser.add_argument("--route", default="straight", choices=["straight", "turn", "slope"])
    args = parser.parse_args()
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    task = {"object": args.object, "route": args.route}

    run(2000, task, 0)  # warm up imports and caches
    plain = [run(args.steps, task, seed)[0] for seed in range(args.repeats)]

    physics = [0.0]
    original = carry_sim.pb.stepSimulation

    def timed_step(**kwargs: int) -> None:
        t0 = time.perf_counter()
        original(**kwargs)
        physics[0] += time.perf_counter() - t0

    carry_sim.pb.stepSimulation = timed_step
    shares = []
    try:
        for seed in range(args.repeats):
            physics[0] = 0.0
            total, _ = run(args.steps, task, seed)
            shares.append(physics[0] / total)
    finally:
        carry_sim.pb.stepSimulation = original

    best = min(plain)
    sps = args.steps / best
    share = statistics.median(shares)
    print(f"task: {task}, {args.steps} steps x {args.repeats} repeats, pinned to core {args.cpu}")
    print(f"control rate: {carry_sim.CONTROL_HZ} Hz, {carry_sim.SUBSTEPS} physics substeps/step")
    print(f"env steps/s (best of {args.repeats}): {sps:,.0f}  ({1e6 / sps:.0f} us/step)")
    print(f"env steps/s (median):     {args.steps / statistics.median(plain):,.0f}")
    print(
        f"physics share of a step (median): {share:.2f}  "
        f"(stepSimulation {share * 1e6 / sps:.0f} us of {1e6 / sps:.0f} us)"
    )
    print(
        f"target >= 4000 steps/s: {'met' if sps >= 4000 else 'NOT met'}; "
        f"target physics share >= 0.5: {'met' if share >= 0.5 else 'NOT met'}"
    )
    times: dict[str, list[float]] = {"rigid": [], "compliant": []}
    for seed in range(args.repeats):
        for load in times:
            times[load].append(run(args.steps, {**task, "partner_load": load}, seed)[0])
    ratio = min(times["rigid"]) / min(times["compliant"])
    print(
        f"compliant / rigid throughput (interleaved, best of {args.repeats}): {ratio:.2f} "
        f"({args.steps / min(times['compliant']):,.0f} vs "
        f"{args.steps / min(times['rigid']):,.0f} steps/s; "
        f"target >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
