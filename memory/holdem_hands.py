"""Parsing one seat's view of hold'em hands: public events and hand histories into records.

The parsing half of :mod:`palaestra.memory.holdem`: :func:`parse_events` reads the public
``events`` lines of the steps, :func:`parse_history` the public parts of a finished hand's
``info["hand_history"]`` (never the hole cards of seats that did not show), and
:func:`hand_counts` turns a parsed hand into one player's counters (their definitions are
in :mod:`palaestra.memory.holdem`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COUNTERS", "HandRecord", "hand_counts", "parse_events", "parse_history"]

COUNTERS = (
    "hands", "preflop", "vpip", "pfr", "three_bet_chances", "three_bet", "faced_raise",
    "folded_to_raise", "actions_aggressive", "actions_calls", "saw_flop", "showdown",
    "won_showdown",
)  # fmt: skip
"""The counter names kept per player (and in the store)."""
_DECISIONS = ("fold", "check", "call", "bet", "raise")
_AGGRESSIVE = ("bet", "raise")
_HAND = re.compile(r"^hand (\d+): button (\S+)$")
_STREET = re.compile(r"^(flop|turn|river): (.+)$")
_SHOWS = re.compile(r"^(\S+) shows (\S+) (\S+) (\S+)$")
_WINS = re.compile(r"^(\S+) wins (\d+)$")
_UNCALLED = re.compile(r"^uncalled (\d+) returned to (\S+)$")
_ACTION = re.compile(
    r"^(\S+) (fold|check|call|bet|raise to|small_blind|big_blind|ante)(?: (\d+))?( all-in)?$"
)


@dataclass
class HandRecord:
    """The public record of one finished hand.

    Attributes:
        button: The button's name.
        actions: ``(street, player, kind, amount)`` in order (forced bets included).
        board: The board cards.
        shown: Player -> ``(cards, category)`` for hands shown at showdown (``cards`` is
            ``None`` when only the category was given).
        payouts: Player -> chips won (players who won nothing are absent).
        finished: Whether the hand's result was seen.
    """

    button: str
    actions: list[tuple[str, str, str, int]] = field(default_factory=list)
    board: list[str] = field(default_factory=list)
    shown: dict[str, tuple[tuple[str, ...] | None, str]] = field(default_factory=dict)
    payouts: dict[str, int] = field(default_factory=dict)
    finished: bool = False

    def key(self) -> tuple[Any, ...]:
        """What identifies the hand (button, actions, board)."""
        return (self.button, tuple(self.actions), tuple(self.board))

    def line(self, player: str) -> str:
        """``player``'s actions by street, like ``preflop raise 6; flop bet 4``."""
        parts: list[str] = []
        for street, who, kind, amount in self.actions:
            if who == player and kind in _DECISIONS:
                parts.append(f"{street} {kind}" + (f" {amount}" if amount else ""))
        return "; ".join(parts)


def parse_events(lines: Sequence[str], current: HandRecord | None) -> list[HandRecord]:
    """Parse event lines into hands; returns every hand touched, ``current`` first.

    ``current`` is the unfinished hand the previous events left open (None for none); the
    last hand returned is the one still open when it is not ``finished``.
    """
    hands: list[HandRecord] = [] if current is None else [current]
    street = "preflop"
    if current is not None:
        street = ("preflop", "preflop", "preflop", "flop", "turn", "river")[len(current.board)]
    for text in lines:
        match = _HAND.match(text)
        if match:
            hands.append(HandRecord(button=match.group(2)))
            street = "preflop"
            continue
        if not hands:
            continue
        hand = hands[-1]
        if match := _STREET.match(text):
            street = match.group(1)
            hand.board.extend(match.group(2).split())
        elif match := _SHOWS.match(text):
            hand.shown[match.group(1)] = ((match.group(2), match.group(3)), match.group(4))
            hand.finished = True
        elif match := _WINS.match(text):
            hand.payouts[match.group(1)] = int(match.group(2))
            hand.finished = True
        elif _UNCALLED.match(text):
            hand.finished = True
        elif match := _ACTION.match(text):
            kind = match.group(2).removesuffix(" to")
            hand.actions.append((street, match.group(1), kind, int(match.group(3) or 0)))
    return hands


def parse_history(history: Mapping[str, Any]) -> HandRecord:
    """The public record of a ``hand_history`` (hole cards only of hands shown)."""
    players = list(history["players"])
    shown_cards = history.get("hole_cards") or [None] * len(players)
    shown: dict[str, tuple[tuple[str, ...] | None, str]] = {}
    for name, category in history.get("hands_shown", {}).items():
        cards = shown_cards[players.index(name)]
        shown[name] = (None if cards is None else tuple(cards), str(category))
    return HandRecord(
        button=str(history["button"]),
        actions=[
            (a["street"], a["player"], a["action"], int(a["amount"])) for a in history["actions"]
        ],
        board=list(history["board"]),
        shown=shown,
        payouts={players[j]: int(x) for j, x in enumerate(history["payouts"]) if x},
        finished=True,
    )


def hand_counts(hand: HandRecord, player: str) -> dict[str, int]:
    """The counter increments of one hand for ``player`` (empty when not dealt in)."""
    if not any(who == player for _, who, _, _ in hand.actions):
        return {}
    c = dict.fromkeys(COUNTERS, 0)
    c["hands"] = 1
    raises_pre, three_bet_seen, folded_pre = 0, False, False
    last_raiser: str | None = None
    pending: set[str] = set()
    street = "preflop"
    pre_kinds: list[str] = []
    for st, who, kind, _ in hand.actions:
        if st != street:
            street, pending = st, set()
        if kind not in _DECISIONS:
            continue
        if who == player:
            if st == "preflop":
                pre_kinds.append(kind)
                if not three_bet_seen and raises_pre == 1 and last_raiser != player:
                    three_bet_seen = True
                    c["three_bet_chances"] = 1
                    c["three_bet"] = int(kind == "raise")
                folded_pre = folded_pre or kind == "fold"
            if player in pending:
                c["faced_raise"] += 1
                c["folded_to_raise"] += kind == "fold"
            if kind in _AGGRESSIVE:
                c["actions_aggressive"] += 1
            elif kind == "call":
                c["actions_calls"] += 1
        pending.discard(who)
        if kind in _AGGRESSIVE:
            pending = {p for _, p, _, _ in hand.actions if p != who}
            if st == "preflop":
                raises_pre += 1
                last_raiser = who
    if pre_kinds:
        c["preflop"] = 1
        c["vpip"] = int(any(k in ("call", "bet", "raise") for k in pre_kinds))
        c["pfr"] = int(any(k in _AGGRESSIVE for k in pre_kinds))
    c["saw_flop"] = int(not folded_pre and len(hand.board) >= 3)
    if player in hand.shown:
        c["showdown"] = 1
        c["won_showdown"] = int(hand.payouts.get(player, 0) > 0)
    return c
