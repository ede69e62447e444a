"""Evaluate a trained policy: deterministic actions on fresh episodes, optional video."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from palaestra.train.config import TrainConfig
from palaestra.train.envs import EpisodeRecord, is_multi_agent, make_env_batch

__all__ = ["EVAL_SEED_OFFSET", "evaluate_policy", "renders_rgb"]

EVAL_SEED_OFFSET = 10_000_000
"""Evaluation episodes use seeds from ``seed + EVAL_SEED_OFFSET``: never training's."""


def renders_rgb(env_id: str, env_kwargs: dict[str, Any] | None = None) -> bool:
    """Whether the env declares the ``rgb_array`` render mode."""
    if is_multi_agent(env_id):
        import pettingzoo

        env = pettingzoo.make("parallel", env_id, **(env_kwargs or {}))
    else:
        import gymnasium as gym

        env = gym.make(env_id, **(env_kwargs or {}))
    try:
        return "rgb_array" in env.metadata.get("render_modes", [])
    finally:
        env.close()


def evaluate_policy(
    config: TrainConfig,
    policy: torch.nn.Module,
    obs_norm: Any = None,
    critic_norm: Any = None,
    *,
    episodes: int = 10,
    video_path: Path | None = None,
    deterministic: bool = True,
    tasks: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` episodes with ``policy`` and summarise them.

    Observations are normalised with the training statistics, frozen. The first episode
    is recorded to ``video_path`` (mp4) when given and the env renders RGB frames.
    With ``tasks``, episode ``i`` plays ``tasks[i % len(tasks)]`` (held-out task sets);
    otherwise every episode plays the env's default task.

    Returns:
        ``episodes``, ``mean_return``, ``std_return``, ``mean_length``, the mean of every
        numeric episode metric the env reports (e.g. ``success``), and per-episode records.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    if tasks is not None and len(tasks) == 0:
        raise ValueError("tasks must hold at least one task")
    kwargs = dict(config.env_kwargs)
    record = video_path is not None and renders_rgb(config.env_id, kwargs)
    if record:
        kwargs["render_mode"] = "rgb_array"
    envs = make_env_batch(
        config.env_id, 1, centralized_critic=config.centralized_critic, env_kwargs=kwargs
    )
    device = next(policy.parameters()).device
    first_agent = envs.agents[0]
    done: list[EpisodeRecord] = []
    frames: list[np.ndarray] = []
    env_episodes = 0

    def prepare(result: Any) -> tuple[Any, ...]:
        obs = result.obs if obs_norm is None else obs_norm(result.obs, update=False)
        critic = result.critic_obs
        if critic is not None and critic_norm is not None:
            critic = critic_norm(critic, update=False)

        def as_t(array: Any, dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
            return None if array is None else torch.as_tensor(array, dtype=dtype, device=device)

        return as_t(obs), as_t(result.action_mask, torch.bool), as_t(critic)

    try:
        if tasks is not None:
            envs.set_task(0, dict(tasks[0]))
        result = envs.reset(config.seed + EVAL_SEED_OFFSET)
        if record:
            frames.append(envs.render())
        policy.eval()
        while env_episodes < episodes:
            obs, mask, critic = prepare(result)
            with torch.no_grad():
                action = policy.act(obs, mask, critic, deterministic=deterministic).action
            result = envs.step(action.cpu().numpy())
            for episode in result.episodes:
                done.append(episode)
                if episode.agent in (None, first_agent):
                    env_episodes += 1
            if tasks is not None and result.ended_envs:
                envs.set_task(0, dict(tasks[env_episodes % len(tasks)]))
            if record and env_episodes == 0:
                frames.append(envs.render())
    finally:
        policy.train()
        envs.close()
    if record and frames:
        from palaestra.envs.wrappers import write_mp4

        fps = 30
        write_mp4([f for f in frames if f is not None], video_path, fps=fps)  # type: ignore[arg-type]
    returns = [e.episode_return for e in done]
    summary: dict[str, Any] = {
        "env_id": config.env_id,
        "episodes": env_episodes,
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "mean_length": float(np.mean([e.length for e in done])),
        "video": str(video_path) if record else None,
    }
    for key in sorted({k for e in done for k in e.metrics}):
        summary[key] = float(np.mean([e.metrics[key] for e in done if key in e.metrics]))
    summary["records"] = [
        {"agent": e.agent, "return": e.episode_return, "length": e.length, **e.metrics}
        for e in done
    ]
    return _finite_or_none(summary)


def _finite_or_none(value: Any) -> Any:
    """The summary with NaN and inf replaced by None, so it is valid JSON."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value
