"""False-belief Craft scenarios: chests with single items, items moved while agents look away.

:func:`false_belief_scenarios` draws Craft tasks for ``palaestra/craft-v0`` that make many
true- and false-belief probes at both orders (:mod:`palaestra.envs.craft.beliefs`) when
agents wander between the chests:

- a fixed ``layout`` of grass, 10 to 16 tiles wide and 5 to 10 high, with 2 to 4 chests
  spread out (at least 3 tiles apart, or 2 with chance ``close_chests``, so an agent can
  stand between two), a few trees (some to be cut) and a little water;
- 2 to 4 tracked items, each alone in its chest where chests suffice, chosen among items
  nobody can make more of in these tasks (no agent knows a recipe, the map has no stone and
  no dirt), so every tracked kind exists once and perception can tell where it is;
- the agents start next to a chest (most of them) or anywhere on the grass;
- up to 8 scheduled world events: 2 to 5 ``move`` events (an item to another chest, at
  steps spread over ``steps``, never two moves of one item in one step) and 1 to 2 ``cut``
  events on trees of the layout;
- goal ``collect dirt`` on a map without dirt, so episodes run to their step limit.

Scenarios are plain task dicts, deterministic in ``seed`` (Python's ``random.Random``). The
agents' behaviour is the caller's: a policy that walks from chest to chest, dwells, takes,
puts and gives produces the unseen moves.
"""

from __future__ import annotations

import random
from typing import Any

from palaestra.envs.craft.task import MAX_AGENTS, MAX_CHESTS, MAX_EVENTS

__all__ = ["TRACKABLE", "chest_positions", "false_belief_scenarios"]

TRACKABLE: tuple[str, ...] = (
    "stone",
    "planks",
    "sticks",
    "table",
    "wooden_pickaxe",
    "stone_pickaxe",
)
"""Items the scenarios put in chests: none can be gathered or crafted in them."""
_NEAR = ((0, -1), (1, 0), (0, 1), (-1, 0))


def _check(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}]; got {value!r}")
    return value


def chest_positions(task: dict[str, Any]) -> list[tuple[int, int]]:
    """``(x, y)`` of each chest of a task's layout, in chest order (reading order)."""
    return [
        (x, y) for y, row in enumerate(task["layout"]) for x, char in enumerate(row) if char == "C"
    ]


def false_belief_scenarios(
    n: int,
    seed: int,
    *,
    num_agents: int = 2,
    steps: int = 60,
    talk: str = "on",
    close_chests: float = 0.15,
) -> list[dict[str, Any]]:
    """``n`` Craft tasks with scheduled moves and cuts (see the module).

    Args:
        n: How many scenarios (0 to 100000).
        seed: Their seed: the same seed gives the same list.
        num_agents: Agents per scenario, 1 to 4.
        steps: The episode length the events are spread over (5 to 10000).
        talk: The tasks' ``talk`` knob, ``"on"`` or ``"off"``.
        close_chests: The chance, in [0, 1], that a chest may be placed 2 tiles from
            another (else at least 3): only then can an agent stand next to two chests.

    Raises:
        ValueError: for a value out of range.
    """
    _check("n", n, 0, 100_000)
    _check("num_agents", num_agents, 1, MAX_AGENTS)
    _check("steps", steps, 5, 10_000)
    if talk not in ("on", "off"):
        raise ValueError(f"talk must be 'on' or 'off'; got {talk!r}")
    if isinstance(close_chests, bool) or not isinstance(close_chests, (int, float)):
        raise ValueError(f"close_chests must be a number in [0, 1]; got {close_chests!r}")
    if not 0.0 <= close_chests <= 1.0:
        raise ValueError(f"close_chests must be in [0, 1]; got {close_chests!r}")
    rng = random.Random(seed)
    return [_scenario(rng, num_agents, steps, talk, close_chests) for _ in range(n)]


def _far(p: tuple[int, int], others: list[tuple[int, int]], gap: int) -> bool:
    return all(max(abs(p[0] - q[0]), abs(p[1] - q[1])) >= gap for q in others)


def _scenario(
    rng: random.Random, num_agents: int, steps: int, talk: str, close: float
) -> dict[str, Any]:
    w, h = rng.randint(10, 16), rng.randint(5, 10)
    grid = [["."] * w for _ in range(h)]
    chests: list[tuple[int, int]] = []
    wanted = rng.randint(2, MAX_CHESTS)
    for _ in range(300):
        if len(chests) == wanted:
            break
        p = (rng.randrange(1, w - 1), rng.randrange(1, h - 1))
        if _far(p, chests, 2 if rng.random() < close else 3):
            chests.append(p)
    for x, y in chests:
        grid[y][x] = "C"
    blocked = {(x + dx, y + dy) for x, y in chests for dx, dy in _NEAR} | set(chests)
    trees: list[tuple[int, int]] = []
    for char, count in (("T", rng.randint(1, 4)), ("~", rng.randint(0, 3))):
        for _ in range(count * 20):
            if count == 0:
                break
            p = (rng.randrange(w), rng.randrange(h))
            if p in blocked or not _far(p, trees, 2):
                continue
            grid[p[1]][p[0]] = char
            blocked.add(p)
            count -= 1
            if char == "T":
                trees.append(p)
    starts: list[tuple[int, int]] = []
    for _ in range(num_agents):
        spots = [(x, y) for y in range(h) for x in range(w) if grid[y][x] == "."]
        if rng.random() < 0.75:
            cx, cy = rng.choice(chests)
            near = [(cx + dx, cy + dy) for dx, dy in _NEAR]
            spots = [
                p for p in near if 0 <= p[0] < w and 0 <= p[1] < h and grid[p[1]][p[0]] == "."
            ] or spots
        x, y = rng.choice(spots)
        grid[y][x] = str(len(starts))
        starts.append((x, y))
    items = rng.sample(TRACKABLE, rng.randint(2, min(4, len(chests) + 1)))
    contents: list[list[str]] = [[] for _ in chests]
    homes = rng.sample(range(len(chests)), len(chests))
    home_of = {}
    for k, item in enumerate(items):
        home_of[item] = homes[k] if k < len(homes) else rng.randrange(len(chests))
        contents[home_of[item]].append(item)
    events: list[dict[str, Any]] = []
    used: set[tuple[str, int]] = set()
    for _ in range(rng.randint(2, 5)):
        item, step = rng.choice(items), rng.randint(2, steps)
        if (item, step) in used:
            continue
        used.add((item, step))
        to = rng.choice([c for c in range(len(chests)) if c != home_of[item]])
        events.append({"step": step, "kind": "move", "item": item, "to": to})
    for x, y in rng.sample(trees, min(len(trees), rng.randint(1, 2))):
        if len(events) < MAX_EVENTS:
            events.append({"step": rng.randint(2, steps), "kind": "cut", "x": x, "y": y})
    return {
        "goal": "collect dirt",
        "num_agents": num_agents,
        "knowledge": [[] for _ in range(num_agents)],
        "talk": talk,
        "layout": ["".join(row) for row in grid],
        "chests": contents,
        "events": sorted(events[:MAX_EVENTS], key=lambda e: e["step"]),
    }
