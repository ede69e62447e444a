"""Reading one Craft observation and its ``info["events"]`` into what a belief tracker uses.

:func:`read_events` turns the events one agent witnessed in a step into *moves* of items
(each with the places it left and reached, as far as that agent saw them), action records,
messages, recipes learned, chest indices and tile changes. The events come in the order
they happened, and an agent's action event closes the events its action caused (a take's
or a put's ``chest`` event, a give's ``give`` event come just before it), so a ``chest``
event whose ``cause`` names an agent waits for that agent's action event, and a world move
is its ``-1`` chest event followed at once by the ``+1`` of the same item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from palaestra.envs.craft.task import MAX_SIZE
from palaestra.envs.craft.vocabulary import (
    ACTION_INDEX,
    DELTAS,
    DIRECTIONS,
    GO_KINDS,
    ITEMS,
    KIND_INDEX,
    RECIPE_INDEX,
    RECIPES,
)
from palaestra.memory.records import AGENT_NAMES, Action, Message

__all__ = ["UNKNOWN", "Move", "StepReading", "check_view", "parse_message", "read_events"]

UNKNOWN = "unknown"
_INPUTS = {r.output: tuple(item for item, _ in r.inputs) for r in RECIPES}
_CHEST_LINE = re.compile(r"^chest (\d+) \((north|east|south|west)\)")
_DELTA = dict(zip(DIRECTIONS, DELTAS, strict=True))

Place = tuple[int, int]


@dataclass(frozen=True)
class Move:
    """An item moved in a step, as one agent saw it.

    Attributes:
        item: The item kind.
        where: Its new place (``"chest <i>"``, an agent name, ``"used"``); meaningful only
            when ``dst`` was seen.
        src: Where it left from, if that was in the agent's window (else None).
        dst: Where it arrived, if seen (else None).
        strict: A give: only who sees the giver witnesses it.
    """

    item: str
    where: str
    src: Place | None
    dst: Place | None
    strict: bool = False


@dataclass
class StepReading:
    """What one step's events told one agent (see :func:`read_events`)."""

    moves: list[Move] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    messages: list[tuple[Message, Place | None]] = field(default_factory=list)
    learned: list[tuple[str, str]] = field(default_factory=list)
    chests: list[tuple[int, Place]] = field(default_factory=list)
    tiles: list[tuple[int, int, str]] = field(default_factory=list)
    crafted: list[tuple[str, str]] = field(default_factory=list)


def check_view(observation: Any) -> np.ndarray:
    """The ``view`` of a vector (or ``both``) observation as an int array, checked."""
    if isinstance(observation, str) or not isinstance(observation, Mapping):
        raise ValueError(
            "BeliefTracker reads vector observations: make the env with obs_mode 'vector' "
            f"or 'both' (got {type(observation).__name__})"
        )
    missing = [k for k in ("view", "position") if k not in observation]
    if missing:
        raise ValueError(
            f"observation lacks {missing}: BeliefTracker needs obs_mode 'vector' or 'both'"
        )
    view = np.asarray(observation["view"], dtype=np.int16)
    side = view.shape[-1] if view.ndim == 3 else 0
    if view.shape != (2, side, side) or side % 2 == 0 or not 3 <= side <= 9:
        raise ValueError(
            f"observation view must have shape (2, S, S), S odd in 3..9; got {view.shape}"
        )
    return view


def text_chests(text: str, x: int, y: int) -> list[tuple[int, Place]]:
    """``(index, (x, y))`` of the chests a text view lists (adjacent ones, first shown first)."""
    found = []
    for line in text.splitlines():
        m = _CHEST_LINE.match(line)
        if m:
            dx, dy = _DELTA[m.group(2)]
            found.append((int(m.group(1)), (x + dx, y + dy)))
    return found


def parse_message(speaker: str, listener: str, step: int, text: Any) -> Message:
    """A :class:`~palaestra.memory.records.Message`; ``parsed=False`` for text not understood."""
    words = str(text).split()
    verb, args = (words[0], words[1:]) if words else ("", [])
    parsed: tuple[Any, ...] | None = None
    item = len(args) == 1 and args[0] in ITEMS
    recipe = len(args) == 1 and args[0] in RECIPE_INDEX
    xy = len(args) == 2 and all(a.isdigit() and int(a) < MAX_SIZE for a in args)
    if (verb in ("need", "have") and item) or (verb == "recipe" and recipe):
        parsed = (args[0],)
    elif verb in ("at", "go") and xy:
        parsed = (int(args[0]), int(args[1]))
    if parsed is None:
        return Message(speaker, listener, step, str(text), None, (), False)
    return Message(speaker, listener, step, str(text), verb, parsed, True)


def nearest_in_view(view: np.ndarray, code: int) -> tuple[int, int] | None:
    """``(dx, dy)`` of the nearest tile of ``code`` in a view (the world's tie rule)."""
    r = view.shape[1] // 2
    ys, xs = np.nonzero(view[0] == code)
    if len(ys) == 0:
        return None
    row, col = min(
        zip(ys.tolist(), xs.tolist(), strict=True),
        key=lambda yx: (abs(yx[0] - r) + abs(yx[1] - r), yx[0], yx[1]),
    )
    return col - r, row - r


def said_text(text: str, x: int, y: int, view: np.ndarray) -> str:
    """What listeners hear when the agent at ``(x, y)`` takes the action ``say ...``."""
    rest = text[len("say ") :]
    if rest == "at":
        return f"at {x} {y}"
    if rest.startswith("go "):
        kind = rest[3:]
        found = nearest_in_view(view, KIND_INDEX[kind]) if kind in GO_KINDS else None
        return f"go {x + found[0]} {y + found[1]}" if found else rest
    return rest


def _agent(name: Any) -> str | None:
    return name if name in AGENT_NAMES else None


def _xy(event: Mapping[str, Any]) -> Place | None:
    """The event's ``(x, y)``, or None when it has none."""
    x, y = event.get("x"), event.get("y")
    return (x, y) if isinstance(x, int) and isinstance(y, int) else None


def read_events(
    events: Sequence[Mapping[str, Any]],
    step: int,
    me: str,
    here: Place,
    others: Mapping[str, Place],
) -> StepReading:
    """Read one step's events (see the module).

    Args:
        events: ``info["events"]`` of the step, in order.
        step: The env step.
        me: The agent whose events these are.
        here: Its position at the end of the step.
        others: The other agents in its window at the end of the step, by name.
    """
    out = StepReading()
    pending: dict[str, Mapping[str, Any]] = {}
    world_out: Move | None = None  # a world move's -1, waiting for its +1
    for e in events:
        if not isinstance(e, Mapping):
            continue
        kind = e.get("type")
        follows, world_out = world_out, None
        if kind == "chest":
            item, c, pos = e.get("item"), e.get("chest"), _xy(e)
            if item not in ITEMS or not isinstance(c, int) or pos is None:
                continue
            out.chests.append((c, pos))
            cause, gained = e.get("cause"), e.get("change", 0) > 0
            if _agent(cause):
                pending[cause] = e
            elif cause == "world" and gained and follows is not None and follows.item == item:
                out.moves[-1] = Move(item, f"chest {c}", follows.src, pos)
            elif gained:
                out.moves.append(Move(item, f"chest {c}", None, pos))
            else:
                out.moves.append(Move(item, UNKNOWN, pos, None))
                world_out = out.moves[-1] if cause == "world" else None
        elif kind == "give" and _agent(e.get("from")):
            pending[e["from"]] = e
        elif kind == "action" and _agent(e.get("agent")):
            _action(e, step, me, here, others, pending, out)
        elif kind == "message" and _agent(e.get("from")):
            message = parse_message(e["from"], me, step, e.get("text", ""))
            sx, sy = e.get("speaker_x"), e.get("speaker_y")
            heard_at = (sx, sy) if isinstance(sx, int) and isinstance(sy, int) else None
            out.messages.append((message, heard_at))
        elif kind == "learned" and e.get("recipe") in RECIPE_INDEX:
            out.learned.append((e["recipe"], str(e.get("from", ""))))
        elif kind == "tile" and _xy(e) is not None:
            out.tiles.append((e["x"], e["y"], str(e.get("after", UNKNOWN))))
    return out


def _action(
    e: Mapping[str, Any],
    step: int,
    me: str,
    here: Place,
    others: Mapping[str, Place],
    pending: dict[str, Mapping[str, Any]],
    out: StepReading,
) -> None:
    agent, text, ok = e["agent"], str(e.get("action", "")), bool(e.get("ok", False))
    pos = _xy(e)
    out.actions.append(Action(agent, step, ACTION_INDEX.get(text), text or "?", ok))
    before = pending.pop(agent, None)
    if not ok or pos is None:
        return
    verb, _, arg = text.partition(" ")
    if verb == "take" and arg in ITEMS:
        src = _xy(before) if before is not None else None
        out.moves.append(Move(arg, agent, src, pos))
    elif verb == "put" and arg in ITEMS:
        dst = _xy(before) if before is not None else None
        where = f"chest {before['chest']}" if before is not None and dst else UNKNOWN
        out.moves.append(Move(arg, where, pos, dst))
    elif verb == "give" and arg in ITEMS:
        to = before.get("to") if before is not None else None
        dst = here if to == me else others.get(to) if isinstance(to, str) else None
        where = to if dst is not None else UNKNOWN
        out.moves.append(Move(arg, str(where), pos, dst, strict=True))
    elif verb == "craft" and arg in _INPUTS:
        out.crafted.append((agent, arg))
        for item in _INPUTS[arg]:
            out.moves.append(Move(item, "used", pos, pos))
    elif verb == "place" and arg.startswith("table"):
        out.moves.append(Move("table", "used", pos, pos))
