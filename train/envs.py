"""Environments as the PPO trainer sees them: rows of flat observations, one per actor.

:func:`make_env_batch` builds, from an env id, a :class:`EnvBatch` of ``num_envs`` copies:
a Gymnasium vector env (one row per env; :class:`GymEnvBatch`), PettingZoo Parallel envs
(one row per env and agent, in ``possible_agents`` order;
:class:`~palaestra.train.parallel.ParallelEnvBatch`) or PettingZoo AEC envs (the same rows;
the seat on turn acts and the others wait; :class:`~palaestra.train.aec.AECEnvBatch`).
Every step returns numpy arrays over rows:

* ``obs`` [R, obs_dim] float32, with a one-hot agent id appended for multi-agent envs;
* ``action_mask`` [R, n] bool or None; ``critic_obs`` [R, ...] for a centralised critic;
* ``rewards``, ``terminated``, ``truncated`` and ``valid`` [R].

``valid`` is False for a row whose transition is not real: the step after an episode ended
(Gymnasium 1.x resets a sub-env on the step after its episode ends, ignoring the action;
the multi-agent batch does the same), and an agent that has already finished while others
play on. When an episode ends on step t, the observation returned by step t is the
episode's final observation, so a truncated episode can bootstrap from its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from palaestra.agents.play import numeric_metrics
from palaestra.agents.registry import entry_class, env_api
from palaestra.agents.spaces import (
    ROW_EXTRAS,
    ActionSpec,
    ObsLayout,
    action_spec,
    obs_layout,
    row_extras_of,
)

__all__ = [
    "EnvBatch",
    "EpisodeRecord",
    "StepBatch",
    "is_multi_agent",
    "make_env_batch",
    "resolve_env_id",
]


@dataclass
class EpisodeRecord:
    """A finished episode: its return, length and the numeric metrics of its last info.

    ``agent`` names the agent in multi-agent envs; ``env_index`` is the env copy it ran in.
    """

    episode_return: float
    length: int
    metrics: dict[str, float] = field(default_factory=dict)
    agent: str | None = None
    env_index: int = 0


@dataclass
class StepBatch:
    """What one step of an :class:`EnvBatch` returns (numpy arrays over rows)."""

    obs: np.ndarray
    action_mask: np.ndarray | None
    critic_obs: np.ndarray | None
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    episodes: list[EpisodeRecord]
    ended_envs: list[int] = field(default_factory=list)
    """Env copies whose episode ended on this step (they reset on the next one): the moment
    to give them their next task with :meth:`EnvBatch.set_task`."""
    extras: list[dict[str, Any]] | None = None
    """One dict per row of what the policy asked for with :meth:`EnvBatch.request_extras`
    (``text``: the text view; ``legal_actions``, ``events``: from the row's info), for
    the observation this step returned; None when nothing was asked for."""
    waiting: np.ndarray | None = None
    """[R] bool, turn-based (AEC) envs only: rows whose agent is in an episode but not on
    turn at this step. Their action is ignored; GAE passes through them (see
    :func:`~palaestra.train.storage.compute_gae`). None where every live row acts."""


def is_multi_agent(env_id: str) -> bool:
    """Whether ``env_id`` names a PettingZoo env, Parallel or AEC (else it is a Gymnasium id).

    An id in both PettingZoo registries is made through its Parallel API; one only in the
    AEC registry is turn-based (:func:`palaestra.train.aec.is_turn_based`).
    """
    return env_api(env_id) != "gymnasium"


def resolve_env_id(env_id: str) -> str:
    """Return ``env_id`` if it is registered with Gymnasium or PettingZoo (Parallel or AEC).

    Raises:
        ValueError: for an unregistered id, listing the closest registered ids.
    """
    env_api(env_id)
    return env_id


def _check_extras(names: Any, env_id: str) -> tuple[str, ...]:
    names = tuple(names)
    unknown = [n for n in names if n not in ROW_EXTRAS]
    if unknown:
        raise ValueError(f"unknown row extras {unknown} for {env_id}; known: {list(ROW_EXTRAS)}")
    return names


_row_extras = row_extras_of


_numeric_info = numeric_metrics  # one rule for the metrics of a finished episode


class EnvBatch:
    """Common interface of the single- and multi-agent env batches."""

    num_rows: int
    layout: ObsLayout
    action: ActionSpec
    critic_dim: int | None
    obs_dim: int
    agents: list[str]

    num_envs: int

    def reset(self, seed: int) -> StepBatch:
        """Reset every env (env i with seed ``seed + i``)."""
        raise NotImplementedError

    @property
    def task_space(self) -> Any:
        """The envs' task space (``None`` when the env has no task channel)."""
        raise NotImplementedError

    def set_task(self, env_index: int, task: dict[str, Any]) -> None:
        """Give env copy ``env_index`` the task of its next episode (used from its next reset).

        Raises:
            ValueError: if the env has no task channel, or ``task`` is not in its task space.
        """
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> StepBatch:
        """Step with one action per row."""
        raise NotImplementedError

    extras: tuple[str, ...] = ()

    def request_extras(self, names: Any) -> None:
        """Make every later step carry these :data:`ROW_EXTRAS` per row (``StepBatch.extras``).

        Raises:
            ValueError: for an unknown name, or a batch that cannot carry them.
        """
        self.extras = _check_extras(names, getattr(self, "env_id", "this env"))

    def close(self) -> None:
        """Release the envs."""
        raise NotImplementedError

    def render(self) -> np.ndarray | None:
        """An RGB frame of the first env (made with ``render_mode="rgb_array"``), else None."""
        raise NotImplementedError


class GymEnvBatch(EnvBatch):
    """``num_envs`` copies of a Gymnasium env, stepped in this process or in workers.

    ``mode="sync"`` steps a list of envs in a plain loop (``self.envs``, so a curriculum
    can call ``set_task`` on each), with Gymnasium 1.x's next-step autoreset: the step
    after an episode ends resets that env, ignores its action and is marked invalid.
    ``mode="async"`` uses Gymnasium's ``AsyncVectorEnv`` (same semantics) with one worker
    process per env.
    """

    def __init__(self, env_id: str, num_envs: int, mode: str = "sync", **kwargs: Any) -> None:
        self.mode = mode
        self.vector = None
        self.envs: list[gym.Env] = []
        try:  # a failure part-way closes the envs and workers made so far
            if mode == "async":
                self.vector = gym.make_vec(
                    env_id, num_envs=num_envs, vectorization_mode="async", **kwargs
                )
                obs_space = self.vector.single_observation_space
                act_space = self.vector.single_action_space
            else:
                for _ in range(num_envs):
                    self.envs.append(gym.make(env_id, **kwargs))
                obs_space, act_space = self.envs[0].observation_space, self.envs[0].action_space
            self.layout = obs_layout(obs_space)
            self.action = action_spec(act_space)
            _check_mask(self.layout, self.action, env_id)
        except BaseException:
            self.close()
            raise
        self.env_id = env_id
        self.num_envs = num_envs
        self.num_rows = num_envs
        self.obs_dim = self.layout.dim
        self.critic_dim = None
        self.agents = ["agent"]
        self._next_tasks: list[dict[str, Any]] | None = None
        self._last_extras: list[dict[str, Any]] | None = None
        self._dict_obs = isinstance(obs_space, gym.spaces.Dict)
        self._ended = np.zeros(num_envs, bool)
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, np.int64)

    @property
    def task_space(self) -> Any:
        if self.vector is None:
            return getattr(self.envs[0].unwrapped, "task_space", None)
        return getattr(entry_class(self.env_id), "task_space", None)

    def set_task(self, env_index: int, task: dict[str, Any]) -> None:
        space = self.task_space
        if space is None:
            raise ValueError(f"{self.env_id} has no task channel (no task_space attribute)")
        task = space.validate(task)
        if self.vector is None:
            self.envs[env_index].unwrapped.set_task(task)  # type: ignore[attr-defined]
            return
        # Workers: set_attr takes one value per env, so send every env its next task.
        if self._next_tasks is None:
            self._next_tasks = list(self.vector.get_attr("task"))
        self._next_tasks[env_index] = task
        self.vector.set_attr("task", list(self._next_tasks))

    def request_extras(self, names: Any) -> None:
        names = _check_extras(names, self.env_id)
        if names and self.vector is not None:
            raise ValueError(
                f"row extras {list(names)} need vector_mode='sync' (the async vector env "
                "does not pass texts and dict infos through intact)"
            )
        self.extras = names

    def _extras(self, observations: list[Any], infos: list[Any]) -> list[dict[str, Any]] | None:
        if not self.extras:
            return None
        return [_row_extras(self.extras, o, i) for o, i in zip(observations, infos, strict=True)]

    def _stack(self, observations: list[Any]) -> Any:
        if self._dict_obs:
            return {k: np.stack([o[k] for o in observations]) for k in observations[0]}
        return np.stack(observations)

    def reset(self, seed: int) -> StepBatch:
        seeds = [seed + i for i in range(self.num_rows)]
        extras = None
        if self.vector is not None:
            obs, _ = self.vector.reset(seed=seeds)
        else:
            pairs = [env.reset(seed=s) for env, s in zip(self.envs, seeds, strict=True)]
            obs = self._stack([p[0] for p in pairs])
            extras = self._extras([p[0] for p in pairs], [p[1] for p in pairs])
        self._ended[:] = False
        self._returns[:] = 0.0
        self._lengths[:] = 0
        flat, mask = self.layout.flatten(obs)
        zeros = np.zeros(self.num_rows)
        false = np.zeros(self.num_rows, bool)
        return StepBatch(flat, mask, None, zeros, false, false.copy(), ~false, [], extras=extras)

    def _step_sync(self, actions: np.ndarray) -> tuple[Any, ...]:
        n = self.num_rows
        observations: list[Any] = []
        rewards = np.zeros(n)
        terminated = np.zeros(n, bool)
        truncated = np.zeros(n, bool)
        infos: list[dict[str, Any]] = []
        for i, env in enumerate(self.envs):
            if self._ended[i]:
                obs, info = env.reset()
            else:
                obs, reward, term, trunc, info = env.step(actions[i])
                rewards[i], terminated[i], truncated[i] = reward, term, trunc
            observations.append(obs)
            infos.append(info)
        self._last_extras = self._extras(observations, infos)
        return self._stack(observations), rewards, terminated, truncated, infos

    def step(self, actions: np.ndarray) -> StepBatch:
        env_actions = self.action.to_env(actions)
        valid = ~self._ended
        if self.vector is not None:
            obs, rewards, terminated, truncated, vinfos = self.vector.step(env_actions)
            infos = [
                {
                    k: v[i]
                    for k, v in vinfos.items()
                    if not k.startswith("_")
                    and not isinstance(v, dict)
                    and vinfos.get("_" + k, valid)[i]
                }
                for i in range(self.num_rows)
            ]
        else:
            obs, rewards, terminated, truncated, infos = self._step_sync(env_actions)
        rewards = np.where(valid, rewards, 0.0).astype(np.float64)
        terminated = np.asarray(terminated, bool) & valid
        truncated = np.asarray(truncated, bool) & valid
        self._returns += rewards
        self._lengths += valid
        ended = terminated | truncated
        ended_envs = [int(i) for i in np.flatnonzero(ended)]
        episodes = [
            EpisodeRecord(
                float(self._returns[i]),
                int(self._lengths[i]),
                _numeric_info(infos[i]),
                env_index=i,
            )
            for i in ended_envs
        ]
        self._returns[ended] = 0.0
        self._lengths[ended] = 0
        self._ended = ended
        flat, mask = self.layout.flatten(obs)
        extras = self._last_extras if self.vector is None else None
        return StepBatch(
            flat,
            mask,
            None,
            rewards,
            terminated,
            truncated,
            valid,
            episodes,
            ended_envs,
            extras=extras,
        )

    def close(self) -> None:
        if self.vector is not None:
            self.vector.close()
        for env in self.envs:
            env.close()

    def render(self) -> np.ndarray | None:
        frame = self.vector.render()[0] if self.vector is not None else self.envs[0].render()
        return None if frame is None else np.asarray(frame)


def _check_mask(layout: ObsLayout, action: ActionSpec, env_id: str) -> None:
    """An action_mask must mask the choices of a Discrete action space, one entry each."""
    if layout.mask_dim is None:
        return
    if action.kind != "discrete" or layout.mask_dim != action.size:
        raise ValueError(
            f"{env_id}: an action_mask of {layout.mask_dim} entries needs a Discrete action "
            f"space of {layout.mask_dim} actions; the action space is {action.kind} with "
            f"{action.size} choices (masks for other spaces are not supported)"
        )


def _unwrapped(env: Any) -> Any:
    """The innermost env under PettingZoo wrappers."""
    while hasattr(env, "env"):
        env = env.env
    return env


def _batch_of_one(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: np.asarray(v)[None] for k, v in obs.items()}
    return np.asarray(obs)[None]


def make_env_batch(
    env_id: str,
    num_envs: int,
    *,
    vector_mode: str = "sync",
    centralized_critic: bool = False,
    env_kwargs: dict[str, Any] | None = None,
) -> EnvBatch:
    """Build the env batch for ``env_id``, by the registry it is in.

    * PettingZoo Parallel (checked first: an id may also be in the AEC registry):
      :class:`ParallelEnvBatch`, stepped in this process (``vector_mode`` does not apply).
    * PettingZoo AEC (turn-based): :class:`~palaestra.train.aec.AECEnvBatch`, stepped in this
      process: ``vector_mode="async"`` and ``centralized_critic`` are refused.
    * Gymnasium: :class:`GymEnvBatch`, ``vector_mode`` ``"sync"`` or ``"async"``.

    Raises:
        ValueError: for an unknown id, ``num_envs < 1``, an unknown ``vector_mode``, a
            setting the env's kind does not support, or spaces the trainer cannot take
            (the message names the env's kind and what is supported).
    """
    api = env_api(env_id)
    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    if vector_mode not in ("sync", "async"):
        raise ValueError(f"vector_mode must be 'sync' or 'async', got {vector_mode!r}")
    kwargs = dict(env_kwargs or {})
    if api == "parallel":
        from palaestra.train.parallel import ParallelEnvBatch

        return ParallelEnvBatch(env_id, num_envs, centralized_critic=centralized_critic, **kwargs)
    if api == "aec":
        from palaestra.train.aec import AECEnvBatch

        if vector_mode != "sync":
            raise ValueError(
                f"{env_id} is a turn-based (PettingZoo AEC) env, stepped in this process: "
                f"vector_mode={vector_mode!r} is not supported (use 'sync'; 'async' worker "
                "processes are for Gymnasium envs)"
            )
        return AECEnvBatch(env_id, num_envs, centralized_critic=centralized_critic, **kwargs)
    if centralized_critic:
        raise ValueError(f"centralized_critic needs a multi-agent env; {env_id} is single-agent")
    return GymEnvBatch(env_id, num_envs, vector_mode, **kwargs)
