"""What a seat sees of a hand: the vector view, the text view and the texts of its actions.

Seats in the vector view are in seat order relative to the viewer (index 0 is the viewer,
1 the seat on its left, ...), padded with zeros to nine seats; chip amounts are in big
blinds. The text view is versioned (:data:`TEXT_VERSION`, its first line) and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

from palaestra.envs.holdem.cards import CARD_NAMES
from palaestra.envs.holdem.engine import ACTIONS, STREETS, Hand
from palaestra.envs.holdem.evaluator import CATEGORIES
from palaestra.envs.holdem.task import MAX_CHIPS, MAX_PLAYERS

__all__ = [
    "MAX_TEXT_LENGTH",
    "TEXT_VERSION",
    "VECTOR_KEYS",
    "action_texts",
    "format_action",
    "result_lines",
    "text_view",
    "vector_observation",
    "vector_space",
]

TEXT_VERSION = "holdem-v0 text/1"
"""The first line of every text view; it changes whenever the text format does."""
MAX_TEXT_LENGTH = 4096
"""The longest text view (older actions are left out to stay below it)."""
MAX_CHIPS_BB = float(MAX_PLAYERS * MAX_CHIPS)
"""The bound of chip entries in the vector view, in big blinds: every chip at the table."""
_HISTORY_LIMIT = 40
_F32 = np.float32
_LAYOUT = (("hole_cards", 52), ("board", 52), ("street", 4), ("pot", 1), ("to_call", 1),
           ("stacks", MAX_PLAYERS), ("bets", MAX_PLAYERS), ("in_hand", MAX_PLAYERS),
           ("position", MAX_PLAYERS))  # fmt: skip
_SLICES: list[tuple[str, int, int]] = []
for _key, _width in _LAYOUT:
    _low = _SLICES[-1][2] if _SLICES else 0
    _SLICES.append((_key, _low, _low + _width))
_SIZE = _SLICES[-1][2]
_OFFSET = {key: low for key, low, _ in _SLICES}
_BOARD, _STREET, _POT, _TO_CALL = (_OFFSET[k] for k in ("board", "street", "pot", "to_call"))
_STACKS, _BETS, _IN_HAND, _POSITION = (
    _OFFSET[k] for k in ("stacks", "bets", "in_hand", "position")
)
_TWO_ONES = [1.0, 1.0]
VECTOR_KEYS: tuple[str, ...] = (*(key for key, _ in _LAYOUT), "action_mask")
"""The keys of the vector view (its ``Dict`` space holds them sorted by name)."""


def vector_space() -> spaces.Dict:
    """The vector view: card one-hots, street, chips in big blinds, seats and the mask."""
    chips = {"low": 0.0, "high": MAX_CHIPS_BB, "dtype": _F32}
    return spaces.Dict(
        {
            "hole_cards": spaces.Box(0.0, 1.0, (52,), _F32),
            "board": spaces.Box(0.0, 1.0, (52,), _F32),
            "street": spaces.Box(0.0, 1.0, (4,), _F32),
            "pot": spaces.Box(shape=(1,), **chips),
            "to_call": spaces.Box(shape=(1,), **chips),
            "stacks": spaces.Box(shape=(MAX_PLAYERS,), **chips),
            "bets": spaces.Box(shape=(MAX_PLAYERS,), **chips),
            "in_hand": spaces.Box(0.0, 1.0, (MAX_PLAYERS,), _F32),
            "position": spaces.Box(0.0, 1.0, (MAX_PLAYERS,), _F32),
            "action_mask": spaces.Box(0, 1, (len(ACTIONS),), np.int8),
        }
    )


def _position(hand: Hand, seat: int) -> int:
    """Seats dealt in from the button to ``seat`` (0: the button, 1: the next seat, ...)."""
    n, dealt, button = hand.n, hand.dealt, hand.button
    return sum(1 for k in range(1, (seat - button) % n + 1) if dealt[(button + k) % n])


def vector_observation(
    hand: Hand, seat: int, mask: Sequence[int], big_blind: int
) -> dict[str, np.ndarray]:
    """The vector view of ``seat`` (fresh arrays every call)."""
    n = hand.n
    scale = 1.0 / big_blind
    stack, bet, in_hand = hand.stack, hand.bet, hand.in_hand
    # One fresh buffer, filled with one scatter and handed out in slices.
    index = [_STREET + hand.street, _POSITION + _position(hand, seat), _POT, _TO_CALL]
    to_call = 0 if hand.over else max(0, hand.current_bet - bet[seat])
    value = [1.0, 1.0, hand.pot * scale, to_call * scale]
    cards = hand.hole[seat]
    if cards is not None:
        index += cards
        value += _TWO_ONES
    shown = hand.board
    if shown:
        index += [_BOARD + c for c in shown]
        value += [1.0] * len(shown)
    for k in range(n):
        j = (seat + k) % n
        index += (_STACKS + k, _BETS + k, _IN_HAND + k)
        value += (stack[j] * scale, bet[j] * scale, 1.0 if in_hand[j] else 0.0)
    buffer = np.zeros(_SIZE, _F32)
    buffer[index] = value
    obs = {key: buffer[low:high] for key, low, high in _SLICES}
    obs["action_mask"] = np.array(mask, np.int8)
    return obs


def action_texts(hand: Hand, mask: Sequence[int]) -> list[str]:
    """The text of every action index for the seat to act; masked ones keep their name."""
    names = list(ACTIONS)
    seat = hand.to_act
    if seat < 0:
        return names
    bet, stack = hand.bet[seat], hand.stack[seat]
    to_call = hand.current_bet - bet
    if mask[1]:
        if to_call <= 0:
            names[1] = "check"
        elif to_call >= stack:
            names[1] = f"call {stack} (all in)"
        else:
            names[1] = f"call {to_call}"
    verb = "raise to" if hand.current_bet else "bet"
    if mask[2] or mask[3] or mask[4]:
        targets = hand.raise_targets()
        for k, label in enumerate(("min", "half pot", "pot")):
            if mask[2 + k]:
                names[2 + k] = f"{verb} {targets[k]} ({label})"
    if mask[5]:
        names[5] = f"all in ({verb} {bet + stack})"
    return names


def format_action(action: tuple[str, int, str, int, bool], players: Sequence[str]) -> str:
    """One engine action as text, like ``player_2 raise to 6`` or ``player_0 call 4 all-in``."""
    _, seat, kind, amount, all_in = action
    if kind in ("fold", "check"):
        text = f"{players[seat]} {kind}"
    elif kind == "raise":
        text = f"{players[seat]} raise to {amount}"
    else:
        text = f"{players[seat]} {kind} {amount}"
    return text + " all-in" if all_in else text


def result_lines(hand: Hand, players: Sequence[str]) -> list[str]:
    """How a finished hand ended: hands shown and chips won."""
    lines = []
    for seat, amount in enumerate(hand.returned):
        if amount:
            lines.append(f"uncalled {amount} returned to {players[seat]}")
    for seat, score in hand.scores.items():
        first, second = hand.hole[seat]  # type: ignore[misc]
        category = CATEGORIES[score >> 26]
        lines.append(f"{players[seat]} shows {CARD_NAMES[first]} {CARD_NAMES[second]} {category}")
    for seat, won in enumerate(hand.payouts):
        if won:
            lines.append(f"{players[seat]} wins {won}")
    return lines


def text_view(
    hand: Hand,
    seat: int,
    players: Sequence[str],
    names: Sequence[str],
    mask: Sequence[int],
    hand_number: int,
    hands: int,
) -> str:
    """The text view of ``seat``: the table, its cards, the betting so far and its options."""
    n = hand.n
    cards = hand.hole[seat]
    shown = " ".join(CARD_NAMES[c] for c in hand.board) or "none"
    status = "hand over" if hand.over else f"{players[hand.to_act]} to act"
    lines = [
        TEXT_VERSION,
        f"hand {hand_number} of {hands}, you are {players[seat]}, {status}",
        f"blinds {hand.small_blind}/{hand.big_blind} ante {hand.ante}, "
        f"button {players[hand.button]}",
        f"street {STREETS[hand.street]}, board {shown}, pot {hand.pot}",
    ]
    if cards is None:
        lines.append("you sit out this hand")
    else:
        to_call = 0 if hand.over else max(0, hand.current_bet - hand.bet[seat])
        lines.append(
            f"your cards {CARD_NAMES[cards[0]]} {CARD_NAMES[cards[1]]}, stack "
            f"{hand.stack[seat]}, bet {hand.bet[seat]}, to call {to_call}"
        )
    for k in range(n):
        j = (seat + k) % n
        tag = " (you)" if j == seat else ""
        if not hand.dealt[j]:
            lines.append(f"{players[j]}{tag} sits out")
        elif not hand.in_hand[j]:
            lines.append(f"{players[j]}{tag} folded, stack {hand.stack[j]}")
        else:
            lines.append(f"{players[j]}{tag} stack {hand.stack[j]} bet {hand.bet[j]}")
    history = hand.actions[-_HISTORY_LIMIT:]
    parts, street = [], ""
    for action in history:
        prefix = ""
        if action[0] != street:
            street = action[0]
            prefix = street + ": "
        parts.append(prefix + format_action(action, players))
    skipped = len(hand.actions) - len(history)
    lines.append("actions: " + ("... " if skipped else "") + "; ".join(parts))
    if hand.over:
        lines.append("result: " + "; ".join(result_lines(hand, players)))
    elif seat == hand.to_act:
        legal = " | ".join(f"{k} {names[k]}" for k in range(len(names)) if mask[k])
        lines.append("legal: " + legal)
    return "\n".join(lines)[:MAX_TEXT_LENGTH]
