"""Mixed-expertise Craft tasks: a novice who knows no recipe and an expert who knows them all.

After MindForge's mixed-expertise setting. The expert (``agent_1``) stands on a one-tile
island ringed by water, so it cannot do the work itself: it can only talk. The novice
(``agent_0``) starts two tiles from it, in view and in earshot, on the mainland that holds
the trees, dirt and the grass needed to place a table. A team succeeds only when the novice
gets the goal item, which (for every goal past ``collect wood``) needs recipes that only
the expert knows, so the team must talk: ask with ``say need <item>``, teach with ``say
recipe <recipe>``. Hearing reaches ``hearing_range`` tiles (max norm): a novice who walks
off to gather is out of earshot.

With ``events=True`` the map also holds two chests with tracked items and the task
schedules world events while the novice is busy: an item moved from one chest to the
other, and trees cut (a cut tree turns to grass). They leave the agents' beliefs stale
(false beliefs), which a theory-of-mind memory can track and a probe can score
(:meth:`~palaestra.envs.craft.base.CraftEnvBase.probes`).

:func:`mixed_expertise_tasks` is deterministic in its seed; every task it returns passes
the task space's validation and is solvable by the novice once taught.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from palaestra.envs.craft.vocabulary import RECIPES

__all__ = ["EXPERT", "MIXED_GOALS", "NOVICE", "mixed_expertise_tasks"]

NOVICE, EXPERT = "agent_0", "agent_1"
MIXED_GOALS = (
    "collect dirt",
    "collect wood",
    "craft planks",
    "craft sticks",
    "craft table",
    "craft wooden_pickaxe",
)
"""The goals of the setting, from one that needs no recipe to one that needs four."""
_TILE_ITEMS = ("planks", "sticks", "wood")


def _connected(rows: list[list[str]], start: tuple[int, int]) -> set[tuple[int, int]]:
    """Grass tiles reachable from ``start`` (4-neighbour walks over ``.`` and digits)."""
    height, width = len(rows), len(rows[0])
    seen, queue = {start}, deque([start])
    while queue:
        x, y = queue.popleft()
        for nx, ny in ((x, y - 1), (x + 1, y), (x, y + 1), (x - 1, y)):
            inside = 0 <= nx < width and 0 <= ny < height
            if inside and (nx, ny) not in seen and (rows[ny][nx] in ".0123"):
                seen.add((nx, ny))
                queue.append((nx, ny))
    return seen


def _touching(region: set[tuple[int, int]], x: int, y: int) -> bool:
    return any(p in region for p in ((x, y - 1), (x + 1, y), (x, y + 1), (x - 1, y)))


def _one(rng: np.random.Generator, goals: tuple[str, ...], events: bool, hearing: int) -> dict:
    width, height = int(rng.integers(10, 15)), int(rng.integers(8, 12))
    while True:
        rows = [["."] * width for _ in range(height)]
        ix, iy = int(rng.integers(1, width - 1)), int(rng.integers(1, height - 1))
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                rows[iy + dy][ix + dx] = "~"
        rows[iy][ix] = "1"
        ring = [
            (ix + dx, iy + dy)
            for dx in range(-2, 3)
            for dy in range(-2, 3)
            if max(abs(dx), abs(dy)) == 2 and 0 <= ix + dx < width and 0 <= iy + dy < height
        ]
        sx, sy = ring[int(rng.integers(len(ring)))]
        rows[sy][sx] = "0"
        free = [
            (x, y)
            for y in range(height)
            for x in range(width)
            if rows[y][x] == "." and max(abs(x - ix), abs(y - iy)) > 2
        ]
        order = rng.permutation(len(free))
        n_trees, n_dirt = int(rng.integers(5, 9)), int(rng.integers(2, 4))
        n_chests = 2 if events else 0
        picks = [free[int(k)] for k in order[: n_trees + n_dirt + n_chests]]
        for k, (x, y) in enumerate(picks):
            rows[y][x] = "T" if k < n_trees else "d" if k < n_trees + n_dirt else "C"
        region = _connected(rows, (sx, sy))
        resources_reachable = all(_touching(region, x, y) for x, y in picks)
        if resources_reachable and len(region) >= 12:
            break
    trees = [(x, y) for x, y in picks[:n_trees]]
    goal = goals[int(rng.integers(len(goals)))]
    task: dict[str, Any] = {
        "goal": goal,
        "num_agents": 2,
        "knowledge": [[], [r.output for r in RECIPES]],
        "talk": "on",
        "hearing_range": hearing,
        "layout": ["".join(row) for row in rows],
    }
    if events:
        first, second = rng.permutation(len(_TILE_ITEMS))[:2]
        task["chests"] = [[_TILE_ITEMS[int(first)]], [_TILE_ITEMS[int(second)]]]
        step = int(rng.integers(4, 16))
        move = {"step": step, "kind": "move", "item": _TILE_ITEMS[int(first)], "to": 1}
        cuts = [trees[int(k)] for k in rng.permutation(len(trees))[:2]]
        task["events"] = [move] + [
            {"step": int(rng.integers(2, 30)), "kind": "cut", "x": x, "y": y} for x, y in cuts
        ]
    return task


def mixed_expertise_tasks(
    n: int,
    seed: int,
    *,
    goals: tuple[str, ...] = MIXED_GOALS,
    events: bool = False,
    hearing_range: int = 4,
) -> list[dict[str, Any]]:
    """``n`` mixed-expertise tasks for ``palaestra/craft-v0`` with ``max_agents=2``.

    Args:
        n: How many tasks, at least 1.
        seed: The generator's seed: the same seed gives the same tasks.
        goals: Goals to draw from (uniformly), each one of :data:`MIXED_GOALS`.
        events: Add two chests with tracked items and scheduled world events (an item
            moved between the chests, two trees cut) that leave false beliefs.
        hearing_range: Messages reach this many tiles (max norm), 2 to 16; the novice
            starts 2 tiles from the expert.

    Returns:
        Task dicts (``layout``, ``knowledge``, ``goal``, ...), valid for the task space.

    Raises:
        ValueError: for ``n < 1``, an unknown goal or a hearing range out of range.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    unknown = [g for g in goals if g not in MIXED_GOALS]
    if unknown or not goals:
        raise ValueError(f"goals must be a non-empty subset of {MIXED_GOALS}; got {goals!r}")
    if isinstance(hearing_range, bool) or not isinstance(hearing_range, int):
        raise ValueError(f"hearing_range must be an integer in [2, 16]; got {hearing_range!r}")
    if not 2 <= hearing_range <= 16:
        raise ValueError(f"hearing_range must be an integer in [2, 16]; got {hearing_range!r}")
    rng = np.random.default_rng(seed)
    return [_one(rng, tuple(goals), events, hearing_range) for _ in range(n)]
