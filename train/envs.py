"""Environments as the PPO trainer sees them: rows of flat observations, one per actor.

:func:`make_env_batch` builds, from an env id, a :class:`EnvBatch` of ``num_envs`` copies:
a Gymnasium vector env (one row per env) or PettingZoo Parallel envs (one row per env and
agent, in ``possible_agents`` order). Every step returns numpy arrays over rows:

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

import difflib
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from palaestra.agents.spaces import ActionSpec, ObsLayout, action_spec, obs_layout

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


def _registered_ids() -> tuple[list[str], list[str]]:
    import pettingzoo

    import palaestra  # noqa: F401  (registers palaestra's envs)

    return sorted(gym.registry), sorted(pettingzoo.parallel_registry)


def is_multi_agent(env_id: str) -> bool:
    """Whether ``env_id`` names a PettingZoo Parallel env (else it is a Gymnasium id)."""
    return env_id in _registered_ids()[1]


def resolve_env_id(env_id: str) -> str:
    """Return ``env_id`` if it is registered with Gymnasium or PettingZoo.

    Raises:
        ValueError: for an unregistered id, listing the closest registered ids.
    """
    gym_ids, pz_ids = _registered_ids()
    if env_id in gym_ids or env_id in pz_ids:
        return env_id
    close = difflib.get_close_matches(env_id, gym_ids + pz_ids, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"unknown env id {env_id!r} (not registered with Gymnasium or PettingZoo){hint}"
    )


def _numeric_info(info: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in info.items():
        if isinstance(
            value, (bool, np.bool_, int, float, np.integer, np.floating)
        ) and not key.startswith("_"):
            out[key] = float(value)
    return out


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
        if mode == "async":
            self.vector = gym.make_vec(
                env_id, num_envs=num_envs, vectorization_mode="async", **kwargs
            )
            self.envs: list[gym.Env] = []
            obs_space, act_space = (
                self.vector.single_observation_space,
                self.vector.single_action_space,
            )
        else:
            self.vector = None
            self.envs = [gym.make(env_id, **kwargs) for _ in range(num_envs)]
            obs_space, act_space = self.envs[0].observation_space, self.envs[0].action_space
        self.layout = obs_layout(obs_space)
        self.action = action_spec(act_space)
        _check_mask(self.layout, self.action, env_id)
        self.env_id = env_id
        self.num_envs = num_envs
        self.num_rows = num_envs
        self.obs_dim = self.layout.dim
        self.critic_dim = None
        self.agents = ["agent"]
        self._next_tasks: list[dict[str, Any]] | None = None
        self._dict_obs = isinstance(obs_space, gym.spaces.Dict)
        self._ended = np.zeros(num_envs, bool)
        self._returns = np.zeros(num_envs)
        self._lengths = np.zeros(num_envs, np.int64)

    @property
    def task_space(self) -> Any:
        if self.vector is None:
            return getattr(self.envs[0].unwrapped, "task_space", None)
        return getattr(_entry_class(self.env_id), "task_space", None)

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

    def _stack(self, observations: list[Any]) -> Any:
        if self._dict_obs:
            return {k: np.stack([o[k] for o in observations]) for k in observations[0]}
        return np.stack(observations)

    def reset(self, seed: int) -> StepBatch:
        seeds = [seed + i for i in range(self.num_rows)]
        if self.vector is not None:
            obs, _ = self.vector.reset(seed=seeds)
        else:
            obs = self._stack(
                [env.reset(seed=s)[0] for env, s in zip(self.envs, seeds, strict=True)]
            )
        self._ended[:] = False
        self._returns[:] = 0.0
        self._lengths[:] = 0
        flat, mask = self.layout.flatten(obs)
        zeros = np.zeros(self.num_rows)
        false = np.zeros(self.num_rows, bool)
        return StepBatch(flat, mask, None, zeros, false, false.copy(), ~false, [])

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
        return StepBatch(
            flat, mask, None, rewards, terminated, truncated, valid, episodes, ended_envs
        )

    def close(self) -> None:
        if self.vector is not None:
            self.vector.close()
        for env in self.envs:
            env.close()

    def render(self) -> np.ndarray | None:
        frame = self.vector.render()[0] if self.vector is not None else self.envs[0].render()
        return None if frame is None else np.asarray(frame)


class ParallelEnvBatch(EnvBatch):
    """``num_envs`` PettingZoo Parallel envs in this process, one row per env and agent.

    Args:
        env_id: A PettingZoo id registered with ``pettingzoo.register("parallel", ...)``.
        num_envs: Number of env copies.
        centralized_critic: Also give each row the observations of every agent of its env
            (a centralised critic, MAPPO).
        kwargs: Passed to ``pettingzoo.make``.
    """

    def __init__(
        self, env_id: str, num_envs: int, centralized_critic: bool = False, **kwargs: Any
    ) -> None:
        import pettingzoo

        self.env_id = env_id
        self.envs = [pettingzoo.make("parallel", env_id, **kwargs) for _ in range(num_envs)]
        first = self.envs[0]
        self.agents = list(first.possible_agents)
        layouts = [obs_layout(first.observation_space(a)) for a in self.agents]
        actions = [action_spec(first.action_space(a)) for a in self.agents]
        for a, spec in zip(self.agents, actions, strict=True):
            if (spec.kind, spec.shape, spec.size, spec.nvec) != (
                actions[0].kind,
                actions[0].shape,
                actions[0].size,
                actions[0].nvec,
            ):
                raise ValueError(
                    f"agents {self.agents[0]!r} and {a!r} have different action spaces; "
                    "palaestra's PPO needs one action space for all agents"
                )
        masks = {lay.mask_dim for lay in layouts}
        if len(masks) > 1:
            raise ValueError(f"agents disagree on having an action_mask: {masks}")
        _check_mask(layouts[0], actions[0], env_id)
        self.layouts = layouts
        self.layout = layouts[0]
        self.action = actions[0]
        self.num_agents = len(self.agents)
        self.num_envs = num_envs
        self.num_rows = num_envs * self.num_agents
        self.feature_dim = max(lay.dim for lay in layouts)
        self.obs_dim = self.feature_dim + self.num_agents
        self.centralized = centralized_critic
        self.critic_dim = (
            self.feature_dim * self.num_agents + self.num_agents if centralized_critic else None
        )
        self.mask_dim = layouts[0].mask_dim
        self._pending_reset = np.zeros(num_envs, bool)
        self._returns = np.zeros(self.num_rows)
        self._lengths = np.zeros(self.num_rows, np.int64)
        self._alive = np.zeros(self.num_rows, bool)
        self._seed = 0
        self._resets = 0
        self._ids = np.tile(np.eye(self.num_agents, dtype=np.float32), (num_envs, 1))

    @property
    def task_space(self) -> Any:
        return getattr(_unwrapped(self.envs[0]), "task_space", None)

    def set_task(self, env_index: int, task: dict[str, Any]) -> None:
        env = _unwrapped(self.envs[env_index])
        if not hasattr(env, "set_task"):
            raise ValueError(f"{self.env_id} has no task channel (no set_task method)")
        env.set_task(env.task_space.validate(task))

    def _row(self, env: int, agent: int) -> int:
        return env * self.num_agents + agent

    def _write_obs(
        self, env: int, observations: dict, feats: np.ndarray, masks: np.ndarray | None
    ) -> None:
        for j, name in enumerate(self.agents):
            if name in observations:
                flat, mask = self.layouts[j].flatten(_batch_of_one(observations[name]))
                feats[self._row(env, j), : flat.shape[1]] = flat[0]
                if masks is not None and mask is not None:
                    masks[self._row(env, j)] = mask[0]

    def _assemble(
        self, feats: np.ndarray, masks: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        obs = np.concatenate([feats, self._ids], axis=1)
        critic = None
        if self.centralized:
            joint = feats.reshape(self.num_envs, self.num_agents * self.feature_dim)
            critic = np.concatenate([np.repeat(joint, self.num_agents, axis=0), self._ids], axis=1)
        return obs, critic

    def _empty(self) -> tuple[np.ndarray, np.ndarray | None]:
        feats = np.zeros((self.num_rows, self.feature_dim), np.float32)
        masks = np.ones((self.num_rows, self.mask_dim), bool) if self.mask_dim else None
        return feats, masks

    def reset(self, seed: int) -> StepBatch:
        self._seed = seed
        self._resets = 0
        feats, masks = self._empty()
        for e, env in enumerate(self.envs):
            observations, _ = env.reset(seed=seed + e)
            self._write_obs(e, observations, feats, masks)
            for j, name in enumerate(self.agents):
                self._alive[self._row(e, j)] = name in env.agents
        self._pending_reset[:] = False
        self._returns[:] = 0.0
        self._lengths[:] = 0
        obs, critic = self._assemble(feats, masks)
        zeros = np.zeros(self.num_rows)
        false = np.zeros(self.num_rows, bool)
        return StepBatch(obs, masks, critic, zeros, false, false.copy(), self._alive.copy(), [])

    def step(self, actions: np.ndarray) -> StepBatch:
        feats, masks = self._empty()
        rewards = np.zeros(self.num_rows)
        terminated = np.zeros(self.num_rows, bool)
        truncated = np.zeros(self.num_rows, bool)
        valid = self._alive.copy()
        episodes: list[EpisodeRecord] = []
        ended_envs: list[int] = []
        env_actions = self.action.to_env(actions)
        for e, env in enumerate(self.envs):
            if self._pending_reset[e]:
                # The step after an episode ended resets the env; it is not a transition.
                self._resets += 1
                observations, _ = env.reset(seed=self._seed + self.num_envs * self._resets + e)
                self._pending_reset[e] = False
                self._write_obs(e, observations, feats, masks)
                for j, name in enumerate(self.agents):
                    self._alive[self._row(e, j)] = name in env.agents
                continue
            live = {
                name: env_actions[self._row(e, j)]
                for j, name in enumerate(self.agents)
                if name in env.agents
            }
            observations, rew, term, trunc, infos = env.step(live)
            self._write_obs(e, observations, feats, masks)
            for j, name in enumerate(self.agents):
                r = self._row(e, j)
                if name not in live:
                    continue
                rewards[r] = float(rew.get(name, 0.0))
                terminated[r] = bool(term.get(name, False))
                truncated[r] = bool(trunc.get(name, False)) and not terminated[r]
                self._returns[r] += rewards[r]
                self._lengths[r] += 1
                if terminated[r] or truncated[r] or name not in env.agents:
                    if not (terminated[r] or truncated[r]):
                        # Left without a flag: bootstrap from its last observation if the
                        # env gave one (truncated), else end it there (terminated).
                        truncated[r] = name in observations
                        terminated[r] = not truncated[r]
                    episodes.append(
                        EpisodeRecord(
                            float(self._returns[r]),
                            int(self._lengths[r]),
                            _numeric_info(infos.get(name, {})),
                            name,
                            e,
                        )
                    )
                    self._returns[r] = 0.0
                    self._lengths[r] = 0
                    self._alive[r] = False
            for j, name in enumerate(self.agents):
                r = self._row(e, j)
                if name in env.agents and not (terminated[r] or truncated[r]):
                    self._alive[r] = True  # agents that join mid-episode act from now on
            rows = slice(self._row(e, 0), self._row(e, self.num_agents - 1) + 1)
            if not env.agents or not self._alive[rows].any():
                self._pending_reset[e] = True
                ended_envs.append(e)
        obs, critic = self._assemble(feats, masks)
        return StepBatch(
            obs, masks, critic, rewards, terminated, truncated, valid, episodes, ended_envs
        )

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def render(self) -> np.ndarray | None:
        frame = self.envs[0].render()
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


def _entry_class(env_id: str) -> Any:
    """The class (or factory) a Gymnasium id's entry point names, loaded in this process."""
    entry = gym.spec(env_id).entry_point
    if callable(entry):
        return entry
    import importlib

    module, _, name = str(entry).partition(":")
    return getattr(importlib.import_module(module), name)


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
    """Build the env batch for ``env_id`` (Gymnasium or PettingZoo Parallel)."""
    env_id = resolve_env_id(env_id)
    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    kwargs = dict(env_kwargs or {})
    if is_multi_agent(env_id):
        return ParallelEnvBatch(env_id, num_envs, centralized_critic=centralized_critic, **kwargs)
    if centralized_critic:
        raise ValueError(f"centralized_critic needs a multi-agent env; {env_id} is single-agent")
    if vector_mode not in ("sync", "async"):
        raise ValueError(f"vector_mode must be 'sync' or 'async', got {vector_mode!r}")
    return GymEnvBatch(env_id, num_envs, vector_mode, **kwargs)
