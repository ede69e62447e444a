"""One Craft episode for 1 to 4 agents: spaces, masks, observations, rewards and infos.

:class:`CraftEpisode` is shared by ``palaestra/Craft-v0`` and ``palaestra/craft-v0``. It is
built for speed: the world is kept in flat ``bytearray`` rows and small numpy planes, and an
agent's action mask and legal-action dict depend only on its neighbourhood, clamped
inventory, knowledge and what it may say, so they are cached under that key (the cache
outlives episodes) and recomputed only for a key not seen before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from palaestra.envs.craft.beliefs import BeliefTracker, Probe
from palaestra.envs.craft.mapgen import generate_map, parse_layout
from palaestra.envs.craft.task import MAX_AGENTS, MAX_SIZE, requirements
from palaestra.envs.craft.text import MAX_TEXT_LENGTH, text_view
from palaestra.envs.craft.vocabulary import (
    A_COLLECT,
    A_CRAFT,
    A_GIVE,
    A_MOVE,
    A_NOOP,
    A_PLACE,
    A_PUT,
    A_SAY_GO,
    A_SAY_HAVE,
    A_SAY_RECIPE,
    A_TAKE,
    ACTION_SPECS,
    CHEST,
    GO_KINDS,
    GOAL_ITEM,
    GOALS,
    GRASS,
    ITEM_INDEX,
    ITEMS,
    KIND_INDEX,
    NOOP,
    PRIMITIVE_ACTIONS,
    RECIPES,
    STONE,
    TABLE,
    TILES,
    TREE,
    VERBS,
)
from palaestra.envs.craft.world import SOURCE_TILE, CraftWorld, Message
from palaestra.envs.games import game_observation_space, legal_actions, resolve_action

__all__ = ["MAX_VIEW_RADIUS", "CraftEpisode", "craft_vector_space"]

log = logging.getLogger(__name__)

MAX_VIEW_RADIUS = 4
MAX_COUNT = 32767
"""Upper bound of inventory and chest counts in the observation (int16)."""
SUCCESS_REWARD = 1.0
MILESTONE_REWARD = 0.1
INVALID_PENALTY = 0.1
_CACHE_LIMIT = 50_000
_N_ITEMS, _N_RECIPES, _N_ACTIONS = len(ITEMS), len(RECIPES), len(PRIMITIVE_ACTIONS)
_GO_CODES = tuple(KIND_INDEX[k] for k in GO_KINDS)
_WP, _SP, _TABLE_ITEM = (ITEM_INDEX[k] for k in ("wooden_pickaxe", "stone_pickaxe", "table"))
_RECIPE_NEEDS = tuple(
    (tuple((ITEM_INDEX[item], count) for item, count in r.inputs), r.needs_table) for r in RECIPES
)
_EMPTY: list[Message] = []
_NO_MESSAGES = np.full((MAX_AGENTS - 1, 7), -1, dtype=np.int16)
_NO_MESSAGES[:, :3] = 0
_KNOWLEDGE = np.array(
    [[bits >> r & 1 for r in range(_N_RECIPES)] for bits in range(1 << _N_RECIPES)], np.int8
)
"""Row ``bits`` is the ``knowledge`` observation of an agent whose known-recipe bits are it."""


def craft_vector_space(radius: int) -> spaces.Dict:
    """The vector observation space for a view radius (see the env docs for each key)."""
    side = 2 * radius + 1
    view_high = np.empty((2, side, side), dtype=np.int8)
    view_high[0], view_high[1] = len(TILES) - 1, MAX_AGENTS
    message_high = np.array(
        [MAX_AGENTS, len(VERBS), max(_N_ITEMS, len(KIND_INDEX))] + [MAX_SIZE - 1] * 4
    )
    return spaces.Dict(
        {
            "view": spaces.Box(np.zeros_like(view_high), view_high, dtype=np.int8),
            "inventory": spaces.Box(0, MAX_COUNT, (_N_ITEMS,), dtype=np.int16),
            "position": spaces.Box(0, MAX_SIZE - 1, (2,), dtype=np.int16),
            "knowledge": spaces.Box(0, 1, (_N_RECIPES,), dtype=np.int8),
            "chest": spaces.Box(0, MAX_COUNT, (_N_ITEMS,), dtype=np.int16),
            "messages": spaces.Box(
                np.full((MAX_AGENTS - 1, 7), -1, np.int16),
                np.tile(message_high.astype(np.int16), (MAX_AGENTS - 1, 1)),
                dtype=np.int16,
            ),
            "goal": spaces.Box(0, 1, (len(GOALS),), dtype=np.int8),
            "time": spaces.Box(0.0, 1.0, (1,), dtype=np.float32),
            "action_mask": spaces.Box(0, 1, (_N_ACTIONS,), dtype=np.int8),
        }
    )


def _mask_for(key: tuple[Any, ...]) -> np.ndarray:
    """The action mask of an agent whose situation is ``key`` (see ``CraftEpisode._key``).

    Each action's rule follows its ``(verb, argument)`` in
    :data:`~palaestra.envs.craft.vocabulary.ACTION_SPECS`, the same rules the world applies
    when it carries the action out.
    """
    n0, n1, n2, n3, (inv, known), chest_bits, say_bits = key
    near = (n0, n1, n2, n3)
    table = TABLE in near
    chest = CHEST in near
    partner = any(code >= 8 for code in near)
    pickaxe = inv[_WP] > 0 or inv[_SP] > 0
    talk = bool(say_bits & 1)
    m = np.zeros(_N_ACTIONS, dtype=np.int8)
    for index, (verb, arg) in enumerate(ACTION_SPECS):
        if verb == A_NOOP:
            legal = True
        elif verb == A_MOVE:
            legal = near[arg] == GRASS
        elif verb == A_COLLECT:
            source = SOURCE_TILE[arg]
            legal = source in near and (source != STONE or pickaxe)
        elif verb == A_CRAFT:
            inputs, needs_table = _RECIPE_NEEDS[arg]
            legal = bool(known >> arg & 1) and all(inv[i] >= c for i, c in inputs)
            legal = legal and (table or not needs_table)
        elif verb == A_PLACE:
            legal = near[arg] == GRASS and inv[_TABLE_ITEM] > 0
        elif verb == A_PUT:
            legal = chest and inv[arg] > 0
        elif verb == A_TAKE:
            legal = bool(chest_bits >> arg & 1)
        elif verb == A_GIVE:
            legal = partner and inv[arg] > 0
        elif verb == A_SAY_HAVE:
            legal = talk and inv[arg] > 0
        elif verb == A_SAY_RECIPE:
            legal = talk and bool(known >> arg & 1)
        elif verb == A_SAY_GO:
            legal = talk and bool(say_bits >> (arg + 1) & 1)
        else:  # say need, say at
            legal = talk
        m[index] = legal
    return m


class CraftEpisode:
    """The rules of a Craft episode around a :class:`CraftWorld`, for up to 4 agents.

    Args:
        names: Every possible agent's name, in seat order.
        radius: View radius (the window is ``2 * radius + 1`` tiles wide).
        max_steps: Steps after which the episode is truncated.
        obs_mode: ``"vector"``, ``"text"`` or ``"both"``.
        illegal_action: ``"raise"`` or ``"penalize"``.
        env_name: The env's name, for messages.
    """

    def __init__(
        self,
        names: Sequence[str],
        radius: int,
        max_steps: int,
        obs_mode: str,
        illegal_action: str,
        env_name: str,
    ) -> None:
        self.names = list(names)
        self.world = CraftWorld(radius)
        self.beliefs = BeliefTracker()
        self.max_steps = max_steps
        self.obs_mode = obs_mode
        self.illegal_action = illegal_action
        self.env_name = env_name
        self.vector_space = craft_vector_space(radius)
        self.observation_space = game_observation_space(
            self.vector_space, obs_mode, MAX_TEXT_LENGTH
        )
        self._cache: dict[tuple[Any, ...], tuple[np.ndarray, dict[int, str]]] = {}
        self._side = 2 * radius + 1
        self.done = True
        self.n = 0

    # ------------------------------------------------------------------ reset
    def reset(self, task: dict[str, Any], rng: np.random.Generator, difficulty: float) -> None:
        """Build the world of a complete, valid task with the env's generator."""
        n = task["num_agents"]
        cuts = [e for e in task["events"] if e["kind"] == "cut" and "x" not in e]
        if task["layout"] is None:
            # A spare tree for every cut: one with coordinates may hit a tree the goal needs.
            spare = sum(e["kind"] == "cut" for e in task["events"])
            data = generate_map(task, rng, spare)
        else:
            data = parse_layout(task["layout"])
        world = self.world
        world.setup(data, task, self.names[:n])
        trees = [
            (x, y)
            for y, row in enumerate(data.tiles)
            for x, code in enumerate(row)
            if code == TREE and any(world.tile(x + dx, y + dy) == GRASS for dx, dy in _NEAR)
        ]
        picks = iter(rng.permutation(len(trees)).tolist()) if cuts else iter(())
        self.schedule: dict[int, list[dict[str, Any]]] = {}
        cells = []
        for event in task["events"]:
            if event["kind"] == "cut":
                if "x" not in event:
                    pick = next(picks, None)
                    if pick is None:  # a layout with fewer reachable trees than cuts
                        log.warning("craft env: no tree left to cut for %s", event)
                        continue
                    event = {**event, "x": trees[pick][0], "y": trees[pick][1]}
                cells.append((event["x"], event["y"]))
            self.schedule.setdefault(event["step"], []).append(event)
        self.beliefs.reset(world, cells)
        self.task = task
        self.difficulty = difficulty
        self.n = n
        self.t = 0
        self.done = False
        self.success = False
        self.invalid = [0] * n
        self.goal_item = ITEM_INDEX[GOAL_ITEM[task["goal"]]]
        raw, recipes, _ = requirements(task["goal"])
        path = {ITEM_INDEX[k] for k in (*raw, *recipes)} - {self.goal_item}
        self.pending = sorted(path)
        self.reached: list[str] = []
        self.heard: list[list[Message]] = [_EMPTY] * n
        self.events: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        self._goal_vec = np.zeros(len(GOALS), dtype=np.int8)
        self._goal_vec[GOALS.index(task["goal"])] = 1
        self._inv_keys: list[Any] = [None] * n
        self._masks: list[np.ndarray] = [None] * n  # type: ignore[list-item]
        self._legal: list[dict[int, str]] = [{}] * n

    # ------------------------------------------------------------------ step
    def step(self, actions: Sequence[Any]) -> tuple[list[float], bool, bool, list[bool]]:
        """Check every live agent's action, then carry them out in seat order.

        Returns:
            ``(rewards, terminated, truncated, invalid)`` per agent.

        Raises:
            ValueError: for an action that is not an index in range (always), or an illegal
                one under ``illegal_action="raise"``; nothing has changed then.
        """
        taken, invalid = [], []
        for i, action in enumerate(actions):
            a, bad = resolve_action(
                action,
                self._masks[i],
                agent=self.names[i],
                names=PRIMITIVE_ACTIONS,
                illegal_action=self.illegal_action,
                fallback=NOOP,
            )
            taken.append(a)
            invalid.append(bad)
        world = self.world
        world.begin_step()
        world.gained = False
        for i, a in enumerate(taken):
            world.act(i, a)
        self.t += 1
        for event in self.schedule.get(self.t, ()):
            world.world_event(event)
        self.heard = world.deliver() if world.messages else [_EMPTY] * self.n
        self.beliefs.update(world)
        self._sort_events()
        bonus = 0.0
        if world.gained:
            goal = self.goal_item
            self.success = any(inv[goal] > 0 for inv in world.inv)
            for item in list(self.pending):
                if any(inv[item] > 0 for inv in world.inv):
                    self.pending.remove(item)
                    self.reached.append(ITEMS[item])
                    bonus += MILESTONE_REWARD
        if self.success:
            bonus += SUCCESS_REWARD
        rewards = [bonus - INVALID_PENALTY if bad else bonus for bad in invalid]
        for i, bad in enumerate(invalid):
            if bad:
                self.invalid[i] += 1
        terminated = self.success
        truncated = not terminated and self.t >= self.max_steps
        self.done = terminated or truncated
        return rewards, terminated, truncated, invalid

    def _sort_events(self) -> None:
        """Give each agent the happenings it witnessed this step."""
        world, n = self.world, self.n
        events: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        sees = world.sees
        for x, y, actor, private, event in world.happenings:
            if private >= 0:
                events[private].append(event)
            elif n == 1:
                if actor == 0 or sees(0, x, y):
                    events[0].append(event)
            else:
                for j in range(n):
                    if j == actor or sees(j, x, y):
                        events[j].append(self._as_seen_by(j, actor, event))
        self.events = events

    def _as_seen_by(self, j: int, actor: int, event: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``event`` with what agent ``j`` could not perceive left out.

        A ``say`` by an agent beyond ``j``'s hearing range reads just ``say``; the ``cause``
        of a tile or chest change, and the receiver (``to``) of a give, is ``someone`` when
        that agent is out of view.
        """
        world = self.world
        seen = dict(event)
        if j == actor:
            return seen
        kind = event["type"]
        if kind == "action" and event["action"].startswith("say "):
            far = max(abs(world.xs[j] - world.xs[actor]), abs(world.ys[j] - world.ys[actor]))
            if far > world.hearing:
                seen["action"] = "say"
        elif kind == "give":
            k = world.names.index(event["to"])
            if k != j and not world.sees(j, world.xs[k], world.ys[k]):
                seen["to"] = "someone"
        elif event.get("cause", "world") != "world":
            k = world.names.index(event["cause"])
            if k != j and not world.sees(j, world.xs[k], world.ys[k]):
                seen["cause"] = "someone"
        return seen

    # ------------------------------------------------------------------ views
    def _key(self, i: int) -> tuple[Any, ...]:
        world = self.world
        p, g, o, s = world.pos[i], world.grid, world.occ, world.stride
        near = (
            g[p - s] + 8 * o[p - s],
            g[p + 1] + 8 * o[p + 1],
            g[p + s] + 8 * o[p + s],
            g[p - 1] + 8 * o[p - 1],
        )
        if world.key_stale[i] or self._inv_keys[i] is None:
            inv = tuple(c if c < 3 else 3 for c in world.inv[i])
            self._inv_keys[i] = (inv, world.known[i])
            world.key_stale[i] = False
        chest_bits = 0
        if CHEST in near:
            for c in world.adjacent_chests(i):
                for k, count in enumerate(world.chest_inv[c]):
                    if count:
                        chest_bits |= 1 << k
        say_bits = 0
        if world.talk:
            x, y, side = world.xs[i], world.ys[i], self._side
            window = world.planes[0, y : y + side, x : x + side]
            counts = np.bincount(window.ravel().astype(np.intp), minlength=len(TILES))
            say_bits = 1
            for code in _GO_CODES:
                if counts[code]:
                    say_bits |= 1 << (code + 1)
        return (*near, self._inv_keys[i], chest_bits, say_bits)

    def refresh_masks(self) -> None:
        """Compute every live agent's action mask and legal actions (cached by situation)."""
        for i in range(self.n):
            key = self._key(i)
            hit = self._cache.get(key)
            if hit is None:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                mask = _mask_for(key)
                hit = (mask, legal_actions(mask, PRIMITIVE_ACTIONS))
                self._cache[key] = hit
            self._masks[i], self._legal[i] = hit

    def action_mask(self, i: int) -> np.ndarray:
        """Agent ``i``'s legal actions now, as a bool array (the observation's mask).

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        masks = getattr(self, "_masks", None)  # set by the first reset
        mask = None if masks is None else masks[i]
        if mask is None:
            raise gym.error.ResetNeeded(f"{self.env_name}: call reset() before action_masks()")
        return mask.astype(bool)

    def observation(self, i: int) -> Any:
        """Agent ``i``'s observation in the env's ``obs_mode`` (fresh arrays)."""
        if self.obs_mode == "text":
            return self.text(i)
        world = self.world
        x, y, side = world.xs[i], world.ys[i], self._side
        chest = np.zeros(_N_ITEMS, dtype=np.int16)
        adjacent = world.adjacent_chests(i) if world.chest_xy else None
        if adjacent:
            chest[:] = world.chest_inv[adjacent[0]]
        messages = _NO_MESSAGES.copy()
        for row, (speaker, verb, arg, tx, ty, _) in enumerate(self.heard[i]):
            code = arg + 1 if verb <= 3 else 0
            sx, sy = world.xs[speaker], world.ys[speaker]
            messages[row] = (speaker + 1, verb, code, tx, ty, sx, sy)
        obs = {
            "view": world.planes[:, y : y + side, x : x + side].copy(),
            "inventory": np.array(world.inv[i], dtype=np.int16),
            "position": np.array((x, y), dtype=np.int16),
            "knowledge": _KNOWLEDGE[world.known[i]].copy(),
            "chest": chest,
            "messages": messages,
            "goal": self._goal_vec.copy(),
            "time": np.array([self.t / self.max_steps], dtype=np.float32),
            "action_mask": self._masks[i].copy(),
        }
        if self.obs_mode == "both":
            obs["text"] = self.text(i)
        return obs

    def text(self, i: int) -> str:
        """Agent ``i``'s text view."""
        return text_view(self.world, i, self.t, self.max_steps, self.task["goal"], self.heard[i])

    def info(self, i: int, invalid: bool | None = None) -> dict[str, Any]:
        """Agent ``i``'s info: legal actions and events, plus episode metrics at the end."""
        info: dict[str, Any] = {"legal_actions": dict(self._legal[i]), "events": self.events[i]}
        if invalid is None:
            info["difficulty"] = self.difficulty
            return info
        info["invalid_action"] = invalid
        if self.done:
            info["success"] = self.success
            info["end_reason"] = "success" if self.success else "time_limit"
            info["steps"] = self.t
            info["invalid_actions"] = self.invalid[i]
            info["goal"] = self.task["goal"]
            info["milestones"] = list(self.reached)
            info["difficulty"] = self.difficulty
        return info

    def probes(self, agent: str) -> list[Probe]:
        """Probes about ``agent``'s beliefs; ``ValueError`` for an agent not in the episode."""
        if agent not in self.names[: self.n]:
            raise ValueError(
                f"{self.env_name}: unknown agent {agent!r} for probes; "
                f"agents in this episode: {self.names[: self.n]}"
            )
        return self.beliefs.probes(self.world, self.names.index(agent))

    def check_running(self) -> None:
        """Raise ``ResetNeeded`` after the episode has ended (or before the first reset)."""
        if self.done:
            raise gym.error.ResetNeeded(
                f"{self.env_name}: the episode has ended (or never started); "
                "call reset() before step()"
            )


_NEAR = ((0, -1), (1, 0), (0, 1), (-1, 0))
