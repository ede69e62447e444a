"""palaestra's PPO against Stable-Baselines3's PPO: same hyperparameters, same machine.

Runs both libraries interleaved (ours, SB3, ours, SB3, ...) over the seeds with one torch
thread, and prints per task the environment steps per second (SPS) of each side, their
ratio, and each side's mean return over its last 10 training episodes, so speed never
comes at the cost of learning. Needs ``pip install stable-baselines3`` (not a palaestra dependency).

Tasks:
    CartPole-v1: 4 envs x 128 steps, 4 epochs, 4 minibatches, lr 2.5e-4 annealed, 51,200
        steps (the settings of the README's `palaestra train CartPole-v1` command).
    Pendulum-v1: 1 env x 2048 steps, 10 epochs, 32 minibatches, lr 3e-4 annealed,
        observation and reward normalisation, no entropy bonus.

Both sides use (64, 64) tanh MLPs with orthogonal initialisation, Adam with eps 1e-5,
advantage normalisation, value clipping at the policy clip range and gradient clipping at
0.5.

Usage:
    python benchmarks/ppo_vs_sb3.py [--seeds 3] [--pendulum-steps 102400] [--tasks ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TASKS = {
    "cartpole": dict(
        env_id="CartPole-v1", num_envs=4, num_steps=128, update_epochs=4, num_minibatches=4,
        learning_rate=2.5e-4, ent_coef=0.01, normalize=False, total=51_200,
    ),
    "pendulum": dict(
        env_id="Pendulum-v1", num_envs=1, num_steps=2048, update_epochs=10, num_minibatches=32,
        learning_rate=3e-4, ent_coef=0.0, normalize=True, total=102_400,
    ),
}  # fmt: skip


def run_palaestra(task: dict, seed: int, run_dir: Path) -> tuple[float, float]:
    """Train with palaestra; return (SPS, mean return of the last 10 training episodes)."""
    from palaestra.train.callbacks import Callback
    from palaestra.train.config import PPOConfig, TrainConfig
    from palaestra.train.ppo import train

    returns: list[float] = []

    class Returns(Callback):
        def on_episode_end(self, state, episode):
            returns.append(episode.episode_return)

    config = TrainConfig(
        env_id=task["env_id"], total_timesteps=task["total"], num_envs=task["num_envs"],
        seed=seed, run_dir=run_dir, quiet=True, eval_episodes=0, video=False, torch_threads=1,
        ppo=PPOConfig(
            learning_rate=task["learning_rate"], num_steps=task["num_steps"],
            num_minibatches=task["num_minibatches"], update_epochs=task["update_epochs"],
            ent_coef=task["ent_coef"], normalize_obs=task["normalize"],
            normalize_reward=task["normalize"],
        ),
    )  # fmt: skip
    start = time.perf_counter()
    result = train(config, [Returns()])
    elapsed = time.perf_counter() - start
    return result.global_step / elapsed, float(np.mean(returns[-10:]))


def run_sb3(task: dict, seed: int) -> tuple[float, float]:
    """Train with SB3; return (SPS, mean return of the last 10 training episodes)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    envs = make_vec_env(task["env_id"], n_envs=task["num_envs"], seed=seed)
    if task["normalize"]:
        envs = VecNormalize(envs, norm_obs=True, norm_reward=True, gamma=0.99)
    batch = task["num_envs"] * task["num_steps"]
    lr = task["learning_rate"]
    model = PPO(
        "MlpPolicy", envs, learning_rate=lambda progress: lr * progress,
        n_steps=task["num_steps"], batch_size=batch // task["num_minibatches"],
        n_epochs=task["update_epochs"], gamma=0.99, gae_lambda=0.95, clip_range=0.2,
        clip_range_vf=0.2, ent_coef=task["ent_coef"], vf_coef=0.5, max_grad_norm=0.5,
        seed=seed, device="cpu", verbose=0,
        policy_kwargs=dict(net_arch=[64, 64], activation_fn=torch.nn.Tanh,
                           optimizer_kwargs=dict(eps=1e-5)),
    )  # fmt: skip
    start = time.perf_counter()
    model.learn(total_timesteps=task["total"])
    elapsed = time.perf_counter() - start
    buffer = [info["r"] for info in model.ep_info_buffer]
    envs.close()
    return model.num_timesteps / elapsed, float(np.mean(buffer[-10:])) if buffer else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--pendulum-steps", type=int, default=TASKS["pendulum"]["total"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    TASKS["pendulum"]["total"] = args.pendulum_steps
    import palaestra  # noqa: F401

    for name in args.tasks:
        task = TASKS[name]
        ours, theirs = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for seed in range(1, args.seeds + 1):
                ours.append(run_palaestra(task, seed, Path(tmp) / f"{name}-{seed}"))
                theirs.append(run_sb3(task, seed))
                print(
                    f"{name} seed {seed}: palaestra {ours[-1][0]:,.0f} SPS return "
                    f"{ours[-1][1]:.1f} | SB3 {theirs[-1][0]:,.0f} SPS return {theirs[-1][1]:.1f}",
                    flush=True,
                )
        sps_ours = statistics.median(s for s, _ in ours)
        sps_sb3 = statistics.median(s for s, _ in theirs)
        ret_ours = [r for _, r in ours]
        ret_sb3 = [r for _, r in theirs]
        print(
            f"== {task['env_id']} ({task['total']:,} steps, {args.seeds} seeds): "
            f"SPS palaestra {sps_ours:,.0f} vs SB3 {sps_sb3:,.0f}, ratio {sps_ours / sps_sb3:.2f}; "
            f"final return palaestra {np.mean(ret_ours):.1f} "
            f"[{min(ret_ours):.1f}, {max(ret_ours):.1f}] "
            f"vs SB3 {np.mean(ret_sb3):.1f} [{min(ret_sb3):.1f}, {max(ret_sb3):.1f}]",
            flush=True,
        )


if __name__ == "__main__":
    main()
