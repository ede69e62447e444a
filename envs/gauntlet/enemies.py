"""The Gauntlet enemy table: enemy kinds as data, their intent patterns, phases and sets.

Glossary:
    enemy kind: a row of :data:`ENEMIES` (an :class:`EnemySpec`); its index is its *kind id*.
    move: what an enemy does on its turn (:class:`Move`): attack ``damage`` x ``hits``,
        gain ``block``, gain ``buffs``, give the player ``debuffs``, in that order.
    intent: the move an enemy will make on its next turn, shown to the player in advance.
        Its kinds are ``attack`` (damage > 0), ``defend`` (block > 0), ``buff`` and
        ``debuff``; a move may have several (``attack`` + ``debuff``).
    pattern: how an enemy picks its moves (:class:`Pattern`), with the engine's generator.
    phase: a boss's later mode (:class:`Phase`): when its HP falls to ``below_percent`` of
        its maximum or lower, it gains ``block`` and ``buffs`` (and ``cleanse`` removes its
        weak, vulnerable, frail and poison), switches to the phase's pattern, and its intent
        changes at once to the first move of that pattern. Phases are entered in order, each
        once; a hit that crosses two thresholds enters both. Mid-attack, the remaining hits
        of the attack then meet the new block.
    rank: ``normal``, ``elite`` (harder, fought on some floors) or ``boss`` (the last fight).
    enemy set: which encounters a run draws its fights from (:data:`ENEMY_SETS`).

Pattern rule (:func:`choose_move`): the ``opening`` moves come first, one per turn; then,
with a ``cycle``, its moves in order forever; otherwise a weighted draw over ``weights``
that leaves out the last move when it was already made ``max_repeat`` times in a row (one
``rng.random()`` per draw, scanned against the cumulative weights in table order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from palaestra.envs.gauntlet.rules import STATUS_INDEX

__all__ = [
    "ENEMIES",
    "ENEMY_INDEX",
    "ENEMY_SETS",
    "INTENT_KINDS",
    "RANKS",
    "CompiledMove",
    "EnemySet",
    "EnemySpec",
    "Move",
    "Pattern",
    "Phase",
    "choose_move",
    "enemy_id",
    "fight_plan",
]

INTENT_KINDS = ("attack", "defend", "buff", "debuff")
"""Intent kinds, in the order of the vector's intent flags."""
RANKS = ("normal", "elite", "boss")
Effects = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Move:
    """One enemy move, as data.

    Attributes:
        name: The move's name.
        damage: Printed damage per hit (0: no attack).
        hits: Hits of the attack.
        block: Printed block the enemy gains.
        buffs: ``(status, amount)`` the enemy gains.
        debuffs: ``(status, amount)`` the player gets.
    """

    name: str
    damage: int = 0
    hits: int = 1
    block: int = 0
    buffs: Effects = ()
    debuffs: Effects = ()


@dataclass(frozen=True)
class Pattern:
    """How an enemy picks its moves (see the module docstring), by move name.

    Attributes:
        opening: Moves of the first turns, in order.
        cycle: Moves repeated in order after the opening (empty: use ``weights``).
        weights: ``(move, weight)`` of the weighted draw.
        max_repeat: The most times in a row the draw may give one move.
    """

    opening: tuple[str, ...] = ()
    cycle: tuple[str, ...] = ()
    weights: tuple[tuple[str, float], ...] = ()
    max_repeat: int = 2


@dataclass(frozen=True)
class Phase:
    """A boss phase (see the module glossary).

    Attributes:
        name: The phase's name.
        below_percent: The phase begins when ``hp * 100 <= max_hp * below_percent``.
        pattern: The moves of the phase.
        block: Block gained on entering (not modified by statuses).
        buffs: Statuses gained on entering.
        cleanse: Whether entering removes weak, vulnerable, frail and poison.
    """

    name: str
    below_percent: int
    pattern: Pattern
    block: int = 0
    buffs: Effects = ()
    cleanse: bool = False


@dataclass(frozen=True)
class EnemySpec:
    """One enemy kind, as data.

    Attributes:
        name: The key used in tasks (``"cultist"``).
        title: The name shown to the player (``"Cultist"``).
        rank: ``normal``, ``elite`` or ``boss``.
        hp: ``(low, high)``: maximum HP is drawn uniformly in it, both ends included.
        moves: Every move it can make.
        pattern: Its first (for a boss: its opening phase's) pattern.
        phases: Later phases, in the order they are entered (falling thresholds).
        statuses: ``(status, amount)`` it starts each fight with.
    """

    name: str
    title: str
    rank: str
    hp: tuple[int, int]
    moves: tuple[Move, ...]
    pattern: Pattern
    phases: tuple[Phase, ...] = ()
    statuses: Effects = ()


ENEMIES: tuple[EnemySpec, ...] = (
    EnemySpec("cultist", "Cultist", "normal", (48, 54),
              (Move("Incantation", buffs=(("ritual", 3),)), Move("Dark Strike", 6)),
              Pattern(opening=("Incantation",), cycle=("Dark Strike",))),
    EnemySpec("beetle", "Beetle", "normal", (40, 44),
              (Move("Chomp", 11), Move("Thrash", 7, block=5),
               Move("Bellow", block=6, buffs=(("strength", 3),))),
              Pattern(opening=("Chomp",),
                      weights=(("Chomp", 25), ("Thrash", 30), ("Bellow", 45)), max_repeat=1)),
    EnemySpec("mite", "Mite", "normal", (10, 15),
              (Move("Bite", 6), Move("Grow", buffs=(("strength", 3),))),
              Pattern(weights=(("Bite", 75), ("Grow", 25)), max_repeat=2)),
    EnemySpec("acid_slime", "Acid Slime", "normal", (8, 12),
              (Move("Tackle", 3), Move("Lick", debuffs=(("weak", 1),))),
              Pattern(weights=(("Tackle", 50), ("Lick", 50)), max_repeat=1)),
    EnemySpec("spike_slime", "Spike Slime", "normal", (10, 14),
              (Move("Tackle", 5), Move("Lick", debuffs=(("frail", 1),))),
              Pattern(weights=(("Tackle", 70), ("Lick", 30)), max_repeat=2)),
    EnemySpec("fungus", "Fungus", "normal", (22, 28),
              (Move("Bite", 6), Move("Grow", buffs=(("strength", 3),))),
              Pattern(weights=(("Bite", 60), ("Grow", 40)), max_repeat=2)),
    EnemySpec("thug", "Thug", "normal", (13, 17),
              (Move("Smash", 4, debuffs=(("weak", 1),)),),
              Pattern(cycle=("Smash",))),
    EnemySpec("warder", "Warder", "normal", (38, 42),
              (Move("Bolt", debuffs=(("frail", 2), ("vulnerable", 2))), Move("Beam", 9)),
              Pattern(opening=("Bolt",), cycle=("Beam", "Beam", "Bolt"))),
    EnemySpec("brute", "Brute", "elite", (82, 86),
              (Move("Bellow", buffs=(("strength", 2),)), Move("Rush", 14),
               Move("Skull Bash", 6, debuffs=(("vulnerable", 2),))),
              Pattern(opening=("Bellow",), weights=(("Rush", 67), ("Skull Bash", 33)),
                      max_repeat=2)),
    EnemySpec("sentinel", "Sentinel", "elite", (60, 64),
              (Move("Slash", 7, hits=2), Move("Shriek", debuffs=(("weak", 2), ("frail", 2))),
               Move("Brace", block=12, buffs=(("strength", 2),))),
              Pattern(cycle=("Slash", "Shriek", "Brace")), statuses=(("metallicize", 4),)),
    EnemySpec("warden", "Warden", "boss", (106, 114),
              (Move("Charge Up", block=9), Move("Fierce Bash", 24),
               Move("Vent Steam", debuffs=(("weak", 2), ("vulnerable", 2))),
               Move("Whirlwind", 4, hits=4), Move("Roll Attack", 9),
               Move("Twin Slam", 8, hits=2), Move("Brace", block=15)),
              Pattern(cycle=("Charge Up", "Fierce Bash", "Vent Steam", "Whirlwind")),
              phases=(
                  Phase("defensive", 50, Pattern(opening=("Roll Attack",),
                                                 cycle=("Twin Slam", "Brace", "Roll Attack")),
                        block=12, cleanse=True),
                  Phase("enraged", 20, Pattern(cycle=("Whirlwind", "Roll Attack")),
                        buffs=(("strength", 3),)),
              )),
)  # fmt: skip
"""Every enemy kind; its index is its kind id."""
ENEMY_INDEX: dict[str, int] = {e.name: i for i, e in enumerate(ENEMIES)}


@dataclass(frozen=True)
class EnemySet:
    """The encounters a run draws its fights from.

    Attributes:
        name: The set's name (the ``enemy_set`` task knob).
        normal: Encounters of normal fights (each a tuple of enemy names, at most 3).
        elite: Encounters of elite fights.
        boss: Encounters of boss fights.
        doc: One line for the task table.
    """

    name: str
    normal: tuple[tuple[str, ...], ...]
    elite: tuple[tuple[str, ...], ...]
    boss: tuple[tuple[str, ...], ...]
    doc: str


_STARTER = (("cultist",), ("beetle",), ("mite", "mite"), ("acid_slime", "spike_slime"))
ENEMY_SETS: dict[str, EnemySet] = {
    s.name: s
    for s in (
        EnemySet("starter", _STARTER, (), (), "normal fights only, against four weak groups"),
        EnemySet(
            "standard",
            (*_STARTER, ("fungus", "fungus"), ("thug", "mite", "mite"), ("warder",)),
            (("brute",), ("sentinel",)),
            (("warden",),),
            "normal fights, an elite every third fight, the Warden last",
        ),
        EnemySet(
            "elites", (), (("brute",), ("sentinel",)), (("warden",),), "elites, the Warden last"
        ),
        EnemySet("boss", (), (), (("warden",),), "every fight against the Warden"),
    )
}
"""The enemy sets by name."""


def fight_plan(enemy_set: EnemySet, fights: int) -> tuple[str, ...]:
    """The rank of each fight of a run with ``fights`` fights drawn from ``enemy_set``.

    The last fight is a ``boss`` if the set has bosses (every fight, if it has nothing
    else); an ``elite`` comes every third fight (3rd, 6th, ...) if the set has elites
    (every fight but a boss's, if it has no normal encounters); the rest are ``normal``.
    """
    plan = []
    for k in range(fights):
        if enemy_set.boss and (k == fights - 1 or not (enemy_set.normal or enemy_set.elite)):
            plan.append("boss")
        elif enemy_set.elite and (not enemy_set.normal or (k + 1) % 3 == 0):
            plan.append("elite")
        else:
            plan.append("normal")
    return tuple(plan)


def enemy_id(name: object, what: str = "enemy") -> int:
    """The kind id of the enemy called ``name``.

    Raises:
        ValueError: for an unknown name; the message names it and lists the enemies.
    """
    kind = ENEMY_INDEX.get(name) if isinstance(name, str) else None
    if kind is None:
        raise ValueError(f"unknown {what} {name!r}; enemies: {', '.join(ENEMY_INDEX)}")
    return kind


@dataclass(frozen=True, slots=True)
class CompiledMove:
    """A move with its statuses as ids and its intent kinds as flags (engine use).

    Attributes:
        move: The move's data.
        buffs: ``(status id, amount)`` the enemy gains.
        debuffs: ``(status id, amount)`` the player gets.
        flags: One 0/1 per intent kind, in :data:`INTENT_KINDS` order.
    """

    move: Move
    buffs: tuple[tuple[int, int], ...]
    debuffs: tuple[tuple[int, int], ...]
    flags: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    """A pattern with move names replaced by move indices (engine use)."""

    opening: tuple[int, ...]
    cycle: tuple[int, ...]
    moves: tuple[int, ...]
    weights: tuple[float, ...]
    max_repeat: int


def _ids(effects: Effects, where: str) -> tuple[tuple[int, int], ...]:
    for status, _ in effects:
        if status not in STATUS_INDEX:
            raise ValueError(f"{where}: unknown status {status!r}")
    return tuple((STATUS_INDEX[s], n) for s, n in effects)


def _compile_pattern(pattern: Pattern, names: Sequence[str], where: str) -> CompiledPattern:
    index = {name: i for i, name in enumerate(names)}
    used = [*pattern.opening, *pattern.cycle, *(m for m, _ in pattern.weights)]
    bad = [m for m in used if m not in index]
    if bad or not (pattern.cycle or pattern.weights) or pattern.max_repeat < 1:
        raise ValueError(f"{where}: bad pattern (unknown moves {bad} or nothing to repeat)")
    if pattern.weights and (len(pattern.weights) < 2 or min(w for _, w in pattern.weights) <= 0):
        raise ValueError(f"{where}: a weighted draw needs two moves or more, weights > 0")
    return CompiledPattern(
        tuple(index[m] for m in pattern.opening),
        tuple(index[m] for m in pattern.cycle),
        tuple(index[m] for m, _ in pattern.weights),
        tuple(float(w) for _, w in pattern.weights),
        pattern.max_repeat,
    )


def _compile(spec: EnemySpec) -> tuple[tuple[CompiledMove, ...], tuple[CompiledPattern, ...]]:
    where = f"enemy {spec.name!r}"
    if spec.rank not in RANKS or not 1 <= spec.hp[0] <= spec.hp[1]:
        raise ValueError(f"{where}: bad rank or hp range")
    moves = tuple(
        CompiledMove(
            m,
            _ids(m.buffs, where),
            _ids(m.debuffs, where),
            (int(m.damage > 0), int(m.block > 0), int(bool(m.buffs)), int(bool(m.debuffs))),
        )
        for m in spec.moves
    )
    names = [m.name for m in spec.moves]
    patterns = [_compile_pattern(spec.pattern, names, where)]
    last = 101
    for phase in spec.phases:
        if not 0 < phase.below_percent < last:
            raise ValueError(f"{where}: phase thresholds must fall, within (0, 100]")
        last = phase.below_percent
        _ids(phase.buffs, where)
        patterns.append(_compile_pattern(phase.pattern, names, f"{where} phase {phase.name}"))
    return moves, tuple(patterns)


_COMPILED = tuple(_compile(spec) for spec in ENEMIES)
MOVES: tuple[tuple[CompiledMove, ...], ...] = tuple(c[0] for c in _COMPILED)
"""Per kind id, its compiled moves."""
PATTERNS: tuple[tuple[CompiledPattern, ...], ...] = tuple(c[1] for c in _COMPILED)
"""Per kind id, the compiled pattern of each phase (0: the opening phase)."""
PHASE_BUFFS: tuple[tuple[tuple[tuple[int, int], ...], ...], ...] = tuple(
    tuple(_ids(p.buffs, spec.name) for p in spec.phases) for spec in ENEMIES
)
"""Per kind id, per later phase, the ``(status id, amount)`` gained on entering it."""
for _set in ENEMY_SETS.values():
    for _group in (*_set.normal, *_set.elite, *_set.boss):
        if not 1 <= len(_group) <= 3:
            raise ValueError(f"enemy set {_set.name!r}: encounters hold 1-3 enemies")
        for _name in _group:
            enemy_id(_name, f"enemy in set {_set.name!r}:")


def choose_move(
    pattern: CompiledPattern, step: int, last: int, repeats: int, rng: np.random.Generator
) -> int:
    """The index of an enemy's next move (the pattern rule of the module docstring).

    Args:
        pattern: The pattern of the enemy's current phase.
        step: Moves already chosen in this phase.
        last: The index of the last move made (-1 for none).
        repeats: How many times in a row ``last`` was made.
        rng: The engine's generator (used only by the weighted draw).
    """
    opening = pattern.opening
    if step < len(opening):
        return opening[step]
    cycle = pattern.cycle
    if cycle:
        return cycle[(step - len(opening)) % len(cycle)]
    banned = last if repeats >= pattern.max_repeat else -1
    total = 0.0
    for move, weight in zip(pattern.moves, pattern.weights, strict=True):
        if move != banned:
            total += weight
    u = rng.random() * total
    choice = -1
    for move, weight in zip(pattern.moves, pattern.weights, strict=True):
        if move == banned:
            continue
        choice = move
        u -= weight
        if u < 0.0:
            break
    return choice
