"""``AdaptiveTagAgent``: the tight-aggressive hold'em player that adjusts to its opponents.

:class:`AdaptiveTagAgent` plays the built-in ``tag`` heuristic
(:mod:`palaestra.envs.holdem.opponents`, the player of
:class:`~palaestra.agents.holdem_baselines.TagAgent`) and changes its choice where its
:class:`~palaestra.memory.holdem.OpponentModel` says the opponents still in the hand play
in a way the heuristic does not expect. A belief is acted on only for players seen in at
least ``min_hands`` hands (its counts), and all of them must agree:

- **Bluff the folders.** When every opponent in the hand folds to a bet or raise often
  (shrunk fold-to-raise >= ``fold_high``) and the heuristic would check or fold with
  nothing to call beyond the big blind, it bets or raises half the pot (the smallest legal
  size if that one is masked) with probability ``bluff_rate``, drawn from its own seeded
  generator.
- **Value-bet thinner against calling stations.** When every opponent in the hand rarely
  folds (fold-to-raise <= ``fold_low``), it raises pre-flop the hands the heuristic only
  calls (when no one has raised yet), and bets half the pot after the flop with any pair
  that uses a hole card when checked to; it never bluffs them.
- **Believe the rare raiser.** Facing a bet or raise made on this street by a player who
  rarely raises (pre-flop: shrunk PFR <= ``pfr_low``; after the flop: shrunk aggression
  <= ``aggression_low``), it folds what the heuristic would only call (pre-flop: a hand
  outside ``tag``'s raising range; after the flop: less than two pair), unless the pot
  lays it better than 3 to 1 (the call is at most a quarter of the pot after calling).

Its own cards, the board and the bets it reads from the simulator (``env.unwrapped.hand``,
the hole cards of its own seat and public chips, as ``TagAgent`` does), so it takes the env
in its constructor; what it believes about the other players comes only from the
observations and infos it is given (:meth:`AdaptiveTagAgent.act` and
:meth:`AdaptiveTagAgent.observe`). Give it the info of every step, the last one of an
episode included (``observe``), or it misses how hands end: in ``palaestra/Holdem-v0`` the
terminal step's info holds the final hand's showdown and the hand history.

``memory="hand"`` forgets all beliefs when each hand ends (the ablation of the benchmark);
``memory="persistent"`` (default) keeps them across hands and episodes, and across
sessions with a ``store``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from palaestra.agents.holdem_baselines import resolve_seat
from palaestra.envs.holdem.cards import CARD_BIT
from palaestra.envs.holdem.engine import (
    ALL_IN,
    CHECK_CALL,
    FOLD,
    RAISE_HALF_POT,
    RAISE_MIN,
    RAISE_POT,
    STREETS,
)
from palaestra.envs.holdem.evaluator import rank_bits
from palaestra.envs.holdem.opponents import tag
from palaestra.memory.holdem import OpponentModel

__all__ = ["AdaptiveConfig", "AdaptiveTagAgent"]

MEMORY_MODES = ("persistent", "hand")
_RAISES = (RAISE_MIN, RAISE_HALF_POT, RAISE_POT, ALL_IN)


@dataclass(frozen=True)
class AdaptiveConfig:
    """When :class:`AdaptiveTagAgent` trusts a belief, and how it acts on it."""

    min_hands: int = 8
    """Hands a player must have been seen in before a belief about it is used."""
    fold_high: float = 0.6
    """Shrunk fold-to-raise from which a player counts as a folder (bluff it)."""
    fold_low: float = 0.2
    """Shrunk fold-to-raise up to which a player counts as a calling station."""
    pfr_low: float = 0.15
    """Shrunk pre-flop raise rate up to which a pre-flop raise is believed."""
    aggression_low: float = 0.3
    """Shrunk aggression up to which a bet after the flop is believed."""
    bluff_rate: float = 0.75
    """Probability of bluffing when the folder rule applies."""

    def __post_init__(self) -> None:
        if isinstance(self.min_hands, bool) or not isinstance(self.min_hands, int):
            raise ValueError(f"min_hands must be an int >= 0; got {self.min_hands!r}")
        if self.min_hands < 0:
            raise ValueError(f"min_hands must be >= 0; got {self.min_hands}")
        for name in ("fold_high", "fold_low", "pfr_low", "aggression_low", "bluff_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {value!r}")


def _made_hand(hand: Any, seat: int) -> int:
    """0: nothing, 1: a pair using a hole card, 2: two pair or better that uses the hole cards."""
    first, second = hand.hole[seat]
    board = 0
    for card in hand.board:
        board |= CARD_BIT[card]
    score = rank_bits(board | CARD_BIT[first] | CARD_BIT[second])
    category = score >> 26
    if category >= 2 and (len(hand.board) < 5 or score > rank_bits(board)):
        return 2
    if category == 1:
        pair_rank = ((score >> 13) & 0x1FFF).bit_length() - 1
        if pair_rank in (first % 13, second % 13):
            return 1
    return 0


def _playable(first: int, second: int) -> bool:
    """Whether ``tag`` would play the hole cards pre-flop (its calling or raising range)."""
    high, low = max(first % 13, second % 13), min(first % 13, second % 13)
    suited = first // 13 == second // 13
    return (
        high == low
        or low >= 8
        or (suited and high == 12)
        or (suited and high - low == 1 and low >= 6)
    )


def _raising(first: int, second: int) -> bool:
    """Whether the hole cards are in ``tag``'s pre-flop raising range."""
    high, low = max(first % 13, second % 13), min(first % 13, second % 13)
    suited = first // 13 == second // 13
    if high == low:
        return high >= 7
    return (high == 12 and (low >= 10 or (suited and low == 9))) or (
        suited and high == 11 and low == 10
    )


def _pick(mask: list[int], preferred: int) -> int | None:
    for action in (preferred, *_RAISES):
        if mask[action]:
            return action
    return None


class AdaptiveTagAgent:
    """A ``tag`` player that acts on an opponent model (see the module).

    Args:
        env: ``palaestra/Holdem-v0`` or ``palaestra/holdem-v0`` (wrapped or not).
        seat: For ``holdem-v0``, the agent it plays; for ``Holdem-v0``, None (the learner).
        seed: Seed of its generator (bluffs); ``reset(seed)`` reseeds it.
        model: The opponent model to use (default: a new one; ``store``, ``memory_agent``
            and ``identities`` go to it).
        store: A :class:`~palaestra.memory.store.MemoryStore` for the model, or None.
        memory_agent: The model's name in the store.
        identities: Seat name -> identity of its player (see :class:`OpponentModel`).
        memory: ``"persistent"`` or ``"hand"`` (forget beliefs after every hand).
        config: The thresholds (:class:`AdaptiveConfig`).

    Raises:
        ValueError: a non-hold'em env, a bad seat or an unknown memory mode.
    """

    def __init__(
        self,
        env: Any,
        seat: str | None = None,
        *,
        seed: int | None = None,
        model: OpponentModel | None = None,
        store: Any = None,
        memory_agent: str | None = None,
        identities: Mapping[str, str] | None = None,
        memory: str = "persistent",
        config: AdaptiveConfig | None = None,
    ) -> None:
        unwrapped, self._seat = resolve_seat(env, seat, "AdaptiveTagAgent")
        if memory not in MEMORY_MODES:
            raise ValueError(f"memory must be one of {MEMORY_MODES}; got {memory!r}")
        self.env = unwrapped
        self.memory = memory
        self.config = config or AdaptiveConfig()
        start = seat if seat is not None else f"player_{unwrapped.seat or 0}"
        self.model = model or OpponentModel(
            start, store=store, memory_agent=memory_agent, identities=identities
        )
        self._identities = identities
        self.rng = np.random.default_rng(seed)
        self._counts = {"decisions": 0, "bluffs": 0, "thin_value": 0, "believed_raises": 0}

    # ----------------------------------------------------------------- interface
    def reset(self, seed: int | None = None) -> None:
        """Reseed the generator when ``seed`` is given; beliefs about players are kept."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def observe(self, observation: Any, info: Mapping[str, Any] | None) -> None:
        """Feed the opponent model one step's info (call it for steps it does not act in)."""
        seat = self._seat_index()
        if seat is not None and self.model.seat != f"player_{seat}":
            self.model.set_seat(f"player_{seat}", self._identities)
        if self.model.observe(observation, info) and self.memory == "hand":
            self.model.clear()

    def stats(self) -> dict[str, float]:
        """Decisions taken and how many each belief rule changed, and hands it has counted."""
        return {**{k: float(v) for k, v in self._counts.items()},
                "hands_counted": float(self.model.hands_counted)}  # fmt: skip

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> int:
        """The action for its seat of the running hand (``observation``/``info`` feed the model).

        Raises:
            ValueError: when it is not its seat's turn.
        """
        self.observe(observation, info)
        hand = self.env.hand
        seat = self._seat_index()
        if seat is None or hand.to_act != seat:
            raise ValueError(
                f"AdaptiveTagAgent: it is not its seat's turn (seat {seat}, "
                f"{'the hand is over' if hand.to_act < 0 else f'player_{hand.to_act} acts'})"
            )
        mask = hand.legal_mask()
        action = int(tag(hand, seat, mask, self.rng))
        self._counts["decisions"] += 1
        return self._adjust(hand, seat, mask, action)

    # ----------------------------------------------------------------- beliefs
    def _seat_index(self) -> int | None:
        if self._seat is not None:
            return self._seat
        return self.env.learner_seat if self.env._table is not None else None

    def _known(self, hand: Any, seat: int) -> list[str] | None:
        """Identities of the opponents still in the hand, or None if one is too little known."""
        who = []
        for j in range(hand.n):
            if j != seat and hand.in_hand[j]:
                name = self.model.identity(f"player_{j}")
                if self.model.counts(name)["hands"] < self.config.min_hands:
                    return None
                who.append(name)
        return who

    def _last_raiser(self, street: str) -> str | None:
        raiser = None
        for st, player, kind, _ in self.model.current_actions():
            if st == street and kind in ("bet", "raise"):
                raiser = player
        return raiser

    def _adjust(self, hand: Any, seat: int, mask: list[int], action: int) -> int:
        cfg, model = self.config, self.model
        to_call = hand.current_bet - hand.bet[seat]
        preflop = hand.street == 0
        others = self._known(hand, seat)
        if to_call > 0 and action == CHECK_CALL:
            raiser = self._last_raiser(STREETS[hand.street])
            if raiser is not None and raiser != f"player_{seat}":
                name = model.identity(raiser)
                if model.counts(name)["hands"] >= cfg.min_hands:
                    rate = model.rate(name, "pfr" if preflop else "aggression").estimate
                    low = cfg.pfr_low if preflop else cfg.aggression_low
                    weak = not _raising(*hand.hole[seat]) if preflop else _made_hand(hand, seat) < 2
                    cheap = 4 * to_call <= hand.pot + to_call
                    if rate <= low and weak and not cheap and mask[FOLD]:
                        self._counts["believed_raises"] += 1
                        return FOLD
        if not others:
            return action
        folds = [model.rate(n, "fold_to_raise").estimate for n in others]
        unraised = hand.current_bet <= hand.big_blind if preflop else to_call == 0
        if action in _RAISES or not unraised:
            return action
        if all(f <= cfg.fold_low for f in folds):
            strong = _playable(*hand.hole[seat]) if preflop else _made_hand(hand, seat) >= 1
            picked = _pick(mask, RAISE_MIN if preflop else RAISE_HALF_POT) if strong else None
            if picked is not None:
                self._counts["thin_value"] += 1
                return picked
            return action
        if all(f >= cfg.fold_high for f in folds) and self.rng.random() < cfg.bluff_rate:
            picked = _pick(mask, RAISE_HALF_POT)
            if picked is not None:
                self._counts["bluffs"] += 1
                return picked
        return action
