"""The rules of one hand of no-limit Texas hold'em for 2 to 9 seats.

:class:`Hand` deals one hand from a given card order and takes the actions of the seat to
act until the hand ends, then settles it: uncalled bets, side pots, showdown, payouts and a
hand history. It knows nothing of agents, observations or rewards.

Rules (as played in card rooms under the TDA rules, with a moving button):

* Seats with no chips are not dealt in. Every seat dealt in posts the ante (or what it
  has), then the small blind and the big blind are posted; a seat that cannot cover its
  blind posts all it has. Heads-up (two seats dealt in) the button posts the small blind.
  Pre-flop the amount to call is the full big blind even when the big blind is short,
  except for a seat whose opponents are all all-in: it has nothing to decide once it has
  matched their bets (a button whose small blind covers a short all-in big blind).
* Cards are dealt from the front of the deck: hole cards one at a time to each seat dealt
  in, starting left of the button, two rounds; then the flop (3 cards), the turn and the
  river. There are no burn cards, so a deck is the hole cards then the board.
* Pre-flop the seat left of the big blind acts first (heads-up: the button); after the
  flop, the first seat still in the hand left of the button (heads-up: the big blind).
* A bet or raise must add at least the previous full bet or raise of the street (at least
  the big blind) unless it puts the player all-in. An all-in for less does not reopen the
  betting: a player who has already acted may only call or fold, unless the bet now facing
  them has grown by at least a full raise since they acted. Raising needs an opponent who
  still has chips behind.
* When at most one seat still in the hand has chips and it has matched every other bet,
  the board runs out with no more betting. The part of the largest contribution nobody
  matched is returned, and so would be chips of folded seats above every contribution
  still in the hand (a safeguard: a folded seat always faced a larger bet).
* Side pots are layered by contribution; each goes to the best hand among the seats still
  in the hand that contributed to it. Split pots give the odd chips one at a time to the
  winners in seat order starting left of the button.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from palaestra.envs.holdem.cards import CARD_BIT, CARD_NAMES
from palaestra.envs.holdem.evaluator import CATEGORIES, rank_bits

__all__ = [
    "ACTIONS",
    "ALL_IN",
    "CHECK_CALL",
    "FOLD",
    "RAISE_HALF_POT",
    "RAISE_MIN",
    "RAISE_POT",
    "STREETS",
    "Hand",
    "cards_needed",
]  # fmt: skip

STREETS = ("preflop", "flop", "turn", "river")
"""Betting rounds, in order."""
ACTIONS = ("fold", "check_call", "raise_min", "raise_half_pot", "raise_pot", "all_in")
"""The abstract actions, by index."""
FOLD, CHECK_CALL, RAISE_MIN, RAISE_HALF_POT, RAISE_POT, ALL_IN = range(6)
_BOARD_AT = (0, 3, 4, 5)  # board cards showing on each street


def cards_needed(dealt: int) -> int:
    """Cards a deck must hold for a hand with ``dealt`` seats dealt in."""
    return 2 * dealt + 5


class Hand:
    """One hand of no-limit hold'em, from the forced bets to the payouts.

    Args:
        stacks: Chips of every seat before the hand (seats with 0 sit out).
        button: The button's seat; it must have chips.
        small_blind: The small blind.
        big_blind: The big blind (at least 1).
        ante: The ante every seat dealt in posts (0 for none).
        deck: Card indices in dealing order, at least :func:`cards_needed` of them.

    Attributes:
        to_act: The seat to act, or -1 once the hand is over.
        street: Index into :data:`STREETS` of the current betting round.
        stack: Chips behind of every seat.
        bet: Chips every seat has put in on this street.
        contrib: Chips every seat has put in this hand (antes included); after the hand,
            less what was returned.
        returned: Chips returned to every seat at the end (uncalled bets).
        in_hand: Whether each seat is dealt in and has not folded.
        current_bet: The street bet to match.
        min_raise: The smallest raise increment (the last full bet or raise of the street).
        actions: ``(street, seat, action, amount, all_in)`` tuples: forced bets
            (``ante``, ``small_blind``, ``big_blind``), then ``fold``, ``check``, ``call``
            (amount: chips added), ``bet`` and ``raise`` (amount: the street bet it makes).
    """

    __slots__ = (
        "_mask",
        "acted",
        "actions",
        "ante",
        "bb_seat",
        "bet",
        "big_blind",
        "board_cards",
        "button",
        "contrib",
        "current_bet",
        "dealt",
        "hole",
        "in_hand",
        "level",
        "min_raise",
        "n",
        "payouts",
        "pots",
        "returned",
        "sb_seat",
        "scores",
        "showdown",
        "small_blind",
        "stack",
        "stacks_before",
        "street",
        "to_act",
    )  # fmt: skip

    def __init__(
        self,
        stacks: Sequence[int],
        button: int,
        small_blind: int,
        big_blind: int,
        ante: int,
        deck: Sequence[int],
    ) -> None:
        n = len(stacks)
        self.n = n
        self.button = button
        self.small_blind = small_blind
        self.big_blind = big_blind
        self.ante = ante
        self.stacks_before = list(stacks)
        self.stack = list(stacks)
        self.bet = [0] * n
        self.contrib = [0] * n
        self.dealt = [s > 0 for s in stacks]
        self.in_hand = list(self.dealt)
        self.acted = [False] * n
        self.level = [0] * n
        self.actions: list[tuple[str, int, str, int, bool]] = []
        self.payouts = [0] * n
        self.pots: list[tuple[int, list[int]]] = []
        self.showdown = False
        self.returned = [0] * n
        self.scores: dict[int, int] = {}
        self._mask: list[int] | None = None
        self.street = 0
        order = self._seats_from(button + 1)
        dealt = len(order)
        if dealt < 2 or not self.dealt[button]:
            raise ValueError("a hand needs two seats with chips, the button among them")
        if len(deck) < cards_needed(dealt):
            raise ValueError(f"the deck holds {len(deck)} cards; {cards_needed(dealt)} needed")
        self.hole: list[tuple[int, int] | None] = [None] * n
        for k, seat in enumerate(order):
            self.hole[seat] = (deck[k], deck[k + dealt])
        self.board_cards = tuple(deck[2 * dealt : 2 * dealt + 5])
        if ante:
            for seat in order:
                self._post(seat, ante, "ante")
        if dealt == 2:
            self.sb_seat, self.bb_seat = button, order[0]
        else:
            self.sb_seat, self.bb_seat = order[0], order[1]
        self._post(self.sb_seat, small_blind, "small_blind")
        self._post(self.bb_seat, big_blind, "big_blind")
        self.current_bet = big_blind
        self.min_raise = big_blind
        self.to_act = -1
        first = self.sb_seat if dealt == 2 else self._next_dealt(self.bb_seat)
        self._continue_from(first)

    # ------------------------------------------------------------------ seats
    def _seats_from(self, start: int) -> list[int]:
        n = self.n
        return [(start + k) % n for k in range(n) if self.dealt[(start + k) % n]]

    def _next_dealt(self, seat: int) -> int:
        n = self.n
        for k in range(1, n + 1):
            if self.dealt[(seat + k) % n]:
                return (seat + k) % n
        return seat

    def _post(self, seat: int, amount: int, kind: str) -> None:
        amount = min(amount, self.stack[seat])
        self.stack[seat] -= amount
        self.contrib[seat] += amount
        if kind != "ante":
            self.bet[seat] += amount
        self.actions.append((STREETS[0], seat, kind, amount, self.stack[seat] == 0))

    # ------------------------------------------------------------------ queries
    @property
    def over(self) -> bool:
        """Whether the hand has ended (and been settled)."""
        return self.to_act < 0

    @property
    def pot(self) -> int:
        """Chips in the middle, current street bets included."""
        return sum(self.contrib)

    @property
    def board(self) -> tuple[int, ...]:
        """The board cards showing now (all five after a showdown)."""
        return self.board_cards[: _BOARD_AT[self.street]]

    def to_call(self, seat: int) -> int:
        """Chips ``seat`` must add to call (not capped by its stack)."""
        return self.current_bet - self.bet[seat]

    def can_raise(self, seat: int) -> bool:
        """Whether the betting is open to ``seat`` and someone could answer a raise."""
        if self.acted[seat] and self.current_bet - self.level[seat] < self.min_raise:
            return False
        stack, in_hand = self.stack, self.in_hand
        return any(stack[j] and in_hand[j] and j != seat for j in range(self.n))

    def raise_targets(self) -> tuple[int, int, int]:
        """The street bets of ``raise_min``, ``raise_half_pot`` and ``raise_pot`` now.

        ``raise_min`` adds the minimum raise to the current bet; ``raise_pot`` calls and then
        raises by the pot after the call (current bet + pot + amount to call);
        ``raise_half_pot`` raises by half of that, rounded down.
        """
        seat = self.to_act
        current = self.current_bet
        after_call = sum(self.contrib) + current - self.bet[seat]
        return current + self.min_raise, current + after_call // 2, current + after_call

    def legal_mask(self) -> list[int]:
        """Which of :data:`ACTIONS` the seat to act may take (1 = legal).

        ``fold`` only when there is something to call; ``check_call`` always (a call for
        more than the stack puts the seat all-in); the three raise sizes when the betting is
        open to the seat, the size is at least the minimum raise and it leaves chips behind;
        ``all_in`` when the betting is open and the stack exceeds the amount to call. All
        zeros once the hand is over.
        """
        if self._mask is not None:
            return list(self._mask)
        seat = self.to_act
        if seat < 0:
            return [0, 0, 0, 0, 0, 0]
        bet = self.bet[seat]
        to_call = self.current_bet - bet
        mask = [1 if to_call > 0 else 0, 1, 0, 0, 0, 0]
        stack = self.stack[seat]
        if stack > to_call and self.can_raise(seat):
            mask[ALL_IN] = 1
            targets = self.raise_targets()
            low = targets[0]
            for k in range(3):
                target = targets[k]
                if target >= low and target - bet < stack:
                    mask[RAISE_MIN + k] = 1
        self._mask = mask
        return list(mask)

    # ------------------------------------------------------------------ actions
    def act(self, action: int) -> None:
        """Take abstract action ``action`` (an index into :data:`ACTIONS`) for the seat to act.

        Raises:
            ValueError: if the action is not legal now.
        """
        if not self.legal_mask()[action]:
            raise ValueError(f"action {ACTIONS[action]} is not legal now")
        if action == FOLD:
            self.fold()
        elif action == CHECK_CALL:
            self.check_call()
        elif action == ALL_IN:
            seat = self.to_act
            self.raise_to(self.bet[seat] + self.stack[seat])
        else:
            self.raise_to(self.raise_targets()[action - RAISE_MIN])

    def fold(self) -> None:
        """The seat to act folds."""
        seat = self._actor()
        self.in_hand[seat] = False
        self.actions.append((STREETS[self.street], seat, "fold", 0, False))
        if sum(self.in_hand) == 1:
            self._settle()
        else:
            self._continue_from(seat + 1)

    def check_call(self) -> None:
        """The seat to act checks, or calls (all-in when its stack is short)."""
        seat = self._actor()
        amount = min(self.current_bet - self.bet[seat], self.stack[seat])
        if amount > 0:
            self.stack[seat] -= amount
            self.bet[seat] += amount
            self.contrib[seat] += amount
        kind = "call" if amount > 0 else "check"
        all_in = self.stack[seat] == 0
        self.actions.append((STREETS[self.street], seat, kind, amount, all_in))
        self.acted[seat] = True
        self.level[seat] = self.current_bet
        self._continue_from(seat + 1)

    def raise_to(self, total: int) -> None:
        """The seat to act bets or raises so that its street bet becomes ``total``.

        Raises:
            ValueError: if the betting is closed to the seat, ``total`` is below the minimum
                raise without being all-in, or exceeds the seat's chips.
        """
        seat = self._actor()
        add = total - self.bet[seat]
        stack = self.stack[seat]
        increment = total - self.current_bet
        if not self.can_raise(seat):
            raise ValueError(f"seat {seat} may not raise now (call or fold)")
        if add > stack or increment <= 0:
            raise ValueError(f"seat {seat} cannot raise to {total}")
        if increment < self.min_raise and add != stack:
            raise ValueError(
                f"seat {seat}: a raise to {total} is below the minimum raise to "
                f"{self.current_bet + self.min_raise}"
            )
        kind = "raise" if self.current_bet else "bet"
        if increment >= self.min_raise:
            self.min_raise = increment
        self.current_bet = total
        self.stack[seat] -= add
        self.bet[seat] = total
        self.contrib[seat] += add
        self.actions.append((STREETS[self.street], seat, kind, total, add == stack))
        self.acted[seat] = True
        self.level[seat] = total
        self._continue_from(seat + 1)

    def _actor(self) -> int:
        if self.to_act < 0:
            raise ValueError("the hand is over")
        return self.to_act

    # ------------------------------------------------------------------ flow
    def _continue_from(self, start: int) -> None:
        """Give the turn to the first seat from ``start`` that must act, or end the round."""
        self._mask = None
        n, in_hand, stack, bet, acted = self.n, self.in_hand, self.stack, self.bet, self.acted
        current = self.current_bet
        live = [j for j in range(n) if in_hand[j] and stack[j]]
        # A lone seat with chips acts only if it has not matched every other seat's bet
        # (a short all-in big blind leaves nothing to decide to a seat that covers it).
        if len(live) > 1 or (
            live and bet[live[0]] < max(bet[j] for j in range(n) if in_hand[j] and j != live[0])
        ):
            for k in range(n):
                seat = (start + k) % n
                if in_hand[seat] and stack[seat] and (not acted[seat] or bet[seat] < current):
                    self.to_act = seat
                    return
        # The betting round is over.
        if self.street == 3 or len(live) < 2:
            self.street = 3
            self._settle()
            return
        self.street += 1
        self.bet = [0] * n
        self.acted = [False] * n
        self.level = [0] * n
        self.current_bet = 0
        self.min_raise = self.big_blind
        self._continue_from(self.button + 1)

    def _settle(self) -> None:
        """Return the uncalled bet, build the pots, show down and pay out."""
        self.to_act = -1
        n, contrib, in_hand = self.n, self.contrib, self.in_hand
        top = max(range(n), key=contrib.__getitem__)
        second = max((contrib[j] for j in range(n) if j != top), default=0)
        returned = self.returned
        if contrib[top] > second:
            returned[top] = contrib[top] - second
        cap = max(contrib[j] - returned[j] for j in range(n) if in_hand[j])
        for j in range(n):
            excess = contrib[j] - returned[j] - cap
            if excess > 0:
                returned[j] += excess
        for j in range(n):
            if returned[j]:
                contrib[j] -= returned[j]
                self.stack[j] += returned[j]
        levels = sorted({c for c in contrib if c > 0})
        pots: list[tuple[int, list[int]]] = []
        previous = 0
        for level in levels:
            amount = sum(min(c, level) - min(c, previous) for c in contrib)
            eligible = [j for j in range(n) if in_hand[j] and contrib[j] >= level]
            if pots and pots[-1][1] == eligible:
                pots[-1] = (pots[-1][0] + amount, eligible)
            else:
                pots.append((amount, eligible))
            previous = level
        self.pots = pots
        payouts = self.payouts
        remaining = [j for j in range(n) if in_hand[j]]
        if len(remaining) == 1:
            payouts[remaining[0]] = sum(amount for amount, _ in pots)
        else:
            self.showdown = True
            board = 0
            for card in self.board_cards:
                board |= CARD_BIT[card]
            scores = self.scores
            for j in remaining:
                first, second_card = self.hole[j]  # type: ignore[misc]
                scores[j] = rank_bits(board | CARD_BIT[first] | CARD_BIT[second_card])
            for amount, eligible in pots:
                best = max(scores[j] for j in eligible)
                winners = [j for j in eligible if scores[j] == best]
                share, odd = divmod(amount, len(winners))
                for j in winners:
                    payouts[j] += share
                if odd:
                    winners.sort(key=lambda j: (j - self.button - 1) % n)
                    for j in winners[:odd]:
                        payouts[j] += 1
        for j in range(n):
            self.stack[j] += payouts[j]

    # ------------------------------------------------------------------ record
    def history(self, players: Sequence[str]) -> dict[str, Any]:
        """The hand history, with seats named by ``players`` (call once the hand is over).

        Every list is indexed by seat. ``stacks_after = stacks_before - contributions +
        payouts`` for every seat, and the pots add up to the contributions.
        """
        name = players.__getitem__
        hole = [None if h is None else [CARD_NAMES[h[0]], CARD_NAMES[h[1]]] for h in self.hole]
        shown = {j: CATEGORIES[s >> 26] for j, s in self.scores.items()}
        return {
            "players": list(players),
            "button": name(self.button),
            "small_blind": self.small_blind,
            "big_blind": self.big_blind,
            "ante": self.ante,
            "stacks_before": list(self.stacks_before),
            "stacks_after": list(self.stack),
            "contributions": list(self.contrib),
            "folded": [self.dealt[j] and not self.in_hand[j] for j in range(self.n)],
            "hole_cards": hole,
            "board": [CARD_NAMES[c] for c in self.board],
            "actions": [
                {"street": st, "player": name(j), "action": a, "amount": x, "all_in": ai}
                for st, j, a, x, ai in self.actions
            ],
            "uncalled": {name(j): x for j, x in enumerate(self.returned) if x},
            "pots": [{"amount": a, "eligible": [name(j) for j in e]} for a, e in self.pots],
            "showdown": self.showdown,
            "hands_shown": {name(j): c for j, c in shown.items()},
            "payouts": list(self.payouts),
        }
