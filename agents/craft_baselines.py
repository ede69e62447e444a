"""Scripted players for the Craft envs: a planner, a talking teammate and a random agent.

:class:`CraftPlanner` reads the whole map (``env.unwrapped.world``) and walks the tech tree:
to get an item it takes one from a reachable chest, gathers it, or crafts it after getting
the inputs (one craft at a time, re-planning every step), and places a table where it keeps
the stone it still needs reachable. It solves every task the generator makes, which is how
the tests show those tasks are solvable. :class:`CooperativeCrafter` plans the same way but
only with the recipes it knows; it asks for the others with ``say need <item>`` and answers
what it hears (read from its observation's ``messages``). :class:`RandomCraftAgent` picks a
uniformly random legal action with its own seeded generator.

All three follow the agent interface (:mod:`palaestra.agents.base`): ``act(observation,
info=None)`` and ``reset(seed=None)``. The planner and the crafter read the simulator
(``env.unwrapped.world``) besides their observation, so they take the env in their
constructor.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from palaestra.envs.craft.vocabulary import (
    ACTION_INDEX,
    GOAL_ITEM,
    GRASS,
    ITEM_INDEX,
    ITEMS,
    NOOP,
    RAW_SOURCE,
    RECIPE_INDEX,
    RECIPES,
    STONE,
    TABLE,
    TILES,
)
from palaestra.envs.craft.world import CraftWorld

__all__ = ["CooperativeCrafter", "CraftPlanner", "RandomCraftAgent"]

_RECIPE = {r.output: r for r in RECIPES}
_SOURCE = {item: TILES.index(tile) for item, tile in RAW_SOURCE.items()}
_STEP = tuple(ACTION_INDEX[f"move {d}"] for d in ("north", "east", "south", "west"))
_PLACE = tuple(ACTION_INDEX[f"place table {d}"] for d in ("north", "east", "south", "west"))
_GATHER = {"wood": ACTION_INDEX["collect wood"], "dirt": ACTION_INDEX["collect dirt"]}
_GATHER["stone"] = ACTION_INDEX["mine stone"]

Subgoal = tuple[str, str]
"""``(what, item)``: ``take``, ``gather``, ``craft``, ``table`` (reach or place one) or
``unknown`` (a recipe the agent does not know)."""


def _bfs(
    world: CraftWorld, start: int, done: Callable[[int], bool], blocked: int = -1
) -> list[int] | None:
    """Shortest walk over free grass from ``start`` to a tile where ``done`` holds."""
    grid, occ, offsets = world.grid, world.occ, world.offsets
    parent = {start: -1}
    queue = deque([start])
    while queue:
        p = queue.popleft()
        if done(p):
            path = []
            while p != start:
                path.append(p)
                p = parent[p]
            return path[::-1]
        for o in offsets:
            q = p + o
            if q not in parent and q != blocked and grid[q] == GRASS and not occ[q]:
                parent[q] = p
                queue.append(q)
    return None


def _region(world: CraftWorld, start: int, blocked: int) -> set[int]:
    grid, occ, offsets = world.grid, world.occ, world.offsets
    seen, queue = {start}, deque([start])
    while queue:
        p = queue.popleft()
        for o in offsets:
            q = p + o
            if q not in seen and q != blocked and grid[q] == GRASS and not occ[q]:
                seen.add(q)
                queue.append(q)
    return seen


class CraftPlanner:
    """Solves a Craft task for one agent with full knowledge of the map (BFS + tech tree).

    It reads the simulator, not its observation: every step it plans on the whole map, the
    inventories and the chests (``env.unwrapped.world``) and on the running episode's goal,
    which is why it takes the env in its constructor. It must act in that env, for the agent
    it was given.

    Args:
        env: The env (``Craft-v0`` or ``craft-v0``, wrapped or not); read through
            ``env.unwrapped.world`` and ``env.unwrapped.task``.
        agent: The agent it plays.
        known_only: Use only the recipes the agent knows (return a ``say need`` request
            for a missing one, see :meth:`subgoal`) instead of every recipe.
    """

    def __init__(self, env: Any, agent: str = "agent_0", known_only: bool = False) -> None:
        self.env = env.unwrapped
        self.agent = agent
        self.index = int(agent.rsplit("_", 1)[1])
        self.known_only = known_only
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget the route being followed (the planner is deterministic: ``seed`` unused)."""
        self._route: list[int] = []
        self._target: tuple[Any, ...] | None = None
        self._site: tuple[int, int] | None = None

    # ------------------------------------------------------------------ planning
    def subgoal(self) -> Subgoal | None:
        """The next thing to do for the task's goal, or None once the goal item is held."""
        goal = GOAL_ITEM[self._goal()]
        return self._need(goal, 1, depth=0)

    def _goal(self) -> str:
        return self.env.goal

    def _knows(self, item: str) -> bool:
        world = self.env.world
        return not self.known_only or bool(world.known[self.index] >> RECIPE_INDEX[item] & 1)

    def _need(self, item: str, count: int, depth: int) -> Subgoal | None:
        world = self.env.world
        inv = world.inv[self.index]
        if inv[ITEM_INDEX[item]] >= count or depth > 8:
            return None
        in_chest = any(chest[ITEM_INDEX[item]] for chest in world.chest_inv)
        if in_chest and self._reachable_chest(item):
            return ("take", item)
        if item in RAW_SOURCE:
            if item == "stone" and not (
                inv[ITEM_INDEX["wooden_pickaxe"]] or inv[ITEM_INDEX["stone_pickaxe"]]
            ):
                sub = self._need("wooden_pickaxe", 1, depth + 1)
                if sub is not None:
                    return sub
            return ("gather", item)
        recipe = _RECIPE[item]
        if not self._knows(item):
            return ("unknown", item)
        for source, amount in recipe.inputs:
            sub = self._need(source, amount, depth + 1)
            if sub is not None:
                return sub
        if recipe.needs_table and not self._next_to(TABLE):
            if self._table_on_map():
                return ("table", "reach")
            sub = self._need("table", 1, depth + 1)
            return sub if sub is not None else ("table", "place")
        return ("craft", item)

    def _next_to(self, code: int) -> bool:
        world = self.env.world
        p = world.pos[self.index]
        return any(world.grid[p + o] == code for o in world.offsets)

    def _table_on_map(self) -> bool:
        return TABLE in self.env.world.grid

    def _reachable_chest(self, item: str) -> bool:
        world = self.env.world
        k = ITEM_INDEX[item]
        holders = {p for p, c in world.chest_of.items() if world.chest_inv[c][k]}
        return self._path(lambda p: any(p + o in holders for o in world.offsets)) is not None

    def _path(self, done: Callable[[int], bool], blocked: int = -1) -> list[int] | None:
        world = self.env.world
        return _bfs(world, world.pos[self.index], done, blocked)

    def _stone_still_needed(self) -> int:
        world = self.env.world
        goal = self._goal()
        have = world.inv[self.index][ITEM_INDEX["stone"]]
        if goal == "mine stone":
            return max(0, 1 - have)
        if goal == "craft stone_pickaxe":
            return max(0, 2 - have)
        return 0

    def _table_site(self) -> tuple[int, int] | None:
        """A tile to stand on and a direction to place a table in, nearest first."""
        world = self.env.world
        start = world.pos[self.index]
        stones = self._stone_still_needed()
        grid, occ, offsets = world.grid, world.occ, world.offsets
        for stand in self._bfs_order(start):
            for d, o in enumerate(offsets):
                site = stand + o
                if grid[site] != GRASS or occ[site]:
                    continue
                if stones == 0:
                    return stand, d
                region = _region(world, stand, site)
                found = {q + o2 for q in region for o2 in offsets if grid[q + o2] == STONE}
                if len(found) >= stones:
                    return stand, d
        return None

    def _bfs_order(self, start: int) -> list[int]:
        world = self.env.world
        grid, occ, offsets = world.grid, world.occ, world.offsets
        seen, order, queue = {start}, [start], deque([start])
        while queue:
            p = queue.popleft()
            for o in offsets:
                q = p + o
                if q not in seen and grid[q] == GRASS and not occ[q]:
                    seen.add(q)
                    order.append(q)
                    queue.append(q)
        return order

    # ------------------------------------------------------------------ acting
    def act(self, observation: Any = None, info: Mapping[str, Any] | None = None) -> int:
        """The next action (``noop`` when there is nothing it can do).

        Args:
            observation: Ignored: the planner reads the simulator (see the class).
            info: Ignored.
        """
        sub = self.subgoal()
        if sub is None or sub[0] == "unknown":
            return NOOP
        return self.pursue(sub)

    def pursue(self, sub: Subgoal) -> int:
        """The action that works towards ``sub`` (a :meth:`subgoal`)."""
        world = self.env.world
        what, item = sub
        me = world.pos[self.index]
        offsets = world.offsets
        if what == "craft":
            return ACTION_INDEX[f"craft {item}"]
        if what == "gather":
            code = _SOURCE[item]
            if any(world.grid[me + o] == code for o in offsets):
                return _GATHER[item]
            return self._walk(sub, lambda p: any(world.grid[p + o] == code for o in offsets))
        if what == "take":
            k = ITEM_INDEX[item]
            holders = {p for p, c in world.chest_of.items() if world.chest_inv[c][k]}
            if any(me + o in holders for o in offsets):
                return ACTION_INDEX[f"take {item}"]
            return self._walk(sub, lambda p: any(p + o in holders for o in offsets))
        if item == "reach":
            return self._walk(sub, lambda p: any(world.grid[p + o] == TABLE for o in offsets))
        site = self._site
        if site is None or world.grid[site[0] + offsets[site[1]]] != GRASS:
            site = self._site = self._table_site()
        if site is None:
            return NOOP
        stand, d = site
        if stand == me:
            return _PLACE[d]
        return self._walk(sub, lambda p: p == stand)

    def _walk(self, target: tuple[Any, ...], done: Callable[[int], bool]) -> int:
        world = self.env.world
        me = world.pos[self.index]
        route = self._route
        if self._target != target or not route or route[0] - me not in world.offsets:
            route = self._path(done) or []
            self._target = target
        if not route or world.grid[route[0]] != GRASS or world.occ[route[0]]:
            self._route = []
            return NOOP
        step = route.pop(0)
        self._route = route
        return _STEP[world.offsets.index(step - me)]


class CooperativeCrafter:
    """A scripted teammate: plans with the recipes it knows, asks for the others, answers.

    Each step, in order: if it heard ``need X`` for a recipe it knows and has not taught
    yet, it says ``recipe X``; if its plan is blocked on a recipe it does not know, it says
    ``need X`` (again every ``ask_every`` steps) and waits; otherwise it follows its plan
    (:class:`CraftPlanner` with ``known_only=True``). Messages and the action mask are read
    from its vector (or ``both``) observation; the map is read from the simulator
    (``env.unwrapped.world``), as the planner does, so it takes the env in its constructor.

    Args:
        env: The env (``craft-v0`` or ``Craft-v0``).
        agent: The agent it plays.
        talk: Whether it uses ``say`` actions at all (False: it plans, never asks or answers).
        ask_every: Steps between repeated requests for the same recipe.
    """

    def __init__(self, env: Any, agent: str, talk: bool = True, ask_every: int = 8) -> None:
        self.planner = CraftPlanner(env, agent, known_only=True)
        self.talk = talk
        self.ask_every = ask_every
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Forget requests, replies and the planner's route (deterministic: ``seed`` unused)."""
        self.planner.reset()
        self._requests: list[str] = []
        self._taught: set[str] = set()
        self._last_ask = -(10**9)
        self._t = 0

    def act(self, observation: Mapping[str, Any], info: Mapping[str, Any] | None = None) -> int:
        """The next action, from a vector (or ``both``) observation (``info`` is not needed)."""
        self._t += 1
        mask = np.asarray(observation["action_mask"])
        for row in np.asarray(observation["messages"]):
            if row[0] > 0 and row[1] == 1 and row[2] > 0:
                item = ITEMS[int(row[2]) - 1]
                if item in RECIPE_INDEX and item not in self._requests:
                    self._requests.append(item)
        if self.talk:
            for item in self._requests:
                action = ACTION_INDEX[f"say recipe {item}"]
                if item not in self._taught and mask[action]:
                    self._taught.add(item)
                    return action
        sub = self.planner.subgoal()
        if sub is None:
            return NOOP
        if sub[0] == "unknown":
            action = ACTION_INDEX[f"say need {sub[1]}"]
            if self.talk and mask[action] and self._t - self._last_ask >= self.ask_every:
                self._last_ask = self._t
                return action
            return NOOP
        action = self.planner.pursue(sub)
        return action if mask[action] else NOOP


class RandomCraftAgent:
    """Plays a uniformly random legal action, with its own seeded generator.

    Args:
        seed: Seed of the agent's generator; ``reset(seed)`` reseeds it, ``reset()`` keeps
            drawing from it.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed the generator when ``seed`` is given; there is nothing else to forget."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> int:
        """A random legal action.

        Args:
            observation: The agent's observation; a vector (or ``both``) observation's
                ``action_mask`` gives the legal actions when ``info`` is None.
            info: The step's info; its ``legal_actions`` are used when given (needed for
                text observations).

        Raises:
            ValueError: if neither ``info["legal_actions"]`` nor an ``action_mask`` is given.
        """
        legal = info.get("legal_actions") if info is not None else None
        if legal is not None:
            choices = sorted(legal)
        elif isinstance(observation, Mapping) and "action_mask" in observation:
            choices = np.flatnonzero(np.asarray(observation["action_mask"])).tolist()
        else:
            raise ValueError(
                "RandomCraftAgent.act needs info['legal_actions'] or an observation with an "
                "'action_mask' (a text observation has none: pass the step's info)"
            )
        if not choices:
            return NOOP
        return int(choices[int(self.rng.integers(len(choices)))])
