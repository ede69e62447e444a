"""Default training settings per env: one table, so ``palaestra train ENV`` needs no flags.

Envs not in the table get CleanRL's defaults for their action space: ``ppo.py`` settings
for discrete actions, ``ppo_continuous_action.py`` settings for continuous ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from palaestra.train.config import PPOConfig, TrainConfig

__all__ = ["DEFAULTS", "defaults_for"]

_DISCRETE: dict[str, Any] = {"num_envs": 4, "total_timesteps": 500_000, "ppo": {}}
# Tuned for CartPole (the settings of the RL Baselines3 Zoo): solved within 150k steps.
_CARTPOLE: dict[str, Any] = {
    "num_envs": 8,
    "total_timesteps": 150_000,
    "ppo": {
        "learning_rate": 1e-3,
        "num_steps": 32,
        "num_minibatches": 1,
        "update_epochs": 20,
        "gamma": 0.98,
        "gae_lambda": 0.8,
        "ent_coef": 0.0,
    },
}
_CONTINUOUS: dict[str, Any] = {
    "num_envs": 1,
    "total_timesteps": 1_000_000,
    "ppo": {
        "learning_rate": 3e-4,
        "num_steps": 2048,
        "num_minibatches": 32,
        "update_epochs": 10,
        "ent_coef": 0.0,
        "normalize_obs": True,
        "normalize_reward": True,
    },
}
_CARRY: dict[str, Any] = {
    "num_envs": 4,
    "total_timesteps": 1_000_000,
    "checkpoint_interval": 200_000,
    "ppo": {
        "learning_rate": 3e-4,
        "num_steps": 512,
        "num_minibatches": 16,
        "update_epochs": 10,
        "ent_coef": 0.0,
        "log_std_init": -0.5,
        "normalize_obs": True,
        "normalize_reward": True,
    },
}

# Craft: sparse goal rewards over up to 300 steps; CleanRL's Atari-style discrete settings
# (8 envs x 128 steps, 4 epochs, entropy bonus) learn `craft planks` within 100k steps.
_CRAFT: dict[str, Any] = {
    "num_envs": 8,
    "total_timesteps": 500_000,
    "ppo": {
        "learning_rate": 2.5e-4,
        "num_steps": 128,
        "num_minibatches": 4,
        "update_epochs": 4,
        "ent_coef": 0.01,
    },
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "CartPole-v1": _CARTPOLE,
    "Acrobot-v1": _DISCRETE,
    "Pendulum-v1": _CONTINUOUS,
    "palaestra/Carry-v0": _CARRY,
    "palaestra/carry-v0": {**_CARRY, "num_envs": 2},
    "palaestra/Craft-v0": _CRAFT,
    "palaestra/craft-v0": {**_CRAFT, "num_envs": 4},
    # Self-play with one policy in every seat; payouts reach 100 big blinds, so rewards are
    # normalised (the value loss is in the thousands without it).
    "palaestra/holdem-v0": {**_DISCRETE, "num_envs": 8, "ppo": {"normalize_reward": True}},
}
"""Per-env overrides of :class:`~palaestra.train.config.TrainConfig` (``ppo`` nested)."""


def _action_kind(env_id: str) -> str:
    import gymnasium as gym

    from palaestra.agents.registry import make_env

    env = make_env(env_id)
    try:
        space = (
            env.action_space
            if isinstance(env, gym.Env)
            else env.action_space(env.possible_agents[0])
        )
    finally:
        env.close()
    return "continuous" if isinstance(space, gym.spaces.Box) else "discrete"


def defaults_for(env_id: str) -> TrainConfig:
    """The default :class:`TrainConfig` of ``env_id``."""
    table = DEFAULTS.get(env_id)
    if table is None:
        table = _CONTINUOUS if _action_kind(env_id) == "continuous" else _DISCRETE
    fields = {k: v for k, v in table.items() if k != "ppo"}
    ppo = dataclasses.replace(PPOConfig(), **table.get("ppo", {}))
    return TrainConfig(env_id=env_id, ppo=ppo, **fields)
