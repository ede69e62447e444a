"""The Gauntlet task space: ascension, fights, enemies, starting deck and card pool.

Glossary:
    ascension: an integer in [0, 10] that makes a run harder, as in Slay the Spire: the
        player's maximum HP is ``70 - 2 a`` (unless ``max_hp`` is set), every enemy's rolled
        maximum HP gains ``hp * a // 20``, and every hit of an enemy attack ``a // 3`` damage.
    fight plan: the rank of each fight (:func:`~palaestra.envs.gauntlet.enemies.fight_plan`);
        the encounter of each fight is drawn uniformly from the set's encounters of that rank,
        never the same as the previous fight of that rank when there is a choice.
    reward pool: the cards a fight's reward may offer (:func:`reward_pool`).
    rest: after every ``rest_every``-th fight (but not after the last), the player may heal
        :data:`REST_HEAL_PERCENT` % of maximum HP (rounded down), upgrade one card, or leave.

Structured knobs:

- ``encounters``: ``None`` (the fight plan draws from ``enemy_set``) or one entry per fight,
  each an enemy name (``"cultist"``) or a list of 1-3 enemy names, fought in that order.
- ``starting_deck``: ``None`` (:data:`~palaestra.envs.gauntlet.cards.STARTING_DECK`) or a
  list of 1-40 card names, ``"Bash+"`` for an upgraded card.
- ``card_pool``: ``None`` (every card but the starter ones) or a list of distinct card
  names (no ``+``): the cards rewards are drawn from.
- ``pool_seed``: ``None`` (the whole ``card_pool``) or an integer in [0, 2**32): rewards
  come from :data:`POOL_SUBSET` cards of the pool chosen by
  ``numpy.random.default_rng(pool_seed)``, so one task fixes which cards can show up.
- ``max_hp``: ``None`` (``70 - 2 * ascension``) or an integer in [1, 999].

After validation the task holds ``max_hp``, ``starting_deck`` and ``card_pool`` filled in.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.envs.gauntlet.cards import CARD_INDEX, CARDS, STARTING_DECK, card_code
from palaestra.envs.gauntlet.enemies import ENEMIES, ENEMY_SETS, fight_plan
from palaestra.envs.gauntlet.enemies import enemy_id as _enemy_id
from palaestra.envs.tasks import Knob, TaskSpace

__all__ = [
    "GAUNTLET_TASK_SPACE",
    "MAX_ASCENSION",
    "MAX_DECK",
    "MAX_FIGHTS",
    "POOL_SUBSET",
    "REST_HEAL_PERCENT",
    "encounter_ranks",
    "gauntlet_difficulty",
    "player_max_hp",
    "reward_pool",
]

MAX_ASCENSION = 10
MAX_FIGHTS = 12
MAX_DECK = 40
"""The most cards in a starting deck."""
POOL_SUBSET = 12
"""Cards in the reward pool a ``pool_seed`` picks."""
REST_HEAL_PERCENT = 30
"""A rest heals this percentage of maximum HP, rounded down."""
_RANK_SCORE = {"normal": 0.0, "elite": 0.5, "boss": 1.0}
_SET_ORDER = ("starter", "standard", "elites", "boss")


def _parse_encounters(value: Any) -> list[list[str]]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(
            f"expected a list with one enemy name or list of names per fight, got {value!r}"
        )
    if not 1 <= len(value) <= MAX_FIGHTS:
        raise ValueError(f"expected 1-{MAX_FIGHTS} fights, got {len(value)}")
    fights = []
    for k, entry in enumerate(value):
        group = [entry] if isinstance(entry, str) else entry
        if not isinstance(group, (list, tuple)) or not 1 <= len(group) <= 3:
            raise ValueError(f"fight {k} must be an enemy name or a list of 1-3, got {entry!r}")
        for name in group:
            _enemy_id(name, f"enemy (fight {k})")
        fights.append(list(group))
    return fights


def _parse_deck(value: Any) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"expected a list of card names, got {value!r}")
    if not 1 <= len(value) <= MAX_DECK:
        raise ValueError(f"expected 1-{MAX_DECK} cards, got {len(value)}")
    for name in value:
        card_code(name)
    return list(value)


def _parse_pool(value: Any) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"expected a non-empty list of card names, got {value!r}")
    for name in value:
        if name not in CARD_INDEX:
            card_code(name)  # raises for an unknown name
            raise ValueError(f"pool cards are named without '+': got {name!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"card names must be distinct, got {value!r}")
    return list(value)


def _check_int(low: int, high: int, value: Any) -> int:
    integral = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer()
    )
    if isinstance(value, bool) or not integral:
        raise ValueError(f"expected an integer in [{low}, {high}], got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"expected an integer in [{low}, {high}], got {value!r}")
    return int(value)


def _parse_int(low: int, high: int) -> Any:
    # A partial of a module function, not a closure: the task space must pickle.
    return functools.partial(_check_int, low, high)


def player_max_hp(ascension: int) -> int:
    """The player's maximum HP at ``ascension`` when the task does not set ``max_hp``."""
    return 70 - 2 * ascension


def _finalize(task: dict[str, Any]) -> dict[str, Any]:
    encounters = task["encounters"]
    if encounters is not None and len(encounters) != task["fights"]:
        raise ValueError(
            f"task key 'encounters' lists {len(encounters)} fights but 'fights' is "
            f"{task['fights']}; give one entry per fight"
        )
    if task["max_hp"] is None:
        task["max_hp"] = player_max_hp(task["ascension"])
    if task["starting_deck"] is None:
        task["starting_deck"] = list(STARTING_DECK)
    if task["card_pool"] is None:
        task["card_pool"] = [c.name for c in CARDS if c.rarity != "starter"]
    return task


def reward_pool(task: Mapping[str, Any]) -> tuple[int, ...]:
    """The card ids rewards are drawn from, in card-table order, for a complete task."""
    pool = sorted(CARD_INDEX[name] for name in task["card_pool"])
    seed = task["pool_seed"]
    if seed is None or len(pool) <= POOL_SUBSET:
        return tuple(pool)
    chosen = np.random.default_rng(seed).choice(len(pool), size=POOL_SUBSET, replace=False)
    return tuple(sorted(pool[int(k)] for k in chosen))


def encounter_ranks(task: Mapping[str, Any]) -> tuple[str, ...]:
    """The rank of every fight of a complete task (an explicit fight: its strongest enemy)."""
    if task["encounters"] is None:
        return fight_plan(ENEMY_SETS[task["enemy_set"]], task["fights"])
    order = {"normal": 0, "elite": 1, "boss": 2}
    ranks = []
    for group in task["encounters"]:
        ranks.append(max((ENEMIES[_enemy_id(n)].rank for n in group), key=order.__getitem__))
    return tuple(ranks)


def gauntlet_difficulty(task: Mapping[str, Any]) -> float:
    """Score a complete task in [0, 1] from ascension, length and the enemies' ranks.

    ``0.4 * ascension / 10 + 0.3 * (fights - 1) / 11 + 0.3 * threat``, where ``threat`` is
    the mean over the fights of their rank's score (normal 0, elite 0.5, boss 1). One
    normal fight at ascension 0 scores 0; twelve boss fights at ascension 10 score 1. The
    deck, the pool and ``max_hp`` do not enter.
    """
    ranks = encounter_ranks(task)
    threat = sum(_RANK_SCORE[r] for r in ranks) / len(ranks)
    length = (task["fights"] - 1) / (MAX_FIGHTS - 1)
    return 0.4 * task["ascension"] / MAX_ASCENSION + 0.3 * length + 0.3 * threat


GAUNTLET_TASK_SPACE = TaskSpace(
    "gauntlet",
    [
        Knob(
            "ascension",
            0,
            "harder runs: less player HP, more enemy HP and damage",
            low=0,
            high=MAX_ASCENSION,
            integer=True,
        ),
        Knob("fights", 3, "fights in the run", low=1, high=MAX_FIGHTS, integer=True),
        Knob(
            "enemy_set",
            "standard",
            "which encounters the fights are drawn from",
            choices=_SET_ORDER,
        ),
        Knob(
            "encounters",
            None,
            "the enemies of every fight, in order; None: drawn from enemy_set",
            parse=_parse_encounters,
            allowed="None or one enemy name or list of 1-3 names per fight",
        ),
        Knob(
            "starting_deck",
            None,
            "the deck the run starts with; None: 5 Strike, 4 Defend, 1 Bash",
            parse=_parse_deck,
            allowed="None or a list of 1-40 card names ('Bash+' upgraded)",
        ),
        Knob(
            "card_pool",
            None,
            "the cards rewards are drawn from; None: every non-starter card",
            parse=_parse_pool,
            allowed="None or a list of distinct card names",
        ),
        Knob(
            "pool_seed",
            None,
            f"None: the whole card_pool; an integer: {POOL_SUBSET} pool cards it picks",
            parse=_parse_int(0, 2**32 - 1),
            allowed="None or an integer in [0, 2**32)",
        ),
        Knob(
            "rest_every",
            2,
            "a rest follows every n-th fight but the last (0: never)",
            low=0,
            high=MAX_FIGHTS,
            integer=True,
        ),
        Knob(
            "max_hp",
            None,
            "the player's maximum (and starting) HP; None: 70 - 2 * ascension",
            parse=_parse_int(1, 999),
            allowed="None or an integer in [1, 999]",
        ),
    ],
    difficulty=gauntlet_difficulty,
    finalize=_finalize,
)
"""The tasks of a Gauntlet run."""
