"""Craft maps: random maps that can always be solved, and maps read from a layout.

A random map keeps one invariant while it is built: **all grass is connected**. A water or
resource tile is only placed where the grass around it stays connected without it (a
*simple point*: the grass among its four neighbours is joined through the eight tiles
around it), so water never walls anything off. Then the map is checked, and topped up where
short, so that the agents' region borders at least the raw items the goal needs (plus the
trees scheduled to be cut), and, when the goal needs a placed table, that a table can be put
down without cutting the agents off from the stone they still need. After a few failed
tries a plain map is used instead (resources on the border, grass inside), which always
passes the same check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from palaestra.envs.craft.task import requirements
from palaestra.envs.craft.vocabulary import CHEST, DIRT, GRASS, STONE, TILE_CHARS, TREE, WATER

__all__ = ["MapData", "generate_map", "parse_layout", "table_site_ok"]

ATTEMPTS = 6
RESOURCE_MIX = ((TREE, 0.5), (DIRT, 0.2), (STONE, 0.3))
"""How resource tiles split between trees, dirt and stone."""
_RAW_TILE = {"wood": TREE, "dirt": DIRT, "stone": STONE}
_RING = ((0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1))
_EDGES = (0, 2, 4, 6)  # ring positions of the four neighbours


@dataclass
class MapData:
    """A map before the episode starts.

    Attributes:
        tiles: Tile codes, ``tiles[y][x]``.
        starts: ``(x, y)`` of each agent.
        chests: ``(x, y)`` of each chest, in chest order.
    """

    tiles: list[list[int]]
    starts: list[tuple[int, int]]
    chests: list[tuple[int, int]]


def parse_layout(rows: Sequence[str]) -> MapData:
    """Read a (validated) layout: see :mod:`palaestra.envs.craft.task`."""
    codes = {char: code for code, char in enumerate(TILE_CHARS)}
    tiles, starts, chests = [], {}, []
    for y, row in enumerate(rows):
        line = []
        for x, char in enumerate(row):
            if char.isdigit():
                starts[int(char)] = (x, y)
                line.append(GRASS)
            else:
                line.append(codes[char])
                if char == "C":
                    chests.append((x, y))
        tiles.append(line)
    return MapData(tiles, [starts[i] for i in range(len(starts))], chests)


def _grass(tiles: list[list[int]], x: int, y: int) -> bool:
    return 0 <= y < len(tiles) and 0 <= x < len(tiles[0]) and tiles[y][x] == GRASS


def _simple_point(tiles: list[list[int]], x: int, y: int) -> bool:
    """Whether the grass next to (x, y) stays joined if (x, y) is not walkable."""
    ring = [_grass(tiles, x + dx, y + dy) for dx, dy in _RING]
    edges = [i for i in _EDGES if ring[i]]
    if len(edges) <= 1:
        return True
    # Label the runs of grass around the ring; the neighbours must share one run.
    label, labels, current = 0, [0] * 8, 0
    start = next(i for i in range(8) if not ring[i]) if not all(ring) else 0
    for k in range(8):
        i = (start + k) % 8
        if ring[i]:
            if current == 0:
                label += 1
                current = label
            labels[i] = current
        else:
            current = 0
    return len({labels[i] for i in edges}) == 1


def _grass_neighbours(tiles: list[list[int]], x: int, y: int) -> int:
    return sum(_grass(tiles, x + dx, y + dy) for dx, dy in ((0, -1), (1, 0), (0, 1), (-1, 0)))


def _reachable_counts(tiles: list[list[int]]) -> dict[int, int]:
    """Resource tiles next to grass (all grass is one region), by tile code."""
    counts = {TREE: 0, DIRT: 0, STONE: 0}
    for y, row in enumerate(tiles):
        for x, code in enumerate(row):
            if code in counts and _grass_neighbours(tiles, x, y):
                counts[code] += 1
    return counts


def table_site_ok(tiles: list[list[int]], stone_needed: int, avoid: set[tuple[int, int]]) -> bool:
    """Whether some grass tile can take a table, keeping ``stone_needed`` stones reachable.

    The tile must be a simple point with a grass neighbour (where the crafter stands); the
    stones lost are those whose only grass neighbour it is.
    """
    counts = _reachable_counts(tiles)
    for y, row in enumerate(tiles):
        for x, code in enumerate(row):
            if code != GRASS or (x, y) in avoid or not _grass_neighbours(tiles, x, y):
                continue
            if not _simple_point(tiles, x, y):
                continue
            lost = 0
            for dx, dy in ((0, -1), (1, 0), (0, 1), (-1, 0)):
                sx, sy = x + dx, y + dy
                inside = 0 <= sy < len(tiles) and 0 <= sx < len(row)
                if inside and tiles[sy][sx] == STONE and _grass_neighbours(tiles, sx, sy) == 1:
                    lost += 1
            if counts[STONE] - lost >= stone_needed:
                return True
    return False


def _needs(task: dict[str, Any], cuts: int) -> tuple[dict[int, int], bool]:
    raw, _, table = requirements(task["goal"])
    need = {_RAW_TILE[item]: count for item, count in raw.items()}
    need[TREE] = need.get(TREE, 0) + cuts
    return need, table


def _solvable(
    tiles: list[list[int]], need: dict[int, int], table: bool, starts: set[tuple[int, int]]
) -> bool:
    counts = _reachable_counts(tiles)
    if any(counts[code] < count for code, count in need.items()):
        return False
    return not table or table_site_ok(tiles, need.get(STONE, 0), starts)


def generate_map(task: dict[str, Any], rng: np.random.Generator, cuts: int = 0) -> MapData:
    """A random map for a complete random-map task, drawn with ``rng`` only.

    Args:
        task: A validated task with ``layout`` None.
        rng: The env's generator.
        cuts: Trees that scheduled events will cut (the map gets that many spare trees).
    """
    n = task["size"]
    need, table = _needs(task, cuts)
    for _ in range(ATTEMPTS):
        data = _random_map(task, rng, need)
        if data is not None and _solvable(data.tiles, need, table, set(data.starts)):
            return data
    data = _plain_map(task, rng, need)
    if not _solvable(data.tiles, need, table, set(data.starts)):
        raise RuntimeError(f"could not build a solvable {n}x{n} craft map for {task['goal']!r}")
    return data


def _random_map(
    task: dict[str, Any], rng: np.random.Generator, need: dict[int, int]
) -> MapData | None:
    n = task["size"]
    tiles = [[GRASS] * n for _ in range(n)]
    order = [(int(c) % n, int(c) // n) for c in rng.permutation(n * n)]
    draws = rng.random((n * n, 2))
    starts = order[: task["num_agents"]]
    reserved = set(starts)
    chests: list[tuple[int, int]] = []
    rest = order[task["num_agents"] :]
    for x, y in rest:
        if len(chests) == len(task["chests"]):
            break
        if _simple_point(tiles, x, y) and _grass_neighbours(tiles, x, y):
            tiles[y][x] = CHEST
            chests.append((x, y))
    if len(chests) < len(task["chests"]):
        return None
    reserved.update(chests)
    water, resources = task["water"], task["resources"]
    for (x, y), (u, v) in zip(rest, draws, strict=False):
        if (x, y) in reserved or u >= water + resources:
            continue
        if u < water:
            code = WATER
        else:
            code, acc = STONE, 0.0
            for kind, share in RESOURCE_MIX:
                acc += share
                if v < acc:
                    code = kind
                    break
        if _simple_point(tiles, x, y):
            tiles[y][x] = code
    # Top up what the goal needs: recolour water or surplus resources next to grass first
    # (the grass stays as it is), then grass tiles that are simple points.
    counts = _reachable_counts(tiles)
    for code, count in need.items():
        for x, y in rest:
            if counts[code] >= count:
                break
            current = tiles[y][x]
            if not _grass_neighbours(tiles, x, y) or (x, y) in reserved:
                continue
            surplus = current in counts and counts[current] > need.get(current, 0)
            if current == WATER or surplus:
                if current in counts:
                    counts[current] -= 1
                tiles[y][x] = code
                counts[code] += 1
        for x, y in rest:
            if counts[code] >= count:
                break
            free = tiles[y][x] == GRASS and (x, y) not in reserved
            if free and _simple_point(tiles, x, y) and _grass_neighbours(tiles, x, y):
                tiles[y][x] = code
                counts = _reachable_counts(tiles)
    if not all(_grass_neighbours(tiles, x, y) for x, y in chests):
        return None
    return MapData(tiles, starts, chests)


def _plain_map(task: dict[str, Any], rng: np.random.Generator, need: dict[int, int]) -> MapData:
    """Grass inside, what is needed on the border (away from the corner at (n-2, n-2))."""
    n = task["size"]
    tiles = [[GRASS] * n for _ in range(n)]
    border = [(x, 0) for x in range(1, n - 1)] + [(0, y) for y in range(1, n - 1)]
    border += [(n - 1, y) for y in range(1, n - 2)] + [(x, n - 1) for x in range(1, n - 2)]
    slots = iter(border)
    for code in (TREE, STONE, DIRT):
        for _ in range(need.get(code, 0)):
            x, y = next(slots)
            tiles[y][x] = code
    chests = []
    for _ in task["chests"]:
        x, y = next(slots)
        tiles[y][x] = CHEST
        chests.append((x, y))
    inside = [(x, y) for y in range(1, n - 1) for x in range(1, n - 1) if (x, y) != (n - 2, n - 2)]
    picks = rng.permutation(len(inside))[: task["num_agents"]]
    return MapData(tiles, [inside[int(i)] for i in picks], chests)
