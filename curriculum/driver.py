"""Curricula without training: play episodes whose tasks a scheduler chooses.

Language agents, scripted baselines and evaluation scripts do no gradient updates but still
want a curriculum to choose their tasks and hear how each went. :func:`run_curriculum`
does that for any Gymnasium env with a task channel, and :func:`run_curriculum_parallel` for
PettingZoo Parallel envs. Tasks reach the env through ``reset(options={"task": task})``, as
everywhere in palaestra.

Example:
    >>> scheduler = make("sequential", env.unwrapped.task_space, seed=0)
    >>> records = run_curriculum(env, scheduler, lambda obs, info: agent.act(obs), episodes=50)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from palaestra.curriculum.base import Curriculum

__all__ = ["CurriculumEpisode", "run_curriculum", "run_curriculum_parallel"]


@dataclass(frozen=True)
class CurriculumEpisode:
    """One episode played under a curriculum.

    Attributes:
        task: The task the scheduler chose.
        seed: The reset seed.
        success: ``info["success"]`` at the end (the mean over agents in multi-agent envs).
        episode_return: The summed reward (the mean over agents in multi-agent envs).
        length: Steps taken.
        info: The last info (per agent in multi-agent envs).
    """

    task: dict[str, Any]
    seed: int
    success: float
    episode_return: float
    length: int
    info: dict[str, Any] = field(default_factory=dict)


def _success(info: Mapping[str, Any], where: str) -> float:
    value = info.get("success")
    if value is None:
        raise ValueError(f"{where} reports no info['success'] at episode end")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{where} reports a non-finite success {value!r}")
    return number


def run_curriculum(
    env: Any,
    scheduler: Curriculum,
    act: Callable[[Any, dict[str, Any]], Any],
    *,
    episodes: int,
    seed: int = 0,
    max_steps: int | None = None,
    on_reset: Callable[[], None] | None = None,
) -> list[CurriculumEpisode]:
    """Play ``episodes`` episodes of a Gymnasium env, each on the scheduler's next task.

    Args:
        env: A Gymnasium env with a task channel (``reset(options={"task": ...})``).
        scheduler: Chooses tasks and hears each episode's success, return and length.
        act: The agent: ``act(observation, info) -> action``.
        episodes: How many episodes to play.
        seed: Episode ``i`` resets with seed ``seed + i``.
        max_steps: Stop an episode after this many steps if the env has not ended it (its
            success is then read from the last info, and counts 0 when absent).
        on_reset: Called before every episode (e.g. an agent's ``reset``).

    Returns:
        One :class:`CurriculumEpisode` per episode, in order.

    Raises:
        ValueError: for ``episodes`` < 1, or an env that reports no ``info["success"]``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    records = []
    for i in range(episodes):
        task = scheduler.sample(1)[0]
        if on_reset is not None:
            on_reset()
        obs, info = env.reset(seed=seed + i, options={"task": task})
        total, steps, ended = 0.0, 0, False
        while not ended and (max_steps is None or steps < max_steps):
            obs, reward, terminated, truncated, info = env.step(act(obs, info))
            total += float(reward)
            steps += 1
            ended = bool(terminated or truncated)
        success = _success(info, "the env") if ended else float(info.get("success", 0.0))
        scheduler.update_on_episode(task, success=success, episode_return=total, length=steps)
        records.append(CurriculumEpisode(task, seed + i, success, total, steps, dict(info)))
    return records


def run_curriculum_parallel(
    env: Any,
    scheduler: Curriculum,
    act: Callable[[str, Any, dict[str, Any]], Any],
    *,
    episodes: int,
    seed: int = 0,
) -> list[CurriculumEpisode]:
    """Play ``episodes`` episodes of a PettingZoo Parallel env under a curriculum.

    Args:
        env: A Parallel env with a task channel.
        scheduler: Chooses tasks and hears each episode's mean success over agents.
        act: The agents: ``act(agent, observation, info) -> action``.
        episodes: How many episodes to play.
        seed: Episode ``i`` resets with seed ``seed + i``.

    Returns:
        One :class:`CurriculumEpisode` per episode; ``info`` maps each agent to its last info.

    Raises:
        ValueError: for ``episodes`` < 1, or an agent whose last info has no ``success``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    records = []
    for i in range(episodes):
        task = scheduler.sample(1)[0]
        observations, infos = env.reset(seed=seed + i, options={"task": task})
        returns = dict.fromkeys(env.agents, 0.0)
        last = {agent: dict(infos.get(agent, {})) for agent in env.agents}
        steps = 0
        while env.agents:
            actions = {a: act(a, observations[a], infos.get(a, {})) for a in env.agents}
            observations, rewards, _, _, infos = env.step(actions)
            steps += 1
            for agent, reward in rewards.items():
                returns[agent] = returns.get(agent, 0.0) + float(reward)
            for agent, info in infos.items():
                last[agent] = dict(info)
        success = sum(_success(last[a], f"agent {a}") for a in last) / max(1, len(last))
        episode_return = sum(returns.values()) / max(1, len(returns))
        scheduler.update_on_episode(
            task, success=success, episode_return=episode_return, length=steps
        )
        records.append(CurriculumEpisode(task, seed + i, success, episode_return, steps, last))
    return records
