"""The words of Gauntlet: the action encoding, the state vector's layout, and predicates.

This module is the one place that names what a Gauntlet player can do and what a skill may
test, so a skill language can be checked against it:

- :data:`PRIMITIVE_ACTIONS`: the fixed name of every action index (the action space is
  ``Discrete(N_ACTIONS)``); the engine also names each legal action after the state
  (``"play Bash on Cultist (2 energy)"``, :meth:`~palaestra.envs.gauntlet.engine.Run.action_name`);
- :data:`VECTOR_FIELDS`: the name of every entry of the state vector
  (:meth:`~palaestra.envs.gauntlet.engine.Run.vector`), laid out as the table below;
- :data:`PREDICATES`: what a skill may test, evaluated on that vector by
  :func:`evaluate_predicate`.

Actions (``s`` a hand slot 0-9, ``j`` an enemy slot 0-2, ``k`` a reward 0-2, ``c`` a card id):

| index | action | legal when |
| --- | --- | --- |
| ``3 s + j`` (0-29) | play the card in hand slot ``s`` at enemy ``j`` | in combat (see below) |
| 30 | end turn | in combat |
| 31-33 | take reward card ``k`` | after a fight won, ``k`` < cards offered |
| 34 | skip: leave the reward, or the rest site | at a reward or a rest |
| 35 | rest: heal | at a rest, HP below maximum |
| ``36 + c`` | rest: upgrade a copy of card ``c`` | at a rest, a copy of ``c`` not upgraded |

Playing slot ``s`` at ``j`` is legal when the card is affordable (an X card always is) and
enemy ``j`` is alive; a card without an enemy target is played at ``j = 0`` only; and a card
identical (same code) to one in an earlier slot is never legal, since it is the same move.

Vector layout (``float32``; counts and HP as plain numbers, flags 0/1; a card is written as
``card id + 1``, 0 for none; an X cost as -1):

| offset | entries |
| --- | --- |
| 0 | :data:`HEADER_FIELDS` (see below) |
| :data:`PLAYER_STATUS_AT` | the player's statuses, in ``STATUSES`` order |
| :data:`HAND_AT` | 10 hand slots x :data:`HAND_FIELDS`: card, upgraded, cost, playable |
| :data:`HAND_COUNT_AT` | copies of each card id in hand |
| :data:`DECK_COUNT_AT` | copies of each card id in the deck |
| :data:`ENEMY_AT` | 3 enemy slots x :data:`ENEMY_FIELDS` (see below) |
| :data:`OFFER_AT` | 3 reward offers x :data:`OFFER_FIELDS`: card, upgraded |

The header: the phase one-hot (combat, reward, rest, over), HP, max HP, block, energy, turn,
floor, fights, the pile sizes (draw, hand, discard, exhaust, powers), deck size, incoming
damage (the sum over living enemies of intent damage x hits, as it would hit before block)
and living enemies. A hand slot is playable when one of its play actions is legal. An enemy
slot: alive, kind id + 1, HP, max HP, block, phase, the intent flags in ``INTENT_KINDS``
order, the intent's damage per hit as it would hit the player, its hits, then the enemy's
statuses. A dead enemy keeps its slot with alive 0, HP 0 and an intent of zeros. Empty hand
slots, enemy slots and offers are all zeros; outside combat, so are the energy, the turn,
the pile sizes and the enemies.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from palaestra.envs.games import split_predicate
from palaestra.envs.gauntlet.cards import CARD_INDEX, CARDS, N_CARDS, VARIANTS, X
from palaestra.envs.gauntlet.enemies import INTENT_KINDS, MOVES
from palaestra.envs.gauntlet.rules import (
    HAND_MAX,
    MAX_ENEMIES,
    N_OFFERS,
    N_STATUSES,
    STATUS_INDEX,
    STATUSES,
)

if TYPE_CHECKING:
    from palaestra.envs.gauntlet.engine import Run

__all__ = [
    "ACTION_INDEX",
    "CHOOSE_AT",
    "DECK_COUNT_AT",
    "END_TURN",
    "ENEMY_AT",
    "ENEMY_FIELDS",
    "HAND_AT",
    "HAND_COUNT_AT",
    "HAND_FIELDS",
    "HEADER_FIELDS",
    "N_ACTIONS",
    "N_PLAY",
    "OFFER_AT",
    "OFFER_FIELDS",
    "PHASES",
    "PLAYER_STATUS_AT",
    "PREDICATES",
    "PRIMITIVE_ACTIONS",
    "REST_HEAL",
    "SKIP",
    "UPGRADE_AT",
    "VECTOR_FIELDS",
    "VECTOR_KEY",
    "VECTOR_SIZE",
    "Predicate",
    "action_text",
    "evaluate_predicate",
    "parse_predicate",
    "play_action",
    "write_vector",
]

PHASES = ("combat", "reward", "rest", "over")
"""The phases of a run, by code."""

N_PLAY = HAND_MAX * MAX_ENEMIES
END_TURN = N_PLAY
CHOOSE_AT = END_TURN + 1
SKIP = CHOOSE_AT + N_OFFERS
REST_HEAL = SKIP + 1
UPGRADE_AT = REST_HEAL + 1
N_ACTIONS = UPGRADE_AT + N_CARDS


def play_action(slot: int, target: int = 0) -> int:
    """The index of "play hand slot ``slot`` at enemy ``target``"."""
    return slot * MAX_ENEMIES + target


PRIMITIVE_ACTIONS: tuple[str, ...] = (
    *(f"play slot {s} at enemy {j}" for s in range(HAND_MAX) for j in range(MAX_ENEMIES)),
    "end turn",
    *(f"take reward {k}" for k in range(N_OFFERS)),
    "skip",
    "rest heal",
    *(f"upgrade {c.name}" for c in CARDS),
)
"""The fixed name of every action index (see the table above)."""
ACTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(PRIMITIVE_ACTIONS)}

HEADER_FIELDS: tuple[str, ...] = (
    *(f"phase_{p}" for p in PHASES),
    "hp", "max_hp", "block", "energy", "turn", "floor", "fights",
    "draw_pile", "hand", "discard_pile", "exhaust_pile", "powers",
    "deck_size", "incoming", "living_enemies",
)  # fmt: skip
HAND_FIELDS = ("card", "upgraded", "cost", "playable")
ENEMY_FIELDS: tuple[str, ...] = (
    "alive", "kind", "hp", "max_hp", "block", "phase",
    *(f"intent_{k}" for k in INTENT_KINDS), "intent_damage", "intent_hits",
    *(s.name for s in STATUSES),
)  # fmt: skip
OFFER_FIELDS = ("card", "upgraded")
PLAYER_STATUS_AT = len(HEADER_FIELDS)
HAND_AT = PLAYER_STATUS_AT + N_STATUSES
HAND_COUNT_AT = HAND_AT + HAND_MAX * len(HAND_FIELDS)
DECK_COUNT_AT = HAND_COUNT_AT + N_CARDS
ENEMY_AT = DECK_COUNT_AT + N_CARDS
OFFER_AT = ENEMY_AT + MAX_ENEMIES * len(ENEMY_FIELDS)
VECTOR_SIZE = OFFER_AT + N_OFFERS * len(OFFER_FIELDS)
VECTOR_FIELDS: tuple[str, ...] = (
    *HEADER_FIELDS,
    *(f"status_{s.name}" for s in STATUSES),
    *(f"hand_{s}_{f}" for s in range(HAND_MAX) for f in HAND_FIELDS),
    *(f"hand_count_{c.name}" for c in CARDS),
    *(f"deck_count_{c.name}" for c in CARDS),
    *(f"enemy_{j}_{f}" for j in range(MAX_ENEMIES) for f in ENEMY_FIELDS),
    *(f"offer_{k}_{f}" for k in range(N_OFFERS) for f in OFFER_FIELDS),
)
"""The name of every vector entry, in order."""
if len(VECTOR_FIELDS) != VECTOR_SIZE:
    raise RuntimeError("the vector layout does not add up")
_H = {name: i for i, name in enumerate(HEADER_FIELDS)}
_E = {name: i for i, name in enumerate(ENEMY_FIELDS)}
VECTOR_KEY = "state"
"""The key under which an observation dict may carry the state vector."""


@dataclass(frozen=True)
class Predicate:
    """A state predicate a skill may test.

    Attributes:
        name: The predicate's name, as written in ``name(args)``.
        params: The names of its arguments.
        kinds: For each argument, ``"int"``, ``"fraction"`` (a number in [0, 1]) or the
            tuple of allowed words.
        doc: What it means.
    """

    name: str
    params: tuple[str, ...]
    kinds: tuple[Any, ...]
    doc: str


_CARD_NAMES = tuple(c.name for c in CARDS)
_STATUS_NAMES = tuple(s.name for s in STATUSES)
PREDICATES: dict[str, Predicate] = {
    p.name: p
    for p in (
        Predicate("hand_has", ("card",), (_CARD_NAMES,), "`card` (or `card+`) is in hand"),
        Predicate("can_play", ("card",), (_CARD_NAMES,), "`card` in hand is playable now"),
        Predicate("energy_at_least", ("n",), ("int",), "the player has at least `n` energy"),
        Predicate("hp_below", ("fraction",), ("fraction",), "HP < `fraction` x max HP"),
        Predicate("block_at_least", ("n",), ("int",), "the player has at least `n` block"),
        Predicate("status_at_least", ("status", "n"), (_STATUS_NAMES, "int"),
                  "the player's `status` is at least `n`"),
        Predicate("enemy_status_at_least", ("status", "n"), (_STATUS_NAMES, "int"),
                  "some living enemy's `status` is at least `n`"),
        Predicate("enemy_intent", ("kind",), (INTENT_KINDS,),
                  "some living enemy intends a move of `kind` (attack, defend, buff, debuff)"),
        Predicate("incoming_at_least", ("n",), ("int",),
                  "the enemies' intents would deal at least `n` damage before block"),
        Predicate("enemies_at_least", ("n",), ("int",), "at least `n` enemies are alive"),
        Predicate("in_phase", ("phase",), (PHASES,), "the run is in `phase`"),
        Predicate("offered", ("card",), (_CARD_NAMES,), "a reward offer is `card`"),
    )
}  # fmt: skip
"""The predicates a skill may test on a state vector, by name."""


def parse_predicate(predicate: str | tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """Check a predicate and return ``(name, args)`` with numbers as numbers.

    Args:
        predicate: ``"hand_has(Bash)"``, ``"status_at_least(strength, 2)"`` or a tuple such
            as ``("hp_below", 0.5)``.

    Raises:
        ValueError: for an unknown predicate, a wrong number of arguments or a value the
            predicate does not take.
    """
    name, raw, spec = split_predicate(predicate, PREDICATES)
    args: list[Any] = []
    for param, kind, value in zip(spec.params, spec.kinds, raw, strict=True):
        if kind in ("int", "fraction"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            ok = number.is_integer() if kind == "int" else 0.0 <= number <= 1.0
            if isinstance(value, bool) or not ok:
                what = "an integer" if kind == "int" else "a number in [0, 1]"
                raise ValueError(f"predicate {name}: {param} must be {what}; got {value!r}")
            args.append(int(number) if kind == "int" else number)
        elif value not in kind:
            raise ValueError(
                f"predicate {name}: {param} must be one of {', '.join(kind)}; got {value!r}"
            )
        else:
            args.append(value)
    return name, tuple(args)


def _enemy(vector: np.ndarray, j: int, field: str) -> float:
    return float(vector[ENEMY_AT + j * len(ENEMY_FIELDS) + _E[field]])


def evaluate_predicate(
    observation: np.ndarray | Mapping[str, Any], predicate: str | tuple[Any, ...]
) -> bool:
    """Evaluate a predicate on a state vector.

    Args:
        observation: The engine's :meth:`~palaestra.envs.gauntlet.engine.Run.vector`, or a
            mapping holding it under :data:`VECTOR_KEY`.
        predicate: See :func:`parse_predicate`.

    Raises:
        ValueError: for a bad predicate, or an observation that is not a state vector.
    """
    vector = observation.get(VECTOR_KEY) if isinstance(observation, Mapping) else observation
    vector = np.asarray(vector) if vector is not None else None
    if vector is None or vector.shape != (VECTOR_SIZE,):
        raise ValueError(
            f"predicates are evaluated on a state vector of shape ({VECTOR_SIZE},) or a dict "
            f"holding one under {VECTOR_KEY!r}"
        )
    name, args = parse_predicate(predicate)
    living = [j for j in range(MAX_ENEMIES) if _enemy(vector, j, "alive") > 0]
    if name in ("hand_has", "can_play"):
        card = CARD_INDEX[args[0]] + 1
        width = len(HAND_FIELDS)
        for s in range(HAND_MAX):
            at = HAND_AT + s * width
            if vector[at] == card and (name == "hand_has" or vector[at + 3] > 0):
                return True
        return False
    if name == "energy_at_least":
        return bool(vector[_H["energy"]] >= args[0])
    if name == "hp_below":
        return bool(vector[_H["hp"]] < args[0] * vector[_H["max_hp"]])
    if name == "block_at_least":
        return bool(vector[_H["block"]] >= args[0])
    if name == "status_at_least":
        return bool(vector[PLAYER_STATUS_AT + STATUS_INDEX[args[0]]] >= args[1])
    if name == "enemy_status_at_least":
        return any(_enemy(vector, j, args[0]) >= args[1] for j in living)
    if name == "enemy_intent":
        return any(_enemy(vector, j, f"intent_{args[0]}") > 0 for j in living)
    if name == "incoming_at_least":
        return bool(vector[_H["incoming"]] >= args[0])
    if name == "enemies_at_least":
        return len(living) >= args[0]
    if name == "in_phase":
        return bool(vector[PHASES.index(args[0])] > 0)
    # offered
    card = CARD_INDEX[args[0]] + 1
    return any(vector[OFFER_AT + k * len(OFFER_FIELDS)] == card for k in range(N_OFFERS))


# ---------------------------------------------------------------------- from a run
def action_text(run: Run, action: int) -> str:
    """The text of ``action`` in the state of ``run`` (see ``Run.action_name``)."""
    phase = run.phase_name
    if action < N_PLAY and phase == "combat":
        slot, j = divmod(action, MAX_ENEMIES)
        hand = run.fight.hand
        if slot < len(hand):
            code = run.deck[hand[slot]]
            card = VARIANTS[code]
            cost = card.spec.cost
            energy = f"X = {run.fight.energy} energy" if cost == X else f"{cost} energy"
            enemies = run.fight.enemies
            if card.targeted and j < len(enemies):
                return f"play {card.name} on {enemies[j].name} ({energy})"
            if not card.targeted and j == 0:
                return f"play {card.name} ({energy})"
    elif CHOOSE_AT <= action < SKIP and phase == "reward":
        k = action - CHOOSE_AT
        if k < len(run.offers):
            return f"take {VARIANTS[run.offers[k]].name}"
    elif action == SKIP and phase in ("reward", "rest"):
        return "skip the reward" if phase == "reward" else "leave the rest site"
    elif action == REST_HEAL and phase == "rest":
        return f"rest: heal {run.heal_amount()} HP"
    elif action >= UPGRADE_AT and phase == "rest":
        name = CARDS[action - UPGRADE_AT].name
        return f"upgrade {name} to {name}+"
    return PRIMITIVE_ACTIONS[action]


_PACK = struct.Struct(f"={VECTOR_SIZE}f")
_HAND_WIDTH = len(HAND_FIELDS)
_ENEMY_WIDTH = len(ENEMY_FIELDS)
_NO_ENEMY = [0.0] * _ENEMY_WIDTH
_PHASE_ONE_HOT = tuple(tuple(float(i == p) for i in range(len(PHASES))) for p in range(len(PHASES)))


def write_vector(run: Run, legal: Any) -> np.ndarray:
    """The state vector of ``run`` (the layout of the module docstring), freshly made.

    Args:
        run: The run.
        legal: Its legal mask (a sequence of 0/1 per action index).
    """
    fight, player, deck = run.fight, run.player, run.deck
    combat = run.phase == 0
    hand = fight.hand if combat else ()
    hand_part = [0.0] * (HAND_MAX * _HAND_WIDTH)
    hand_counts = [0.0] * N_CARDS
    at = 0
    for slot, instance in enumerate(hand):
        code = deck[instance]
        base = slot * MAX_ENEMIES
        hand_part[at : at + _HAND_WIDTH] = (
            code // 2 + 1,
            code & 1,
            VARIANTS[code].spec.cost,
            float(legal[base] or legal[base + 1] or legal[base + 2]),
        )
        hand_counts[code // 2] += 1
        at += _HAND_WIDTH
    deck_counts = [0.0] * N_CARDS
    for code in deck:
        deck_counts[code // 2] += 1
    enemy_part: list[float] = []
    incoming = living = 0
    for enemy in fight.enemies if combat else ():
        if enemy.hp <= 0:
            enemy_part += (0.0, enemy.kind + 1, 0, enemy.max_hp, enemy.block, enemy.phase)
            enemy_part += _NO_ENEMY[6:-N_STATUSES]
        else:
            damage, hits = fight.incoming(enemy)
            incoming += damage * hits
            living += 1
            enemy_part += (1.0, enemy.kind + 1, enemy.hp, enemy.max_hp, enemy.block, enemy.phase)
            enemy_part += MOVES[enemy.kind][enemy.intent].flags
            enemy_part += (damage, hits)
        enemy_part += enemy.status
    enemy_part += _NO_ENEMY * (MAX_ENEMIES - len(enemy_part) // _ENEMY_WIDTH)
    offers = [0.0] * (N_OFFERS * len(OFFER_FIELDS))
    for k, code in enumerate(run.offers):
        offers[2 * k] = code // 2 + 1
        offers[2 * k + 1] = code & 1
    header = (
        *_PHASE_ONE_HOT[run.phase],
        player.hp, player.max_hp, player.block, fight.energy if combat else 0,
        fight.turn if combat else 0, run.floor, run.fights,
        len(fight.draw_pile), len(fight.hand), len(fight.discard_pile),
        len(fight.exhaust_pile), len(fight.powers), len(deck), incoming, living,
    )  # fmt: skip
    packed = _PACK.pack(
        *header, *player.status, *hand_part, *hand_counts, *deck_counts, *enemy_part, *offers
    )
    return np.frombuffer(packed, dtype=np.float32).copy()
