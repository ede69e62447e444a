"""A table that plays one or more hands in a row, shared by both hold'em envs.

Stacks carry over from hand to hand; after each hand the button moves to the next seat
clockwise that still has chips, and seats without chips sit out. The first hand uses the
task's ``deck`` when it has one; every other deck is shuffled with the generator given.
The table stops after ``hands`` hands, when fewer than two seats have chips, or when a
seat it is told to keep has none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from palaestra.envs.holdem.cards import CARD_NAMES, card_index
from palaestra.envs.holdem.engine import STREETS, Hand
from palaestra.envs.holdem.views import format_action, result_lines

__all__ = ["Table"]

_STREET_CARDS = ((0, 0), (0, 3), (3, 4), (4, 5))  # board cards a street adds


class Table:
    """Hands played in a row with stacks carried over.

    Args:
        task: A complete, valid hold'em task.
        hands: The most hands to play.
        rng: The generator that shuffles decks.
        players: The name of every seat.
        keep: A seat whose bust also stops the table (``None``: no such seat).

    Attributes:
        hand: The current (or, once ``done``, the last) hand.
        stacks: Chips of every seat before the current hand (after the last one once done).
        hands_played: Hands finished so far.
        history: The hand history of the last finished hand, or ``None``.
        done: Whether the table has stopped.
        events: What every seat witnessed since :meth:`take_events` was last called.
    """

    def __init__(
        self,
        task: Mapping[str, Any],
        hands: int,
        rng: np.random.Generator,
        players: Sequence[str],
        keep: int | None = None,
    ) -> None:
        self.task = task
        self.hands = hands
        self.rng = rng
        self.players = list(players)
        self.n = len(players)
        self.keep = keep
        self.big_blind: int = task["big_blind"]
        self.stacks: list[int] = list(task["stacks"])
        self.button: int = task["button"]
        self.hands_played = 0
        self.history: dict[str, Any] | None = None
        self.done = False
        self.events: list[str] = []
        deck = task["deck"]
        self.hand = self._deal(None if deck is None else [card_index(c) for c in deck])

    def _deal(self, deck: list[int] | None) -> Hand:
        if deck is None:
            deck = self.rng.permutation(52).tolist()
        task = self.task
        hand = Hand(
            self.stacks, self.button, task["small_blind"], self.big_blind, task["ante"], deck
        )
        self.events.append(f"hand {self.hands_played + 1}: button {self.players[self.button]}")
        self._logged = 0
        self._street = 0
        return hand

    @property
    def hand_number(self) -> int:
        """The number of the current hand (of the last one once the table is done), from 1."""
        return self.hands_played if self.done else self.hands_played + 1

    def start(self) -> list[int]:
        """Settle hands that end before anyone acts; return each seat's chip change."""
        return self._after_action()

    def act(self, action: int) -> list[int]:
        """Take abstract ``action`` for the seat to act; return each seat's chip change.

        The change is that of the hands finished by this action (zeros while the hand goes
        on). When a hand ends and the table goes on, the next hand is dealt at once.
        """
        self.hand.act(action)
        return self._after_action()

    def take_events(self) -> list[str]:
        """The events since the last call, oldest first."""
        events, self.events = self.events, []
        return events

    def _log(self) -> None:
        hand, players, events = self.hand, self.players, self.events
        actions = hand.actions
        for k in range(self._logged, len(actions)):
            events.append(format_action(actions[k], players))
        self._logged = len(actions)
        while self._street < hand.street:
            self._street += 1
            low, high = _STREET_CARDS[self._street]
            cards = " ".join(CARD_NAMES[c] for c in hand.board_cards[low:high])
            events.append(f"{STREETS[self._street]}: {cards}")

    def _after_action(self) -> list[int]:
        deltas = [0] * self.n
        self._log()
        while self.hand.over:
            hand = self.hand
            for seat in range(self.n):
                deltas[seat] += hand.stack[seat] - hand.stacks_before[seat]
            self.stacks = list(hand.stack)
            self.hands_played += 1
            self.history = hand.history(self.players)
            self.events.extend(result_lines(hand, self.players))
            if (
                self.hands_played >= self.hands
                or sum(1 for s in self.stacks if s) < 2
                or (self.keep is not None and not self.stacks[self.keep])
            ):
                self.done = True
                break
            self.button = next(
                (self.button + k) % self.n
                for k in range(1, self.n + 1)
                if self.stacks[(self.button + k) % self.n]
            )
            self.hand = self._deal(None)
            self._log()
        return deltas
