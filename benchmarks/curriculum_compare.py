"""Compare curriculum schedulers at a fixed training budget, over seeds.

For each env, scheduler and seed, PPO trains with the env's default hyperparameters
(palaestra.train.defaults) while the scheduler chooses every episode's task from a pool of
tasks drawn from the env's task family (:data:`FAMILIES`: a documented part of its task
space; the same pool for every scheduler and seed). Every ``--eval-every`` steps the
deterministic policy plays a held-out set of hard tasks: the ``--held-out`` hardest of 256
fresh draws from the family, never in the training pool.

Per scheduler the script prints, as mean ± 95% confidence interval over seeds (Student t):

* steps until the held-out hard success first reaches ``--threshold`` (runs that never reach
  it count as their full budget, and the table says how many reached it);
* the held-out hard success at the end of training.

Runs are spread over ``--workers`` processes (one torch thread each) and appended to
``--out`` as JSON lines with their evaluation curves, so an interrupted comparison
continues where it stopped, and ``--report-only --threshold T`` prints the tables for
another threshold without training again.

Usage:
    python benchmarks/curriculum_compare.py --env palaestra/Craft-v0 --seeds 5 \\
        --total-timesteps 100000 --workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from stats import mean_ci  # benchmarks/stats.py, a sibling module

SCHEDULERS = (
    "uniform",
    "sequential",
    "anti",
    "cyclical",
    "adcl",
    "plr",
    "learning_progress",
    "medium",
)
POOL_SEED = 0
HELD_OUT_SEED = 987_654


FAMILIES: dict[str, dict[str, Any]] = {
    # Box or table, straight or turning, up to 5 m, the learner following a steady partner.
    "palaestra/Carry-v0": {
        "object": ("box", "table"),
        "route": ("straight", "turn"),
        "route_length": (2.0, 5.0),
        "turn_angle_deg": (-60.0, 60.0),
        "mass_scale": (0.75, 1.25),
        "partner_speed": (0.4, 0.6),
        "partner_noise": (0.0, 0.2),
        "intention_change_rate": (0.0, 0.2),
        "role": ("follower",),
        "partner_load": ("rigid",),
    },
    # The tech tree up to the wooden pickaxe on small maps, from plentiful to scarce
    # resources (stone goals are out of reach of every scheduler at these budgets).
    "palaestra/Craft-v0": {
        "goal": (
            "collect dirt",
            "collect wood",
            "craft planks",
            "craft sticks",
            "craft table",
            "craft wooden_pickaxe",
        ),
        "size": (5, 8),
        "resources": (0.15, 0.4),
        "water": (0.0, 0.1),
    },
}
"""Per env, the part of its task space the comparison trains and evaluates on."""


def task_family(env_id: str) -> Any:
    """The env's task space narrowed to :data:`FAMILIES` (difficulty unchanged)."""
    import gymnasium as gym

    import palaestra  # noqa: F401  (registers the envs)

    env = gym.make(env_id)
    try:
        space = env.unwrapped.task_space
    finally:
        env.close()
    return space.restricted(f"{space.name}-benchmark", **FAMILIES.get(env_id, {}))


def held_out_hard_tasks(env_id: str, count: int) -> list[dict[str, Any]]:
    """The ``count`` hardest of 256 tasks drawn with a seed the training pool never uses."""
    import numpy as np

    space = task_family(env_id)
    rng = np.random.default_rng(HELD_OUT_SEED)
    draws = [space.sample(rng) for _ in range(256)]
    draws.sort(key=space.difficulty, reverse=True)
    return draws[:count]


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """Train one (env, scheduler, seed) cell and evaluate it on the held-out hard tasks."""
    import torch

    from palaestra.curriculum import make, task_pool
    from palaestra.train.callbacks import Callback
    from palaestra.train.curriculum import CurriculumCallback
    from palaestra.train.defaults import defaults_for
    from palaestra.train.evaluate import evaluate_policy
    from palaestra.train.ppo import train

    torch.set_num_threads(1)
    hard = job["hard_tasks"]

    class HeldOutEval(Callback):
        def __init__(self) -> None:
            self.curve: list[tuple[int, float]] = []
            self.next_eval = job["eval_every"]

        def evaluate(self, state: Any) -> None:
            summary = evaluate_policy(
                state.config, state.policy, state.obs_norm,
                episodes=len(hard), tasks=hard,
            )  # fmt: skip
            self.curve.append((state.global_step, float(summary.get("success") or 0.0)))

        def on_update_end(self, state: Any) -> None:
            if state.global_step >= self.next_eval:
                self.evaluate(state)
                self.next_eval += job["eval_every"]

        def on_training_end(self, state: Any) -> None:
            if not self.curve or self.curve[-1][0] != state.global_step:
                self.evaluate(state)

    base = defaults_for(job["env_id"])
    config = dataclasses.replace(
        base,
        total_timesteps=job["total_timesteps"],
        seed=job["seed"],
        run_dir=Path(job["run_dir"]),
        eval_episodes=0,
        video=False,
        quiet=True,
        checkpoint_interval=0,
    )
    pool = task_pool(task_family(job["env_id"]), job["pool_size"], seed=POOL_SEED)
    scheduler = make(job["scheduler"], pool, seed=job["seed"])
    evaluator = HeldOutEval()
    start = time.perf_counter()
    train(config, [evaluator, CurriculumCallback(scheduler)])
    reached = next((step for step, s in evaluator.curve if s >= job["threshold"]), None)
    return {
        **{k: job[k] for k in ("env_id", "scheduler", "seed", "total_timesteps", "threshold")},
        "steps_to_threshold": reached,
        "final_hard_success": evaluator.curve[-1][1] if evaluator.curve else None,
        "curve": evaluator.curve,
        "wall_s": time.perf_counter() - start,
    }


def steps_to(record: dict[str, Any], threshold: float) -> int | None:
    """The first evaluation step whose held-out hard success reached ``threshold``."""
    return next((int(step) for step, s in record["curve"] if s >= threshold), None)


def table(records: list[dict[str, Any]], env_id: str, threshold: float) -> str:
    """A markdown table of one env's results, one row per scheduler."""
    rows = [
        f"**{env_id}**",
        "",
        f"| scheduler | seeds | steps to {threshold:.0%} hard success (runs that reached it) "
        "| final held-out hard success |",
        "| --- | --- | --- | --- |",
    ]
    for name in SCHEDULERS:
        runs = [r for r in records if r["env_id"] == env_id and r["scheduler"] == name]
        if not runs:
            continue
        reach = [steps_to(r, threshold) for r in runs]
        # A run that never reached the threshold counts as its whole budget (its last step).
        steps = [
            (r["curve"][-1][0] if r["curve"] else r["total_timesteps"]) if s is None else s
            for r, s in zip(runs, reach, strict=True)
        ]
        reached = sum(s is not None for s in reach)
        final = [r["final_hard_success"] or 0.0 for r in runs]
        s_mean, s_ci = mean_ci([float(s) for s in steps])
        f_mean, f_ci = mean_ci(final)
        rows.append(
            f"| {name} | {len(runs)} | {s_mean:,.0f} ± {s_ci:,.0f} ({reached}/{len(runs)}) "
            f"| {f_mean:.2f} ± {f_ci:.2f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", nargs="+", default=["palaestra/Craft-v0", "palaestra/Carry-v0"])
    parser.add_argument("--schedulers", nargs="+", default=list(SCHEDULERS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--total-timesteps", type=int, default=100_000)
    parser.add_argument("--eval-every", type=int, default=10_000)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--held-out", type=int, default=8)
    parser.add_argument("--pool-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("runs/curriculum_compare"))
    parser.add_argument(
        "--report-only", action="store_true", help="print the tables of --out's results"
    )
    args = parser.parse_args()

    for name in args.schedulers:
        if name not in SCHEDULERS:
            parser.error(f"unknown scheduler {name!r}; valid: {', '.join(SCHEDULERS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.jsonl"
    done: list[dict[str, Any]] = []
    if results_path.exists():
        done = [json.loads(line) for line in results_path.read_text().splitlines() if line]
    key = lambda r: (r["env_id"], r["scheduler"], r["seed"], r["total_timesteps"])  # noqa: E731
    finished = {key(r) for r in done}
    if args.report_only:
        for env_id in args.env:
            budget = [r for r in done if r["total_timesteps"] == args.total_timesteps]
            print(table(budget, env_id, args.threshold), end="\n\n")
        return

    jobs = []
    for env_id in args.env:
        hard = held_out_hard_tasks(env_id, args.held_out)
        for seed in range(1, args.seeds + 1):
            for name in args.schedulers:
                job = {
                    "env_id": env_id, "scheduler": name, "seed": seed,
                    "total_timesteps": args.total_timesteps, "threshold": args.threshold,
                    "eval_every": args.eval_every, "pool_size": args.pool_size,
                    "hard_tasks": hard,
                    "run_dir": str(args.out / f"{env_id.replace('/', '_')}__{name}__{seed}"),
                }  # fmt: skip
                if key(job) not in finished:
                    jobs.append(job)
    print(f"{len(jobs)} runs to do ({len(finished)} already in {results_path})", flush=True)
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        for record in pool.map(run_one, jobs):
            with results_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            done.append(record)
            print(
                f"{record['env_id']} {record['scheduler']:>17} seed {record['seed']}: "
                f"steps to {record['threshold']:.0%} = {record['steps_to_threshold']}, "
                f"final hard success {record['final_hard_success']} "
                f"({record['wall_s']:.0f} s)",
                flush=True,
            )
    for env_id in args.env:
        print()
        budget = [r for r in done if r["total_timesteps"] == args.total_timesteps]
        print(table(budget, env_id, args.threshold))


if __name__ == "__main__":
    main()
