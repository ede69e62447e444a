"""The words of Craft: tiles, items, recipes, primitive actions, messages and predicates.

This module is the one place that names what a Craft agent can do and what a skill may
test, so a skill language can be checked against it:

- :data:`PRIMITIVE_ACTIONS`: the text of every action index, in order (the action space is
  ``Discrete(len(PRIMITIVE_ACTIONS))``);
- :data:`PREDICATES`: the observation predicates ``has(item)``, ``sees(kind)``,
  ``near(kind)``, ``at(x, y)`` and ``knows(recipe)``, evaluated on a vector observation by
  :func:`evaluate_predicate`.

Coordinates: ``x`` is the column (0 at the west edge), ``y`` the row (0 at the north edge);
north is up in the text view. Directions are always listed north, east, south, west, and
"adjacent" means one of the four tiles in those directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from palaestra.envs.games import split_predicate

__all__ = [
    "ACTION_INDEX",
    "ACTION_SPECS",
    "DIRECTIONS",
    "GOALS",
    "GOAL_ITEM",
    "GO_KINDS",
    "ITEMS",
    "ITEM_INDEX",
    "KIND_INDEX",
    "NOOP",
    "PREDICATES",
    "PRIMITIVE_ACTIONS",
    "RAW_SOURCE",
    "RECIPES",
    "RECIPE_INDEX",
    "TILES",
    "TILE_CHARS",
    "VERBS",
    "Predicate",
    "Recipe",
    "evaluate_predicate",
    "parse_predicate",
]

TILES: tuple[str, ...] = ("out", "grass", "tree", "dirt", "stone", "water", "table", "chest")
"""Tile kinds by code. ``out`` (0) is beyond the map edge; only ``grass`` can be walked on."""
TILE_CHARS = "#.TdS~BC"
"""The character of each tile code in text views and layouts (``B`` is a table, a bench)."""
KIND_INDEX: dict[str, int] = {name: i for i, name in enumerate(TILES)}
OUT, GRASS, TREE, DIRT, STONE, WATER, TABLE, CHEST = range(8)

ITEMS: tuple[str, ...] = (
    "wood",
    "dirt",
    "stone",
    "planks",
    "sticks",
    "table",
    "wooden_pickaxe",
    "stone_pickaxe",
)
"""Inventory items by index (the ``inventory`` and ``chest`` observation entries)."""
ITEM_INDEX: dict[str, int] = {name: i for i, name in enumerate(ITEMS)}

RAW_SOURCE: dict[str, str] = {"wood": "tree", "dirt": "dirt", "stone": "stone"}
"""The tile each raw item is gathered from (the tile becomes grass)."""

DIRECTIONS: tuple[str, ...] = ("north", "east", "south", "west")
DELTAS: tuple[tuple[int, int], ...] = ((0, -1), (1, 0), (0, 1), (-1, 0))
"""``(dx, dy)`` of each direction."""


@dataclass(frozen=True)
class Recipe:
    """How to craft one item.

    Attributes:
        output: The item made.
        count: How many are made per craft.
        inputs: ``(item, count)`` pairs consumed.
        needs_table: Whether a placed table must be adjacent to the crafter.
    """

    output: str
    count: int
    inputs: tuple[tuple[str, int], ...]
    needs_table: bool


RECIPES: tuple[Recipe, ...] = (
    Recipe("planks", 2, (("wood", 1),), needs_table=False),
    Recipe("sticks", 2, (("planks", 1),), needs_table=False),
    Recipe("table", 1, (("planks", 3),), needs_table=False),
    Recipe("wooden_pickaxe", 1, (("planks", 1), ("sticks", 2)), needs_table=True),
    Recipe("stone_pickaxe", 1, (("stone", 2), ("sticks", 2)), needs_table=True),
)
"""The tech tree. Mining stone needs a wooden (or stone) pickaxe in the inventory."""
RECIPE_INDEX: dict[str, int] = {r.output: i for i, r in enumerate(RECIPES)}

GOALS: tuple[str, ...] = (
    "collect dirt",
    "collect wood",
    "craft planks",
    "craft sticks",
    "craft table",
    "craft wooden_pickaxe",
    "mine stone",
    "craft stone_pickaxe",
)
"""Task goals; each is met when an agent holds the goal item (:data:`GOAL_ITEM`)."""
GOAL_ITEM: dict[str, str] = {goal: goal.split()[1] for goal in GOALS}

GO_KINDS: tuple[str, ...] = ("tree", "dirt", "stone", "table", "chest")
"""Tile kinds a ``say go <kind>`` action can point at."""

VERBS: tuple[str, ...] = ("need", "have", "recipe", "at", "go")
"""Message verbs; a message's verb code in the ``messages`` observation is its index + 1."""

# Verb codes of ACTION_SPECS (the first element of each spec).
(
    A_NOOP,
    A_MOVE,
    A_COLLECT,
    A_CRAFT,
    A_PLACE,
    A_PUT,
    A_TAKE,
    A_GIVE,
    A_SAY_NEED,
    A_SAY_HAVE,
    A_SAY_RECIPE,
    A_SAY_AT,
    A_SAY_GO,
) = range(13)


def _action_table() -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    names: list[str] = ["noop"]
    specs: list[tuple[int, int]] = [(A_NOOP, 0)]
    for d, direction in enumerate(DIRECTIONS):
        names.append(f"move {direction}")
        specs.append((A_MOVE, d))
    for item in ("wood", "dirt"):
        names.append(f"collect {item}")
        specs.append((A_COLLECT, ITEM_INDEX[item]))
    names.append("mine stone")
    specs.append((A_COLLECT, ITEM_INDEX["stone"]))
    for r, recipe in enumerate(RECIPES):
        names.append(f"craft {recipe.output}")
        specs.append((A_CRAFT, r))
    for d, direction in enumerate(DIRECTIONS):
        names.append(f"place table {direction}")
        specs.append((A_PLACE, d))
    for verb, code in (("put", A_PUT), ("take", A_TAKE), ("give", A_GIVE)):
        for i, item in enumerate(ITEMS):
            names.append(f"{verb} {item}")
            specs.append((code, i))
    for verb, code in (("need", A_SAY_NEED), ("have", A_SAY_HAVE)):
        for i, item in enumerate(ITEMS):
            names.append(f"say {verb} {item}")
            specs.append((code, i))
    for r, recipe in enumerate(RECIPES):
        names.append(f"say recipe {recipe.output}")
        specs.append((A_SAY_RECIPE, r))
    names.append("say at")
    specs.append((A_SAY_AT, 0))
    for kind in GO_KINDS:
        names.append(f"say go {kind}")
        specs.append((A_SAY_GO, KIND_INDEX[kind]))
    return tuple(names), tuple(specs)


PRIMITIVE_ACTIONS, ACTION_SPECS = _action_table()
"""The text and ``(verb code, argument)`` of every action index.

| index | actions |
| --- | --- |
| 0 | ``noop`` (also the fallback for illegal actions under ``penalize``) |
| 1-4 | ``move north/east/south/west`` |
| 5-7 | ``collect wood`` (adjacent tree), ``collect dirt``, ``mine stone`` (needs a pickaxe) |
| 8-12 | ``craft planks/sticks/table/wooden_pickaxe/stone_pickaxe`` |
| 13-16 | ``place table north/east/south/west`` |
| 17-24 | ``put <item>`` into the first adjacent chest |
| 25-32 | ``take <item>`` from the first adjacent chest holding one |
| 33-40 | ``give <item>`` to the first adjacent agent |
| 41-48 | ``say need <item>`` |
| 49-56 | ``say have <item>`` (only while holding one) |
| 57-61 | ``say recipe <recipe>`` (only a known recipe) |
| 62 | ``say at``: the speaker's own position, heard as ``at <x> <y>`` |
| 63-67 | ``say go tree/dirt/stone/table/chest``: the nearest such tile in the speaker's view, |
|       | heard as ``go <x> <y>`` |

Items are ordered as :data:`ITEMS`; "first adjacent" means in the order north, east, south,
west.
"""
ACTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(PRIMITIVE_ACTIONS)}
NOOP = 0


@dataclass(frozen=True)
class Predicate:
    """An observation predicate a skill may test.

    Attributes:
        name: The predicate's name, as written in ``name(args)``.
        params: The names of its arguments.
        values: For each argument, the allowed values (``None`` for a map coordinate).
        doc: What it means.
    """

    name: str
    params: tuple[str, ...]
    values: tuple[tuple[str, ...] | None, ...]
    doc: str


SEE_KINDS: tuple[str, ...] = (*TILES[1:], "agent")
PREDICATES: dict[str, Predicate] = {
    p.name: p
    for p in (
        Predicate("has", ("item",), (ITEMS,), "the agent holds at least one `item`"),
        Predicate(
            "sees", ("kind",), (SEE_KINDS,), "a tile of `kind` (or another agent) is in view"
        ),
        Predicate(
            "near", ("kind",), (SEE_KINDS,), "a tile of `kind` (or another agent) is adjacent"
        ),
        Predicate("at", ("x", "y"), (None, None), "the agent stands at column x, row y"),
        Predicate(
            "knows",
            ("recipe",),
            (tuple(r.output for r in RECIPES),),
            "the agent knows how to craft `recipe`",
        ),
    )
}
"""The predicates a skill may test on an observation, by name."""


def parse_predicate(predicate: str | tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """Check a predicate and return ``(name, args)`` with coordinates as ints.

    Args:
        predicate: ``"has(wood)"``, ``"at(3, 4)"`` or a tuple such as ``("has", "wood")``.

    Raises:
        ValueError: for an unknown predicate, a wrong number of arguments or a value the
            predicate does not take.
    """
    name, raw, spec = split_predicate(predicate, PREDICATES)
    args: list[Any] = []
    for param, allowed, value in zip(spec.params, spec.values, raw, strict=True):
        if allowed is None:
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"predicate {name}: {param} must be an integer; got {value!r}"
                ) from None
            args.append(number)
        elif value not in allowed:
            raise ValueError(
                f"predicate {name}: {param} must be one of {', '.join(allowed)}; got {value!r}"
            )
        else:
            args.append(value)
    return name, tuple(args)


def evaluate_predicate(observation: Mapping[str, Any], predicate: str | tuple[Any, ...]) -> bool:
    """Evaluate a predicate on one agent's vector observation (``vector`` or ``both`` mode).

    Args:
        observation: The observation dict of one agent (with ``view``, ``inventory``,
            ``position`` and ``knowledge``).
        predicate: See :func:`parse_predicate`.

    Raises:
        ValueError: for a bad predicate, or an observation without the vector keys (a text
            observation).
    """
    if not isinstance(observation, Mapping) or "view" not in observation:
        raise ValueError("predicates are evaluated on a vector observation (obs_mode vector/both)")
    name, args = parse_predicate(predicate)
    if name == "has":
        return bool(observation["inventory"][ITEM_INDEX[args[0]]] > 0)
    if name == "knows":
        return bool(observation["knowledge"][RECIPE_INDEX[args[0]]] > 0)
    if name == "at":
        position = observation["position"]
        return int(position[0]) == args[0] and int(position[1]) == args[1]
    view = np.asarray(observation["view"])
    radius = view.shape[1] // 2
    if name == "sees":
        if args[0] == "agent":
            return bool(np.count_nonzero(view[1]) > 1)
        return bool(np.any(view[0] == KIND_INDEX[args[0]]))
    # near
    for dx, dy in DELTAS:
        y, x = radius + dy, radius + dx
        if args[0] == "agent":
            if view[1, y, x] > 0:
                return True
        elif view[0, y, x] == KIND_INDEX[args[0]]:
            return True
    return False
