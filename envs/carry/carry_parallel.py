"""``palaestra/carry-v0``: two learning carriers (PettingZoo Parallel API)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from palaestra.envs.carry.carry_env import MAX_STEPS_LIMIT
from palaestra.envs.carry.core import (
    CarryEnvBase,
    CarryEpisode,
    RewardWeights,
    carrier_action_space,
    carrier_observation_space,
    reward_weights_from,
    validate_action,
    window_for_render_mode,
)
from palaestra.envs.games import check_agent_name, check_parallel_step

__all__ = ["CarryParallelEnv"]

AGENTS = ("carrier_0", "carrier_1")


class CarryParallelEnv(CarryEnvBase, ParallelEnv):
    """Two carriers move an object together; each feels the other only through the object.

    ## Description
    The multi-agent form of :class:`~palaestra.envs.carry.carry_env.CarryEnv` (same world,
    physics, task knobs and metrics). Both carriers learn; with ``scripted_partner`` one seat
    is taken by the scripted human proxy instead, and only the other carrier is an agent.
    ``env.episode_state`` is the read-only snapshot of ``Carry-v0``, its carriers named
    ``carrier_0`` and ``carrier_1`` (a scripted one included).

    ## Agents
    ``carrier_0`` and ``carrier_1``. The task's ``role`` knob is ``carrier_0``'s role: the
    leader holds the front handle and is told the goal, the follower holds the back handle.
    With ``role="follower"`` (the default) ``carrier_1`` leads.

    ## Action Space
    Per agent ``Box(-1, 1, (3,), float32)``, as in ``Carry-v0``. Finite out-of-range values
    are clipped; NaN, inf, a wrong shape or dtype raise ``ValueError`` naming the agent.

    ## Observation Space
    Per agent ``Box(-inf, inf, (19,), float32)``, as in ``Carry-v0``.

    ## Rewards
    Per agent, as in ``Carry-v0``: the progress, tilt, success and drop terms are shared;
    the force and jerk terms are each agent's own.

    ## Starting State
    As in ``Carry-v0``.

    ## Episode End
    Both agents terminate together on success or a drop, and are truncated together after
    ``max_cycles`` steps; their last ``infos`` hold the episode metrics, with
    ``partner_effort`` the mean force the *other* carrier applied to the object. A step
    after the end raises ``gymnasium.error.ResetNeeded``; a step whose action dict misses a
    live agent or names an unknown one raises ``ValueError``.

    ## Tasks and difficulty
    As in ``Carry-v0``: ``reset(options={"task": ...})``, ``set_task`` and ``task_space``.

    ## Arguments
    * ``render_mode``: ``None``, ``"rgb_array"`` or ``"human"`` (needs a display).
    * ``task``: the task used until another is set.
    * ``scripted_partner``: ``None`` (both learn), ``"carrier_0"`` or ``"carrier_1"``: the
      seat the scripted human proxy takes.
    * ``max_cycles``: step limit, at most 2000 (default 1500).
    * ``reward_weights``, ``render_width``, ``render_height``: as in ``Carry-v0``.

    ## Version History
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "carry_v0",
        "render_modes": ["rgb_array", "human"],
        "render_fps": 50,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        scripted_partner: str | None = None,
        max_cycles: int = 1500,
        reward_weights: RewardWeights | Mapping[str, float] | None = None,
        render_width: int = 320,
        render_height: int = 240,
    ) -> None:
        gui = window_for_render_mode(render_mode, self.metadata["render_modes"])
        if scripted_partner is not None and scripted_partner not in AGENTS:
            raise ValueError(
                f"scripted_partner must be None or one of {list(AGENTS)}, got {scripted_partner!r}"
            )
        if not 1 <= int(max_cycles) <= MAX_STEPS_LIMIT:
            raise ValueError(f"max_cycles must be in [1, {MAX_STEPS_LIMIT}], got {max_cycles}")
        self.render_mode = render_mode
        self.render_size = (int(render_width), int(render_height))
        self.scripted_partner = scripted_partner
        self.possible_agents = [a for a in AGENTS if a != scripted_partner]
        self.agents: list[str] = []
        self._observation_space = carrier_observation_space()
        self._action_space = carrier_action_space()
        self.observation_spaces = {a: self._observation_space for a in self.possible_agents}
        self.action_spaces = {a: self._action_space for a in self.possible_agents}
        self._task = self.task_space.validate(task)
        self._episode = CarryEpisode(int(max_cycles), reward_weights_from(reward_weights), gui=gui)
        self._seat: dict[str, int] = {}
        self._carrier_seats: dict[str, int] = {}
        self._rng: np.random.Generator | None = None

    def observation_space(self, agent: str) -> gym.spaces.Box:
        """The (cached) observation space of ``agent``."""
        check_agent_name(agent, self.possible_agents)
        return self._observation_space

    def action_space(self, agent: str) -> gym.spaces.Box:
        """The (cached) action space of ``agent``."""
        check_agent_name(agent, self.possible_agents)
        return self._action_space

    def _carriers(self) -> list[tuple[str, int]]:
        return list(self._carrier_seats.items())

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode; ``options={"task": {...}}`` sets the task first."""
        if seed is not None or self._rng is None:
            self._rng, _ = gym.utils.seeding.np_random(seed)
        self._set_task_from_options(options)
        lead = 1 if self._task["role"] == "leader" else 0
        seats = {"carrier_0": lead, "carrier_1": 1 - lead}
        scripted = {seats[self.scripted_partner]} if self.scripted_partner else set()
        self._seat = {a: seats[a] for a in self.possible_agents}
        self._carrier_seats = seats
        self._episode.reset(self._task, self._rng, scripted=scripted)
        self.agents = list(self.possible_agents)
        if self.render_mode == "human":
            self.render()
        difficulty = self.task_space.difficulty(self._task)
        observations = {a: self._episode.observation(s) for a, s in self._seat.items()}
        return observations, {a: {"difficulty": difficulty} for a in self.agents}

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Advance 0.02 s with one action per live agent."""
        episode = self._episode
        check_parallel_step("carry-v0", actions, self.agents, running=not episode.done)
        seat_actions = {self._seat[a]: validate_action(a, actions[a]) for a in self.agents}
        rewards, terminated, truncated = episode.step(seat_actions)
        observations = {a: episode.observation(self._seat[a]) for a in self.agents}
        infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        if terminated or truncated:
            difficulty = self.task_space.difficulty(self._task)
            for a in self.agents:
                infos[a] = episode.metrics(self._seat[a])
                infos[a]["difficulty"] = difficulty
        result = (
            observations,
            {a: rewards[self._seat[a]] for a in self.agents},
            {a: terminated for a in self.agents},
            {a: truncated for a in self.agents},
            infos,
        )
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return result
