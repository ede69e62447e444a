"""Typed memory records: what an agent perceived, heard, believes, wants, means to do and did.

Glossary:

- **Percept**: one observation of one agent (its position, the agents and tiles in its view
  window, the chest its observation shows and the events its ``info`` listed).
- **Message**: a message heard (or said) by an agent: ``need <item>``, ``have <item>``,
  ``recipe <recipe>``, ``at <x> <y>``, ``go <x> <y>``; text the reader cannot parse is
  kept with ``parsed=False``.
- **Belief**: what ``holder`` holds true. ``about`` is a chain of agent names: ``()`` is the
  holder's own belief about the world, ``("agent_1",)`` what the holder thinks agent_1
  believes, ``("agent_1", "agent_2")`` what the holder thinks agent_1 thinks agent_2
  believes (at most :data:`MAX_CHAIN` names; no name follows itself, and the first is not
  the holder). Keys: an item name (values ``"chest <i>"``, an agent name, ``"used"`` or
  ``"unknown"``), ``"x y"`` for a tile (a tile kind or ``"unknown"``), or ``"knows
  <recipe>"`` (``"yes"``: the last agent of the chain, or the holder for ``()``, knows that
  recipe). ``source`` is ``observed`` (perceived by the holder), ``told`` (from a message)
  or ``inferred`` (reasoned from what was perceived, such as what another agent saw);
  ``step`` is the env step of the evidence (0 for the reset observation, -1 for none).
- **Desire**: an agent wants an item (from its ``need`` messages).
- **Intention**: what an agent means to do or has another do (``go <x> <y>``).
- **Action**: an action an agent took (its index when known, its text, whether it worked).

Every record is a frozen dataclass with ``to_dict()`` (plain JSON types, with ``"type"`` and
``"version"``: :data:`RECORD_VERSION`) and ``from_dict()``; :func:`to_json` and
:func:`from_json` round-trip any of them. ``from_dict`` refuses, with a ``ValueError`` naming
the problem, a dict of another or an unknown type, a newer version, missing or unknown
fields, and field values out of range (agent names, sources, confidences, chains, steps).
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

__all__ = [
    "AGENT_NAMES",
    "MAX_CHAIN",
    "RECORD_TYPES",
    "RECORD_VERSION",
    "SOURCES",
    "Action",
    "Belief",
    "Desire",
    "Intention",
    "Message",
    "Percept",
    "check_agent",
    "from_dict",
    "from_json",
    "to_json",
]

RECORD_VERSION = 1
"""The record format; a dict with a larger ``version`` is refused."""
AGENT_NAMES: tuple[str, ...] = tuple(f"agent_{k}" for k in range(4))
"""The agent names of Craft (at most 4 agents)."""
SOURCES: tuple[str, ...] = ("observed", "told", "inferred")
"""Where a belief or desire comes from."""
MAX_CHAIN = 2
"""The longest ``about`` chain of a :class:`Belief` (a third-order belief)."""


def check_agent(name: Any, what: str = "agent") -> str:
    """Return ``name`` if it is an agent name (``agent_0`` .. ``agent_3``), else raise.

    Args:
        name: The name to check.
        what: What the name is for, to start the error message with.
    """
    if name not in AGENT_NAMES:
        raise ValueError(f"{what}: unknown agent {name!r}; allowed: {', '.join(AGENT_NAMES)}")
    return str(name)


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")


def _check_str(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string; got {value!r}")


def _check_source(value: Any) -> None:
    if value not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {value!r}")


def _tuples(value: Any) -> Any:
    """Lists (from JSON) back to tuples, recursively; dicts are left as they are."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


class _Record:
    """Shared ``to_dict``/``from_dict`` of the record dataclasses."""

    _TUPLES: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON types, with ``type`` and ``version``."""
        data: dict[str, Any] = {"type": type(self).__name__, "version": RECORD_VERSION}
        for f in fields(self):  # type: ignore[arg-type]
            data[f.name] = _lists(copy.deepcopy(getattr(self, f.name)))
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Any:
        """Rebuild a record from :meth:`to_dict`'s output (see the module for what is refused)."""
        if not isinstance(data, dict):
            raise ValueError(f"{cls.__name__}.from_dict needs a dict; got {type(data).__name__}")
        kind = data.get("type")
        if kind != cls.__name__:
            raise ValueError(f"{cls.__name__}.from_dict: the dict is of type {kind!r}")
        version = data.get("version")
        _check_int("version", version, 1)
        if version > RECORD_VERSION:
            raise ValueError(
                f"{cls.__name__} record version {version} is newer than this reader's "
                f"{RECORD_VERSION}"
            )
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        missing = [n for n in names if n not in data]
        unknown = sorted(set(data) - set(names) - {"type", "version"})
        if missing or unknown:
            raise ValueError(
                f"{cls.__name__} record: missing field(s) {missing}, unknown field(s) {unknown}"
            )
        values = {n: _tuples(data[n]) if n in cls._TUPLES else data[n] for n in names}
        return cls(**values)


@dataclass(frozen=True)
class Percept(_Record):
    """One observation of one agent.

    Attributes:
        agent: Whose observation.
        step: Env step (0 at reset).
        position: ``(x, y)`` of the agent.
        agents: ``(name, x, y)`` of every other agent in its view window.
        chest: Index of the chest the observation shows (the first adjacent one), or None
            (no adjacent chest, or its index is not known yet).
        chest_contents: ``(item, count)`` of that chest, items with a count only.
        view: The view window's tiles, one string per row in the layout characters
            (``.`` grass, ``T`` tree, ``C`` chest, ``#`` off the map, ...).
        events: The events of the step's ``info``, as given.
    """

    _TUPLES: ClassVar[tuple[str, ...]] = ("position", "agents", "chest_contents", "view")

    agent: str
    step: int
    position: tuple[int, int]
    agents: tuple[tuple[str, int, int], ...]
    chest: int | None
    chest_contents: tuple[tuple[str, int], ...]
    view: tuple[str, ...]
    events: tuple[dict[str, Any], ...]

    def __post_init__(self) -> None:
        check_agent(self.agent, "Percept.agent")
        _check_int("Percept.step", self.step, 0)
        if len(self.position) != 2:
            raise ValueError(f"Percept.position must be (x, y); got {self.position!r}")
        for name, *_ in self.agents:
            check_agent(name, "Percept.agents")
        if self.chest is not None:
            _check_int("Percept.chest", self.chest, 0)
        object.__setattr__(self, "events", tuple(self.events))
        if not all(isinstance(e, dict) for e in self.events):
            raise ValueError("Percept.events must be dicts")


@dataclass(frozen=True)
class Message(_Record):
    """A message heard (or said) by an agent.

    Attributes:
        speaker: Who said it.
        listener: Who heard it (the speaker itself for a message it said).
        step: Env step.
        text: The text as heard.
        verb: ``need``, ``have``, ``recipe``, ``at`` or ``go``; None when not parsed.
        args: The parsed arguments: ``(item,)``, ``(recipe,)`` or ``(x, y)``.
        parsed: Whether the text was understood.
    """

    _TUPLES: ClassVar[tuple[str, ...]] = ("args",)
    VERBS: ClassVar[tuple[str, ...]] = ("need", "have", "recipe", "at", "go")

    speaker: str
    listener: str
    step: int
    text: str
    verb: str | None
    args: tuple[Any, ...]
    parsed: bool

    def __post_init__(self) -> None:
        check_agent(self.speaker, "Message.speaker")
        check_agent(self.listener, "Message.listener")
        _check_int("Message.step", self.step, 0)
        if not isinstance(self.text, str):
            raise ValueError(f"Message.text must be a string; got {self.text!r}")
        if self.parsed and self.verb not in self.VERBS:
            raise ValueError(f"Message.verb must be one of {', '.join(self.VERBS)}")
        if not self.parsed and (self.verb is not None or self.args):
            raise ValueError("an unparsed Message has no verb and no args")


@dataclass(frozen=True)
class Belief(_Record):
    """What ``holder`` holds true about ``key`` (see the module's glossary).

    Attributes:
        holder: The agent whose belief this is.
        about: The chain of agents whose mind it is about (``()``: the world).
        key: An item name, ``"x y"`` for a tile, or ``"knows <recipe>"``.
        value: The believed value (``"unknown"`` when there is no belief).
        source: ``observed``, ``told`` or ``inferred``.
        step: Env step of the evidence (-1: none).
        confidence: In [0, 1]; a told belief carries the trust in its speaker.
        evidence: Short strings saying where it comes from.
    """

    _TUPLES: ClassVar[tuple[str, ...]] = ("about", "evidence")

    holder: str
    about: tuple[str, ...]
    key: str
    value: str
    source: str
    step: int
    confidence: float
    evidence: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_agent(self.holder, "Belief.holder")
        about = tuple(self.about)
        object.__setattr__(self, "about", about)
        if len(about) > MAX_CHAIN:
            raise ValueError(
                f"Belief.about {about!r} is {len(about)} agents long; at most {MAX_CHAIN}"
            )
        chain = (self.holder, *about)
        for k, name in enumerate(about):
            check_agent(name, "Belief.about")
            if name == chain[k]:
                raise ValueError(f"Belief.about {about!r}: {name} follows itself in the chain")
        _check_str("Belief.key", self.key)
        if not isinstance(self.value, str):
            raise ValueError(f"Belief.value must be a string; got {self.value!r}")
        _check_source(self.source)
        _check_int("Belief.step", self.step, -1)
        c = self.confidence
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
            raise ValueError(f"Belief.confidence must be a number in [0, 1]; got {c!r}")
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"Belief.confidence must be in [0, 1]; got {c!r}")
        object.__setattr__(self, "confidence", float(c))
        object.__setattr__(self, "evidence", tuple(str(e) for e in self.evidence))

    @property
    def order(self) -> int:
        """1 for a belief about the world, 2 about another's belief, and so on."""
        return len(self.about) + 1


@dataclass(frozen=True)
class Desire(_Record):
    """``agent`` wants ``item`` (said at ``step``; ``source`` as for a belief)."""

    agent: str
    item: str
    step: int
    source: str

    def __post_init__(self) -> None:
        check_agent(self.agent, "Desire.agent")
        _check_str("Desire.item", self.item)
        _check_int("Desire.step", self.step, 0)
        _check_source(self.source)


@dataclass(frozen=True)
class Intention(_Record):
    """``agent`` means to do ``text`` (an action text or a subgoal such as ``go 3 4``)."""

    agent: str
    text: str
    step: int

    def __post_init__(self) -> None:
        check_agent(self.agent, "Intention.agent")
        _check_str("Intention.text", self.text)
        _check_int("Intention.step", self.step, 0)


@dataclass(frozen=True)
class Action(_Record):
    """An action ``agent`` took at ``step`` (``action``: its index, None if not known).

    The index is unknown for a ``say`` seen from beyond hearing range (its text is ``say``).
    """

    agent: str
    step: int
    action: int | None
    text: str
    ok: bool

    def __post_init__(self) -> None:
        check_agent(self.agent, "Action.agent")
        _check_int("Action.step", self.step, 0)
        if self.action is not None:
            _check_int("Action.action", self.action, 0)
        _check_str("Action.text", self.text)
        if not isinstance(self.ok, bool):
            raise ValueError(f"Action.ok must be a bool; got {self.ok!r}")


RECORD_TYPES: dict[str, type[_Record]] = {
    cls.__name__: cls for cls in (Percept, Message, Belief, Desire, Intention, Action)
}
"""Every record class by its ``type`` name."""


def from_dict(data: Any) -> Any:
    """Any record from its dict, by its ``type`` (unknown types are refused)."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in RECORD_TYPES:
        raise ValueError(
            f"unknown record type {kind!r}; known types: {', '.join(sorted(RECORD_TYPES))}"
        )
    return RECORD_TYPES[kind].from_dict(data)


def to_json(record: _Record) -> str:
    """A record as one line of JSON (keys sorted)."""
    if not isinstance(record, _Record):
        raise ValueError(f"to_json takes a memory record; got {type(record).__name__}")
    return json.dumps(record.to_dict(), sort_keys=True)


def from_json(text: str) -> Any:
    """The record :func:`to_json` wrote."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not a JSON record: {error}") from None
    return from_dict(data)
