"""The perception layer of a belief tracker: first- and second-order beliefs from one view.

:class:`Perception` applies, for one agent A, the rules the simulator uses for its probe
answers (:mod:`palaestra.envs.craft.beliefs`), from A's observation and events alone:

1. the step's item moves, in order (:func:`~palaestra.memory._percepts.read_events`): the
   destination in A's window: the new place; else the source: ``unknown``; and for each
   agent B in A's window at the end of the step, the same with the places in both windows
   (a give: the giver in B's window too);
2. the chest A's observation shows (its first adjacent chest, north, east, south, west):
   an item in it is believed there, an item believed there and missing becomes ``unknown``;
3. for each B in A's window: the first chest next to B, if it lies in A's window: B is
   taken to see there what A believes is there;
4. tiles: A's map is what its window shows; B's, as far as A can tell, what both windows
   hold.

Where the tile next to B that comes first in that order lies outside A's window and A has
never seen it, A takes it for no chest (chests are few): if it is one, rule 3 can name a
chest B does not see. Chest indices come from the text view or ``chest`` events; a chest
whose index is not known yet is called ``"chest at <x> <y>"`` until it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.envs.craft.task import MAX_SIZE
from palaestra.envs.craft.vocabulary import CHEST, DELTAS, ITEMS
from palaestra.memory._percepts import UNKNOWN, Move
from palaestra.memory.records import AGENT_NAMES

__all__ = ["Mind", "Perception"]

Place = tuple[int, int]


class Mind:
    """Perception beliefs of one mind: items ``{item: (value, step)}`` and a tile map.

    ``tiles[y, x]`` is a tile code, -1 where unknown; ``tile_step`` the step it was seen.
    """

    def __init__(self) -> None:
        self.items: dict[str, tuple[str, int]] = {}
        self.tiles = np.full((MAX_SIZE, MAX_SIZE), -1, dtype=np.int16)
        self.tile_step = np.full((MAX_SIZE, MAX_SIZE), -1, dtype=np.int32)

    def item(self, item: str) -> str:
        """The believed place of ``item`` (``unknown`` without evidence)."""
        return self.items.get(item, (UNKNOWN, -1))[0]

    def see(self, item: str, here: bool, label: str, step: int) -> None:
        """The chest rule: believe ``label`` if ``here``, else stop believing it."""
        if here:
            self.items[item] = (label, step)
        elif self.item(item) == label:
            self.items[item] = (UNKNOWN, step)

    def copy_tiles(self, view: np.ndarray, origin: Place, box: tuple[int, ...], step: int) -> None:
        """Copy the view's on-map tiles inside ``box`` = (x1, x2, y1, y2), ends exclusive.

        ``origin`` is the map position of the view's top-left tile.
        """
        x0, y0 = origin
        x1, x2 = max(box[0], 0), min(box[1], MAX_SIZE)
        y1, y2 = max(box[2], 0), min(box[3], MAX_SIZE)
        if x1 >= x2 or y1 >= y2:
            return
        sub = view[0, y1 - y0 : y2 - y0, x1 - x0 : x2 - x0]
        on_map = sub != 0
        np.copyto(self.tiles[y1:y2, x1:x2], sub, where=on_map)
        np.copyto(self.tile_step[y1:y2, x1:x2], step, where=on_map)


class Perception:
    """Agent ``me``'s perception layer (see the module); ``second`` keeps order 2."""

    def __init__(self, me: str, second: bool) -> None:
        self.name = me
        self.second = second
        self.radius = 0
        self.position: Place = (-1, -1)
        self.others: dict[str, Place] = {}
        self.me = Mind()
        self.models: dict[str, Mind] = {}
        self.chest_index: dict[Place, int] = {}
        self._provisional = False

    def look(self, view: np.ndarray, position: Place, step: int) -> None:
        """Read the window: who is in it and, into the map, its tiles."""
        r = self.radius = view.shape[1] // 2
        x, y = self.position = position
        self.others = {}
        rows, cols = np.nonzero(view[1])
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            code = int(view[1, row, col])
            if (row, col) != (r, r) and 1 <= code <= len(AGENT_NAMES):
                self.others[AGENT_NAMES[code - 1]] = (x + col - r, y + row - r)
        self.me.copy_tiles(view, (x - r, y - r), (x - r, x + r + 1, y - r, y + r + 1), step)

    def move(self, move: Move, step: int) -> None:
        """Rule 1 for one move."""
        if move.dst is not None:
            self.me.items[move.item] = (move.where, step)
        elif move.src is not None:
            self.me.items[move.item] = (UNKNOWN, step)
        else:
            return
        if not self.second:
            return
        r = self.radius
        for name, (bx, by) in self.others.items():
            dst = move.dst is not None and abs(move.dst[0] - bx) <= r and abs(move.dst[1] - by) <= r
            src = move.src is not None and abs(move.src[0] - bx) <= r and abs(move.src[1] - by) <= r
            mind = self.model(name)
            if dst and (src or not move.strict):
                mind.items[move.item] = (move.where, step)
            elif src:
                mind.items[move.item] = (UNKNOWN, step)

    def chest_view(self, contents: np.ndarray, step: int) -> Place | None:
        """Rule 2; returns the shown chest's place (None without one)."""
        shown = self.shown_chest(*self.position)
        if shown is not None:
            label = self.label(shown)
            for k, item in enumerate(ITEMS):
                self.me.see(item, bool(contents[k] > 0), label, step)
        return shown

    def second_order_view(self, view: np.ndarray, step: int) -> None:
        """Rules 3 and 4 for every agent in the window."""
        if not self.second:
            return
        r, (x, y) = self.radius, self.position
        for name, (bx, by) in self.others.items():
            mind = self.model(name)
            chest = self.shown_chest(bx, by)
            if chest is not None and abs(chest[0] - x) <= r and abs(chest[1] - y) <= r:
                label = self.label(chest)
                for item in set(self.me.items) | set(mind.items):
                    mind.see(item, self.me.item(item) == label, label, step)
            box = (max(x, bx) - r, min(x, bx) + r + 1, max(y, by) - r, min(y, by) + r + 1)
            mind.copy_tiles(view, (x - r, y - r), box, step)

    def shown_chest(self, x: int, y: int) -> Place | None:
        """The first chest next to ``(x, y)`` (north, east, south, west) on the map so far."""
        tiles = self.me.tiles
        for dx, dy in DELTAS:
            cx, cy = x + dx, y + dy
            if 0 <= cx < MAX_SIZE and 0 <= cy < MAX_SIZE and tiles[cy, cx] == CHEST:
                return (cx, cy)
        return None

    def label(self, place: Place) -> str:
        """``"chest <i>"`` for the chest at ``place``, or its provisional name."""
        c = self.chest_index.get(place)
        if c is None:
            self._provisional = True
            return f"chest at {place[0]} {place[1]}"
        return f"chest {c}"

    def learn_chest(self, c: int, place: Any) -> None:
        """The chest at ``place`` is chest ``c``; provisional names of it are replaced."""
        place = tuple(place)
        if self.chest_index.get(place) == c:
            return
        self.chest_index[place] = c
        if self._provisional:
            old, new = f"chest at {place[0]} {place[1]}", f"chest {c}"
            for mind in (self.me, *self.models.values()):
                for item, (value, step) in list(mind.items.items()):
                    if value == old:
                        mind.items[item] = (new, step)

    def model(self, name: str) -> Mind:
        """This agent's model of ``name``'s mind (made on first use)."""
        mind = self.models.get(name)
        if mind is None:
            mind = self.models[name] = Mind()
        return mind

    def mind(self, about: tuple[str, ...]) -> Mind | None:
        """The mind a chain names (``()``: this agent's own), None if never modelled."""
        return self.me if not about else self.models.get(about[0])

    def contents_of(self, observation: Mapping[str, Any]) -> np.ndarray:
        """The observation's ``chest`` counts (zeros without the key)."""
        return np.asarray(observation.get("chest", np.zeros(len(ITEMS))), dtype=np.int64)
