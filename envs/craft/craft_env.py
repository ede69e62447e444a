"""``palaestra/Craft-v0``: one agent gathers and crafts along a tech tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from palaestra.envs.craft.base import (
    MAX_STEPS_LIMIT,
    CraftEnvBase,
    check_int,
    check_radius,
)
from palaestra.envs.craft.core import CraftEpisode
from palaestra.envs.craft.task import CRAFT_SOLO_TASK_SPACE
from palaestra.envs.craft.vocabulary import PRIMITIVE_ACTIONS
from palaestra.envs.games import check_illegal_action, check_obs_mode, check_render_mode

__all__ = ["CraftEnv"]


class CraftEnv(CraftEnvBase, gym.Env):
    """Gather wood, dirt and stone and craft up a small tech tree, seeing only nearby tiles.

    ## Description
    After Voyager's and MindForge's crafting worlds, cut down to a gridworld. A map of up to
    16 x 16 tiles holds grass (walkable), trees, dirt, stone, water, tables and chests. The
    agent sees a square window around itself (5 x 5 by default) and its inventory, and must
    get the task's goal item: ``collect dirt``, ``collect wood``, ``craft planks``, ``craft
    sticks``, ``craft table``, ``craft wooden_pickaxe``, ``mine stone`` or ``craft
    stone_pickaxe``. Recipes (``palaestra.envs.craft.vocabulary.RECIPES``): planks = 1 wood
    (makes 2); sticks = 1 planks (makes 2); table = 3 planks; wooden_pickaxe = 1 planks +
    2 sticks, next to a table; stone_pickaxe = 2 stone + 2 sticks, next to a table. Mining
    stone needs a pickaxe. An agent crafts only recipes it knows (the task's ``knowledge``).
    This is the one-agent form of ``palaestra/craft-v0``, where agents also talk and give.

    ## Agents
    One, ``agent_0``.

    ## Action Space
    ``Discrete(68)``, named by ``palaestra.envs.craft.vocabulary.PRIMITIVE_ACTIONS``: 0
    ``noop``; 1-4 ``move north/east/south/west``; 5-7 ``collect wood``, ``collect dirt``,
    ``mine stone`` (from an adjacent tile, which becomes grass; the first in the order
    north, east, south, west); 8-12 ``craft <recipe>``; 13-16 ``place table <direction>``;
    17-24 ``put <item>`` into, and 25-32 ``take <item>`` from, an adjacent chest; 33-40
    ``give <item>`` to an adjacent agent; 41-67 ``say ...`` (only legal with other agents,
    see ``craft-v0``). The ``action_mask`` and ``info["legal_actions"]`` mark the actions
    that would succeed now; ``action_masks()`` returns the same mask as a bool array
    (sb3-contrib's ``MaskablePPO`` convention). An illegal action raises ``ValueError``
    (naming it and the legal ones) under ``illegal_action="raise"``; under ``"penalize"``
    (the default) ``noop`` is taken instead, the reward is lowered by 0.1 and
    ``info["invalid_action"]`` is True. An action that is not an integer in [0, 68) (NaN,
    a float with a fraction, out of range) always raises ``ValueError``.

    ## Observation Space
    ``obs_mode="vector"`` (default): a ``Dict`` of numeric Boxes:

    * ``view``: int8 (2, S, S), S = 2 r + 1, the agent at the centre. Plane 0 holds tile
      codes (0 off the map, 1 grass, 2 tree, 3 dirt, 4 stone, 5 water, 6 table, 7 chest),
      plane 1 the agents (k + 1 for ``agent_k``, 0 for none).
    * ``inventory``: int16 (8,), item counts in ``ITEMS`` order (wood, dirt, stone, planks,
      sticks, table, wooden_pickaxe, stone_pickaxe).
    * ``position``: int16 (2,), x (column) and y (row).
    * ``knowledge``: int8 (5,), 1 for each known recipe, in ``RECIPES`` order.
    * ``chest``: int16 (8,), the contents of the first adjacent chest, in the order north,
      east, south, west (zeros without one). Chests are not see-through: this is the only
      way to see what a chest holds, besides witnessing a change.
    * ``messages``: int16 (3, 7), one row per message heard this step: speaker index + 1,
      verb (1 need, 2 have, 3 recipe, 4 at, 5 go), item or recipe index + 1 (0 for at/go),
      x, y (-1 unless at/go), speaker x, speaker y. Unused rows are 0, 0, 0, -1, -1, -1, -1.
    * ``goal``: int8 (8,), one-hot over ``GOALS``.
    * ``time``: float32 (1,), steps taken / ``max_steps``.
    * ``action_mask``: int8 (68,), 1 = legal.

    ``obs_mode="text"``: a ``Text`` string (printable characters, at most 1536), the text
    view tagged ``craft-v0 text/1`` (:mod:`palaestra.envs.craft.text`); ``"both"``: the
    vector ``Dict`` plus a ``"text"`` key. ``render_mode="ansi"`` renders the text view;
    ``env.unwrapped.text_view()`` returns it in any mode.

    Every ``info`` holds ``legal_actions`` (action index -> text, exactly the mask's legal
    actions) and ``events``: what the agent witnessed in the step, plain dicts by
    ``type``: ``action`` (``agent``, ``action`` text, ``ok``, ``x``, ``y``; any agent in
    view, and its own; another agent's ``say`` from beyond hearing range reads just
    ``"say"``), ``tile`` (``x``, ``y``, ``before``, ``after``, ``cause``: an agent,
    ``"world"``, or ``"someone"`` for an agent out of view), ``chest`` (``chest``, ``x``,
    ``y``, ``item``, ``change``, ``cause``; the item is named whoever the cause),
    ``give`` (``from``, ``to``: the receiver, or ``"someone"`` when it is out of view,
    ``item``), ``inventory`` (own: ``item``, ``change``), ``message`` (``from``, ``text``,
    ``verb``, ``speaker_x``, ``speaker_y``) and ``learned`` (``recipe``, ``from``). A
    change is witnessed when its tile (a chest's, a tile's, the acting or giving agent's)
    is inside the agent's view window at the end of the step.

    ## Rewards
    +1 when the goal item is obtained; +0.1 the first time each item on the way to it
    (``requirements(goal)``) is obtained; -0.1 for an illegal action under ``penalize``.

    ## Starting State
    A random map from the task's ``size``, ``resources`` and ``water`` (or its ``layout``),
    built so that the goal can always be reached (``palaestra.envs.craft.mapgen``); an empty
    inventory; chests filled from the task.

    ## Episode End
    Terminated when the agent holds the goal item; truncated after ``max_steps`` steps.
    The last ``info`` adds ``success`` (from the inventory, never from reward),
    ``end_reason`` (``success`` or ``time_limit``), ``steps``, ``invalid_actions``,
    ``goal``, ``milestones`` (items reached on the way) and ``difficulty``. Stepping after
    the end raises ``gymnasium.error.ResetNeeded``.

    ## Tasks and difficulty
    A task is a dict of the knobs in ``env.unwrapped.task_space``
    (:mod:`palaestra.envs.craft.task`: goal, size, resources, water, num_agents (1 here),
    knowledge, talk, hearing_range, chests, events, layout), given by
    ``reset(options={"task": task})`` or ``set_task(task)`` (from the next reset). Unknown
    keys and bad values raise ``ValueError``. ``task_space.difficulty(task)`` grows with the
    goal's tech-tree depth, scarcity, map size, water, missing recipes and world events.
    ``env.unwrapped.probes()`` asks about the agent's beliefs of the tracked chest items and
    event tiles (:class:`~palaestra.envs.craft.beliefs.Probe`). Each belief answer follows
    from the agent's own observations and events (rules in
    :mod:`palaestra.envs.craft.beliefs`): it learns what a chest holds only standing next
    to it (the ``chest`` observation) or by witnessing an item go in or out.

    ## Arguments
    * ``render_mode``: ``None`` or ``"ansi"``.
    * ``task``: the task used until another is set.
    * ``obs_mode``: ``"vector"``, ``"text"`` or ``"both"``.
    * ``illegal_action``: ``"penalize"`` (default) or ``"raise"``.
    * ``max_steps``: step limit, 1 to 10000 (default 300).
    * ``view_radius``: the view window is ``2 * view_radius + 1`` tiles wide, 1 to 4
      (default 2).

    ## Version History
    * v0: first version (text view ``craft-v0 text/1``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}
    task_space = CRAFT_SOLO_TASK_SPACE

    def __init__(
        self,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        obs_mode: str = "vector",
        illegal_action: str = "penalize",
        max_steps: int = 300,
        view_radius: int = 2,
    ) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.obs_mode = check_obs_mode(obs_mode)
        self.illegal_action = check_illegal_action(illegal_action)
        self.task_space = CRAFT_SOLO_TASK_SPACE
        self.set_task(task)
        self._episode = CraftEpisode(
            ["agent_0"],
            check_radius(view_radius),
            check_int("max_steps", max_steps, 1, MAX_STEPS_LIMIT),
            self.obs_mode,
            self.illegal_action,
            "Craft-v0",
        )
        self.observation_space = self._episode.observation_space
        self.action_space = spaces.Discrete(len(PRIMITIVE_ACTIONS))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; ``options={"task": {...}}`` sets the task first."""
        super().reset(seed=seed)
        self._set_task_from_options(options)
        episode = self._episode
        episode.reset(self._task, self.np_random, self._difficulty)
        episode.refresh_masks()
        return episode.observation(0), episode.info(0)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Carry out one action of ``agent_0``."""
        episode = self._episode
        episode.check_running()
        rewards, terminated, truncated, invalid = episode.step((action,))
        episode.refresh_masks()
        return (
            episode.observation(0),
            rewards[0],
            terminated,
            truncated,
            episode.info(0, invalid[0]),
        )

    def action_masks(self) -> np.ndarray:
        """The legal actions now: bool (68,), equal to ``obs["action_mask"]``.

        The convention of sb3-contrib's ``MaskablePPO``, which calls it before every step;
        the same actions as ``info["legal_actions"]``.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        return self._episode.action_mask(0)

    def render(self) -> str | None:  # type: ignore[override]
        """The text view in ``ansi`` mode; None otherwise."""
        return self._render_text([0])
