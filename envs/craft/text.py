"""The text view of a Craft agent: what a language agent reads each step.

Short, deterministic, and versioned with the env: the first line carries
:data:`TEXT_VERSION` (``"craft-v0 text/1"``); change the tag whenever the format changes.
Example (radius 2; the legend line is cut short here)::

    craft-v0 text/1 | agent_0 | step 3/300 | goal: craft wooden_pickaxe
    you are at (4, 5); inventory: wood 2, planks 1
    you know: planks, sticks, table, wooden_pickaxe, stone_pickaxe
    view (north up; @ you, 0-3 agents, . grass, T tree, d dirt, S stone, ~ water, ...
    ..T..
    .~@d.
    .....
    ..C1.
    .....
    chest 0 (south): wooden_pickaxe 1
    heard agent_1 at (5, 8): need planks
"""

from __future__ import annotations

import numpy as np

from palaestra.envs.craft.vocabulary import DIRECTIONS, ITEMS, RECIPES, TILE_CHARS
from palaestra.envs.craft.world import CraftWorld, Message

__all__ = ["MAX_TEXT_LENGTH", "TEXT_VERSION", "text_view"]

TEXT_VERSION = "craft-v0 text/1"
MAX_TEXT_LENGTH = 1536
"""No text view is longer (view radius at most 4, four agents, counts below 32768)."""
LEGEND = (
    "view (north up; @ you, 0-3 agents, . grass, T tree, d dirt, S stone, ~ water, "
    "B table, C chest, # off map):"
)
_LUT = np.frombuffer(TILE_CHARS.encode(), dtype=np.uint8)
_DIGIT = ord("0") - 1


def _counts(counts: list[int]) -> str:
    return ", ".join(f"{ITEMS[k]} {c}" for k, c in enumerate(counts) if c) or "nothing"


def text_view(
    world: CraftWorld, i: int, step: int, max_steps: int, goal: str, heard: list[Message]
) -> str:
    """Agent ``i``'s text view after ``step`` of ``max_steps`` steps."""
    r, x, y = world.radius, world.xs[i], world.ys[i]
    side = 2 * r + 1
    tiles = world.planes[0, y : y + side, x : x + side]
    agents = world.planes[1, y : y + side, x : x + side]
    grid = np.empty((side, side + 1), dtype=np.uint8)
    grid[:, :side] = _LUT[tiles]
    grid[:, side] = 10
    others = agents > 0
    grid[:, :side][others] = agents[others] + _DIGIT
    grid[r, r] = 64  # "@"
    known = world.known[i]
    recipes = ", ".join(rc.output for k, rc in enumerate(RECIPES) if known >> k & 1)
    lines = [
        f"{TEXT_VERSION} | {world.names[i]} | step {step}/{max_steps} | goal: {goal}",
        f"you are at ({x}, {y}); inventory: {_counts(world.inv[i])}",
        f"you know: {recipes or 'no recipe'}",
        LEGEND,
        grid.tobytes().decode("ascii").rstrip("\n"),
    ]
    p = world.pos[i]
    for d, offset in enumerate(world.offsets):
        c = world.chest_of.get(p + offset)
        if c is not None:
            contents = _counts(world.chest_inv[c]) if any(world.chest_inv[c]) else "empty"
            lines.append(f"chest {c} ({DIRECTIONS[d]}): {contents}")
    for speaker, *_, text in heard:
        sx, sy = world.xs[speaker], world.ys[speaker]
        lines.append(f"heard {world.names[speaker]} at ({sx}, {sy}): {text}")
    return "\n".join(lines)
