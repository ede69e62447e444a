"""PPO (palaestra's trainer, vector mode, masks) against random legal play on Gauntlet-v0.

Each training seed runs ``palaestra.train.ppo.train`` for ``--total-timesteps`` steps on the
default task (one torch thread); the trained run, loaded back with ``PolicyAgent.from_run``,
and ``RandomGauntletAgent`` then play the same ``--episodes`` held-out seeds. Printed: each
seed's win rate and mean floor for both, and 95% t-intervals over the training seeds.

    python benchmarks/gauntlet_ppo.py                 # the README's figure (3 seeds, 1M steps)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from stats import mean_ci  # benchmarks/stats.py, a sibling module

EVAL_SEED0 = 70_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--total-timesteps", type=int, default=1_000_000)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--out", default="runs/gauntlet_ppo")
    args = parser.parse_args()

    import gymnasium as gym

    import palaestra  # noqa: F401
    from palaestra.agents import PolicyAgent, RandomGauntletAgent, play
    from palaestra.train.config import TrainConfig
    from palaestra.train.defaults import defaults_for
    from palaestra.train.ppo import train

    seeds = [EVAL_SEED0 + i for i in range(args.episodes)]
    rows = []
    for seed in range(args.seeds):
        config = defaults_for("palaestra/Gauntlet-v0")
        config = TrainConfig(
            **{**config.__dict__, "total_timesteps": args.total_timesteps, "seed": seed,
               "run_dir": Path(args.out) / f"seed{seed}", "eval_episodes": 0, "quiet": True,
               "video": False, "torch_threads": 1},
        )  # fmt: skip
        start = time.process_time()
        run = train(config).run_dir
        cpu = time.process_time() - start
        env = gym.make("palaestra/Gauntlet-v0")
        row = {"seed": seed, "cpu_min": cpu / 60}
        for name, agent in (
            ("ppo", PolicyAgent.from_run(run)),
            ("random", RandomGauntletAgent(seed=seed)),
        ):
            results = play(env, agent, seeds=seeds)
            row[f"{name}_win"] = statistics.fmean(r.metrics["agent"]["success"] for r in results)
            row[f"{name}_floor"] = statistics.fmean(r.metrics["agent"]["floor"] for r in results)
        env.close()
        rows.append(row)
        print(
            f"seed {seed}: PPO wins {row['ppo_win']:.3f} (floor {row['ppo_floor']:.2f}), "
            f"random {row['random_win']:.3f} (floor {row['random_floor']:.2f}); "
            f"{row['cpu_min']:.1f} CPU min",
            flush=True,
        )
    for key in ("ppo_win", "random_win", "ppo_floor", "random_floor"):
        mean, half = mean_ci([r[key] for r in rows])
        print(f"{key:>13}: {mean:.3f} +- {half:.3f} (95% CI over {len(rows)} seeds)")


if __name__ == "__main__":
    main()
