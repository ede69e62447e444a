"""Beliefs about the other players at a hold'em table, from what one seat saw.

:class:`OpponentModel` is the second theory-of-mind domain of :mod:`palaestra.memory`: what
one seat (the *holder*) believes about the tendencies of every other player and the hands
they showed, built only from the holder's own observations and infos, kept across hands
and, with a :class:`~palaestra.memory.store.MemoryStore`, across sessions.

What it reads (no peeking):
    the public ``events`` of every step (actions, streets with their board cards, the hands
    shown at showdown, chips won) and the public parts of ``info["hand_history"]``
    (``players``, ``button``, ``actions``, ``board``, ``showdown``, ``hands_shown``,
    ``payouts``), both in ``palaestra/Holdem-v0`` and ``palaestra/holdem-v0`` infos. Of
    ``hand_history["hole_cards"]`` it reads only the cards of players in ``hands_shown``
    (turned face up at showdown, seen by every seat); the other seats' cards never reach it.

Feeding:
    call :meth:`OpponentModel.observe` with the holder's observation and info after every
    step it is given (``Holdem-v0``: each ``reset`` and ``step``; ``holdem-v0``: after every
    ``env.step`` of any agent, with ``env.infos[seat]``, since each step's events reach the
    infos of that step only). A finished hand is parsed once: from its events, or from the
    ``hand_history`` of the same info when there is one (authoritative; it replaces the
    events of the hand it describes). The same info object given twice is read once, and a
    ``hand_history`` equal to the last hand counted (same button, actions and board) is
    skipped, so feeding both after ``env.step`` and at ``env.last()`` counts nothing twice.

Statistics (per other player; a *decision* is one of its ``fold``, ``check``, ``call``,
``bet`` or ``raise`` actions, forced bets are not; ``name``: opportunity -> success):

- ``hands``: it appears in the hand's actions, forced bets included (it was dealt in).
- ``vpip``: hands with a pre-flop decision -> a pre-flop call, bet or raise.
- ``pfr``: hands with a pre-flop decision -> a pre-flop bet or raise.
- ``three_bet``: hands where, at one of its pre-flop decisions, exactly one pre-flop raise
  had been made, by another player (the first such decision counts) -> it raised there.
- ``fold_to_raise``: decisions facing a bet or raise, i.e. another player bet or raised on
  this street after its last action on this street (the big blind alone is not a raise)
  -> the decision is a fold. Counted per decision, not per hand.
- ``aggression``: its calls, bets and raises on all streets -> bets and raises.
- ``went_to_showdown``: hands in which it saw the flop (no pre-flop fold, the board reached
  three cards) -> it showed its hand.
- ``won_at_showdown``: hands it showed down -> it won chips (a side or split pot counts).

Estimates with uncertainty: every rate comes with its counts ``k / n`` and a shrunk
estimate, the mean of the Beta posterior ``(k + s * m) / (n + s)`` under a Beta prior of
mean ``m`` (:data:`PRIOR_MEANS`) and strength ``s = PRIOR_STRENGTH = 4`` pseudo-observations,
so a player seen in 3 hands stays near the prior (VPIP 3/3 gives 0.66, not 1.0).

Style label (:func:`style_label`, from the shrunk estimates): fewer than
``MIN_LABEL_HANDS = 10`` hands with a pre-flop decision: ``"few hands"``; otherwise the
looseness ``loose`` when VPIP >= 0.45, ``tight`` when VPIP < 0.3, else ``medium``; and the
manner ``aggressive`` when aggression >= 0.5, ``passive`` when < 0.25, else ``balanced``;
``loose`` and ``passive`` together read ``calls a lot``. Then ``, folds to raises`` when
fold-to-raise >= 0.6 and ``, rarely folds`` when <= 0.15.

Persistence: with a ``store``, each finished hand's increments go to
``store.add_counts(memory_agent, "holdem_tendency", identity, ...)`` (an atomic
read-modify-write: several processes may share the store) and the model keeps the totals
the store returns; hands shown go to ``store.learn(memory_agent, "holdem_shown", key,
value)``. A player's identity is its seat name unless ``identities`` names it (for
instance by its built-in style, so a later session with other seats finds it again). A
fresh model on the same store starts from the stored counts and shown hands of every
identity it meets.
Without a store everything is kept in memory.

Features (:meth:`OpponentModel.features`): a float32 array of shape
``(MAX_PLAYERS - 1, len(FEATURE_NAMES)) = (8, 8)``; row ``k`` is the seat ``k + 1`` places
clockwise from the holder (the order of the vector observation's seats after index 0),
rows for seats the table lacks or players never seen are zeros; columns
(:data:`FEATURE_NAMES`): the shrunk ``vpip``, ``pfr``, ``three_bet``, ``fold_to_raise``,
``aggression``, ``went_to_showdown``, ``won_at_showdown`` and ``confidence = hands /
(hands + 20)``.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from palaestra.envs.holdem.task import MAX_PLAYERS
from palaestra.memory.holdem_hands import (
    COUNTERS,
    HandRecord,
    hand_counts,
    parse_events,
    parse_history,
)

__all__ = [
    "COUNTERS",
    "FEATURE_NAMES",
    "PRIOR_MEANS",
    "PRIOR_STRENGTH",
    "RATES",
    "SEATS",
    "HandRecord",
    "OpponentBlock",
    "OpponentModel",
    "Rate",
    "parse_events",
    "parse_history",
    "style_label",
]

log = logging.getLogger(__name__)

SEATS = tuple(f"player_{k}" for k in range(MAX_PLAYERS))
"""The seat names of both hold'em envs."""
KIND = "holdem_tendency"
SHOWN_KIND = "holdem_shown"
RATES: dict[str, tuple[str, str | tuple[str, str]]] = {
    "vpip": ("vpip", "preflop"),
    "pfr": ("pfr", "preflop"),
    "three_bet": ("three_bet", "three_bet_chances"),
    "fold_to_raise": ("folded_to_raise", "faced_raise"),
    "aggression": ("actions_aggressive", ("actions_aggressive", "actions_calls")),
    "went_to_showdown": ("showdown", "saw_flop"),
    "won_at_showdown": ("won_showdown", "showdown"),
}
"""Each rate's numerator counter and denominator counter (or the sum of two)."""
PRIOR_MEANS: dict[str, float] = {
    "vpip": 0.4, "pfr": 0.2, "three_bet": 0.1, "fold_to_raise": 0.5, "aggression": 0.4,
    "went_to_showdown": 0.4, "won_at_showdown": 0.5,
}  # fmt: skip
"""The Beta prior's mean of each rate (a generic player)."""
PRIOR_STRENGTH = 4.0
"""Pseudo-observations of the Beta prior."""
MIN_LABEL_HANDS = 10
CONFIDENCE_HANDS = 20.0
FEATURE_NAMES = (*RATES, "confidence")
"""The columns of :meth:`OpponentModel.features`, in order."""
SHOWN_KEPT = 20
"""Shown hands kept in memory per player (the store keeps them all)."""


@dataclass(frozen=True)
class Rate:
    """One rate: ``k`` successes in ``n`` opportunities and the shrunk estimate."""

    k: float
    n: float
    estimate: float

    @property
    def raw(self) -> float | None:
        """``k / n``, or None when there was no opportunity."""
        return self.k / self.n if self.n else None


def _rate(counts: Mapping[str, float], name: str) -> Rate:
    top, bottom = RATES[name]
    k = float(counts.get(top, 0.0))
    if isinstance(bottom, tuple):
        n = float(sum(counts.get(b, 0.0) for b in bottom))
    else:
        n = float(counts.get(bottom, 0.0))
    s, m = PRIOR_STRENGTH, PRIOR_MEANS[name]
    return Rate(k, n, (k + s * m) / (n + s))


def style_label(counts: Mapping[str, float]) -> str:
    """The style label of a player's counters (the rule is in the module docstring)."""
    if counts.get("preflop", 0.0) < MIN_LABEL_HANDS:
        return "few hands"
    vpip = _rate(counts, "vpip").estimate
    aggression = _rate(counts, "aggression").estimate
    folds = _rate(counts, "fold_to_raise").estimate
    loose = "loose" if vpip >= 0.45 else "tight" if vpip < 0.3 else "medium"
    manner = "aggressive" if aggression >= 0.5 else "passive" if aggression < 0.25 else "balanced"
    label = "calls a lot" if (loose, manner) == ("loose", "passive") else f"{loose}-{manner}"
    if folds >= 0.6:
        label += ", folds to raises"
    elif folds <= 0.15:
        label += ", rarely folds"
    return label


def _check_seat(seat: Any, what: str = "seat") -> str:
    if seat not in SEATS:
        raise ValueError(f"unknown {what} {seat!r}; seats are {', '.join(SEATS)}")
    return seat


def _check_store(store: Any) -> Any:
    if store is None:
        return None
    missing = [m for m in ("add_counts", "counts", "learn", "facts") if not callable(
        getattr(store, m, None))]  # fmt: skip
    if missing:
        raise TypeError(
            f"store must be a MemoryStore (add_counts, counts, learn, facts); "
            f"{type(store).__name__} lacks {', '.join(missing)}"
        )
    return store


def _shown_by(key: str) -> str | None:
    """The identity in a shown-hand fact's key (None for a key this module did not write)."""
    try:
        parsed = json.loads(key)
    except ValueError:
        return None
    return parsed[0] if isinstance(parsed, list) and parsed else None


class OpponentModel:
    """What one seat believes about the other players (see the module).

    Args:
        seat: The holder's seat name (``player_0`` ... ``player_8``).
        store: A :class:`~palaestra.memory.store.MemoryStore` for counters that last
            across sessions, or None (in memory only).
        memory_agent: Whose memory it is in the store (default: ``seat``).
        identities: Seat name -> the identity its player is remembered under (default:
            the seat name).
        num_players: Seats at the table, for :meth:`features` (default: the ``players`` of
            the last hand history, else the highest seat seen plus one).

    Raises:
        ValueError: an unknown seat name (here or in ``identities``).
        TypeError: a store that is not a MemoryStore-like object.
    """

    def __init__(
        self,
        seat: str,
        *,
        store: Any = None,
        memory_agent: str | None = None,
        identities: Mapping[str, str] | None = None,
        num_players: int | None = None,
    ) -> None:
        self.store = _check_store(store)
        if num_players is not None and (
            isinstance(num_players, bool)
            or not isinstance(num_players, int)
            or not 2 <= num_players <= MAX_PLAYERS
        ):
            raise ValueError(
                f"num_players must be an int in [2, {MAX_PLAYERS}]; got {num_players!r}"
            )
        self.num_players = num_players
        self.memory_agent = memory_agent
        self._counts: dict[str, dict[str, float]] = {}
        self._shown: dict[str, deque[dict[str, Any]]] = {}
        self.set_seat(seat, identities)
        self._open: HandRecord | None = None
        self._last_key: tuple[Any, ...] | None = None
        self._last_info: Any = None
        self._last_events: Any = None
        self._max_seat = 0
        self.hands_counted = 0

    def set_seat(self, seat: str, identities: Mapping[str, str] | None = None) -> None:
        """Change the holder's seat (and identities), keeping what it believes."""
        self.seat = _check_seat(seat)
        names = dict(identities or {})
        for name in names:
            _check_seat(name, "seat in identities")
        self.identities = names
        if self.memory_agent is None:
            self.memory_agent = seat
        for name in names:
            if name != seat:
                self._load(self.identity(name))

    def identity(self, player: str) -> str:
        """The identity ``player`` (a seat name) is remembered under."""
        return self.identities.get(player, player)

    def clear(self) -> None:
        """Forget the beliefs held in memory; the store keeps its counts.

        The hand being played stays parsed, so its actions still count when it ends.
        """
        self._counts.clear()
        self._shown.clear()

    def _load(self, who: str) -> dict[str, float]:
        counts = self._counts.get(who)
        if counts is None:
            counts = dict.fromkeys(COUNTERS, 0.0)
            shown: deque[dict[str, Any]] = deque(maxlen=SHOWN_KEPT)
            if self.store is not None:
                counts.update(self.store.counts(self.memory_agent, KIND, who))
                facts = self.store.facts(self.memory_agent, SHOWN_KIND)
                for fact in sorted(facts, key=lambda f: getattr(f, "updated", 0)):
                    if _shown_by(fact.key) == who and isinstance(fact.value, Mapping):
                        shown.append(dict(fact.value))
            self._counts[who] = counts
            self._shown[who] = shown
        return counts

    # ----------------------------------------------------------------- feeding
    def observe(self, observation: Any, info: Mapping[str, Any] | None) -> int:
        """Read one step's info (the observation is not needed); return hands counted now."""
        if not isinstance(info, Mapping) or info is self._last_info:
            return 0
        events = info.get("events")
        if events is not None and events is self._last_events:
            return 0
        self._last_info, self._last_events = info, events
        touched = parse_events(list(events or ()), self._open)
        finished = [h for h in touched if h.finished]
        self._open = touched[-1] if touched and not touched[-1].finished else None
        history = info.get("hand_history")
        if isinstance(history, Mapping):
            players = history.get("players")
            if players:
                self._max_seat = max(self._max_seat, len(players) - 1)
            record = parse_history(history)
            if finished:
                finished[-1] = record
            elif record.key() != self._last_key:
                finished.append(record)
        for hand in finished:
            self._count(hand)
        return len(finished)

    def _count(self, hand: HandRecord) -> None:
        self._last_key = hand.key()
        self.hands_counted += 1
        players = dict.fromkeys(who for _, who, _, _ in hand.actions)
        for player in players:
            if player in SEATS:
                self._max_seat = max(self._max_seat, SEATS.index(player))
            if player == self.seat:
                continue
            delta = hand_counts(hand, player)
            who = self.identity(player)
            counts = self._load(who)
            if self.store is not None:
                totals = self.store.add_counts(
                    self.memory_agent, KIND, who, {k: v for k, v in delta.items() if v}
                )
                counts.update({k: float(v) for k, v in totals.items()})
            else:
                for k, v in delta.items():
                    counts[k] = counts.get(k, 0.0) + v
            if player in hand.shown:
                self._remember_shown(who, player, hand)

    def _remember_shown(self, who: str, player: str, hand: HandRecord) -> None:
        cards, category = hand.shown[player]
        entry = {
            "cards": None if cards is None else list(cards),
            "category": category,
            "board": list(hand.board),
            "line": hand.line(player),
            "won": hand.payouts.get(player, 0),
        }
        self._shown[who].append(entry)
        if self.store is not None:
            key = json.dumps([who, entry["cards"], entry["board"], entry["line"]])
            self.store.learn(self.memory_agent, SHOWN_KIND, key, entry, source="observed")

    # ----------------------------------------------------------------- reading
    @property
    def players(self) -> list[str]:
        """The identities it holds beliefs about, sorted."""
        return sorted(self._counts)

    def counts(self, who: str) -> dict[str, float]:
        """The counters of identity ``who`` (zeros when never seen)."""
        return dict(self._counts.get(who) or dict.fromkeys(COUNTERS, 0.0))

    def rate(self, who: str, name: str) -> Rate:
        """Rate ``name`` (a key of :data:`RATES`) of identity ``who``."""
        if name not in RATES:
            raise ValueError(f"unknown rate {name!r}; rates are {', '.join(RATES)}")
        return _rate(self._counts.get(who, {}), name)

    def shown(self, who: str) -> list[dict[str, Any]]:
        """The hands ``who`` showed that this model saw (newest last, at most 20)."""
        return list(self._shown.get(who, ()))

    def label(self, who: str) -> str:
        """The style label of identity ``who``."""
        return style_label(self._counts.get(who, {}))

    def current_actions(self) -> list[tuple[str, str, str, int]]:
        """The public actions of the hand being played, as far as the events told."""
        return [] if self._open is None else list(self._open.actions)

    def render(self) -> str:
        """One line per player seen (and its last two shown hands), for a prompt."""
        lines = []
        for who in self.players:
            c = self._counts[who]
            if not c.get("hands"):
                continue
            parts = [f"{who}: {int(c['hands'])} hands"]
            for name, text in (("vpip", "VPIP"), ("pfr", "PFR"), ("three_bet", "3-bet"),
                               ("fold_to_raise", "folds to raise"), ("aggression", "aggression"),
                               ("went_to_showdown", "showdown")):  # fmt: skip
                r = _rate(c, name)
                parts.append(f"{text} {r.estimate:.2f} ({int(r.k)}/{int(r.n)})")
            lines.append(", ".join(parts) + f": {style_label(c)}")
            for entry in list(self._shown[who])[-2:]:
                cards = " ".join(entry["cards"] or ["??"])
                lines.append(
                    f"  showed {cards} ({entry['category']}) on {' '.join(entry['board'])}: "
                    f"{entry['line'] or 'no decisions'}"
                )
        return "\n".join(lines)

    def features(self) -> np.ndarray:
        """The beliefs as float32 ``(8, 8)``: seats clockwise from the holder x FEATURE_NAMES."""
        out = np.zeros((MAX_PLAYERS - 1, len(FEATURE_NAMES)), dtype=np.float32)
        n = self.num_players or self._max_seat + 1
        me = SEATS.index(self.seat)
        for k in range(n - 1):
            who = self.identity(SEATS[(me + 1 + k) % n])
            counts = self._counts.get(who)
            if not counts or not counts.get("hands"):
                continue
            out[k, : len(RATES)] = [_rate(counts, name).estimate for name in RATES]
            out[k, -1] = counts["hands"] / (counts["hands"] + CONFIDENCE_HANDS)
        return out

    def as_block(self, *, feed: bool = True, name: str = "opponents") -> OpponentBlock:
        """This model as a prompt-block provider (:class:`OpponentBlock`)."""
        return OpponentBlock(self, feed=feed, name=name)


class OpponentBlock:
    """A prompt block (``name``, ``render``, ``reset``, ``on_action``) of an opponent model.

    ``render`` feeds the model with the step's observation and info (``feed=True``) and
    returns :meth:`OpponentModel.render`, or None when it has seen nobody yet. ``reset``
    keeps the beliefs: they are about players, who outlast episodes.
    """

    def __init__(self, model: OpponentModel, *, feed: bool = True, name: str = "opponents") -> None:
        self.model = model
        self.feed = feed
        self.name = name

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: beliefs about players last across episodes."""

    def on_action(self, action: int, text: str) -> None:
        """Nothing to do: the next events show the action."""

    def render(self, observation: Any, info: Mapping[str, Any] | None) -> str | None:
        """The block's text for this step, or None."""
        if self.feed:
            self.model.observe(observation, info)
        return self.model.render() or None
