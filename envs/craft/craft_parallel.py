"""``palaestra/craft-v0``: 1 to 4 agents with uneven recipe knowledge craft, talk and give."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from palaestra.envs.craft.base import (
    MAX_STEPS_LIMIT,
    CraftEnvBase,
    check_int,
    check_radius,
)
from palaestra.envs.craft.core import CraftEpisode
from palaestra.envs.craft.task import MAX_AGENTS, craft_task_space
from palaestra.envs.craft.vocabulary import PRIMITIVE_ACTIONS
from palaestra.envs.games import (
    check_agent_name,
    check_illegal_action,
    check_obs_mode,
    check_parallel_step,
    check_render_mode,
)

__all__ = ["CraftParallelEnv"]


class CraftParallelEnv(CraftEnvBase, ParallelEnv):
    """Agents who each know some recipes gather, craft, talk and give to reach a shared goal.

    ## Description
    The multi-agent form of :class:`~palaestra.envs.craft.craft_env.CraftEnv` (same world,
    recipes, observations, task knobs and text view), after MindForge's mixed-expertise
    crafting: each agent knows only the recipes the task's ``knowledge`` gives it, and
    crafting an unknown recipe is illegal, so agents must talk. ``say`` actions send a
    message from a small vocabulary to every other agent within ``hearing_range`` tiles
    (max norm, positions at the end of the step): ``need <item>``, ``have <item>`` (only
    while holding one), ``recipe <recipe>`` (only a known one; hearing it teaches it),
    ``at`` (heard as ``at <x> <y>``, the speaker's position) and ``go <kind>`` (heard as
    ``go <x> <y>``, the nearest tile of that kind in the speaker's view). ``give <item>``
    hands an item to the first adjacent agent (north, east, south, west).

    World events scheduled by the task (an item moved between chests, a tree cut) happen
    whether or not an agent sees them, so an agent's last observation can go stale:
    ``env.probes(agent)`` asks first-order ("where does agent_1 think the wooden_pickaxe
    is?") and second-order ("where does agent_1 think agent_0 thinks the wooden_pickaxe
    is?") questions, each with the reality answer and the belief answer. Belief answers
    follow from what each agent perceived, by the rules of
    :mod:`palaestra.envs.craft.beliefs`: an agent sees what a chest holds only standing
    next to it (chests are not see-through), and sees an item move only when the move's
    source or destination (a chest, an agent) is in its view; second order, what it could
    tell the other agent, in its view, perceived. Each step ``infos[agent]["events"]``
    lists what that agent witnessed (schema in ``Craft-v0``'s documentation), the raw
    material for a memory that tracks beliefs on its own. Messages never change the belief
    answers: ``have <item>`` or ``at <x> <y>`` may be stale or wrong, and probes score
    beliefs from perception; a memory module may use what it hears, but it is scored
    against those perception-based answers.

    ## Agents
    ``possible_agents`` is ``agent_0`` .. ``agent_{max_agents-1}``, fixed at construction;
    each episode has the task's ``num_agents`` first of them. Agents act in seat order
    within a step: an action legal at the start of the step fails (``ok`` False in its
    event, no penalty) if an earlier agent changed the world first.

    ## Action Space
    Per agent ``Discrete(68)``, as in ``Craft-v0``. Illegal actions raise ``ValueError``
    naming the agent, the action and the legal ones (``illegal_action="raise"``, the
    default) or are replaced by ``noop`` with a 0.1 penalty (``"penalize"``).

    ## Observation Space
    Per agent, as in ``Craft-v0`` (``vector``, ``text`` or ``both``); ``messages`` rows are
    the messages the agent heard this step. ``env.text_view(agent)`` returns an agent's
    text view in any mode.

    ## Rewards
    Shared: +1 to every agent when any agent obtains the goal item, +0.1 to every agent the
    first time the team obtains each item on the way; -0.1 to an agent for an illegal action
    under ``penalize``.

    ## Starting State
    As in ``Craft-v0``; every agent starts on grass in the one grass region.

    ## Episode End
    All agents terminate together when any of them holds the goal item (success is read
    from the inventories) and are truncated together after ``max_cycles`` steps; their
    last ``infos`` hold ``success``, ``end_reason``, ``steps``, ``invalid_actions`` (the
    agent's own), ``goal``, ``milestones`` and ``difficulty``. A step after the end raises
    ``gymnasium.error.ResetNeeded``; an action dict that misses a live agent or names
    another raises ``ValueError``.

    ## Tasks and difficulty
    As in ``Craft-v0``, with ``num_agents`` in [1, ``max_agents``] (default
    ``max_agents``): ``reset(options={"task": ...})``, ``set_task`` and ``task_space``.

    ## Arguments
    * ``render_mode``: ``None`` or ``"ansi"`` (every live agent's text view).
    * ``task``: the task used until another is set.
    * ``max_agents``: 1 to 4 (default 2); sets ``possible_agents``.
    * ``obs_mode``: ``"vector"``, ``"text"`` or ``"both"``.
    * ``illegal_action``: ``"raise"`` (default) or ``"penalize"``.
    * ``max_cycles``: step limit, 1 to 10000 (default 300); may be changed between episodes.
    * ``view_radius``: 1 to 4 (default 2).

    ## Version History
    * v0: first version (text view ``craft-v0 text/1``).
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "craft_v0",
        "render_modes": ["ansi"],
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        max_agents: int = 2,
        obs_mode: str = "vector",
        illegal_action: str = "raise",
        max_cycles: int = 300,
        view_radius: int = 2,
    ) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        max_agents = check_int("max_agents", max_agents, 1, MAX_AGENTS)
        self.render_mode = render_mode
        self.obs_mode = check_obs_mode(obs_mode)
        self.illegal_action = check_illegal_action(illegal_action)
        self.task_space = craft_task_space(max_agents)
        self.set_task(task)
        self.possible_agents = [f"agent_{i}" for i in range(max_agents)]
        self.agents: list[str] = []
        self.max_cycles = check_int("max_cycles", max_cycles, 1, MAX_STEPS_LIMIT)
        self._episode = CraftEpisode(
            self.possible_agents,
            check_radius(view_radius),
            self.max_cycles,
            self.obs_mode,
            self.illegal_action,
            "craft-v0",
        )
        self._observation_space = self._episode.observation_space
        self._action_space = spaces.Discrete(len(PRIMITIVE_ACTIONS))
        self._rng: np.random.Generator | None = None

    def observation_space(self, agent: str) -> gym.Space[Any]:
        """The (cached) observation space of ``agent``."""
        check_agent_name(agent, self.possible_agents)
        return self._observation_space

    def action_space(self, agent: str) -> spaces.Discrete:
        """The (cached) action space of ``agent``."""
        check_agent_name(agent, self.possible_agents)
        return self._action_space

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Start an episode; ``options={"task": {...}}`` sets the task first."""
        if seed is not None or self._rng is None:
            self._rng, _ = gym.utils.seeding.np_random(seed)
        self._set_task_from_options(options)
        episode = self._episode
        episode.max_steps = check_int("max_cycles", self.max_cycles, 1, MAX_STEPS_LIMIT)
        episode.reset(self._task, self._rng, self._difficulty)
        episode.refresh_masks()
        self.agents = self.possible_agents[: self._task["num_agents"]]
        observations = {a: episode.observation(i) for i, a in enumerate(self.agents)}
        return observations, {a: episode.info(i) for i, a in enumerate(self.agents)}

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Carry out one action per live agent, in seat order."""
        episode = self._episode
        check_parallel_step(episode.env_name, actions, self.agents, running=not episode.done)
        rewards, terminated, truncated, invalid = episode.step([actions[a] for a in self.agents])
        episode.refresh_masks()
        agents = self.agents
        result = (
            {a: episode.observation(i) for i, a in enumerate(agents)},
            {a: rewards[i] for i, a in enumerate(agents)},
            dict.fromkeys(agents, terminated),
            dict.fromkeys(agents, truncated),
            {a: episode.info(i, invalid[i]) for i, a in enumerate(agents)},
        )
        if terminated or truncated:
            self.agents = []
        return result

    def render(self) -> str | None:
        """Every live agent's text view in ``ansi`` mode; None otherwise."""
        return self._render_text(list(range(len(self.agents) or self._episode.n)))
