"""A 5-to-7-card poker hand evaluator on bit masks.

A hand is a set of card bits (see :mod:`palaestra.envs.holdem.cards`): four 13-bit fields,
one per suit, each holding the ranks present in that suit. :func:`rank_bits` scores a set
of 5, 6 or 7 cards with a few dozen integer operations and no tables:

* a suit holding 5 or more ranks makes a flush (with 7 cards or fewer, a flush excludes
  quads and full houses, so it is checked first), and a straight within it a straight flush;
* otherwise the four suit fields are added bit-wise (a 3-bit counter per rank) to find the
  ranks held four, three, two and one times;
* straights are 5 consecutive set bits of the rank mask, with the ace also counted below
  the deuce (the wheel A-2-3-4-5, whose top card is the five).

The score is ``category << 26 | primary << 13 | kickers``, where ``primary`` and
``kickers`` are rank masks (or, for straights, the rank of the top card). Within one
category, masks with the same number of bits compare like their ranks sorted from the
highest down, so a higher score is a better hand, equal scores tie, and scores compare
across categories.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from palaestra.envs.holdem.cards import CARD_BIT, parse_cards

__all__ = [
    "CATEGORIES",
    "best_of_five",
    "category",
    "evaluate",
    "rank_bits",
    "rank_cards",
]

CATEGORIES: tuple[str, ...] = (
    "high_card",
    "pair",
    "two_pair",
    "three_of_a_kind",
    "straight",
    "flush",
    "full_house",
    "four_of_a_kind",
    "straight_flush",
)
"""Hand categories from worst to best; a score's category is ``CATEGORIES[score >> 26]``."""

_FIELD = 0x1FFF
_STRAIGHT_FLUSH = 8 << 26
_QUADS = 7 << 26
_FULL_HOUSE = 6 << 26
_FLUSH = 5 << 26
_STRAIGHT = 4 << 26
_TRIPS = 3 << 26
_TWO_PAIR = 2 << 26
_PAIR = 1 << 26


def _straight_top(ranks: int) -> int:
    """The rank of the top card of the best straight in a rank mask, or -1."""
    ext = (ranks << 1) | (ranks >> 12)  # bit 0: the ace played low
    run = ext & (ext >> 1) & (ext >> 2) & (ext >> 3) & (ext >> 4)
    return run.bit_length() + 2 if run else -1


def _top(ranks: int, k: int) -> int:
    """The ``k`` highest ranks of a rank mask."""
    while ranks.bit_count() > k:
        ranks &= ranks - 1
    return ranks


def rank_bits(cards: int) -> int:
    """Score a set of 5 to 7 cards given as card bits; higher is better, equal ties."""
    c = cards & _FIELD
    d = (cards >> 13) & _FIELD
    h = (cards >> 26) & _FIELD
    s = cards >> 39
    for suit in (c, d, h, s):
        if suit.bit_count() >= 5:
            top = _straight_top(suit)
            if top >= 0:
                return _STRAIGHT_FLUSH | top
            return _FLUSH | _top(suit, 5)
    # Per-rank counts, bit-sliced: count = ones + 2 * twos + 4 * fours.
    cd_one = c ^ d
    cd_two = c & d
    hs_one = h ^ s
    hs_two = h & s
    ones = cd_one ^ hs_one
    twos = (cd_one & hs_one) ^ cd_two ^ hs_two
    quads = cd_two & hs_two
    ranks = c | d | h | s
    if quads:
        return _QUADS | quads << 13 | _top(ranks ^ quads, 1)
    trips = ones & twos
    pairs = twos & ~ones
    if trips:
        high = 1 << (trips.bit_length() - 1)
        rest = (trips ^ high) | pairs
        if rest:
            return _FULL_HOUSE | high << 13 | (1 << (rest.bit_length() - 1))
    top = _straight_top(ranks)
    if top >= 0:
        return _STRAIGHT | top
    if trips:
        return _TRIPS | trips << 13 | _top(ranks ^ trips, 2)
    if pairs:
        if pairs & (pairs - 1):
            two = _top(pairs, 2)
            return _TWO_PAIR | two << 13 | _top(ranks ^ two, 1)
        return _PAIR | pairs << 13 | _top(ranks ^ pairs, 3)
    return _top(ranks, 5)


def rank_cards(indices: Iterable[int]) -> int:
    """Score 5 to 7 cards given as card indices (no checks; see :func:`evaluate`)."""
    bits = 0
    for k in indices:
        bits |= CARD_BIT[k]
    return rank_bits(bits)


def category(score: int) -> str:
    """The category name of a score from :func:`rank_bits`."""
    return CATEGORIES[score >> 26]


def best_of_five(indices: Iterable[int]) -> int:
    """The best score over every 5-card subset of the cards (a slow reference)."""
    from itertools import combinations

    return max(rank_cards(five) for five in combinations(list(indices), 5))


def evaluate(cards: Any) -> tuple[str, int]:
    """Evaluate a poker hand of 5 to 7 cards.

    Args:
        cards: Card names like ``["As", "Td", "2c", ...]`` or one string ``"As Td 2c ..."``.

    Returns:
        ``(category, rank)``: the category name (one of :data:`CATEGORIES`) and an integer
        rank: a higher rank wins, equal ranks tie, and ranks compare across categories.

    Raises:
        ValueError: for a bad card name, a duplicate card or fewer than 5 or more than 7
            cards; the message names the card or the count.

    Example:
        >>> evaluate("As Ks Qs Js Ts")[0]
        'straight_flush'
    """
    score = rank_cards(parse_cards(cards, min_count=5, max_count=7, what="a hand"))
    return CATEGORIES[score >> 26], score
