"""Cards: parsing, printing and the integer encoding the engine and evaluator share.

A card is written as two characters, rank then suit: ``"As"``, ``"Td"``, ``"2c"``. Ranks are
``23456789TJQKA`` and suits ``c d h s`` (clubs, diamonds, hearts, spades); parsing accepts
either case and returns the canonical spelling (upper-case rank, lower-case suit).

Inside the engine a card is an integer ``13 * suit + rank`` in ``[0, 52)``, with rank ``0``
for a deuce up to ``12`` for an ace and suit ``0..3`` in the order ``c d h s``. Card ``k`` is
bit ``k`` of a 52-bit set of cards, so the ranks held in one suit are a 13-bit field of that
set: the evaluator reads a hand straight from the OR of its cards' bits. The same index is
the position of a card in the one-hot vectors of the observations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "CARD_BIT",
    "CARD_NAMES",
    "RANKS",
    "SUITS",
    "card_index",
    "card_name",
    "cards_text",
    "parse_cards",
]

RANKS = "23456789TJQKA"
"""Rank characters from deuce (rank 0) to ace (rank 12)."""
SUITS = "cdhs"
"""Suit characters in index order: clubs, diamonds, hearts, spades."""

CARD_NAMES: tuple[str, ...] = tuple(r + s for s in SUITS for r in RANKS)
"""The name of every card index: ``CARD_NAMES[13 * suit + rank]``."""
CARD_BIT: tuple[int, ...] = tuple(1 << k for k in range(52))
"""The bit of every card index in a card set."""

_INDEX: dict[str, int] = {}
for _k, _name in enumerate(CARD_NAMES):
    for _r in {_name[0], _name[0].lower()}:
        for _s in {_name[1], _name[1].upper()}:
            _INDEX[_r + _s] = _k


def card_index(card: Any) -> int:
    """The index of a card written like ``"As"``.

    Raises:
        ValueError: if ``card`` is not a string naming one of the 52 cards; the message
            names it.
    """
    index = _INDEX.get(card) if isinstance(card, str) else None
    if index is None:
        raise ValueError(
            f"bad card {card!r}: a card is a rank from {RANKS} followed by a suit from "
            f"{SUITS}, like 'As', 'Td' or '2c'"
        )
    return index


def card_name(index: int) -> str:
    """The canonical name of card ``index`` (``0`` -> ``"2c"``, ``51`` -> ``"As"``)."""
    return CARD_NAMES[index]


def cards_text(indices: Iterable[int]) -> str:
    """Card indices written as names separated by spaces (``"As Kd"``)."""
    return " ".join(CARD_NAMES[k] for k in indices)


def parse_cards(
    cards: Any, *, min_count: int = 0, max_count: int = 52, what: str = "cards"
) -> list[int]:
    """Parse distinct cards given as a sequence of names or one space-separated string.

    Args:
        cards: ``["As", "Kd"]`` or ``"As Kd"``.
        min_count: The fewest cards allowed.
        max_count: The most cards allowed.
        what: What the cards are, for messages (``"deck"``, ``"cards"``).

    Returns:
        The card indices in the given order.

    Raises:
        ValueError: for a bad card name, a duplicate card or a wrong count; the message
            names the card or the count.
    """
    if isinstance(cards, str):
        names: Sequence[Any] = cards.split()
    elif isinstance(cards, (list, tuple)):
        names = cards
    else:
        raise ValueError(
            f"{what} must be a list of card names or one string of names separated by "
            f"spaces, got {cards!r}"
        )
    indices: list[int] = []
    seen: set[int] = set()
    for name in names:
        index = card_index(name)
        if index in seen:
            raise ValueError(f"duplicate card {CARD_NAMES[index]!r} in {what}")
        seen.add(index)
        indices.append(index)
    if not min_count <= len(indices) <= max_count:
        span = str(min_count) if min_count == max_count else f"{min_count} to {max_count}"
        raise ValueError(f"{what} must hold {span} cards, got {len(indices)}")
    return indices
