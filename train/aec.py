"""Turn-based (PettingZoo AEC) envs as rows for the PPO trainer, one policy for every seat.

:class:`AECEnvBatch` is the :class:`~palaestra.train.envs.EnvBatch` of ``num_envs`` copies
of an AEC env (``pettingzoo.make("aec", env_id)``), with parameter sharing: one row per env
copy and agent, ``row = env * num_agents + agent`` in ``possible_agents`` order, each row's
flat observation followed by a one-hot agent id, as in
:class:`~palaestra.train.parallel.ParallelEnvBatch`.

Glossary:
    on turn: the agent ``env.agent_selection`` names. In every env copy exactly one row
        acts per batch step: the row on turn (``valid`` True).
    waiting: a row whose agent is in its episode but not on turn (``valid`` False,
        ``waiting`` True). Its action is ignored; it still receives the rewards and episode
        ends that reach its agent at that step, and GAE passes through it to the agent's
        next turn (:func:`~palaestra.train.storage.compute_gae`). Its observation is the
        agent's own (``env.observe``), so the value at a rollout's end is meaningful, with
        an all-True mask (the env's mask of an agent not on turn may allow nothing).
    dead step: PettingZoo's rule that a terminated or truncated agent, once selected, is
        stepped with ``None`` before anyone else acts. The batch takes dead steps itself,
        right after the step that ended the agent, so the row on turn is always live.

Per batch step and env copy: the row on turn acts; then every agent's ``env.rewards`` go to
its own row, and terminations and truncations are flagged on the rows they reach, with the
agent's final observation as the row's next observation (a truncated agent bootstraps from
its value). When every agent is done the copy is in ``ended_envs`` and its next batch step
only resets it (every row invalid, none waiting), with the seeds ParallelEnvBatch uses:
``seed + e`` at :meth:`AECEnvBatch.reset`, ``seed + num_envs * k + e`` at the ``k``-th
autoreset of the batch. Each agent's :class:`~palaestra.train.envs.EpisodeRecord` holds its
return (all its rewards), its length (its own turns) and the numeric metrics of its last info.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from palaestra.agents.registry import env_api
from palaestra.agents.spaces import action_spec, obs_layout
from palaestra.train.envs import (
    EnvBatch,
    EpisodeRecord,
    StepBatch,
    _check_mask,
    _numeric_info,
    _unwrapped,
)

__all__ = ["AECEnvBatch", "is_turn_based"]


def is_turn_based(env_id: str) -> bool:
    """Whether ``env_id`` is a PettingZoo AEC env that is not also registered as Parallel.

    Such an id is made with ``pettingzoo.make("aec", env_id)``; an id in both registries is
    trained through its Parallel API.
    """
    return env_api(env_id) == "aec"


class AECEnvBatch(EnvBatch):
    """``num_envs`` PettingZoo AEC envs in this process, one row per env copy and agent.

    Args:
        env_id: A PettingZoo id registered with ``pettingzoo.register("aec", ...)``.
        num_envs: Number of env copies.
        centralized_critic: Must be False: a centralised critic of turn-based play is not
            supported.
        kwargs: Passed to ``pettingzoo.make``.

    Raises:
        ValueError: for a centralised critic, an env that cannot be made here, agents with
            different action spaces or mask widths, or spaces the policies cannot take.
    """

    def __init__(
        self, env_id: str, num_envs: int, centralized_critic: bool = False, **kwargs: Any
    ) -> None:
        if centralized_critic:
            raise ValueError(
                f"{env_id} is a turn-based (PettingZoo AEC) env: a centralised critic is not "
                "supported for it (train without centralized_critic)"
            )
        import pettingzoo
        from pettingzoo.env_registry.exceptions import PettingZooRegistryError

        self.env_id = env_id
        try:
            self.envs = [pettingzoo.make("aec", env_id, **kwargs) for _ in range(num_envs)]
        except PettingZooRegistryError as exc:
            raise ValueError(f"{env_id} (a PettingZoo AEC env) cannot be made: {exc}") from exc
        try:
            self._describe(self.envs[0])
        except ValueError as exc:
            self.close()
            raise ValueError(
                f"{env_id} is a PettingZoo AEC env the trainer cannot run: {exc}"
            ) from exc
        self.num_envs = num_envs
        self.num_agents = len(self.agents)
        self.num_rows = num_envs * self.num_agents
        self.obs_dim = self.feature_dim + self.num_agents
        self.critic_dim = None
        self._index = {name: j for j, name in enumerate(self.agents)}
        self._ids = np.tile(np.eye(self.num_agents, dtype=np.float32), (num_envs, 1))
        self._turn = np.zeros(self.num_rows, bool)
        self._in_episode = np.zeros(self.num_rows, bool)
        self._pending_reset = np.zeros(num_envs, bool)
        self._returns = np.zeros(self.num_rows)
        self._lengths = np.zeros(self.num_rows, np.int64)
        self._seed = 0
        self._resets = 0

    def _describe(self, env: Any) -> None:
        """Spaces of every agent: one action space, one mask width, flat observations."""
        self.agents = list(env.possible_agents)
        self.layouts = [obs_layout(env.observation_space(a)) for a in self.agents]
        actions = [action_spec(env.action_space(a)) for a in self.agents]
        key = (actions[0].kind, actions[0].shape, actions[0].size, actions[0].nvec)
        for name, spec in zip(self.agents, actions, strict=True):
            if (spec.kind, spec.shape, spec.size, spec.nvec) != key:
                raise ValueError(
                    f"agents {self.agents[0]!r} and {name!r} have different action spaces; "
                    "palaestra's PPO needs one action space for all agents"
                )
        if len({lay.mask_dim for lay in self.layouts}) > 1:
            raise ValueError("agents disagree on having an action_mask (or on its width)")
        _check_mask(self.layouts[0], actions[0], self.env_id)
        self.layout, self.action = self.layouts[0], actions[0]
        self.feature_dim = max(lay.dim for lay in self.layouts)

    @property
    def task_space(self) -> Any:
        """The env's task space (``None`` when the env has no task channel)."""
        return getattr(_unwrapped(self.envs[0]), "task_space", None)

    def set_task(self, env_index: int, task: dict[str, Any]) -> None:
        """Give env copy ``env_index`` the task of its next episode.

        Raises:
            ValueError: if the env has no task channel, or ``task`` is not in its task space.
        """
        env = _unwrapped(self.envs[env_index])
        if not hasattr(env, "set_task"):
            raise ValueError(f"{self.env_id} has no task channel (no set_task method)")
        env.set_task(env.task_space.validate(task))

    def request_extras(self, names: Any) -> None:
        """Row extras (text views, infos) are not carried by the AEC batch yet.

        Raises:
            ValueError: for any non-empty ``names``.
        """
        if names:
            raise ValueError(
                f"{self.env_id} is a turn-based (PettingZoo AEC) env: its batch does not carry "
                f"row extras yet (asked for {list(names)})"
            )
        self.extras = ()

    # ------------------------------------------------------------------ stepping
    def _rows(self, e: int) -> slice:
        return slice(e * self.num_agents, (e + 1) * self.num_agents)

    def _start(self, e: int, seed: int) -> None:
        """Reset env copy ``e`` and take the dead steps of agents that start done."""
        env = self.envs[e]
        env.reset(seed=seed)
        _dead_steps(env)
        base = e * self.num_agents
        for j, name in enumerate(self.agents):
            self._in_episode[base + j] = name in env.agents and not _done(env, name)
        self._returns[self._rows(e)] = 0.0
        self._lengths[self._rows(e)] = 0

    def _collect(self, e: int, out: dict[str, Any]) -> None:
        """Rewards and episode ends of env copy ``e`` after one ``env.step``."""
        env, base = self.envs[e], e * self.num_agents
        for name, reward in env.rewards.items():
            j = self._index.get(name)
            if j is not None and self._in_episode[base + j]:
                out["rewards"][base + j] += float(reward)
                self._returns[base + j] += float(reward)
        for j, name in enumerate(self.agents):
            r, present = base + j, name in env.agents
            if not self._in_episode[r]:
                self._in_episode[r] = present and not _done(env, name)  # joined mid-episode
                continue
            term = bool(env.terminations.get(name, False))
            trunc = bool(env.truncations.get(name, False)) and not term
            if present and not (term or trunc):
                continue
            out["terminated"][r], out["truncated"][r] = term or not trunc, trunc
            if present:  # its final observation, before the dead step removes it
                out["entries"].append((j, r, env.observe(name), False))
            info = _numeric_info(env.infos.get(name, {}))
            out["episodes"].append(
                EpisodeRecord(float(self._returns[r]), int(self._lengths[r]), info, name, e)
            )
            self._returns[r], self._lengths[r], self._in_episode[r] = 0.0, 0, False

    def _next_turn(self, e: int, entries: list[tuple[int, int, Any, bool]]) -> None:
        """Mark the row on turn in env copy ``e`` and queue its live rows' observations."""
        env, base = self.envs[e], e * self.num_agents
        self._turn[self._rows(e)] = False
        if self._pending_reset[e]:
            return
        selected = env.agent_selection
        j = self._index.get(selected)
        if j is None or not self._in_episode[base + j]:
            raise ValueError(
                f"{self.env_id}: env copy {e} selects {selected!r}, which is not a live agent "
                f"(agents: {list(env.agents)}); the AEC batch cannot go on"
            )
        for j, name in enumerate(self.agents):
            if self._in_episode[base + j]:
                entries.append((j, base + j, env.observe(name), name == selected))
                self._turn[base + j] = name == selected

    def _assemble(
        self, entries: list[tuple[int, int, Any, bool]]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows of flat observations (one flatten per agent) with the agent ids appended."""
        feats = np.zeros((self.num_rows, self.feature_dim), np.float32)
        mask_dim = self.layout.mask_dim
        masks = np.ones((self.num_rows, mask_dim), bool) if mask_dim else None
        for j in range(self.num_agents):
            mine = [item for item in entries if item[0] == j]
            if not mine:
                continue
            rows = np.array([item[1] for item in mine])
            flat, mask = self.layouts[j].flatten(_stack([item[2] for item in mine]))
            feats[rows, : flat.shape[1]] = flat
            on_turn = np.array([item[3] for item in mine])
            if masks is not None and mask is not None:
                masks[rows[on_turn]] = mask[on_turn]
        return np.concatenate([feats, self._ids], axis=1), masks

    def reset(self, seed: int) -> StepBatch:
        """Reset every env copy (copy ``e`` with seed ``seed + e``).

        The batch's ``valid`` and ``waiting`` say which rows act and wait at the next step.
        """
        self._seed, self._resets = seed, 0
        self._pending_reset[:] = False
        entries: list[tuple[int, int, Any, bool]] = []
        for e in range(self.num_envs):
            self._start(e, seed + e)
            self._pending_reset[e] = not self._in_episode[self._rows(e)].any()
            self._next_turn(e, entries)
        obs, masks = self._assemble(entries)
        zeros, false = np.zeros(self.num_rows), np.zeros(self.num_rows, bool)
        waiting = self._in_episode & ~self._turn
        return StepBatch(
            obs, masks, None, zeros, false, false.copy(), self._turn.copy(), [], waiting=waiting
        )

    def step(self, actions: np.ndarray) -> StepBatch:
        """Step every env copy with the action of its row on turn; other actions are ignored."""
        valid, waiting = self._turn.copy(), self._in_episode & ~self._turn
        n = self.num_rows
        out: dict[str, Any] = {
            "rewards": np.zeros(n),
            "terminated": np.zeros(n, bool),
            "truncated": np.zeros(n, bool),
            "episodes": [],
            "entries": [],
        }
        ended_envs: list[int] = []
        env_actions = self.action.to_env(np.asarray(actions))
        for e, env in enumerate(self.envs):
            if self._pending_reset[e]:
                # The step after an episode ended resets the copy; it is not a transition.
                self._resets += 1
                self._start(e, self._seed + self.num_envs * self._resets + e)
                self._pending_reset[e] = not self._in_episode[self._rows(e)].any()
            else:
                r = e * self.num_agents + self._index[env.agent_selection]
                action = env_actions[r]
                env.step(int(action) if self.action.kind == "discrete" else action)
                self._lengths[r] += 1
                self._collect(e, out)
                while env.agents and _done(env, env.agent_selection):
                    env.step(None)  # PettingZoo's dead step
                    self._collect(e, out)
                if not self._in_episode[self._rows(e)].any():
                    self._pending_reset[e] = True
                    ended_envs.append(e)
            self._next_turn(e, out["entries"])
        obs, masks = self._assemble(out["entries"])
        return StepBatch(
            obs, masks, None, out["rewards"], out["terminated"], out["truncated"], valid,
            out["episodes"], ended_envs=ended_envs, waiting=waiting,
        )  # fmt: skip

    def close(self) -> None:
        """Close every env copy."""
        for env in getattr(self, "envs", []):
            env.close()

    def render(self) -> np.ndarray | None:
        """An RGB frame of the first env copy, or None (no ``rgb_array`` mode, e.g. ``ansi``)."""
        frame = self.envs[0].render()
        return frame if isinstance(frame, np.ndarray) and frame.ndim == 3 else None


def _done(env: Any, name: str) -> bool:
    return bool(env.terminations.get(name, False) or env.truncations.get(name, False))


def _dead_steps(env: Any) -> None:
    """Step ``None`` for every selected agent that is already done."""
    while env.agents and _done(env, env.agent_selection):
        env.step(None)


def _stack(observations: list[Any]) -> Any:
    if isinstance(observations[0], dict):
        return {k: np.stack([np.asarray(o[k]) for o in observations]) for k in observations[0]}
    return np.stack([np.asarray(o) for o in observations])
