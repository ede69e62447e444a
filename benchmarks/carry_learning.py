"""Does PPO spare its partner more than the best classical follower? (COLA's claim.)

Two comparisons, each against classical controllers tuned by a printed sweep on the same
held-out evaluation seeds the learned policies play (the sweep picks, per cell, the setting
with the lowest partner effort among those with at least 95% success: the comparison is
against the best classical controller found, tuned where it is scored).

``rigid``: the default task (box, straight route, follower role, ``partner_load="rigid"``),
where statics give each carrier half the weight. PPO (the env's default settings) against
the best ``AdmittanceFollower``; the target is the partner's guiding force per metre (the
horizontal impulse per metre travelled) at most 0.75x the admittance follower's, at 95%
success or more.

``compliant``: ``partner_load="compliant"``, where the partner holds its handle through a
spring and the learner's grip passes torque, so a better follower can take load off it.
Every object (box, table, stretcher) on every route (straight, turn, slope), with route
length, turn angle, incline, partner speed, noise and intention changes drawn per episode
(on one fixed route a follower could memorise it instead of inferring intent). Sides:

* the best ``AdmittanceFollower`` (damping swept) and the best ``LoadTakingFollower``
  (admittance plus a force loop that carries a chosen share of the weight; share swept);
* a PPO follower, trained on every cell at once, role follower, with the reward's
  ``partner_effort`` weight (the partner's COLA effort, which the learner never observes);
* a PPO policy for both roles, the role drawn per episode, evaluated as follower and leader.

Each PPO side trains ``--train-seeds`` times; each cell is evaluated on ``--eval-seeds``
held-out episodes shared by all sides. Reported per cell: success, the partner's COLA effort
(``mean |F_xy| + |F_z|``), interaction force and work, the learner's own effort, and the
ratio of PPO's partner effort to the best classical one, with 95% t-intervals over training
seeds (PPO) or evaluation episodes (classical). Target: the ratio at most 0.75 at 95%
success or more, per cell; both-roles success at least 90% as leader and as follower on the
straight and turn routes.

Usage:
    python benchmarks/carry_learning.py rigid [--steps 2000000] [--eval-seeds 20]
    python benchmarks/carry_learning.py compliant [--steps 1000000] [--train-seeds 5]
        [--eval-seeds 20] [--workers 2]
    Add ``--reuse`` to evaluate finished runs in ``--run-dir`` instead of training again.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stats import mean_ci  # benchmarks/stats.py, a sibling module

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import AdmittanceFollower, Agent, LoadTakingFollower, PolicyAgent, play
from palaestra.envs.carry.task import CARRY_TASK_SPACE
from palaestra.train.evaluate import EVAL_SEED_OFFSET

RIGID_TASK = {"object": "box", "route": "straight", "role": "follower"}
OBJECTS = ("box", "table", "stretcher")
ROUTES = ("straight", "turn", "slope")
FAMILY = {
    "partner_load": ("compliant",),
    "route_length": (2.5, 4.5),
    "turn_angle_deg": (-60.0, 60.0),
    "slope_deg": (3.0, 7.0),
    "mass_scale": (1.0, 1.0),
    "partner_speed": (0.35, 0.65),
    "partner_noise": (0.0, 0.3),
    "intention_change_rate": (0.0, 0.3),
    "grip_torque_limit": (87.0, 87.0),
}
"""The compliant task family; object, route and role are set per cell and per side."""
PARTNER_EFFORT_WEIGHT = 0.5
"""The reward's price of the partner's effort, per 100 N. Against the tilt weight (2 per
radian) it sets how far the learner may tilt the object to take load: taking the half weight
of the box (49 N) is worth 0.245 a step, as much as 7 degrees of tilt, about what the
load-taking follower tilts the table to carry 90% of it. At 0.1 the learner kept the object
within 1.4 degrees of level and left its partner most of the table's and stretcher's load."""
DAMPINGS = (15.0, 20.0, 30.0, 40.0, 60.0, 90.0, 130.0)
SHARES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
SUCCESS_BAR = 0.95
EVAL_BASE = EVAL_SEED_OFFSET + 500


def cell_tasks(obj: str, route: str, role: str, n: int) -> list[dict[str, Any]]:
    """``n`` held-out tasks of one cell, the same for every side (a seed of their own)."""
    space = CARRY_TASK_SPACE.restricted(
        "carry-effort", **FAMILY, object=(obj,), route=(route,), role=(role,)
    )
    rng = np.random.default_rng([EVAL_BASE, OBJECTS.index(obj), ROUTES.index(route)])
    return [space.sample(rng) for _ in range(n)]


def episodes(agent: Agent, tasks: list[dict[str, Any]], seeds: list[int]) -> list[dict]:
    """The episode-end info of one episode per (task, seed)."""
    env = gym.make("palaestra/Carry-v0")
    try:
        return [r.infos["agent"] for r in play(env, agent, seeds=seeds, tasks=tasks)]
    finally:
        env.close()


def summary(infos: list[dict]) -> dict[str, float]:
    """Means over episodes of the metrics the tables show."""
    keys = ("partner_cola_effort", "partner_interaction_force", "partner_work",
            "partner_guiding_force_per_m", "partner_effort", "partner_horizontal_force",
            "own_cola_effort", "mean_tilt_deg")  # fmt: skip
    out = {"success": float(np.mean([i["success"] for i in infos]))}
    for key in keys:
        values = [i[key] for i in infos if not math.isnan(i[key])]
        out[key] = float(np.mean(values)) if values else math.nan
    return out


def sweep(label: str, make: Any, settings: tuple, tasks: list, seeds: list) -> tuple:
    """Play each setting; print it; return (setting, infos) of the best one (or None)."""
    best = None
    for setting in settings:
        infos = episodes(make(setting), tasks, seeds)
        s = summary(infos)
        print(f"    {label} {setting:g}: success {s['success']:.0%}, partner COLA effort "
              f"{s['partner_cola_effort']:.1f} N, guiding {s['partner_guiding_force_per_m']:.1f}"
              " N s/m")  # fmt: skip
        if s["success"] >= SUCCESS_BAR and (
            best is None or s["partner_cola_effort"] < summary(best[1])["partner_cola_effort"]
        ):
            best = (setting, infos)
    return best


def train_one(job: dict[str, Any]) -> str:
    """Train one PPO side with one seed (in a worker process); returns its run folder."""
    import torch

    from palaestra.curriculum import make
    from palaestra.train.curriculum import CurriculumCallback
    from palaestra.train.defaults import defaults_for
    from palaestra.train.ppo import train

    torch.set_num_threads(1)
    run_dir = Path(job["run_dir"])
    if job["reuse"] and (run_dir / "policy.json").exists():
        return str(run_dir)
    config = dataclasses.replace(
        defaults_for("palaestra/Carry-v0"),
        total_timesteps=job["steps"],
        run_dir=run_dir,
        seed=job["seed"],
        env_kwargs={"reward_weights": job["reward_weights"], **job.get("env_kwargs", {})},
        eval_episodes=0,
        video=False,
        quiet=True,
        checkpoint_interval=0,
    )
    callbacks = []
    if job.get("family"):
        space = CARRY_TASK_SPACE.restricted("carry-effort-train", **job["family"])
        callbacks.append(CurriculumCallback(make("uniform", space, seed=job["seed"])))
    start = time.perf_counter()
    train(config, callbacks)
    print(f"  trained {run_dir} in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return str(run_dir)


def fmt(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    """``mean [low, high]`` of a 95% t-interval (or just the mean for one value)."""
    mean, half = mean_ci([v * scale for v in values])
    if math.isnan(half):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{mean - half:.{digits}f}, {mean + half:.{digits}f}]"


def run_rigid(args: argparse.Namespace) -> None:
    """The default task: PPO against the best admittance follower, guiding force per metre."""
    seeds = [EVAL_BASE + i for i in range(args.eval_seeds)]
    tasks = [RIGID_TASK]
    print("admittance follower sweep (rigid default task, held-out seeds):")
    best = sweep("damping", lambda d: AdmittanceFollower(damping=d), DAMPINGS, tasks, seeds)
    job = {
        "run_dir": str(args.run_dir / "rigid"),
        "steps": args.steps,
        "seed": 1,
        "reuse": args.reuse,
        "reward_weights": {},
        "env_kwargs": {"task": RIGID_TASK},
    }
    learned = episodes(PolicyAgent.from_run(train_one(job)), tasks, seeds)
    rows = [("PPO follower", learned)]
    if best is not None:
        rows.insert(0, (f"best admittance (damping {best[0]:g})", best[1]))
    print(
        "\n| follower | success | partner effort (N) | horizontal (N) | guiding (N s/m) "
        "| interaction (N) | work (J) |\n| --- | --- | --- | --- | --- | --- | --- |"
    )
    for name, infos in rows:
        col = {k: [i[k] for i in infos] for k in infos[0] if isinstance(infos[0][k], float)}
        print(f"| {name} | {np.mean([i['success'] for i in infos]):.0%} | "
              f"{fmt(col['partner_effort'])} | {fmt(col['partner_horizontal_force'])} | "
              f"{fmt(col['partner_guiding_force_per_m'])} | "
              f"{fmt(col['partner_interaction_force'])} | "
              f"{fmt(col['partner_work'])} |")  # fmt: skip
    if best is not None:
        ratio = (
            summary(learned)["partner_guiding_force_per_m"]
            / summary(best[1])["partner_guiding_force_per_m"]
        )
        ok = ratio <= 0.75 and summary(learned)["success"] >= SUCCESS_BAR
        print(f"\nguiding force per metre, PPO / best admittance: {ratio:.2f} "
              f"(target <= 0.75 at >= 95% success: {'met' if ok else 'NOT met'})")  # fmt: skip


def run_compliant(args: argparse.Namespace) -> None:
    """The compliant task grid: classical sweeps, PPO follower, PPO both roles."""
    seeds = [EVAL_BASE + i for i in range(args.eval_seeds)]
    weights = {"partner_effort": PARTNER_EFFORT_WEIGHT}
    jobs = []
    for side, roles in (("follower", ("follower",)), ("both", ("leader", "follower"))):
        for seed in range(1, args.train_seeds + 1):
            family = {**FAMILY, "role": roles}
            jobs.append({"run_dir": str(args.run_dir / f"{side}-{seed}"), "steps": args.steps,
                         "seed": seed, "reuse": args.reuse, "reward_weights": weights,
                         "family": family, "side": side})  # fmt: skip
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        runs = list(pool.map(train_one, jobs))
    print(f"trained {len(runs)} runs in {(time.perf_counter() - start) / 60:.1f} min")
    policies = {"follower": [], "both": []}
    for job, run in zip(jobs, runs, strict=True):
        policies[job["side"]].append(run)

    records: dict[str, Any] = {}
    for obj in OBJECTS:
        for route in ROUTES:
            cell = f"{obj}/{route}"
            print(f"\n{cell}:")
            tasks = cell_tasks(obj, route, "follower", args.eval_seeds)
            adm = sweep("admittance damping", lambda d: AdmittanceFollower(damping=d),
                        DAMPINGS, tasks, seeds)  # fmt: skip
            load = sweep("load-taking share",
                         lambda s: LoadTakingFollower(share=s, damping=15.0),
                         SHARES, tasks, seeds)  # fmt: skip
            sides = {"admittance": adm, "load-taking": load}
            classical = [b for b in (adm, load) if b is not None]
            best = min(classical, key=lambda b: summary(b[1])["partner_cola_effort"], default=None)
            rec: dict[str, Any] = {
                name: None if b is None else {"setting": b[0], **summary(b[1])}
                for name, b in sides.items()
            }
            for side in ("follower", "both"):
                per_seed = [summary(episodes(PolicyAgent.from_run(r), tasks, seeds))
                            for r in policies[side]]  # fmt: skip
                rec[f"ppo-{side}"] = per_seed
            leader_tasks = cell_tasks(obj, route, "leader", args.eval_seeds)
            rec["ppo-both-leader"] = [
                summary(episodes(PolicyAgent.from_run(r), leader_tasks, seeds))
                for r in policies["both"]
            ]
            rec["best-classical"] = None if best is None else summary(best[1])
            records[cell] = rec
            print(f"  best classical: {rec['best-classical']}")
    args.run_dir.mkdir(parents=True, exist_ok=True)
    out = args.run_dir / "compliant.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    tmp.replace(out)
    report(records)


def report(records: dict[str, Any]) -> None:
    """Print the Markdown tables of the compliant comparison."""
    print("\n| object / route | best classical (setting) | success | partner COLA effort (N) "
          "| PPO follower success | PPO partner effort (N) | ratio | interaction (N) "
          "| work (J) | PPO own effort (N) |\n" + "| --- " * 10 + "|")  # fmt: skip
    for cell, rec in records.items():
        best = rec["best-classical"]
        names = [k for k in ("admittance", "load-taking") if rec[k] and best
                 and rec[k]["partner_cola_effort"] == best["partner_cola_effort"]]  # fmt: skip
        name = names[0] if names else "none"
        ppo = rec["ppo-follower"]
        ratios = (
            [p["partner_cola_effort"] / best["partner_cola_effort"] for p in ppo] if best else []
        )
        setting = rec[name]["setting"] if best else ""
        print(f"| {cell} | {name} ({setting:g}) | {best['success']:.0%} | "
              f"{best['partner_cola_effort']:.1f} | " if best else f"| {cell} | none | | | ",
              end="")  # fmt: skip
        print(f"{fmt([p['success'] for p in ppo], 100, 0)}% | "
              f"{fmt([p['partner_cola_effort'] for p in ppo])} | "
              f"{fmt(ratios, 1, 2) if ratios else 'n/a'} | "
              f"{fmt([p['partner_interaction_force'] for p in ppo])} | "
              f"{fmt([p['partner_work'] for p in ppo])} | "
              f"{fmt([p['own_cola_effort'] for p in ppo])} |")  # fmt: skip
    print(
        "\n| object / route | both roles as follower: success | partner effort (N) "
        "| as leader: success | partner effort (N) |\n| --- | --- | --- | --- | --- |"
    )
    for cell, rec in records.items():
        fol, lead = rec["ppo-both"], rec["ppo-both-leader"]
        print(f"| {cell} | {fmt([p['success'] for p in fol], 100, 0)}% | "
              f"{fmt([p['partner_cola_effort'] for p in fol])} | "
              f"{fmt([p['success'] for p in lead], 100, 0)}% | "
              f"{fmt([p['partner_cola_effort'] for p in lead])} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("rigid", "compliant"))
    parser.add_argument("--steps", type=int, default=None,
                        help="PPO steps per run (rigid 2M, compliant 1M)")  # fmt: skip
    parser.add_argument("--train-seeds", type=int, default=5)
    parser.add_argument("--eval-seeds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/carry-learning"))
    parser.add_argument("--reuse", action="store_true", help="evaluate finished runs again")
    parser.add_argument("--report-only", action="store_true",
                        help="re-print the tables from RUN_DIR/compliant.json")  # fmt: skip
    args = parser.parse_args()
    if args.report_only:
        report(json.loads((args.run_dir / "compliant.json").read_text()))
        return
    if args.steps is None:
        args.steps = 2_000_000 if args.task == "rigid" else 1_000_000
    (run_rigid if args.task == "rigid" else run_compliant)(args)


if __name__ == "__main__":
    main()
