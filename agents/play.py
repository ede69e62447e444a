"""One episode runner for every env and agent: :func:`play`.

Glossary:
    env: a Gymnasium env, a PettingZoo Parallel env (simultaneous moves) or a PettingZoo AEC
        env (turns), as made by ``gym.make`` / ``pettingzoo.make``.
    agents: one :class:`~palaestra.agents.base.Agent` for a Gymnasium env, or a mapping of
        every agent name to its agent for a multi-agent env (scripted, trained and language
        agents mix freely).
    task source: nothing (the env's default task), a list of tasks (episode ``i`` plays
        ``tasks[i % len(tasks)]``), or a curriculum scheduler, which picks each episode's
        task and hears how it went (``update_on_episode``): curricula without training.

Each episode resets the env with its own seed (``seeds[i]``, or ``seed + i``), gives the
task through ``reset(options={"task": task})``, resets every agent with a seed derived from
the episode seed, and plays until the env ends the episode (or ``max_steps``). An agent with
an ``observe(observation, info)`` method is then given its last observation and info, the
ones it never acts on (memory agents learn how the episode ended from them). It returns one
:class:`EpisodeResult` per episode.

Example:
    >>> results = play(env, AdmittanceFollower(), episodes=10, seed=0)
    >>> results = play(env, {"agent_0": a, "agent_1": b}, episodes=4, curriculum=scheduler)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EpisodeResult", "numeric_metrics", "play"]

SINGLE = "agent"
"""The agent name of a Gymnasium env's one agent in :class:`EpisodeResult` mappings."""


@dataclass(frozen=True)
class EpisodeResult:
    """One played episode.

    Attributes:
        index: Its rank among the episodes of the :func:`play` call.
        seed: The env's reset seed.
        task: The task given (None: the env's default task).
        length: Env steps taken (turns, in an AEC env).
        ended: Whether the env ended the episode (False: stopped at ``max_steps``).
        returns: Each agent's summed reward (``"agent"`` in a Gymnasium env).
        metrics: Each agent's numeric ``info`` entries at the end (success, effort, ...).
        invalid_actions: How many of each agent's actions the env flagged
            ``info["invalid_action"]``.
        agent_stats: Each agent's ``stats()`` at the end, for agents that have it.
        infos: Each agent's last ``info``, as the env gave it.
    """

    index: int
    seed: int
    task: dict[str, Any] | None
    length: int
    ended: bool
    returns: dict[str, float]
    metrics: dict[str, dict[str, float]]
    invalid_actions: dict[str, int]
    agent_stats: dict[str, dict[str, float]] = field(default_factory=dict)
    infos: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def episode_return(self) -> float:
        """The mean of the agents' returns (the return, in a Gymnasium env)."""
        return float(np.mean(list(self.returns.values()))) if self.returns else 0.0

    @property
    def success(self) -> float | None:
        """The mean of the agents' ``success`` metrics, or None where the env reports none."""
        values = [m["success"] for m in self.metrics.values() if "success" in m]
        return float(np.mean(values)) if values else None


def numeric_metrics(info: Mapping[str, Any]) -> dict[str, float]:
    """The numeric entries (bools and numbers) of an info dict as floats, bar ``_`` keys."""
    return {
        key: float(value)
        for key, value in info.items()
        if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating))
        and not key.startswith("_")
    }


def _agent_seed(seed: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0])


def _kind(env: Any) -> str:
    import gymnasium as gym

    if isinstance(env, gym.Env):
        return "gymnasium"
    if hasattr(env, "agent_iter"):  # AEC envs (and their wrappers) iterate over turns
        return "aec"
    if hasattr(env, "possible_agents"):
        return "parallel"
    raise TypeError(f"play needs a Gymnasium or PettingZoo env, got {type(env).__name__}")


def _team(env: Any, kind: str, agents: Any) -> dict[str, Any]:
    if kind == "gymnasium":
        if isinstance(agents, Mapping):
            if len(agents) != 1:
                raise ValueError(f"a Gymnasium env takes one agent, got {sorted(agents)}")
            return {SINGLE: next(iter(agents.values()))}
        return {SINGLE: agents}
    if not isinstance(agents, Mapping):
        raise ValueError(
            f"a multi-agent env needs a mapping of its agents {list(env.possible_agents)} to "
            "agents, got a single agent"
        )
    names = list(env.possible_agents)
    missing = [a for a in names if a not in agents]
    unknown = [a for a in agents if a not in names]
    if missing or unknown:
        raise ValueError(
            f"the agents mapping must name exactly the env's agents {names}; "
            f"missing {missing}, unknown {unknown}"
        )
    return {name: agents[name] for name in names}


class _Tally:
    """Returns, last infos and invalid actions of one episode, per agent."""

    def __init__(self, names: Sequence[str]) -> None:
        self.returns = dict.fromkeys(names, 0.0)
        self.infos: dict[str, dict[str, Any]] = {n: {} for n in names}
        self.invalid = dict.fromkeys(names, 0)

    def add(self, name: str, reward: float, info: Mapping[str, Any] | None) -> None:
        self.returns[name] = self.returns.get(name, 0.0) + float(reward)
        if info is not None:
            self.infos[name] = dict(info)
            self.invalid[name] = self.invalid.get(name, 0) + bool(info.get("invalid_action"))


def play(
    env: Any,
    agents: Any,
    *,
    episodes: int = 1,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    tasks: Sequence[Mapping[str, Any]] | None = None,
    curriculum: Any = None,
    max_steps: int | None = None,
    on_step: Callable[[int, int, bool], None] | None = None,
) -> list[EpisodeResult]:
    """Play ``episodes`` episodes of ``env`` with ``agents`` and return what happened.

    Args:
        env: A Gymnasium, PettingZoo Parallel or PettingZoo AEC env (left open).
        agents: One agent (Gymnasium env) or a mapping of every agent name to an agent.
        episodes: How many episodes (``len(seeds)`` when seeds are given).
        seed: Episode ``i`` resets with ``seed + i`` unless ``seeds`` is given.
        seeds: Explicit reset seeds, one per episode.
        tasks: Tasks to cycle through, one per episode; None plays the default task.
        curriculum: A scheduler (``sample(k)``, ``update_on_episode(task, success=,
            episode_return=, length=)``) that picks each task and hears each result; the env
            must then report ``info["success"]`` at episode end.
        max_steps: Stop an episode after this many steps (``ended`` is then False).
        on_step: Called as ``on_step(episode, step, done)`` after the reset (step 0) and
            after every step (e.g. to record frames with ``env.render()``).

    Returns:
        One :class:`EpisodeResult` per episode, in order.

    Raises:
        ValueError: for no episodes, both ``tasks`` and ``curriculum``, an agents mapping
            that does not match the env's agents, or (with a curriculum) an env that
            reports no finite ``info["success"]``.
    """
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        episodes = len(seeds)
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    if tasks is not None and curriculum is not None:
        raise ValueError("give tasks or a curriculum, not both")
    if tasks is not None and len(tasks) == 0:
        raise ValueError("tasks must hold at least one task")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    kind = _kind(env)
    team = _team(env, kind, agents)
    episode_fn = {"gymnasium": _gym_episode, "parallel": _parallel_episode, "aec": _aec_episode}
    results = []
    for i in range(episodes):
        episode_seed = seeds[i] if seeds is not None else seed + i
        task: dict[str, Any] | None = None
        if curriculum is not None:
            task = dict(curriculum.sample(1)[0])
        elif tasks is not None:
            task = dict(tasks[i % len(tasks)])
        for rank, agent in enumerate(team.values()):
            agent.reset(seed=_agent_seed(episode_seed, rank))
        options = None if task is None else {"task": task}
        step = None if on_step is None else (lambda s, d, i=i: on_step(i, s, d))
        tally, length, ended = episode_fn[kind](env, team, episode_seed, options, max_steps, step)
        result = EpisodeResult(
            index=i, seed=episode_seed, task=task, length=length, ended=ended,
            returns=tally.returns, metrics={n: numeric_metrics(v) for n, v in tally.infos.items()},
            invalid_actions=tally.invalid,
            agent_stats={n: dict(a.stats()) for n, a in team.items() if hasattr(a, "stats")},
            infos=tally.infos,
        )  # fmt: skip
        if curriculum is not None:
            curriculum.update_on_episode(
                task, success=_success(result), episode_return=result.episode_return,
                length=length,
            )  # fmt: skip
        results.append(result)
    return results


def _success(result: EpisodeResult) -> float:
    """The success a curriculum hears: required when the env ended the episode."""
    for name, metrics in result.metrics.items():
        where = "the env" if name == SINGLE else f"agent {name}"
        if "success" not in metrics:
            if not result.ended:
                return 0.0
            raise ValueError(f"{where} reports no info['success'] at episode end")
        if not math.isfinite(metrics["success"]):
            raise ValueError(f"{where} reports a non-finite success {metrics['success']!r}")
    success = result.success
    return 0.0 if success is None else success


def _last_look(agent: Any, observation: Any, info: Any) -> None:
    """Give an agent with ``observe`` the observation and info it will not act on."""
    hook = getattr(agent, "observe", None)
    if callable(hook):
        hook(observation, info if info is not None else {})


def _gym_episode(env, team, seed, options, max_steps, on_step) -> tuple[_Tally, int, bool]:
    agent = team[SINGLE]
    tally = _Tally([SINGLE])
    obs, info = env.reset(seed=seed, options=options)
    tally.infos[SINGLE] = dict(info)
    steps, done = 0, False
    if on_step is not None:
        on_step(0, False)
    while not done and (max_steps is None or steps < max_steps):
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        steps += 1
        done = bool(terminated or truncated)
        tally.add(SINGLE, reward, info)
        if on_step is not None:
            on_step(steps, done)
    _last_look(agent, obs, info)
    return tally, steps, done


def _parallel_episode(env, team, seed, options, max_steps, on_step) -> tuple[_Tally, int, bool]:
    tally = _Tally(list(team))
    observations, infos = env.reset(seed=seed, options=options)
    for name, info in infos.items():
        tally.infos[name] = dict(info)
    steps = 0
    if on_step is not None:
        on_step(0, not env.agents)
    while env.agents and (max_steps is None or steps < max_steps):
        actions = {a: team[a].act(observations[a], infos.get(a)) for a in env.agents}
        observations, rewards, _, _, infos = env.step(actions)
        steps += 1
        for name in actions:
            tally.add(name, rewards.get(name, 0.0), infos.get(name))
        if on_step is not None:
            on_step(steps, not env.agents)
    for name in team:
        if name in observations:
            _last_look(team[name], observations[name], infos.get(name, {}))
    return tally, steps, not env.agents


def _aec_episode(env, team, seed, options, max_steps, on_step) -> tuple[_Tally, int, bool]:
    tally = _Tally(list(team))
    env.reset(seed=seed, options=options)
    steps = 0
    if on_step is not None:
        on_step(0, not env.agents)
    for name in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        tally.returns[name] += float(reward)  # what this agent gathered since it last acted
        tally.infos[name] = dict(info)
        if terminated or truncated:
            _last_look(team[name], obs, info)
            env.step(None)
            if on_step is not None and not env.agents:
                on_step(steps, True)
            continue
        if max_steps is not None and steps >= max_steps:
            # Stopped mid-hand: each seat keeps what it gathered since its last turn.
            pending = getattr(env.unwrapped, "_cumulative_rewards", {})
            for other in team:
                if other != name:
                    tally.returns[other] += float(pending.get(other, 0.0))
            break
        env.step(team[name].act(obs, info))
        steps += 1
        # The env flags an invalid action in the mover's info at once; later moves rebuild it.
        tally.invalid[name] += bool(env.infos.get(name, {}).get("invalid_action"))
        if on_step is not None:
            on_step(steps, not env.agents)
    return tally, steps, not env.agents
