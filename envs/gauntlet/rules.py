"""The rules of Gauntlet combat: sizes, statuses, and the damage and block formulas.

Glossary:
    combatant: the player or one enemy: HP, maximum HP, block and statuses.
    block: points that absorb attack damage before HP does. Block expires (is set to 0) at
        the start of its owner's next turn, and is 0 when a fight begins.
    status: a number a combatant carries for the rest of a fight (statuses are cleared when
        a fight begins). An *intensity* status keeps its value until something changes it;
        a *duration* status counts the owner's turns it has left and is active while above 0.
    turn: the player's turn (play cards, then end it), then every living enemy's turn in
        slot order; together one round.
    hit: one instance of attack damage; a multi-hit attack (``6 x 3``) makes three hits.

The status table, in :data:`STATUSES` order (a status's index there is its id everywhere).
Integer arithmetic throughout; ``//`` rounds down. A hit's damage ``d`` is computed in steps
1-3 from its printed ``base``, block ``b`` gained from a card or move in steps 1-2:

| status | kind | acts | formula | decay |
| --- | --- | --- | --- | --- |
| ``strength`` | intensity | each hit, step 1 | ``d = max(0, base + N * m)`` | never |
| ``weak`` | duration | each hit, step 2 | attacker's: ``d = d * 3 // 4`` | -1 at own turn end |
| ``vulnerable`` | duration | each hit, step 3 | target's: ``d = d * 3 // 2`` | -1 at own turn end |
| ``dexterity`` | intensity | block gain, step 1 | ``b = max(0, base + N)`` | never |
| ``frail`` | duration | block gain, step 2 | ``b = b * 3 // 4`` | -1 at own turn end |
| ``poison`` | intensity | owner's turn start | HP loss ``N`` (ignores block) | -1 after each tick |
| ``ritual`` | intensity | owner's turn end | strength ``+= N`` | never |
| ``metallicize`` | intensity | owner's turn end | block ``+= N`` (no dexterity, frail) | never |
| ``noxious`` | intensity | owner's turn start | every living foe: poison ``+= N`` | never |

``m`` is 1, or a card's strength multiplier. Strength and dexterity may be negative; the
``max(0, ...)`` comes before the multipliers. A hit lands as ``a = min(block, d)``: block
loses ``a`` and HP loses ``min(HP, d - a)``. HP loss (poison, a card's HP cost) ignores
block: HP loses ``min(HP, N)``. Healing gives ``min(max HP - HP, N)``. A duration status is
active while above 0.

Each multiplier rounds down on its own, weak before vulnerable: a 10-damage hit from a weak
attacker on a vulnerable target deals ``10 * 3 // 4 = 7``, then ``7 * 3 // 2 = 10`` (not 11,
which rounding once at the end or taking vulnerable first would give).

Turn order. The player's turn starts: block expires, poison ticks (the player may die),
noxious poisons the enemies, energy is set to :data:`ENERGY_PER_TURN`, and
:data:`DRAW_PER_TURN` cards are drawn. The player plays cards, then ends the turn: ritual and
metallicize act, every card in hand without *retain* is discarded, and the player's duration
statuses tick down. Then each living enemy in slot order: its block expires, its poison
ticks (it may die), it carries out its intent, and its ritual, metallicize and duration
statuses act as the player's do. Then the living enemies choose their next intents and the
player's next turn starts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEXTERITY",
    "DRAW_PER_TURN",
    "DURATION_STATUSES",
    "ENERGY_PER_TURN",
    "FRAIL",
    "HAND_MAX",
    "MAX_ENEMIES",
    "METALLICIZE",
    "NOXIOUS",
    "N_OFFERS",
    "N_STATUSES",
    "POISON",
    "RITUAL",
    "STATUSES",
    "STATUS_INDEX",
    "STRENGTH",
    "VULNERABLE",
    "WEAK",
    "Combatant",
    "StatusSpec",
    "attack_damage",
    "block_gain",
    "status_id",
]

ENERGY_PER_TURN = 3
"""Energy the player has at the start of each turn (unspent energy does not carry over)."""
DRAW_PER_TURN = 5
"""Cards drawn at the start of each turn."""
HAND_MAX = 10
"""The most cards in hand; a card drawn into a full hand goes to the discard pile."""
MAX_ENEMIES = 3
"""The most enemies in one fight (enemy slots 0-2)."""
N_OFFERS = 3
"""Cards offered after a fight won (fewer when the card pool is smaller)."""


@dataclass(frozen=True)
class StatusSpec:
    """One row of the status table.

    Attributes:
        name: The status's name, as used in cards, enemies, tasks and predicates.
        duration: Whether it counts turns (active while > 0, -1 at the end of the owner's
            turn) rather than stacking intensity.
        doc: What it does, in one line.
    """

    name: str
    duration: bool
    doc: str


STATUSES: tuple[StatusSpec, ...] = (
    StatusSpec("strength", False, "+N damage to every hit of the owner's attacks"),
    StatusSpec("weak", True, "deals 3/4 attack damage, rounded down"),
    StatusSpec("vulnerable", True, "takes 3/2 attack damage, rounded down"),
    StatusSpec("dexterity", False, "+N block from every block gain of a card or move"),
    StatusSpec("frail", True, "gains 3/4 block from cards and moves, rounded down"),
    StatusSpec("poison", False, "loses N HP at the start of its turn, then N drops by 1"),
    StatusSpec("ritual", False, "gains N strength at the end of its turn"),
    StatusSpec("metallicize", False, "gains N block at the end of its turn"),
    StatusSpec("noxious", False, "gives every living enemy N poison at the start of its turn"),
)
"""The status table; a status's index here is its id."""
STRENGTH, WEAK, VULNERABLE, DEXTERITY, FRAIL, POISON, RITUAL, METALLICIZE, NOXIOUS = range(9)
N_STATUSES = len(STATUSES)
STATUS_INDEX: dict[str, int] = {s.name: i for i, s in enumerate(STATUSES)}
DURATION_STATUSES: tuple[int, ...] = tuple(i for i, s in enumerate(STATUSES) if s.duration)


def status_id(name: str) -> int:
    """The id of the status called ``name``.

    Raises:
        ValueError: for an unknown status; the message lists the statuses.
    """
    sid = STATUS_INDEX.get(name)
    if sid is None:
        raise ValueError(
            f"unknown status {name!r}; statuses: {', '.join(s.name for s in STATUSES)}"
        )
    return sid


def attack_damage(base: int, attacker: list[int], target: list[int], strength_mult: int = 1) -> int:
    """The damage of one hit before block, from the statuses of both sides.

    Args:
        base: The hit's printed damage.
        attacker: The attacker's statuses (indexed by status id).
        target: The target's statuses.
        strength_mult: How many times the attacker's strength counts (a card's multiplier).
    """
    damage = base + attacker[STRENGTH] * strength_mult
    if damage < 0:
        damage = 0
    if attacker[WEAK] > 0:
        damage = damage * 3 // 4
    if target[VULNERABLE] > 0:
        damage = damage * 3 // 2
    return damage


def block_gain(base: int, statuses: list[int]) -> int:
    """The block a card or move with printed block ``base`` gives its owner."""
    block = base + statuses[DEXTERITY]
    if block < 0:
        block = 0
    if statuses[FRAIL] > 0:
        block = block * 3 // 4
    return block


class Combatant:
    """The player or an enemy: HP, block and statuses (the enemy's plan lives in the engine).

    Args:
        name: The name shown in texts (unique among the enemies of a fight).
        hp: Current HP.
        max_hp: Maximum HP.

    Attributes:
        block: Current block.
        status: Every status's value, indexed by status id.
    """

    __slots__ = ("block", "hp", "max_hp", "name", "status")

    def __init__(self, name: str, hp: int, max_hp: int) -> None:
        self.name = name
        self.hp = hp
        self.max_hp = max_hp
        self.block = 0
        self.status = [0] * N_STATUSES

    @property
    def alive(self) -> bool:
        """Whether HP is above 0."""
        return self.hp > 0

    def clone(self) -> Combatant:
        """A copy that shares nothing mutable with this one."""
        other = Combatant(self.name, self.hp, self.max_hp)
        other.block = self.block
        other.status = self.status[:]
        return other

    def reset_for_fight(self) -> None:
        """Clear block and statuses (a fight begins)."""
        self.block = 0
        self.status = [0] * N_STATUSES

    def take_hit(self, damage: int) -> int:
        """Land one hit of ``damage`` (already modified): block absorbs first; return HP lost."""
        block = self.block
        if block >= damage:
            self.block = block - damage
            return 0
        self.block = 0
        return self.lose_hp(damage - block)

    def lose_hp(self, amount: int) -> int:
        """Lose ``amount`` HP ignoring block (never below 0); return the HP actually lost."""
        lost = amount if amount < self.hp else self.hp
        if lost < 0:
            lost = 0
        self.hp -= lost
        return lost

    def heal(self, amount: int) -> int:
        """Gain up to ``amount`` HP, never above the maximum; return the HP gained."""
        gained = min(amount, self.max_hp - self.hp)
        if gained < 0:
            gained = 0
        self.hp += gained
        return gained

    def gain_block(self, base: int) -> int:
        """Gain the block of a card or move (dexterity, then frail); return the block gained."""
        gained = block_gain(base, self.status)
        self.block += gained
        return gained

    def start_turn(self) -> int:
        """The start of the owner's turn: block expires, poison ticks; return HP lost."""
        self.block = 0
        poison = self.status[POISON]
        if poison <= 0:
            return 0
        self.status[POISON] = poison - 1
        return self.lose_hp(poison)

    def end_turn(self) -> None:
        """The end of the owner's turn: ritual and metallicize act, durations tick down."""
        status = self.status
        if status[RITUAL]:
            status[STRENGTH] += status[RITUAL]
        if status[METALLICIZE] > 0:
            self.block += status[METALLICIZE]
        for sid in DURATION_STATUSES:
            if status[sid] > 0:
                status[sid] -= 1
