"""The state of a Craft world and the rules that change it.

:class:`CraftWorld` keeps the map as flat ``bytearray`` rows with a one-tile border (index
``(y + 1) * stride + (x + 1)``), agent positions as flat indices, inventories as lists of
ints, and a padded ``int8`` array of two planes (tiles, agents) from which each agent's view
window is one slice. Every change that someone could witness is appended to
:attr:`CraftWorld.happenings` as ``(x, y, actor, private_to, event)``; the episode hands
each agent the events it witnessed. Every move of a tracked item is also noted in
:attr:`CraftWorld.notes` with the places it left and reached, from which the belief
tracker (:mod:`palaestra.envs.craft.beliefs`) tells who witnessed it, by the same
view rule as the events.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from palaestra.envs.craft.mapgen import MapData
from palaestra.envs.craft.vocabulary import (
    A_COLLECT,
    A_CRAFT,
    A_GIVE,
    A_MOVE,
    A_NOOP,
    A_PLACE,
    A_PUT,
    A_SAY_AT,
    A_SAY_HAVE,
    A_SAY_NEED,
    A_SAY_RECIPE,
    A_TAKE,
    ACTION_SPECS,
    CHEST,
    GRASS,
    ITEM_INDEX,
    ITEMS,
    KIND_INDEX,
    PRIMITIVE_ACTIONS,
    RAW_SOURCE,
    RECIPE_INDEX,
    RECIPES,
    STONE,
    TABLE,
    TILES,
    TREE,
    VERBS,
)

__all__ = ["SOURCE_TILE", "CraftWorld", "Message"]

SOURCE_TILE: dict[int, int] = {ITEM_INDEX[item]: KIND_INDEX[t] for item, t in RAW_SOURCE.items()}
"""The tile code each raw item (by index) is gathered from; it must be adjacent."""
_RECIPE_INPUTS = tuple(
    tuple((ITEM_INDEX[item], count) for item, count in r.inputs) for r in RECIPES
)
_RECIPE_OUTPUT = tuple((ITEM_INDEX[r.output], r.count) for r in RECIPES)
_RECIPE_TABLE = tuple(r.needs_table for r in RECIPES)
WOODEN_PICKAXE, STONE_PICKAXE, TABLE_ITEM = (
    ITEM_INDEX["wooden_pickaxe"],
    ITEM_INDEX["stone_pickaxe"],
    ITEM_INDEX["table"],
)

Message = tuple[int, int, int, int, int, str]
"""``(speaker, verb code, argument, x, y, text)``; ``x, y`` are -1 unless ``at``/``go``."""


class CraftWorld:
    """Map, agents, inventories, chests and tracked items of one episode.

    Args:
        radius: Half the side of an agent's square view window.
    """

    def __init__(self, radius: int) -> None:
        self.radius = radius
        self.width = self.height = 0
        self.names: list[str] = []

    # ------------------------------------------------------------------ setup
    def setup(self, data: MapData, task: dict[str, Any], names: list[str]) -> None:
        """Start from a map, with the task's knowledge, chests and talk settings."""
        r = self.radius
        h, w = len(data.tiles), len(data.tiles[0])
        self.height, self.width = h, w
        self.stride = s = w + 2
        self.offsets = (-s, 1, s, -1)
        self.grid = bytearray((h + 2) * s)
        self.occ = bytearray((h + 2) * s)
        self.planes = np.zeros((2, h + 2 * r, w + 2 * r), dtype=np.int8)
        for y, row in enumerate(data.tiles):
            self.grid[(y + 1) * s + 1 : (y + 1) * s + 1 + w] = bytes(row)
        self.planes[0, r : r + h, r : r + w] = np.asarray(data.tiles, dtype=np.int8)
        self.names = list(names)
        self.n = len(names)
        self.xs = [x for x, _ in data.starts]
        self.ys = [y for _, y in data.starts]
        self.pos = [(y + 1) * s + x + 1 for x, y in data.starts]
        for i, p in enumerate(self.pos):
            self.occ[p] = i + 1
            self.planes[1, self.ys[i] + r, self.xs[i] + r] = i + 1
        self.inv = [[0] * len(ITEMS) for _ in range(self.n)]
        self.known = [
            sum(1 << RECIPE_INDEX[name] for name in task["knowledge"][i]) for i in range(self.n)
        ]
        self.chest_xy = list(data.chests)
        self.chest_of = {(y + 1) * s + x + 1: c for c, (x, y) in enumerate(data.chests)}
        self.chest_inv = [[0] * len(ITEMS) for _ in data.chests]
        self.tracked: dict[str, str] = {}
        for c, contents in enumerate(task["chests"]):
            for item in contents:
                self.chest_inv[c][ITEM_INDEX[item]] += 1
                self.tracked[item] = f"chest {c}"
        self.talk = task["talk"] == "on" and self.n > 1
        self.hearing = task["hearing_range"]
        self.key_stale = [True] * self.n
        self.gained = False
        self.begin_step()

    def begin_step(self) -> None:
        """Forget the previous step's happenings, messages and tracked-item notes."""
        self.happenings: list[tuple[int, int, int, int, dict[str, Any]]] = []
        self.messages: list[Message] = []
        self.notes: list[tuple[str, str, int, int, bool]] = []
        """Each move of a tracked item this step, in order: ``(item, where, source,
        destination, strict)``, where ``where`` is its new place (``"chest <c>"``, an agent
        name or ``"used"``), and ``source`` and ``destination`` are places that could be seen
        (an agent index ``k >= 0``, or ``-(c + 1)`` for chest ``c``); ``strict`` (a give):
        only an agent who sees the source witnessed it (see
        :meth:`~palaestra.envs.craft.beliefs.BeliefTracker.update`)."""

    # ------------------------------------------------------------------ queries
    def xy(self, p: int) -> tuple[int, int]:
        """The ``(x, y)`` of a flat index."""
        return p % self.stride - 1, p // self.stride - 1

    def tile(self, x: int, y: int) -> int:
        """The tile code at ``(x, y)`` (``out`` beyond the map)."""
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.grid[(y + 1) * self.stride + x + 1]
        return 0

    def sees(self, i: int, x: int, y: int) -> bool:
        """Whether ``(x, y)`` is inside agent ``i``'s view window."""
        r = self.radius
        return abs(x - self.xs[i]) <= r and abs(y - self.ys[i]) <= r

    def adjacent_chests(self, i: int) -> list[int]:
        """Chests adjacent to agent ``i``, north, east, south, west."""
        p, grid = self.pos[i], self.grid
        return [self.chest_of[p + o] for o in self.offsets if grid[p + o] == CHEST]

    def nearest_in_view(self, i: int, code: int) -> tuple[int, int] | None:
        """The nearest tile of ``code`` in agent ``i``'s view (ties: north first, then west)."""
        r, x0, y0 = self.radius, self.xs[i], self.ys[i]
        window = self.planes[0, y0 : y0 + 2 * r + 1, x0 : x0 + 2 * r + 1]
        ys, xs = np.nonzero(window == code)
        if len(ys) == 0:
            return None
        best = min(
            zip(ys.tolist(), xs.tolist(), strict=True),
            key=lambda yx: (abs(yx[0] - r) + abs(yx[1] - r), yx[0], yx[1]),
        )
        return x0 + best[1] - r, y0 + best[0] - r

    # ------------------------------------------------------------------ changes
    def _set_tile(self, p: int, code: int, cause: str) -> None:
        before = self.grid[p]
        self.grid[p] = code
        x, y = self.xy(p)
        self.planes[0, y + self.radius, x + self.radius] = code
        event = {"type": "tile", "x": x, "y": y, "before": TILES[before], "after": TILES[code]}
        event["cause"] = cause
        self.happenings.append((x, y, -1, -1, event))

    def _gain(self, i: int, item: int, count: int) -> None:
        self.inv[i][item] += count
        self.key_stale[i] = True
        if count > 0:
            self.gained = True
        event = {"type": "inventory", "item": ITEMS[item], "change": count}
        self.happenings.append((self.xs[i], self.ys[i], i, i, event))

    def _lose(
        self, i: int, item: int, count: int, where: str, dst: int, strict: bool = False
    ) -> None:
        """Agent ``i`` loses items; its tracked one goes first, to ``where`` (place ``dst``)."""
        self._gain(i, item, -count)
        name = ITEMS[item]
        if self.tracked.get(name) == self.names[i]:
            self.tracked[name] = where
            self.notes.append((name, where, i, dst, strict))

    def act(self, i: int, action: int) -> bool:
        """Carry out agent ``i``'s (legal) action; return whether it had its effect.

        An action legal at the start of the step can fail when an agent earlier in the
        order changed the world (took the last item, stepped into the tile).
        """
        verb, arg = ACTION_SPECS[action]
        p = self.pos[i]
        ok = False
        if verb == A_NOOP:
            ok = True
        elif verb == A_MOVE:
            q = p + self.offsets[arg]
            if self.grid[q] == GRASS and not self.occ[q]:
                r = self.radius
                self.occ[p] = 0
                self.occ[q] = i + 1
                self.planes[1, self.ys[i] + r, self.xs[i] + r] = 0
                x, y = self.xy(q)
                self.planes[1, y + r, x + r] = i + 1
                self.pos[i], self.xs[i], self.ys[i] = q, x, y
                ok = True
        elif verb == A_COLLECT:
            ok = self._collect(i, p, arg)
        elif verb == A_CRAFT:
            ok = self._craft(i, p, arg)
        elif verb == A_PLACE:
            q = p + self.offsets[arg]
            if self.inv[i][TABLE_ITEM] and self.grid[q] == GRASS and not self.occ[q]:
                self._lose(i, TABLE_ITEM, 1, "used", i)
                self._set_tile(q, TABLE, self.names[i])
                ok = True
        elif verb in (A_PUT, A_TAKE, A_GIVE):
            ok = self._transfer(i, p, verb, arg)
        else:
            ok = self._say(i, verb, arg)
        event = {
            "type": "action",
            "agent": self.names[i],
            "action": PRIMITIVE_ACTIONS[action],
            "ok": ok,
            "x": self.xs[i],
            "y": self.ys[i],
        }
        self.happenings.append((self.xs[i], self.ys[i], i, -1, event))
        return ok

    def _collect(self, i: int, p: int, item: int) -> bool:
        code = SOURCE_TILE[item]
        inv = self.inv[i]
        if code == STONE and not (inv[WOODEN_PICKAXE] or inv[STONE_PICKAXE]):
            return False
        for o in self.offsets:
            if self.grid[p + o] == code:
                self._set_tile(p + o, GRASS, self.names[i])
                self._gain(i, item, 1)
                return True
        return False

    def _craft(self, i: int, p: int, r: int) -> bool:
        inv = self.inv[i]
        if not self.known[i] >> r & 1:
            return False
        if any(inv[item] < count for item, count in _RECIPE_INPUTS[r]):
            return False
        if _RECIPE_TABLE[r] and not any(self.grid[p + o] == TABLE for o in self.offsets):
            return False
        for item, count in _RECIPE_INPUTS[r]:
            self._lose(i, item, count, "used", i)
        output, count = _RECIPE_OUTPUT[r]
        self._gain(i, output, count)
        return True

    def _transfer(self, i: int, p: int, verb: int, item: int) -> bool:
        name = ITEMS[item]
        if verb == A_TAKE:
            for c in self.adjacent_chests(i):
                if self.chest_inv[c][item]:
                    self._chest_change(c, item, -1, self.names[i])
                    self._gain(i, item, 1)
                    if self.tracked.get(name) == f"chest {c}":
                        self.tracked[name] = self.names[i]
                        self.notes.append((name, self.names[i], -c - 1, i, False))
                    return True
            return False
        if not self.inv[i][item]:
            return False
        if verb == A_PUT:
            chests = self.adjacent_chests(i)
            if not chests:
                return False
            self._lose(i, item, 1, f"chest {chests[0]}", -chests[0] - 1)
            self._chest_change(chests[0], item, 1, self.names[i])
            return True
        for o in self.offsets:
            j = self.occ[p + o] - 1
            if j >= 0:
                self._lose(i, item, 1, self.names[j], j, strict=True)
                self._gain(j, item, 1)
                event = {"type": "give", "from": self.names[i], "to": self.names[j]}
                event["item"] = name
                self.happenings.append((self.xs[i], self.ys[i], i, -1, event))
                return True
        return False

    def _chest_change(self, c: int, item: int, change: int, cause: str) -> None:
        self.chest_inv[c][item] += change
        x, y = self.chest_xy[c]
        event = {"type": "chest", "chest": c, "x": x, "y": y, "item": ITEMS[item]}
        event["change"] = change
        event["cause"] = cause
        self.happenings.append((x, y, -1, -1, event))

    def _say(self, i: int, verb: int, arg: int) -> bool:
        tx = ty = -1
        if verb == A_SAY_NEED:
            code, text = 1, f"need {ITEMS[arg]}"
        elif verb == A_SAY_HAVE:
            if not self.inv[i][arg]:
                return False
            code, text = 2, f"have {ITEMS[arg]}"
        elif verb == A_SAY_RECIPE:
            code, text = 3, f"recipe {RECIPES[arg].output}"
        elif verb == A_SAY_AT:
            code, tx, ty = 4, self.xs[i], self.ys[i]
            text = f"at {tx} {ty}"
        else:  # A_SAY_GO
            found = self.nearest_in_view(i, arg)
            if found is None:
                return False
            tx, ty = found
            code, text = 5, f"go {tx} {ty}"
        self.messages.append((i, code, arg if code < 4 else 0, tx, ty, text))
        return True

    def world_event(self, event: dict[str, Any]) -> None:
        """Carry out a scheduled world event (a cut tree or an item moved between chests)."""
        if event["kind"] == "cut":
            p = (event["y"] + 1) * self.stride + event["x"] + 1
            if self.grid[p] == TREE:
                self._set_tile(p, GRASS, "world")
            return
        name = event["item"]
        where = self.tracked.get(name, "")
        if not where.startswith("chest") or where == f"chest {event['to']}":
            return
        item, c, to = ITEM_INDEX[name], int(where.split()[1]), event["to"]
        self._chest_change(c, item, -1, "world")
        self._chest_change(to, item, 1, "world")
        self.tracked[name] = f"chest {to}"
        self.notes.append((name, f"chest {to}", -c - 1, -to - 1, False))

    def deliver(self) -> list[list[Message]]:
        """Hand each message to the agents within hearing range; ``recipe`` teaches.

        Returns:
            The messages each agent heard this step, in speaker order.
        """
        heard: list[list[Message]] = [[] for _ in range(self.n)]
        for message in self.messages:
            speaker = message[0]
            sx, sy = self.xs[speaker], self.ys[speaker]
            for j in range(self.n):
                if j == speaker:
                    continue
                if max(abs(self.xs[j] - sx), abs(self.ys[j] - sy)) > self.hearing:
                    continue
                heard[j].append(message)
                event = {
                    "type": "message",
                    "from": self.names[speaker],
                    "text": message[5],
                    "verb": VERBS[message[1] - 1],
                    "speaker_x": sx,
                    "speaker_y": sy,
                }
                self.happenings.append((sx, sy, speaker, j, event))
                if message[1] == 3 and not self.known[j] >> message[2] & 1:
                    self.known[j] |= 1 << message[2]
                    self.key_stale[j] = True
                    learned = {"type": "learned", "recipe": RECIPES[message[2]].output}
                    learned["from"] = self.names[speaker]
                    self.happenings.append((sx, sy, speaker, j, learned))
        return heard
