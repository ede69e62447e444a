"""What each Craft agent believes, from what it perceived, and probes that ask about it.

The simulator tracks beliefs about *tracked things*: the items the task put in chests (where
is the wooden_pickaxe?) and the tiles scheduled world events change (what is at (3, 4)?).
Every belief answer follows from what the agent itself observed, its observations and its
``info["events"]``, by the rules below; never from the simulator's state beyond them. A
window is an agent's view window at the end of the step (a square of ``2 r + 1`` tiles).

First order, ``A`` believes the last thing it perceived:

- **Chest contents.** A chest is not see-through: ``A`` sees what is in a chest only while
  it stands next to it, and only in the chest its observation shows, the first adjacent one
  in the order north, east, south, west (the vector ``chest`` key; the first ``chest`` line
  of the text view). If the item is in that chest, ``A`` believes that chest; if ``A``
  believed that chest and the item is not in it, ``A`` now believes ``unknown``. Seeing a
  chest tile from farther away teaches nothing about its contents.
- **Moves.** Each move of a tracked item has a source and a destination place: taken from
  a chest (chest -> taker), put into one (putter -> chest), given (giver -> receiver), used
  up by crafting or placing (the agent -> ``used``), moved by the world (chest -> chest).
  If the destination is in ``A``'s window, ``A`` believes the new place; else, if the
  source is, ``A`` believes ``unknown`` (it saw the item go, not where). A give is
  witnessed only with the giver in the window (its ``give`` event names the receiver, or
  ``someone`` when the receiver is out of view: then ``A`` believes ``unknown``). These are
  exactly the events ``A`` is given: the ``action`` event of the agent who took, put, gave,
  crafted or placed (its position in the window), the ``chest`` event (the chest in the
  window; it names the item even when the ``cause`` reads ``someone``), the ``give``
  event. So a put or take is witnessed when the chest, or the agent, is in view.
- **Tiles.** A tracked tile in ``A``'s window: ``A`` believes its current kind.

Within a step the moves are applied in the order they happened, then the chest contents
and tiles seen at the end of the step. At reset everything starts ``unknown`` and the first
observation counts (chest contents and tiles only: nothing has moved yet), so an agent that
has not stood next to the item's chest believes ``unknown``.

Second order, ``A`` believes about ``B`` what ``A`` could tell ``B`` perceived, by the same
rules applied to ``B``, and only while ``B`` is in ``A``'s window (end of the step):

- **Chest contents**: ``B`` stands next to a chest that is the first adjacent to it and
  inside ``A``'s window. ``A`` assumes ``B`` saw what ``A`` itself believes (after its own
  first-order update): if ``A`` believes the item is in that chest, ``B`` believes that
  chest; otherwise, if ``A`` thought ``B`` believed that chest, ``B`` now believes
  ``unknown``.
- **Moves**: a move ``A`` witnessed whose places are in both windows: the destination in
  both (and, for a give, the giver in ``B``'s) -> the new place; else the source in both ->
  ``unknown``; else no change.
- **Tiles**: a tracked tile in both windows -> its current kind.

If ``A`` and ``B`` both stood by chest 0 holding the pickaxe and then ``A`` left, ``A``
goes on believing that ``B`` believes chest 0, whatever happens later.

Messages (``have <item>``, ``at <x> <y>``, ...) change no belief here: probes score
beliefs from perception. A memory module may use what it hears (and may then do better than
these answers, or worse, where a message is wrong or stale), but it is scored against them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from palaestra.envs.craft.vocabulary import CHEST, ITEM_INDEX, TILES
from palaestra.envs.craft.world import CraftWorld

__all__ = ["UNKNOWN", "BeliefTracker", "Probe"]

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Probe:
    """A question about an agent's beliefs, with the answers the simulator knows.

    Attributes:
        text: The question in words, e.g. ``"where does agent_1 think the wooden_pickaxe
            is?"``.
        kind: ``"item_location"`` (answers: ``"chest <i>"``, an agent name, ``"used"`` or
            ``"unknown"``) or ``"tile"`` (answers: a tile kind such as ``"tree"``).
        order: 1 (what the subject believes) or 2 (what the subject believes the other
            agent believes).
        subjects: ``(agent,)`` for order 1, ``(agent, other)`` for order 2.
        target: The item name, or ``"x y"`` for a tile.
        reality: The true answer, from the world now.
        belief: The answer the question asks for, from what was perceived (observations
            and events, by the module's rules; messages heard never count).
    """

    text: str
    kind: str
    order: int
    subjects: tuple[str, ...]
    target: str
    reality: str
    belief: str

    @property
    def answers(self) -> dict[str, str]:
        """``{"reality": ..., "belief": ...}``."""
        return {"reality": self.reality, "belief": self.belief}

    @property
    def false_belief(self) -> bool:
        """Whether the belief differs from reality."""
        return self.belief != self.reality

    def to_dict(self) -> dict[str, Any]:
        """The probe as a plain dict (``subjects`` as a list), e.g. for JSON records."""
        data = asdict(self)
        data["subjects"] = list(self.subjects)
        return data


def _see(table: dict[str, str], name: str, here: bool, label: str) -> None:
    """Seeing whether ``name`` is at ``label``: believe it there, or stop believing it."""
    if here:
        table[name] = label
    elif table[name] == label:
        table[name] = UNKNOWN


def _shown_chest(world: CraftWorld, i: int) -> int:
    """The chest whose contents agent ``i``'s observation shows (its first adjacent), or -1."""
    p, grid, chest_of = world.pos[i], world.grid, world.chest_of
    for o in world.offsets:
        if grid[p + o] == CHEST:
            return chest_of[p + o]
    return -1


class BeliefTracker:
    """First- and second-order beliefs of every agent about the tracked things.

    ``first[a][key]`` is agent ``a``'s belief, ``second[a][b][key]`` what ``a`` believes
    agent ``b`` believes (``key``: an item name, or ``"x y"`` for a tile).
    """

    def __init__(self) -> None:
        self.items: list[str] = []
        self.cells: list[tuple[int, int]] = []
        self.first: list[dict[str, str]] = []
        self.second: list[list[dict[str, str]]] = []
        self.active = False

    def reset(self, world: CraftWorld, cells: list[tuple[int, int]]) -> None:
        """Track the world's chest items and the given tiles; start from the first view."""
        self.items = sorted(world.tracked, key=ITEM_INDEX.__getitem__)
        self.cells = list(dict.fromkeys(cells))
        keys = self.items + [f"{x} {y}" for x, y in self.cells]
        n = world.n
        self.first = [dict.fromkeys(keys, UNKNOWN) for _ in range(n)]
        self.second = [[dict.fromkeys(keys, UNKNOWN) for _ in range(n)] for _ in range(n)]
        self.active = bool(keys)
        self.update(world)

    def update(self, world: CraftWorld) -> None:
        """Apply what each agent perceived in the step just ended (or at reset).

        The work is a few checks per agent pair for each tracked-item move this step, each
        agent's adjacent chests and each tracked tile: nothing proportional to the map.
        """
        if not self.active:
            return
        n, xs, ys, sees = world.n, world.xs, world.ys, world.sees
        first, second = self.first, self.second
        seen = [[a != b and sees(a, xs[b], ys[b]) for b in range(n)] for a in range(n)]
        chest_xy = world.chest_xy
        for name, where, src, dst, strict in world.notes:
            sx, sy = (xs[src], ys[src]) if src >= 0 else chest_xy[-src - 1]
            tx, ty = (xs[dst], ys[dst]) if dst >= 0 else chest_xy[-dst - 1]
            from_ = [sees(a, sx, sy) for a in range(n)]
            to = [sees(a, tx, ty) and (from_[a] or not strict) for a in range(n)]
            for a in range(n):
                if to[a]:
                    first[a][name] = where
                elif from_[a]:
                    first[a][name] = UNKNOWN
                else:
                    continue
                for b in range(n):
                    if not seen[a][b]:
                        continue
                    if to[a] and to[b]:
                        second[a][b][name] = where
                    elif from_[a] and from_[b]:
                        second[a][b][name] = UNKNOWN
        if self.items and chest_xy:
            shown = [_shown_chest(world, a) for a in range(n)]
            for a in range(n):
                c = shown[a]
                if c >= 0:
                    label = f"chest {c}"
                    for name in self.items:
                        _see(first[a], name, world.tracked[name] == label, label)
            for a in range(n):
                for b in range(n):
                    c = shown[b]
                    if c >= 0 and seen[a][b] and sees(a, *chest_xy[c]):
                        label = f"chest {c}"
                        for name in self.items:
                            _see(second[a][b], name, first[a][name] == label, label)
        for x, y in self.cells:
            key, kind = f"{x} {y}", TILES[world.tile(x, y)]
            viewers = [a for a in range(n) if sees(a, x, y)]
            for a in viewers:
                first[a][key] = kind
                for b in viewers:
                    if seen[a][b]:
                        second[a][b][key] = kind

    def probes(self, world: CraftWorld, a: int) -> list[Probe]:
        """Every first- and second-order probe about agent ``a``'s beliefs."""
        names = world.names
        agent = names[a]
        probes: list[Probe] = []
        for name in self.items:
            reality = world.tracked[name]
            text = f"where does {agent} think the {name} is?"
            probes.append(
                Probe(text, "item_location", 1, (agent,), name, reality, self.first[a][name])
            )
            for b, other in enumerate(names):
                if b != a:
                    text = f"where does {agent} think {other} thinks the {name} is?"
                    belief = self.second[a][b][name]
                    probes.append(
                        Probe(text, "item_location", 2, (agent, other), name, reality, belief)
                    )
        for x, y in self.cells:
            key, reality = f"{x} {y}", TILES[world.tile(x, y)]
            text = f"what does {agent} think is at ({x}, {y})?"
            probes.append(Probe(text, "tile", 1, (agent,), key, reality, self.first[a][key]))
            for b, other in enumerate(names):
                if b != a:
                    text = f"what does {agent} think {other} thinks is at ({x}, {y})?"
                    belief = self.second[a][b][key]
                    probes.append(Probe(text, "tile", 2, (agent, other), key, reality, belief))
        return probes
