"""What each Craft agent believes, from what it witnessed, and probes that ask about it.

The simulator tracks beliefs about *tracked things*: the items the task put in chests (where
is the wooden_pickaxe?) and the tiles scheduled world events change (what is at (3, 4)?).

First order, ``A`` believes the last thing it saw:

- a tracked item's location changes to an agent (taken from a chest, given, used up)
  where ``A``'s view window contains the agent who did it: ``A`` believes the new place;
- a chest in ``A``'s view: if the item is in it, ``A`` believes that chest; if ``A``
  believed that chest and the item is gone, ``A`` now believes ``unknown``;
- a tracked tile in ``A``'s view: ``A`` believes its current kind.

Second order, ``A`` believes about ``B`` what ``A`` saw ``B`` witness: the same rules, applied
only when ``B`` stands in ``A``'s view and the place is in both windows. If ``A`` and ``B`` both
saw the pickaxe go into chest 1 and then ``A`` left, ``A`` goes on believing that ``B``
believes chest 1, whatever happens later.

Everything starts ``unknown`` and is updated at reset (the first observation counts as
witnessing) and at the end of every step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from palaestra.envs.craft.vocabulary import ITEM_INDEX, TILES
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
        belief: The answer the question asks for, from what was witnessed.
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
    if here:
        table[name] = label
    elif table[name] == label:
        table[name] = UNKNOWN


class BeliefTracker:
    """First- and second-order beliefs of every agent about the tracked things."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.cells: list[tuple[int, int]] = []
        self.first: list[dict[str, str]] = []
        self.second: list[list[dict[str, str]]] = []
        self.active = False

    def reset(self, world: CraftWorld, cells: list[tuple[int, int]]) -> None:
        """Track the world's chest items and the given tiles; everything starts unknown."""
        self.items = sorted(world.tracked, key=ITEM_INDEX.__getitem__)
        self.cells = list(dict.fromkeys(cells))
        keys = self.items + [f"{x} {y}" for x, y in self.cells]
        n = world.n
        self.first = [dict.fromkeys(keys, UNKNOWN) for _ in range(n)]
        self.second = [[dict.fromkeys(keys, UNKNOWN) for _ in range(n)] for _ in range(n)]
        self.active = bool(keys)
        self.update(world)

    def update(self, world: CraftWorld) -> None:
        """Apply what each agent witnessed in the step just ended (or at reset)."""
        if not self.active:
            return
        n, xs, ys, sees = world.n, world.xs, world.ys, world.sees
        seen = [[a != b and sees(a, xs[b], ys[b]) for b in range(n)] for a in range(n)]
        for name, where, x, y in world.notes:
            for a in range(n):
                if sees(a, x, y):
                    self.first[a][name] = where
                    for b in range(n):
                        if seen[a][b] and sees(b, x, y):
                            self.second[a][b][name] = where
        for c, (cx, cy) in enumerate(world.chest_xy):
            viewers = [a for a in range(n) if sees(a, cx, cy)]
            label = f"chest {c}"
            for name in self.items:
                here = world.tracked[name] == label
                for a in viewers:
                    _see(self.first[a], name, here, label)
                    for b in viewers:
                        if seen[a][b]:
                            _see(self.second[a][b], name, here, label)
        for x, y in self.cells:
            key, kind = f"{x} {y}", TILES[world.tile(x, y)]
            viewers = [a for a in range(n) if sees(a, x, y)]
            for a in viewers:
                self.first[a][key] = kind
                for b in viewers:
                    if seen[a][b]:
                        self.second[a][b][key] = kind

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
