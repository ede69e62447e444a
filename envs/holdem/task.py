"""The hold'em task spaces: seats, stacks, blinds, antes, the button, the deck, opponents.

:data:`HOLDEM_TASK_SPACE` is the space of ``palaestra/holdem-v0``, where every seat is an
agent. :data:`HOLDEM_SOLO_TASK_SPACE`, the space of ``palaestra/Holdem-v0``, adds the
``opponents`` knob: which built-in opponents fill the seats the learner does not take.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from palaestra.envs.holdem.cards import CARD_NAMES, parse_cards
from palaestra.envs.holdem.opponents import OPPONENTS
from palaestra.envs.tasks import Knob, TaskSpace

__all__ = [
    "DEFAULT_DEPTH_BB",
    "HOLDEM_SOLO_TASK_SPACE",
    "HOLDEM_TASK_SPACE",
    "MAX_CHIPS",
    "MAX_PLAYERS",
    "OpponentsKnob",
    "holdem_difficulty",
]

MAX_PLAYERS = 9
"""The most seats at a table."""
MAX_CHIPS = 10**9
"""The largest stack, blind or ante a task may set."""
DEFAULT_DEPTH_BB = 100
"""Stacks are this many big blinds when a task leaves ``stacks`` out."""


def _integer(value: Any, what: str, low: int = 0, high: int = MAX_CHIPS) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be an integer in [{low}, {high}], got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise ValueError(f"{what} must be an integer in [{low}, {high}], got {value!r}")
    return int(number)


def _parse_stacks(value: Any) -> list[int]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"expected a list of chip counts, one per seat, got {value!r}")
    return [_integer(v, f"stack {k}") for k, v in enumerate(value)]


def _parse_chips(value: Any) -> int:
    return _integer(value, "the amount")


def _parse_button(value: Any) -> int:
    return _integer(value, "the button seat", 0, MAX_PLAYERS - 1)


def _parse_deck(value: Any) -> list[str]:
    return [CARD_NAMES[k] for k in parse_cards(value, min_count=1, max_count=52, what="deck")]


def _finalize(task: dict[str, Any]) -> dict[str, Any]:
    n = task["num_players"]
    big = task["big_blind"]
    if task["small_blind"] is None:
        task["small_blind"] = big // 2
    elif task["small_blind"] > big:
        raise ValueError(
            f"task key 'small_blind': {task['small_blind']} exceeds the big blind {big}"
        )
    if task["ante"] is None:
        task["ante"] = 0
    if task["stacks"] is None:
        task["stacks"] = [DEFAULT_DEPTH_BB * big] * n
    stacks = task["stacks"]
    if len(stacks) != n:
        raise ValueError(
            f"task key 'stacks' has {len(stacks)} entries but 'num_players' is {n}; "
            "give one stack per seat"
        )
    dealt = sum(1 for s in stacks if s > 0)
    if dealt < 2:
        raise ValueError("task key 'stacks': at least two seats need chips")
    button = task["button"]
    if button is None:
        button = task["button"] = next(k for k, s in enumerate(stacks) if s > 0)
    if button >= n:
        raise ValueError(f"task key 'button': seat {button} does not exist with num_players={n}")
    if stacks[button] == 0:
        raise ValueError(f"task key 'button': seat {button} has no chips")
    deck = task["deck"]
    if deck is not None and len(deck) < 2 * dealt + 5:
        raise ValueError(
            f"task key 'deck' holds {len(deck)} cards; a hand with {dealt} seats dealt in "
            f"needs {2 * dealt + 5} (hole cards, then the board)"
        )
    return task


def holdem_difficulty(task: Mapping[str, Any]) -> float:
    """Score a complete hold'em task in [0, 1] from the player count and stack depth.

    More opponents and deeper stacks (more betting after the flop) are harder. The depth is
    the median stack of the seats with chips in big blinds (``d``), scored
    ``log(1 + d) / log(1 + 400)`` capped at 1; the player count is scored
    ``(num_players - 2) / 7``; the difficulty is their mean. Heads-up with 100 big blinds
    scores about 0.38, nine players with 400 big blinds or more score 1.
    """
    stacks = sorted(s for s in task["stacks"] if s > 0)
    depth = stacks[len(stacks) // 2] / task["big_blind"]
    depth_score = min(1.0, math.log1p(depth) / math.log1p(400))
    players = (task["num_players"] - 2) / (MAX_PLAYERS - 2)
    return 0.5 * players + 0.5 * depth_score


HOLDEM_TASK_SPACE = TaskSpace(
    "holdem",
    [
        Knob(
            "num_players",
            2,
            "seats at the table",
            low=2,
            high=MAX_PLAYERS,
            integer=True,
        ),
        Knob(
            "stacks",
            None,
            "chips of every seat at the start (0 = sitting out); None: 100 big blinds each",
            parse=_parse_stacks,
            allowed="None or a list of num_players integers >= 0, at least two above 0",
        ),
        Knob(
            "small_blind",
            None,
            "the small blind; None: half the big blind, rounded down",
            parse=_parse_chips,
            allowed="None or an integer in [0, big_blind]",
        ),
        Knob(
            "big_blind",
            2,
            "the big blind",
            low=1,
            high=MAX_CHIPS // DEFAULT_DEPTH_BB,
            integer=True,
        ),
        Knob(
            "ante",
            None,
            "the ante every seat dealt in posts; None: no ante",
            parse=_parse_chips,
            allowed="None or an integer >= 0",
        ),
        Knob(
            "button",
            None,
            "the button's seat for the first hand; None: the first seat with chips",
            parse=_parse_button,
            allowed="None or a seat index in [0, num_players) that has chips",
        ),
        Knob(
            "deck",
            None,
            "the card order of the first hand (hole cards, then the board); None: shuffled",
            parse=_parse_deck,
            allowed="None or distinct cards like 'As', 'Td': a list or one spaced string",
        ),
    ],
    difficulty=lambda task: holdem_difficulty(task),
    finalize=_finalize,
)
"""The tasks of ``palaestra/holdem-v0`` (every seat an agent)."""


@dataclass(frozen=True)
class OpponentsKnob(Knob):
    """A choice knob whose value may also be a list of choices, one per opponent.

    ``None`` (its default) leaves the choice to the env (``Holdem-v0``'s ``opponents``
    argument). As a choice knob it is sampled (one choice for every opponent) and narrowed
    by :meth:`~palaestra.envs.tasks.TaskSpace.restricted` like any other; a list is only
    ever given, never drawn.
    """

    def __post_init__(self) -> None:
        if not self.choices or self.parse is not None:
            raise ValueError(f"knob {self.name!r}: an opponents knob needs choices")
        if self.default is not None:
            self.validate(self.default)

    def describe(self) -> str:
        """The allowed values, written for an error message or a table."""
        names = ", ".join(repr(c) for c in self.choices or ())
        return f"None, one of {names}, or a list of those, one per opponent"

    def validate(self, value: Any) -> Any:
        """Return ``None``, a choice, or a list of choices; else raise naming the knob."""
        if value is None or isinstance(value, str):
            return value if value is None else super().validate(value)
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(f"task key {self.name!r}: got {value!r}, expected {self.describe()}")
        for k, name in enumerate(value):
            if not isinstance(name, str) or name not in (self.choices or ()):
                raise ValueError(
                    f"task key {self.name!r}: entry {k} is {name!r}, expected one of "
                    + ", ".join(repr(c) for c in self.choices or ())
                )
        return list(value)


def _finalize_solo(task: dict[str, Any]) -> dict[str, Any]:
    task = _finalize(task)
    opponents = task["opponents"]
    seats = task["num_players"] - 1
    if isinstance(opponents, list) and len(opponents) != seats:
        raise ValueError(
            f"task key 'opponents' lists {len(opponents)} names but num_players="
            f"{task['num_players']} seats {seats} opponents; give one name per opponent "
            "or a single name"
        )
    return task


HOLDEM_SOLO_TASK_SPACE = TaskSpace(
    "holdem",
    [
        *HOLDEM_TASK_SPACE,
        OpponentsKnob(
            "opponents",
            None,
            "Holdem-v0's built-in opponents: one name for all, or one per seat clockwise "
            "from the learner; None: the env's `opponents` argument",
            choices=tuple(OPPONENTS),
        ),
    ],
    difficulty=lambda task: holdem_difficulty(task),
    finalize=_finalize_solo,
)
"""The tasks of ``palaestra/Holdem-v0``: :data:`HOLDEM_TASK_SPACE` plus ``opponents``.

The difficulty is that of :data:`HOLDEM_TASK_SPACE`; it does not depend on the opponents
(which of them is harder depends on the learner: a calling station punishes bluffs, a
tight-aggressive player loose calls). A curriculum over opponents can estimate difficulty
from the learner (ADCL, learning progress) or give a list of tasks with difficulties.
"""
