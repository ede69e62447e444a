"""The text block :meth:`~palaestra.memory.tracker.BeliefTracker.render` writes for a prompt.

A few lines, only those with something to say, in this order (the second line is
broken here; it is one line)::

    agent_0 at (3, 4), step 12
    I believe: wooden_pickaxe in chest 1 (seen, step 5); stone_pickaxe with agent_1 (told by
    agent_1, step 7, trust 0.8)
    tiles changed: (0, 0) grass (step 5)
    agent_1 believes: wooden_pickaxe in chest 0 (wrong); (0, 0) tree (wrong); table unknown
    recipes: agent_0 planks, sticks; agent_1 table
    needs: agent_1 needs planks (step 4)

With ``holder`` another agent, the block is what the tracker thinks that agent believes
(its items, recipes and needs) instead.
"""

from __future__ import annotations

from typing import Any

from palaestra.envs.craft.vocabulary import ITEMS
from palaestra.memory._percepts import UNKNOWN
from palaestra.memory.records import Belief, check_agent

__all__ = ["render"]

MAX_TILES = 6
"""At most this many changed tiles are listed (the latest)."""


def _place(value: str) -> str:
    if value.startswith("chest"):
        return f"in {value}"
    if value.startswith("agent_"):
        return f"with {value}"
    return value


def _key(key: str) -> str:
    """An item name as it is; a tile key ``"x y"`` as ``(x, y)``."""
    x, _, y = key.partition(" ")
    return f"({x}, {y})" if y else key


def _why(belief: Belief) -> str:
    if belief.source == "told":
        speaker = belief.evidence[0].split()[0] if belief.evidence else "someone"
        return f"told by {speaker}, step {belief.step}, trust {belief.confidence:.1f}"
    return f"{'seen' if belief.source == 'observed' else 'inferred'}, step {belief.step}"


def _items(tracker: Any, about: tuple[str, ...]) -> list[str]:
    parts = []
    for belief in tracker.beliefs(about):
        if belief.key in ITEMS and belief.value != UNKNOWN:
            parts.append(f"{belief.key} {_place(belief.value)} ({_why(belief)})")
    return parts


def _needs(tracker: Any, agents: tuple[str, ...]) -> str:
    parts = []
    for agent in agents:
        for desire in tracker.desires(agent):
            parts.append(f"{agent} needs {desire.item} (step {desire.step})")
    return "needs: " + "; ".join(parts) if parts else ""


def _recipes(tracker: Any, agents: tuple[str, ...]) -> str:
    from palaestra.envs.craft.vocabulary import RECIPE_INDEX

    parts = []
    for agent in agents:
        known = sorted(tracker.known_recipes(agent), key=RECIPE_INDEX.__getitem__)
        if known:
            parts.append(f"{agent} {', '.join(known)}")
    return "recipes: " + "; ".join(parts) if parts else ""


def render(tracker: Any, holder: str | None = None) -> str:
    """The block (see the module); empty before the first observation."""
    me = tracker.agent
    holder = me if holder is None else check_agent(holder, "render holder")
    if tracker.step < 0:
        return ""
    if holder != me:
        tracker._check_about((holder,))
        items = _items(tracker, (holder,))
        lines = [f"what I think {holder} believes: " + ("; ".join(items) or "nothing known")]
        lines += [_recipes(tracker, (holder,)), _needs(tracker, (holder,))]
        return "\n".join(line for line in lines if line)
    x, y = tracker.position
    lines = [f"{me} at ({x}, {y}), step {tracker.step}"]
    items = _items(tracker, ())
    lines.append("I believe: " + ("; ".join(items) or "nothing about the items yet"))
    changed = sorted(tracker.changed_tiles.items(), key=lambda kv: kv[1][1])[-MAX_TILES:]
    if changed:
        tiles = [f"({tx}, {ty}) {kind} (step {step})" for (tx, ty), (kind, step) in changed]
        lines.append("tiles changed: " + "; ".join(tiles))
    others = tuple(a for a in tracker.agents if a != me)
    if tracker.max_order >= 2:
        for other in others:
            gaps = tracker.discrepancies(me, other)
            if gaps:
                tag = {"wrong": "wrong", "ignorant": "unaware"}
                words = [f"{_key(g.key)} {_place(g.other_value)} ({tag[g.kind]})" for g in gaps]
                lines.append(f"{other} believes: " + "; ".join(words))
    lines += [_recipes(tracker, (me, *others)), _needs(tracker, (me, *others))]
    return "\n".join(line for line in lines if line)
