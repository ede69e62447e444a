"""The Craft task space: goal, map, agents, who knows which recipe, chests and world events.

A task is a dict of the knobs below (see :func:`craft_task_space`); ``TaskSpace.validate``
fills in defaults and resolves the derived values (``knowledge`` becomes one recipe list per
agent, ``chests`` and ``events`` become lists; with a ``layout``, ``num_agents`` must match
it and ``size``, ``resources`` and ``water`` are ignored).

Structured knobs:

- ``knowledge``: ``None`` or ``"all"`` (every agent knows every recipe), ``"split"`` (recipe
  ``i`` in :data:`~palaestra.envs.craft.vocabulary.RECIPES` order is known by agent
  ``i mod num_agents``), a list with one list of recipe names per agent, or a dict from agent
  name (``"agent_1"``) to its recipes. Agents left out know no recipe. Every recipe the goal
  needs must be known by some agent.
- ``chests``: a list of chests, each a list of distinct item names, at most 4 chests. Each
  item kind may be in at most one chest, once: these are the *tracked items* whose location
  the probes ask about.
- ``events``: world events the agents do not cause, each a dict with ``step`` (the env step,
  counted from 1, during which it happens, after the agents' actions) and ``kind``:
  ``{"kind": "move", "item": "wooden_pickaxe", "to": 1}`` moves a tracked item from the
  chest it is in to chest ``to`` (nothing happens if no chest holds it then);
  ``{"kind": "cut", "x": 3, "y": 4}`` turns the tree at (3, 4) into grass (without ``x``
  and ``y``, a random reachable tree chosen at reset; on a random map every cut, with
  coordinates or without, gets a spare tree, so the task stays solvable). At most 8 events.
- ``layout``: ``None`` (a random map from ``size``, ``resources`` and ``water``) or a list of
  equal-length strings, one per row, 3 to 16 characters each way: ``.`` grass, ``T`` tree,
  ``d`` dirt, ``S`` stone, ``~`` water, ``B`` table, ``C`` chest (numbered in reading
  order), ``0``-``3`` the start of ``agent_0``-``agent_3`` (on grass). A layout is used as
  given: whether it can be solved is up to its author.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from palaestra.envs.craft.vocabulary import (
    GOAL_ITEM,
    GOALS,
    ITEMS,
    RAW_SOURCE,
    RECIPE_INDEX,
    RECIPES,
    TILE_CHARS,
)
from palaestra.envs.tasks import Knob, TaskSpace

__all__ = [
    "CRAFT_SOLO_TASK_SPACE",
    "CRAFT_TASK_SPACE",
    "GOAL_DEPTH",
    "MAX_AGENTS",
    "MAX_CHESTS",
    "MAX_EVENTS",
    "MAX_SIZE",
    "MIN_SIZE",
    "craft_difficulty",
    "craft_task_space",
    "requirements",
]

MIN_SIZE = 5
"""Smallest side of a random map (layouts may be down to 3)."""
MAX_SIZE = 16
"""Largest side of any map: positions and coordinates in messages are below this."""
MAX_AGENTS = 4
MAX_CHESTS = 4
MAX_EVENTS = 8
MAX_EVENT_STEP = 10_000
LAYOUT_CHARS = TILE_CHARS[1:] + "0123"

_ORDER = ("stone_pickaxe", "stone", "wooden_pickaxe", "table", "sticks", "planks", "wood", "dirt")
_RECIPE = {r.output: r for r in RECIPES}


@functools.cache
def requirements(goal: str) -> tuple[dict[str, int], frozenset[str], bool]:
    """What a goal needs from the world, starting from an empty inventory.

    Returns:
        ``(raw, recipes, table)``: the raw items to gather (``wood``, ``dirt``, ``stone``
        counts), the recipes crafted on the way, and whether a table must be placed (a
        recipe that needs one is crafted).
    """
    if goal not in GOAL_ITEM:
        raise ValueError(f"unknown goal {goal!r}; goals: {', '.join(GOALS)}")
    demand = dict.fromkeys(_ORDER, 0)
    demand[GOAL_ITEM[goal]] = 1
    recipes: set[str] = set()
    table = False
    for item in _ORDER:
        amount = demand[item]
        if amount == 0:
            continue
        if item == "stone":
            demand["wooden_pickaxe"] = max(demand["wooden_pickaxe"], 1)
        if item not in _RECIPE:
            continue
        recipe = _RECIPE[item]
        recipes.add(item)
        crafts = math.ceil(amount / recipe.count)
        for source, count in recipe.inputs:
            demand[source] += crafts * count
        if recipe.needs_table:
            table = True
            demand["table"] = max(demand["table"], 1)
    raw = {item: demand[item] for item in RAW_SOURCE if demand[item]}
    return raw, frozenset(recipes), table


GOAL_DEPTH: dict[str, int] = {
    "collect dirt": 1,
    "collect wood": 1,
    "craft planks": 2,
    "craft sticks": 3,
    "craft table": 3,
    "craft wooden_pickaxe": 4,
    "mine stone": 5,
    "craft stone_pickaxe": 6,
}
"""Steps of the tech tree from a bare hand to each goal's item."""


def _parse_names(value: Any, allowed: Sequence[str], what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{what} must be a list of names; got {value!r}")
    names = []
    for name in value:
        if name not in allowed:
            raise ValueError(f"{what}: unknown name {name!r}; allowed: {', '.join(allowed)}")
        names.append(str(name))
    return names


def _parse_knowledge(value: Any) -> Any:
    recipes = [r.output for r in RECIPES]
    if isinstance(value, str):
        if value not in ("all", "split"):
            raise ValueError(f"got {value!r}; expected 'all', 'split', a list or a dict")
        return value
    if isinstance(value, Mapping):
        lists: list[list[str]] = []
        for agent, known in value.items():
            if not isinstance(agent, str) or not agent.startswith("agent_"):
                raise ValueError(f"unknown agent {agent!r}; agents are agent_0 .. agent_3")
            suffix = agent[len("agent_") :]
            if suffix not in ("0", "1", "2", "3"):
                raise ValueError(f"unknown agent {agent!r}; agents are agent_0 .. agent_3")
            index = int(suffix)
            while len(lists) <= index:
                lists.append([])
            lists[index] = _parse_names(known, recipes, f"recipes of {agent}")
        value = lists
    if isinstance(value, Sequence):
        if len(value) > MAX_AGENTS:
            raise ValueError(f"lists {len(value)} agents; at most {MAX_AGENTS}")
        out = []
        for i, known in enumerate(value):
            names = set(_parse_names(known, recipes, f"recipes of agent_{i}"))
            out.append(sorted(names, key=RECIPE_INDEX.__getitem__))
        return out
    raise ValueError(f"got {value!r}; expected 'all', 'split', a list or a dict")


def _parse_chests(value: Any) -> list[list[str]]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"must be a list of chests (lists of item names); got {value!r}")
    if len(value) > MAX_CHESTS:
        raise ValueError(f"{len(value)} chests; at most {MAX_CHESTS}")
    seen: set[str] = set()
    chests = []
    for i, contents in enumerate(value):
        names = _parse_names(contents, ITEMS, f"chest {i}")
        for name in names:
            if name in seen:
                raise ValueError(f"item {name!r} is in the chests twice; each may be once")
            seen.add(name)
        chests.append(names)
    return chests


def _int_field(event: Mapping[str, Any], key: str, low: int, high: int) -> int:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"event {dict(event)!r}: {key} must be an integer in [{low}, {high}]")
    return int(value)


def _parse_events(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence):
        raise ValueError(f"must be a list of event dicts; got {value!r}")
    if len(value) > MAX_EVENTS:
        raise ValueError(f"{len(value)} events; at most {MAX_EVENTS}")
    events = []
    for event in value:
        if not isinstance(event, Mapping):
            raise ValueError(f"each event must be a dict; got {event!r}")
        kind = event.get("kind")
        fields = {"move": {"step", "kind", "item", "to"}, "cut": {"step", "kind", "x", "y"}}
        if kind not in fields:
            raise ValueError(f"event {dict(event)!r}: kind must be 'move' or 'cut'")
        unknown = sorted(set(event) - fields[kind])
        if unknown:
            raise ValueError(f"event {dict(event)!r}: unknown key(s) {unknown}")
        out: dict[str, Any] = {
            "step": _int_field(event, "step", 1, MAX_EVENT_STEP),
            "kind": kind,
        }
        if kind == "move":
            if event.get("item") not in ITEMS:
                raise ValueError(f"event {dict(event)!r}: item must be one of {', '.join(ITEMS)}")
            out["item"] = event["item"]
            out["to"] = _int_field(event, "to", 0, MAX_CHESTS - 1)
        elif "x" in event or "y" in event:
            out["x"] = _int_field(event, "x", 0, MAX_SIZE - 1)
            out["y"] = _int_field(event, "y", 0, MAX_SIZE - 1)
        events.append(out)
    return sorted(events, key=lambda e: e["step"])


def _parse_layout(value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"must be a list of row strings; got {value!r}")
    rows = [str(row) for row in value if isinstance(row, str)]
    if len(rows) != len(value) or not 3 <= len(rows) <= MAX_SIZE:
        raise ValueError(f"must be 3 to {MAX_SIZE} row strings; got {value!r}")
    width = len(rows[0])
    if not 3 <= width <= MAX_SIZE or any(len(row) != width for row in rows):
        raise ValueError(f"rows must all have the same length, 3 to {MAX_SIZE}")
    digits = []
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            if char not in LAYOUT_CHARS:
                raise ValueError(f"bad character {char!r} at x={x}, y={y}; use {LAYOUT_CHARS!r}")
            if char.isdigit():
                digits.append(char)
    if sorted(digits) != [str(i) for i in range(len(digits))] or not digits:
        raise ValueError("agent starts must be the digits 0 .. n-1, each once (at least 0)")
    return rows


def _finalize(task: dict[str, Any]) -> dict[str, Any]:
    n = task["num_agents"]
    layout = task["layout"]
    chests = task["chests"] if task["chests"] is not None else []
    if layout is not None:
        starts = sum(char.isdigit() for row in layout for char in row)
        if starts != n:
            raise ValueError(f"task key 'layout' places {starts} agent(s) but num_agents is {n}")
        count = sum(row.count("C") for row in layout)
        if task["chests"] is None:
            chests = [[] for _ in range(count)]
        elif len(chests) != count:
            raise ValueError(
                f"task key 'chests' lists {len(chests)} chest(s) but the layout has {count}"
            )
    task["chests"] = chests
    task["knowledge"] = _resolve_knowledge(task["knowledge"], n)
    raw, recipes, _ = requirements(task["goal"])
    known = set().union(*map(set, task["knowledge"]))
    missing = sorted(recipes - known, key=RECIPE_INDEX.__getitem__)
    if missing:
        raise ValueError(
            f"task key 'knowledge': no agent knows {', '.join(missing)}, "
            f"which goal {task['goal']!r} needs"
        )
    events = task["events"] if task["events"] is not None else []
    tracked = {item for contents in chests for item in contents}
    for event in events:
        if event["kind"] == "move":
            if event["item"] not in tracked:
                raise ValueError(
                    f"task key 'events': {event['item']!r} is moved but is in no chest"
                )
            if event["to"] >= len(chests):
                raise ValueError(f"task key 'events': no chest {event['to']} to move into")
        elif "x" in event:
            if layout is not None:
                inside = event["y"] < len(layout) and event["x"] < len(layout[0])
                if not inside or layout[event["y"]][event["x"]] != "T":
                    raise ValueError(
                        f"task key 'events': no tree at x={event['x']}, y={event['y']}"
                    )
            elif max(event["x"], event["y"]) >= task["size"]:
                raise ValueError(f"task key 'events': ({event['x']}, {event['y']}) is off the map")
    task["events"] = events
    if layout is None:
        cuts = sum(e["kind"] == "cut" for e in events)
        room = 4 * (task["size"] - 2) - 2
        if sum(raw.values()) + cuts + len(chests) > room:
            raise ValueError(
                f"task key 'size': {task['size']} is too small for {sum(raw.values())} "
                f"resources, {cuts} cut tree(s) and {len(chests)} chest(s)"
            )
    return task


def _resolve_knowledge(value: Any, n: int) -> list[list[str]]:
    everything = [r.output for r in RECIPES]
    if value is None or value == "all":
        return [list(everything) for _ in range(n)]
    if value == "split":
        return [[r for i, r in enumerate(everything) if i % n == agent] for agent in range(n)]
    if len(value) > n:
        raise ValueError(f"task key 'knowledge' lists {len(value)} agents but num_agents is {n}")
    return [list(known) for known in value] + [[] for _ in range(n - len(value))]


@functools.cache
def craft_task_space(max_agents: int = MAX_AGENTS) -> TaskSpace:
    """The task space of Craft envs with up to ``max_agents`` agents (1 to 4).

    ``num_agents`` ranges over ``[1, max_agents]`` and defaults to ``max_agents``.
    """
    if not 1 <= max_agents <= MAX_AGENTS:
        raise ValueError(f"max_agents must be in [1, {MAX_AGENTS}]; got {max_agents}")
    return TaskSpace(
        "craft",
        [
            Knob("goal", "craft wooden_pickaxe", "the item the team must get", choices=GOALS),
            Knob(
                "size",
                8,
                "side of the square map, tiles",
                low=MIN_SIZE,
                high=MAX_SIZE,
                integer=True,
            ),
            Knob(
                "resources",
                0.15,
                "share of tiles that are trees, dirt or stone",
                low=0.05,
                high=0.4,
            ),
            Knob(
                "water",
                0.1,
                "share of tiles that are water (never walls anything off)",
                low=0.0,
                high=0.3,
            ),
            Knob(
                "num_agents",
                max_agents,
                "agents in the episode",
                low=1,
                high=max_agents,
                integer=True,
            ),
            Knob(
                "knowledge",
                None,
                "who knows which recipe",
                parse=_parse_knowledge,
                allowed="'all', 'split', a recipe list per agent, or a dict agent -> recipes",
            ),
            Knob("talk", "on", "whether `say` actions are allowed", choices=("on", "off")),
            Knob(
                "hearing_range",
                8,
                "messages reach agents within this many tiles (max norm)",
                low=1,
                high=MAX_SIZE,
                integer=True,
            ),
            Knob(
                "chests",
                None,
                "chests and their tracked items",
                parse=_parse_chests,
                allowed="a list of up to 4 lists of distinct item names",
            ),
            Knob(
                "events",
                None,
                "scheduled world events (item moves, tree cuts)",
                parse=_parse_events,
                allowed="a list of up to 8 event dicts (step, kind, ...)",
            ),
            Knob(
                "layout",
                None,
                "a fixed map instead of a random one",
                parse=_parse_layout,
                allowed="a list of 3-16 equal-length row strings",
            ),
        ],
        difficulty=craft_difficulty,
        finalize=_finalize,
    )


def craft_difficulty(task: Mapping[str, Any]) -> float:
    """Score a complete Craft task in [0, 1].

    A weighted mean of: the goal's tech-tree depth (weight 3; ``collect`` goals 0,
    ``craft stone_pickaxe`` 1), scarcity (1.5; one minus the normalised ``resources``),
    map size (1; a layout's larger side), water (0.5), the knowledge gap (1.5; the share of
    the goal's recipes each agent lacks, averaged over agents, doubled when ``talk`` is
    off), and world events (0.5; the count over 3, at most 1).
    """
    knobs = craft_task_space(MAX_AGENTS).knobs
    layout = task["layout"]
    side = task["size"] if layout is None else max(len(layout), len(layout[0]))
    _, recipes, _ = requirements(task["goal"])
    knowledge = task["knowledge"] or [[]]
    if recipes:
        gaps = [len(recipes - set(known)) / len(recipes) for known in knowledge]
        gap = sum(gaps) / len(gaps)
    else:
        gap = 0.0
    if task["talk"] == "off":
        gap = min(1.0, 2 * gap)
    features = [
        (3.0, (GOAL_DEPTH[task["goal"]] - 1) / 5),
        (1.5, 1.0 - knobs["resources"].normalized(task["resources"])),
        (1.0, min(1.0, max(0.0, knobs["size"].normalized(side)))),
        (0.5, knobs["water"].normalized(task["water"])),
        (1.5, gap),
        (0.5, min(1.0, len(task["events"] or []) / 3)),
    ]
    return sum(w * v for w, v in features) / sum(w for w, _ in features)


CRAFT_TASK_SPACE = craft_task_space(MAX_AGENTS)
"""Tasks with 1 to 4 agents."""
CRAFT_SOLO_TASK_SPACE = craft_task_space(1)
"""Tasks with one agent (``palaestra/Craft-v0``)."""
