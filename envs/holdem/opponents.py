"""Built-in opponents for ``palaestra/Holdem-v0``.

An opponent is a function ``(hand, seat, mask, rng) -> action`` that picks a legal abstract
action (an index into :data:`~palaestra.envs.holdem.engine.ACTIONS`) for ``seat``, the seat
to act in ``hand``, drawing any randomness from ``rng`` (the env's ``np_random``).

* ``random``: a uniformly random legal action.
* ``calling_station``: always checks or calls.
* ``tag``: tight-aggressive. Pre-flop it raises strong hands (pairs of nines or better,
  ace-king, ace-queen, suited ace-jack, suited king-queen), calls with playable ones
  (other pairs, suited aces, suited connectors from 9-8 up, two cards ten or higher) when
  the call costs at most 4 big blinds, and folds the rest. After the flop it bets or raises
  the pot with two pair or better, bets half the pot with top pair or an overpair, calls a
  bet of at most half the pot with any pair or a four-card flush draw, and otherwise checks
  or folds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from palaestra.envs.holdem.cards import CARD_BIT
from palaestra.envs.holdem.engine import (
    ALL_IN,
    CHECK_CALL,
    FOLD,
    RAISE_HALF_POT,
    RAISE_MIN,
    RAISE_POT,
    Hand,
)
from palaestra.envs.holdem.evaluator import rank_bits

__all__ = ["OPPONENTS", "Opponent", "calling_station", "random_opponent", "tag"]

Opponent = Callable[[Hand, int, Sequence[int], np.random.Generator], int]
"""``(hand, seat, mask, rng) -> action``."""


def random_opponent(hand: Hand, seat: int, mask: Sequence[int], rng: np.random.Generator) -> int:
    """A uniformly random legal action."""
    legal = [k for k in range(len(mask)) if mask[k]]
    return legal[int(rng.integers(len(legal)))]


def calling_station(hand: Hand, seat: int, mask: Sequence[int], rng: np.random.Generator) -> int:
    """Always check or call."""
    return CHECK_CALL


def _passive(mask: Sequence[int], to_call: int) -> int:
    return CHECK_CALL if to_call <= 0 or not mask[FOLD] else FOLD


def _raise(mask: Sequence[int], preferred: int) -> int:
    for action in (preferred, RAISE_POT, RAISE_HALF_POT, RAISE_MIN, ALL_IN):
        if mask[action]:
            return action
    return CHECK_CALL


def _preflop_class(first: int, second: int) -> int:
    """2 for a raising hand, 1 for a calling hand, 0 to fold (ranks 0 = deuce ... 12 = ace)."""
    high, low = max(first % 13, second % 13), min(first % 13, second % 13)
    suited = first // 13 == second // 13
    if high == low:
        return 2 if high >= 7 else 1
    if high == 12 and (low >= 10 or (suited and low == 9)):
        return 2
    if suited and high == 11 and low == 10:
        return 2
    if (suited and high == 12) or (suited and high - low == 1 and low >= 6) or low >= 8:
        return 1
    return 0


def tag(hand: Hand, seat: int, mask: Sequence[int], rng: np.random.Generator) -> int:
    """A tight-aggressive heuristic player (see the module docstring)."""
    first, second = hand.hole[seat]  # type: ignore[misc]
    to_call = hand.current_bet - hand.bet[seat]
    big = hand.big_blind
    if hand.street == 0:
        strength = _preflop_class(first, second)
        if strength == 2:
            return _raise(mask, RAISE_POT if to_call <= 3 * big else RAISE_MIN)
        if strength == 1 and to_call <= 4 * big:
            return CHECK_CALL
        return _passive(mask, to_call)
    board = hand.board
    board_bits = 0
    for card in board:
        board_bits |= CARD_BIT[card]
    score = rank_bits(board_bits | CARD_BIT[first] | CARD_BIT[second])
    category = score >> 26
    if category >= 2 and (len(board) < 5 or score > rank_bits(board_bits)):
        return _raise(mask, RAISE_POT)
    pot = hand.pot
    top_board = max(c % 13 for c in board)
    ranks = (first % 13, second % 13)
    if category == 1:
        paired = (score >> 13) & 0x1FFF
        pair_rank = paired.bit_length() - 1
        if pair_rank >= top_board and pair_rank in ranks:
            if to_call <= 0:
                return _raise(mask, RAISE_HALF_POT)
            return CHECK_CALL if to_call <= pot else _passive(mask, to_call)
        if pair_rank in ranks and to_call * 2 <= pot:
            return CHECK_CALL
    suits = [c // 13 for c in (*board, first, second)]
    flush_draw = any(suits.count(suit) == 4 for suit in range(4))
    if flush_draw and len(board) < 5 and to_call * 2 <= pot:
        return CHECK_CALL
    return _passive(mask, to_call)


OPPONENTS: dict[str, Opponent] = {
    "random": random_opponent,
    "calling_station": calling_station,
    "tag": tag,
}
"""The built-in opponents by name."""
