"""Does PPO learn to carry with less effort for the human than the best classical follower?

1. Sweeps the damping of the ``AdmittanceFollower`` (its admittance gain is 1/damping) on
   held-out seeds and picks the gain with the lowest partner effort among those with at
   least 90% success: the comparison is against the best classical controller found.
2. Trains PPO on ``palaestra/Carry-v0`` in the follower role on the easy task (box,
   straight route) with the env's default settings, for ``--steps`` environment steps.
3. Evaluates the learned policy (deterministic actions, frozen observation statistics) on
   the same held-out seeds and prints success and partner effort against the follower's.

Target (COLA reports 24.7% less human effort than its baselines): success >= 90% and
partner effort at least 25% lower than the best admittance follower's, within 2M steps.
Partner effort includes the partner's share of the weight (half the object's weight when
level), so the script also prints its horizontal part, the pushing and pulling.

Usage:
    python benchmarks/carry_learning.py [--steps 2000000] [--seeds 20] [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import AdmittanceFollower, Agent, PolicyAgent, play
from palaestra.train.defaults import defaults_for
from palaestra.train.evaluate import EVAL_SEED_OFFSET
from palaestra.train.ppo import train

TASK = {"object": "box", "route": "straight", "role": "follower"}


def episode_infos(agent: Agent, seeds: list[int]) -> list[dict]:
    """The episode-end info of one episode per seed, played by ``agent`` on TASK."""
    env = gym.make("palaestra/Carry-v0")
    try:
        return [r.infos["agent"] for r in play(env, agent, seeds=seeds, tasks=[TASK])]
    finally:
        env.close()


def summarise(infos: list[dict]) -> tuple[float, float, float]:
    """(success rate, mean partner effort in N, its mean horizontal part in N)."""
    return (
        float(np.mean([i["success"] for i in infos])),
        float(np.mean([i["partner_effort"] for i in infos])),
        float(np.mean([i["partner_horizontal_force"] for i in infos])),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2_000_000)
    parser.add_argument("--seeds", type=int, default=20, help="held-out evaluation episodes")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/carry-learning"))
    parser.add_argument("--train-seed", type=int, default=1)
    args = parser.parse_args()
    seeds = [EVAL_SEED_OFFSET + 500 + i for i in range(args.seeds)]

    print("admittance follower sweep (held-out seeds):")
    best = None
    for damping in (15.0, 20.0, 30.0, 40.0, 60.0, 90.0, 130.0):
        agent = AdmittanceFollower(damping=damping)
        success, effort, push = summarise(episode_infos(agent, seeds))
        print(f"  damping {damping:5.0f} N s/m (gain {1 / damping:.4f}): "
              f"success {success:.0%}, partner effort {effort:.1f} N "
              f"(horizontal {push:.1f} N)")  # fmt: skip
        if success >= 0.9 and (best is None or effort < best[2]):
            best = (damping, success, effort, push)
    if best is None:
        print("no admittance gain reached 90% success")
    else:
        print(f"best admittance follower: damping {best[0]:.0f}, success {best[1]:.0%}, "
              f"partner effort {best[2]:.1f} N (horizontal {best[3]:.1f} N)")  # fmt: skip

    config = dataclasses.replace(
        defaults_for("palaestra/Carry-v0"),
        total_timesteps=args.steps,
        run_dir=args.run_dir,
        seed=args.train_seed,
        env_kwargs={"task": TASK},
        eval_episodes=0,
        video=False,
        quiet=True,
    )
    start = time.perf_counter()
    result = train(config)
    minutes = (time.perf_counter() - start) / 60
    print(f"trained {result.global_step:,} steps in {minutes:.1f} min ({result.run_dir})")

    learned = PolicyAgent.from_run(result.run_dir)
    success, effort, push = summarise(episode_infos(learned, seeds))
    print(f"PPO follower: success {success:.0%}, partner effort {effort:.1f} N "
          f"(horizontal {push:.1f} N)")  # fmt: skip
    if best is not None:
        reduction = 1.0 - effort / best[2]
        met = success >= 0.9 and reduction >= 0.25
        verdict = "met" if met else "NOT met"
        print(f"partner effort vs best admittance follower: {-reduction:+.1%} "
              f"(target: success >= 90% and >= 25% less effort: {verdict}); "
              f"horizontal part: {push / best[3] - 1:+.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
