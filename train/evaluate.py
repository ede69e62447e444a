"""Evaluate a trained policy: deterministic actions on fresh episodes, optional video.

Evaluation plays the policy as an agent (:class:`~palaestra.agents.policy_agent.PolicyAgent`)
through the one episode runner (:func:`~palaestra.agents.play.play`), so a run's
``eval.json`` and ``PolicyAgent.from_run(run_dir)`` played on the same seeds agree exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from palaestra.agents.play import EpisodeResult, play
from palaestra.agents.policy_agent import PolicyAgent, encoder_for
from palaestra.agents.registry import make_env
from palaestra.train.config import TrainConfig

__all__ = [
    "EVAL_SEED_OFFSET",
    "evaluate_agents",
    "evaluate_policy",
    "evaluation_seeds",
    "renders_rgb",
    "summarize",
]

EVAL_SEED_OFFSET = 10_000_000
"""Evaluation episodes use seeds from ``seed + EVAL_SEED_OFFSET``: never training's."""


def evaluation_seeds(seed: int, episodes: int) -> list[int]:
    """The reset seeds of a run's evaluation episodes."""
    return [seed + EVAL_SEED_OFFSET + i for i in range(episodes)]


def renders_rgb(env_id: str, env_kwargs: Mapping[str, Any] | None = None) -> bool:
    """Whether the env declares the ``rgb_array`` render mode."""
    env = make_env(env_id, **dict(env_kwargs or {}))
    try:
        return "rgb_array" in env.metadata.get("render_modes", [])
    finally:
        env.close()


def evaluate_agents(
    env_id: str,
    agents: Any,
    *,
    seeds: Sequence[int],
    env_kwargs: Mapping[str, Any] | None = None,
    video_path: Path | None = None,
    tasks: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Play one episode per seed of ``env_id`` with ``agents`` and summarise them.

    Args:
        env_id: A registered Gymnasium or PettingZoo id.
        agents: One agent, or a mapping of every agent name to an agent.
        seeds: The episodes' reset seeds.
        env_kwargs: Passed to the env's constructor.
        video_path: Record the first episode there (mp4) when the env renders RGB frames,
            at the env's own ``render_fps``.
        tasks: Episode ``i`` plays ``tasks[i % len(tasks)]`` (held-out task sets); None plays
            the env's default task.

    Returns:
        See :func:`summarize`; ``video`` is the mp4's path or None.
    """
    kwargs = dict(env_kwargs or {})
    record = video_path is not None and renders_rgb(env_id, kwargs)
    if record:
        kwargs["render_mode"] = "rgb_array"
    env = make_env(env_id, **kwargs)
    frames: list[np.ndarray] = []

    def on_step(episode: int, step: int, done: bool) -> None:
        if episode == 0:
            frame = env.render()
            if frame is not None:
                frames.append(np.asarray(frame))

    try:
        results = play(env, agents, seeds=seeds, tasks=tasks, on_step=on_step if record else None)
        fps = int(env.metadata.get("render_fps") or 30)
    finally:
        env.close()
    if record and frames:
        from palaestra.envs.wrappers import write_mp4

        write_mp4(frames, video_path, fps=fps)  # type: ignore[arg-type]
    summary = summarize(env_id, results)
    summary["video"] = str(video_path) if record and frames else None
    return summary


def evaluate_policy(
    config: TrainConfig,
    policy: torch.nn.Module,
    obs_norm: Any = None,
    *,
    episodes: int = 10,
    video_path: Path | None = None,
    deterministic: bool = True,
    tasks: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` episodes of ``config.env_id`` with ``policy`` and summarise them.

    Observations are normalised with ``obs_norm``, frozen (the training statistics). Every
    seat of a multi-agent env is played by the policy (parameter sharing; with independent
    policies each seat's rows route to its own network). Seeds: :func:`evaluation_seeds`.

    Returns:
        See :func:`summarize`.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    if tasks is not None and len(tasks) == 0:
        raise ValueError("tasks must hold at least one task")
    encoder, action = encoder_for(config.env_id, config.env_kwargs)
    mode = policy.training
    try:
        if encoder.agents:
            agents: Any = {
                name: PolicyAgent(policy, encoder, action, agent=name, obs_norm=obs_norm,
                                  deterministic=deterministic)
                for name in encoder.agents
            }  # fmt: skip
        else:
            agents = PolicyAgent(
                policy, encoder, action, obs_norm=obs_norm, deterministic=deterministic
            )
        return evaluate_agents(
            config.env_id, agents, seeds=evaluation_seeds(config.seed, episodes),
            env_kwargs=config.env_kwargs, video_path=video_path, tasks=tasks,
        )  # fmt: skip
    finally:
        policy.train(mode)


def summarize(env_id: str, results: Sequence[EpisodeResult]) -> dict[str, Any]:
    """Means over every agent's record of every episode, and the records themselves.

    Returns:
        ``env_id``, ``episodes``, ``mean_return``, ``std_return``, ``mean_length``, the mean
        of every numeric episode metric the env reports (e.g. ``success``), ``invalid_actions``
        (their mean per agent and episode), and per-agent ``records`` with each episode's
        seed; NaN and inf become None so the summary is valid JSON.
    """
    records = [
        {
            "episode": r.index, "seed": r.seed, "agent": None if len(r.returns) == 1 else name,
            "return": r.returns[name], "length": r.length,
            "invalid_actions": r.invalid_actions.get(name, 0), **r.metrics.get(name, {}),
        }
        for r in results
        for name in r.returns
    ]  # fmt: skip
    returns = [rec["return"] for rec in records]
    summary: dict[str, Any] = {
        "env_id": env_id,
        "episodes": len(results),
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "mean_length": float(np.mean([r.length for r in results])),
        "invalid_actions": float(np.mean([rec["invalid_actions"] for rec in records])),
    }
    keys = sorted({k for r in results for m in r.metrics.values() for k in m})
    for key in keys:
        values = [m[key] for r in results for m in r.metrics.values() if key in m]
        summary[key] = float(np.mean(values))
    summary["records"] = records
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
