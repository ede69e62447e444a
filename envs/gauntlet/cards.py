"""The Gauntlet card table: every card as one row of data, and its upgraded form.

Glossary:
    card: a row of :data:`CARDS` (a :class:`CardSpec`); its index there is its *card id*.
    upgrade: the better form of a card, written ``Name+``: the row with the fields of its
        ``upgrade`` overrides replaced. A card is upgraded at most once.
    card code: ``2 * card id + upgraded``, the integer the engine keeps for a card in the deck
        (:data:`VARIANTS` holds the compiled card of every code).
    X cost: a card with ``cost == X`` spends all the player's energy and resolves its whole
        effect ``X`` times, where ``X`` is the energy spent plus its ``x_bonus``; at 0 energy
        it may still be played (and does nothing unless ``x_bonus`` > 0).
    target: ``enemy`` (one living enemy the player picks), ``all`` (every living enemy),
        ``random`` (each hit picks a living enemy at random) or ``none``.

A card resolves in this order (:func:`describe` writes the same order out):

1. ``hp_cost``: the player loses that much HP (ignoring block);
2. ``block`` (dexterity and frail apply; ``double_block`` instead doubles the player's block);
3. ``damage`` x ``hits`` to the target(s), hit by hit (``block_damage``: the base damage is
   the player's block); a hit on an enemy that has died is not made, and the remaining hits
   of a one-target card stop when its target dies;
4. ``apply``: statuses given to the target(s) still alive (``poison_mult`` then multiplies
   the target's poison by ``special_value``);
5. ``gain``: statuses the player gains (a power's lasting effect is such a status);
6. ``energy`` gained, then 7. ``draw`` cards drawn.

After resolving, a power leaves the fight (it is kept in the *powers* pile), a card with
``exhaust`` goes to the exhaust pile, any other to the discard pile. A card with ``retain``
stays in hand at the end of the turn instead of being discarded.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from palaestra.envs.gauntlet.rules import STATUS_INDEX

__all__ = [
    "CARDS",
    "CARD_INDEX",
    "KINDS",
    "N_CARDS",
    "RARITIES",
    "STARTING_DECK",
    "TARGETS",
    "VARIANTS",
    "Card",
    "CardSpec",
    "X",
    "card_code",
    "card_name",
    "describe",
]

X = -1
"""The ``cost`` of an X-cost card."""
KINDS = ("attack", "skill", "power")
TARGETS = ("enemy", "all", "random", "none")
RARITIES = ("starter", "common", "uncommon", "rare")
SPECIALS = ("", "block_damage", "double_block", "poison_mult")
Effects = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class CardSpec:
    """One card, as data.

    Attributes:
        name: The card's name (unique; the upgraded form adds ``+``).
        kind: ``attack``, ``skill`` or ``power``.
        cost: Energy to play, 0-3, or :data:`X`.
        target: See the module glossary.
        damage: Printed damage of each hit.
        hits: Hits per resolution.
        block: Printed block.
        draw: Cards drawn.
        energy: Energy gained.
        hp_cost: HP the player loses.
        apply: ``(status, amount)`` given to the target(s).
        gain: ``(status, amount)`` the player gains.
        exhaust: Whether the card goes to the exhaust pile once played.
        retain: Whether the card stays in hand at the end of the turn.
        strength_mult: How many times the player's strength counts on each hit.
        special: ``""``, ``block_damage``, ``double_block`` or ``poison_mult``.
        special_value: The multiplier of ``poison_mult``.
        x_bonus: Added to X (X-cost cards only).
        rarity: ``starter`` (not offered as a reward by default), ``common``, ``uncommon``
            or ``rare`` (offers are uniform over the pool; rarity is for reading).
        upgrade: ``(field, value)`` overrides that make the upgraded card.
    """

    name: str
    kind: str
    cost: int
    target: str = "none"
    damage: int = 0
    hits: int = 1
    block: int = 0
    draw: int = 0
    energy: int = 0
    hp_cost: int = 0
    apply: Effects = ()
    gain: Effects = ()
    exhaust: bool = False
    retain: bool = False
    strength_mult: int = 1
    special: str = ""
    special_value: int = 0
    x_bonus: int = 0
    rarity: str = "common"
    upgrade: tuple[tuple[str, Any], ...] = ()


def _a(name: str, cost: int, damage: int, target: str = "enemy", **kw: Any) -> CardSpec:
    return CardSpec(name, "attack", cost, target, damage, **kw)


def _s(name: str, cost: int, target: str = "none", **kw: Any) -> CardSpec:
    return CardSpec(name, "skill", cost, target, **kw)


def _p(name: str, cost: int, gain: Effects, **kw: Any) -> CardSpec:
    return CardSpec(name, "power", cost, gain=gain, rarity="uncommon", **kw)


CARDS: tuple[CardSpec, ...] = (
    # starter
    _a("Strike", 1, 6, rarity="starter", upgrade=(("damage", 9),)),
    _s("Defend", 1, block=5, rarity="starter", upgrade=(("block", 8),)),
    _a("Bash", 2, 8, apply=(("vulnerable", 2),), rarity="starter",
       upgrade=(("damage", 10), ("apply", (("vulnerable", 3),)))),
    # attacks
    _a("Cleave", 1, 8, "all", upgrade=(("damage", 11),)),
    _a("Twin Strike", 1, 5, hits=2, upgrade=(("damage", 7),)),
    _a("Pommel Strike", 1, 9, draw=1, upgrade=(("damage", 10), ("draw", 2))),
    _a("Iron Wave", 1, 5, block=5, upgrade=(("damage", 7), ("block", 7))),
    _a("Thunderclap", 1, 4, "all", apply=(("vulnerable", 1),), upgrade=(("damage", 7),)),
    _a("Clothesline", 2, 12, apply=(("weak", 2),),
       upgrade=(("damage", 14), ("apply", (("weak", 3),)))),
    _a("Heavy Blade", 2, 14, strength_mult=3, rarity="uncommon",
       upgrade=(("strength_mult", 5),)),
    _a("Body Slam", 1, 0, special="block_damage", upgrade=(("cost", 0),)),
    _a("Sword Boomerang", 1, 3, "random", hits=3, upgrade=(("hits", 4),)),
    _a("Pummel", 1, 2, hits=4, exhaust=True, rarity="uncommon", upgrade=(("hits", 5),)),
    _a("Uppercut", 2, 13, apply=(("weak", 1), ("vulnerable", 1)), rarity="uncommon",
       upgrade=(("apply", (("weak", 2), ("vulnerable", 2))),)),
    _a("Whirlwind", X, 5, "all", rarity="uncommon", upgrade=(("damage", 8),)),
    _a("Skewer", X, 7, rarity="uncommon", upgrade=(("damage", 10),)),
    _a("Poisoned Stab", 1, 6, apply=(("poison", 3),),
       upgrade=(("damage", 8), ("apply", (("poison", 4),)))),
    _a("Flick", 0, 3, upgrade=(("damage", 5),)),
    _a("Patient Strike", 1, 10, retain=True, upgrade=(("damage", 14),)),
    _a("Bludgeon", 3, 32, rarity="rare", upgrade=(("damage", 42),)),
    _a("Dash", 2, 10, block=10, rarity="uncommon", upgrade=(("damage", 13), ("block", 13))),
    # skills
    _s("Shrug It Off", 1, block=8, draw=1, upgrade=(("block", 11),)),
    _s("Backflip", 1, block=5, draw=2, upgrade=(("block", 8),)),
    _s("Steady Guard", 1, block=7, retain=True, upgrade=(("block", 10),)),
    _s("Impervious", 2, block=30, exhaust=True, rarity="rare", upgrade=(("block", 40),)),
    _s("Entrench", 2, special="double_block", rarity="uncommon", upgrade=(("cost", 1),)),
    _s("Reinforce", X, block=5, rarity="uncommon", upgrade=(("block", 7),)),
    _s("Battle Trance", 0, draw=3, rarity="uncommon", upgrade=(("draw", 4),)),
    _s("Adrenaline", 0, energy=1, draw=2, exhaust=True, rarity="rare",
       upgrade=(("energy", 2),)),
    _s("Offering", 0, hp_cost=6, energy=2, draw=3, exhaust=True, rarity="rare",
       upgrade=(("draw", 5),)),
    _s("Seeing Red", 1, energy=2, exhaust=True, rarity="uncommon", upgrade=(("cost", 0),)),
    _s("Deadly Poison", 1, "enemy", apply=(("poison", 5),),
       upgrade=(("apply", (("poison", 7),)),)),
    _s("Catalyst", 1, "enemy", special="poison_mult", special_value=2, exhaust=True,
       rarity="uncommon", upgrade=(("special_value", 3),)),
    _s("Crippling Cloud", 2, "all", apply=(("poison", 4), ("weak", 2)), exhaust=True,
       rarity="uncommon", upgrade=(("apply", (("poison", 7), ("weak", 2))),)),
    _s("Malaise", X, "enemy", apply=(("weak", 1), ("strength", -1)), exhaust=True,
       rarity="rare", upgrade=(("x_bonus", 1),)),
    _s("Disarm", 1, "enemy", apply=(("strength", -2),), exhaust=True, rarity="uncommon",
       upgrade=(("apply", (("strength", -3),)),)),
    _s("Intimidate", 0, "all", apply=(("weak", 1),), exhaust=True, rarity="uncommon",
       upgrade=(("apply", (("weak", 2),)),)),
    # powers
    _p("Inflame", 1, (("strength", 2),), upgrade=(("gain", (("strength", 3),)),)),
    _p("Footwork", 1, (("dexterity", 2),), upgrade=(("gain", (("dexterity", 3),)),)),
    _p("Metallicize", 1, (("metallicize", 3),), upgrade=(("gain", (("metallicize", 4),)),)),
    _p("Noxious Fumes", 1, (("noxious", 2),), upgrade=(("gain", (("noxious", 3),)),)),
    _p("Demon Form", 3, (("ritual", 2),), upgrade=(("gain", (("ritual", 3),)),)),
)  # fmt: skip
"""Every card; a card's index is its card id (``Name+`` is its upgraded form)."""
N_CARDS = len(CARDS)
CARD_INDEX: dict[str, int] = {c.name: i for i, c in enumerate(CARDS)}
STARTING_DECK: tuple[str, ...] = ("Strike",) * 5 + ("Defend",) * 4 + ("Bash",)
"""The deck a run starts with when the task gives none."""


@dataclass(frozen=True, slots=True)
class Card:
    """A compiled card (one code): a :class:`CardSpec` with its statuses as ids.

    Attributes:
        code: ``2 * card id + upgraded``.
        card_id: The index of its row in :data:`CARDS`.
        upgraded: Whether this is the ``+`` form.
        name: The name shown (``Strike+`` when upgraded).
        spec: The row, upgrade overrides applied.
        apply: ``(status id, amount)`` given to the target(s).
        gain: ``(status id, amount)`` the player gains.
        targeted: Whether the player picks an enemy (``target == "enemy"``).
        text: What the card does, in words (:func:`describe`).
    """

    code: int
    card_id: int
    upgraded: bool
    name: str
    spec: CardSpec
    apply: tuple[tuple[int, int], ...]
    gain: tuple[tuple[int, int], ...]
    targeted: bool
    text: str


_FIELDS = {f.name for f in fields(CardSpec)}


def _check(spec: CardSpec) -> None:
    where = f"card {spec.name!r}"
    if spec.kind not in KINDS or spec.target not in TARGETS or spec.rarity not in RARITIES:
        raise ValueError(f"{where}: bad kind, target or rarity")
    if spec.cost not in (X, 0, 1, 2, 3) or spec.special not in SPECIALS or spec.hits < 1:
        raise ValueError(f"{where}: bad cost, special or hits")
    for status, _ in spec.apply + spec.gain:
        if status not in STATUS_INDEX:
            raise ValueError(f"{where}: unknown status {status!r}")
    if spec.kind == "attack" and spec.target == "none":
        raise ValueError(f"{where}: an attack needs a target")
    if spec.apply and spec.target == "none":
        raise ValueError(f"{where}: applies statuses but has no target")


def _compile(card_id: int, spec: CardSpec, upgraded: bool) -> Card:
    if upgraded:
        bad = [k for k, _ in spec.upgrade if k not in _FIELDS or k in ("name", "upgrade")]
        if bad or not spec.upgrade:
            raise ValueError(f"card {spec.name!r}: bad upgrade {spec.upgrade!r}")
        spec = replace(spec, name=spec.name + "+", **dict(spec.upgrade))
    _check(spec)
    return Card(
        code=2 * card_id + upgraded,
        card_id=card_id,
        upgraded=upgraded,
        name=spec.name,
        spec=spec,
        apply=tuple((STATUS_INDEX[s], n) for s, n in spec.apply),
        gain=tuple((STATUS_INDEX[s], n) for s, n in spec.gain),
        targeted=spec.target == "enemy",
        text=describe(spec),
    )


_LASTING = {
    "ritual": "at the end of each turn, gain {n} strength",
    "metallicize": "at the end of each turn, gain {n} block",
    "noxious": "at the start of each turn, apply {n} poison to all enemies",
}


def _effect_text(spec: CardSpec) -> list[str]:
    parts: list[str] = []
    if spec.hp_cost:
        parts.append(f"lose {spec.hp_cost} HP")
    if spec.special == "double_block":
        parts.append("double your block")
    elif spec.block:
        parts.append(f"gain {spec.block} block")
    if spec.damage or spec.special == "block_damage":
        amount = f"{spec.damage} damage"
        if spec.special == "block_damage":
            amount = "damage equal to your block"
        where = {"enemy": "", "all": " to all enemies", "random": " to a random enemy"}
        times = f" {spec.hits} times" if spec.hits > 1 else ""
        parts.append(f"deal {amount}{where[spec.target]}{times}")
        if spec.strength_mult != 1:
            parts.append(f"strength counts {spec.strength_mult} times")
    everyone = " to all enemies" if spec.target == "all" else ""
    for status, n in spec.apply:
        if n < 0:
            parts.append(f"{'all enemies lose' if everyone else 'the enemy loses'} {-n} {status}")
        else:
            parts.append(f"apply {n} {status}{everyone}")
    if spec.special == "poison_mult":
        parts.append(f"multiply the enemy's poison by {spec.special_value}")
    for status, n in spec.gain:
        parts.append(_LASTING.get(status, "gain {n} " + status).format(n=n))
    if spec.energy:
        parts.append(f"gain {spec.energy} energy")
    if spec.draw:
        parts.append(f"draw {spec.draw} card{'s' if spec.draw > 1 else ''}")
    return parts


def describe(spec: CardSpec) -> str:
    """What a card does, in one sentence in resolution order (``"Deal 8 damage. Exhaust."``)."""
    parts = _effect_text(spec)
    text = ", ".join(parts)
    if spec.cost == X:
        times = "X" if not spec.x_bonus else f"X+{spec.x_bonus}"
        text = f"{times} times: {text}"
    text = text[:1].upper() + text[1:] + "." if text else ""
    if spec.retain:
        text += " Retain."
    if spec.exhaust:
        text += " Exhaust."
    return text.strip()


VARIANTS: tuple[Card, ...] = tuple(
    _compile(i, spec, up) for i, spec in enumerate(CARDS) for up in (False, True)
)
"""The compiled card of every card code (``VARIANTS[2 * card_id + upgraded]``)."""
if len(CARD_INDEX) != N_CARDS:
    raise ValueError("card names must be unique")


def card_code(name: Any, what: str = "card") -> int:
    """The code of a card written by name, ``"Bash"`` or ``"Bash+"`` (upgraded).

    Args:
        name: The card's name.
        what: What the name is, for the message (``"task key 'starting_deck': card"``).

    Raises:
        ValueError: for a name that is no card; the message names it and lists the cards.
    """
    if isinstance(name, str):
        upgraded = name.endswith("+")
        card_id = CARD_INDEX.get(name[:-1] if upgraded else name)
        if card_id is not None:
            return 2 * card_id + upgraded
    raise ValueError(
        f"unknown {what} {name!r}; cards (add '+' for the upgraded form): "
        + ", ".join(c.name for c in CARDS)
    )


def card_name(code: int) -> str:
    """The name of the card with ``code`` (``"Bash+"`` when upgraded)."""
    return VARIANTS[code].name
