"""PettingZoo Parallel envs as the PPO trainer sees them: one row per env copy and agent.

Rows follow ``possible_agents`` order within each env copy, each with a one-hot agent id
appended; the conventions (``valid``, next-step resets, episode records) are those of
:mod:`palaestra.train.envs`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from palaestra.agents.spaces import action_spec, obs_layout
from palaestra.train.envs import (
    EnvBatch,
    EpisodeRecord,
    StepBatch,
    _batch_of_one,
    _check_mask,
    _numeric_info,
    _row_extras,
    _unwrapped,
)

__all__ = ["ParallelEnvBatch"]


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
        self.envs: list[Any] = []
        try:  # a failure part-way closes the envs made so far
            for _ in range(num_envs):
                self.envs.append(pettingzoo.make("parallel", env_id, **kwargs))
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
        except BaseException:
            self.close()
            raise
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
        """The first env's task space (None without a task channel)."""
        return getattr(_unwrapped(self.envs[0]), "task_space", None)

    def set_task(self, env_index: int, task: dict[str, Any]) -> None:
        """Give env copy ``env_index`` the task of its next episode."""
        env = _unwrapped(self.envs[env_index])
        if not hasattr(env, "set_task"):
            raise ValueError(f"{self.env_id} has no task channel (no set_task method)")
        env.set_task(env.task_space.validate(task))

    def _row(self, env: int, agent: int) -> int:
        return env * self.num_agents + agent

    def _write_extras(self, env: int, observations: dict, infos: dict, rows: list | None) -> None:
        if rows is None:
            return
        for j, name in enumerate(self.agents):
            if name in observations:
                rows[self._row(env, j)] = _row_extras(
                    self.extras, observations[name], infos.get(name)
                )

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
        """Reset every env copy (copy e with seed ``seed + e``)."""
        self._seed = seed
        self._resets = 0
        feats, masks = self._empty()
        extras = [{} for _ in range(self.num_rows)] if self.extras else None
        for e, env in enumerate(self.envs):
            observations, infos = env.reset(seed=seed + e)
            self._write_obs(e, observations, feats, masks)
            self._write_extras(e, observations, infos, extras)
            for j, name in enumerate(self.agents):
                self._alive[self._row(e, j)] = name in env.agents
        self._pending_reset[:] = False
        self._returns[:] = 0.0
        self._lengths[:] = 0
        obs, critic = self._assemble(feats, masks)
        zeros = np.zeros(self.num_rows)
        false = np.zeros(self.num_rows, bool)
        return StepBatch(
            obs, masks, critic, zeros, false, false.copy(), self._alive.copy(), [], extras=extras
        )

    def step(self, actions: np.ndarray) -> StepBatch:
        """Step every env copy with its live agents' actions; reset copies that ended."""
        feats, masks = self._empty()
        rewards = np.zeros(self.num_rows)
        terminated = np.zeros(self.num_rows, bool)
        truncated = np.zeros(self.num_rows, bool)
        valid = self._alive.copy()
        episodes: list[EpisodeRecord] = []
        ended_envs: list[int] = []
        extras = [{} for _ in range(self.num_rows)] if self.extras else None
        env_actions = self.action.to_env(actions)
        for e, env in enumerate(self.envs):
            if self._pending_reset[e]:
                # The step after an episode ended resets the env; it is not a transition.
                self._resets += 1
                observations, infos = env.reset(seed=self._seed + self.num_envs * self._resets + e)
                self._pending_reset[e] = False
                self._write_obs(e, observations, feats, masks)
                self._write_extras(e, observations, infos, extras)
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
            self._write_extras(e, observations, infos, extras)
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
            obs,
            masks,
            critic,
            rewards,
            terminated,
            truncated,
            valid,
            episodes,
            ended_envs,
            extras=extras,
        )

    def close(self) -> None:
        """Close every env copy."""
        for env in self.envs:
            env.close()

    def render(self) -> np.ndarray | None:
        """An RGB frame of the first env copy, or None."""
        frame = self.envs[0].render()
        return None if frame is None else np.asarray(frame)
