"""The text view of a Gauntlet run: what a language agent reads each step.

Everything a human player sees and nothing more: the hand with each card's cost and
effect, energy, HP, block and statuses of every combatant, each living enemy's intent
(its kinds and the damage per hit as it would hit the player, before block), the sizes of
the piles (never the draw pile's order), the deck's contents by count, and, at a reward or
a rest, what is offered. Short, deterministic, and versioned: the first line carries
:data:`TEXT_VERSION` (``"gauntlet-v0 text/1"``); change the tag whenever the format
changes. Example (in combat)::

    gauntlet-v0 text/1 | floor 1/3 | combat | turn 1
    you: HP 70/70, block 0, energy 3/3
    piles: draw 5, discard 0, exhaust 0, powers 0 | deck 10: Strike 5, Defend 4, Bash 1
    hand:
     0. Strike (1): Deal 6 damage.
     1. Bash (2): Deal 8 damage, apply 2 vulnerable.
    enemies:
     0. Cultist: HP 50/50, block 0 | intent: buff
     1. Mite: HP 12/12, block 0; strength 1 | intent: attack 7 x 2 (14)

A card's cost is shown as ``X`` for an X-cost card. Dead enemies keep their slot
(``1. Mite: dead``), so that slot numbers match the action names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from palaestra.envs.gauntlet.cards import VARIANTS, X
from palaestra.envs.gauntlet.enemies import INTENT_KINDS, MOVES
from palaestra.envs.gauntlet.rules import ENERGY_PER_TURN, STATUSES

if TYPE_CHECKING:
    from palaestra.envs.gauntlet.engine import Run

__all__ = ["MAX_TEXT_LENGTH", "TEXT_VERSION", "text_view"]

TEXT_VERSION = "gauntlet-v0 text/1"
"""The tag on the first line of every text view; it changes whenever the format does."""
MAX_TEXT_LENGTH = 4096
"""No text view is longer: 10 hand cards of at most ~100 characters, 3 enemies of at most
~250, a deck of at most 52 cards (~1,200), headers and offers (tested on the longest case);
a longer one would be cut to this length."""


def _statuses(status: list[int]) -> str:
    return ", ".join(f"{STATUSES[k].name} {v}" for k, v in enumerate(status) if v)


def _card(code: int) -> str:
    card = VARIANTS[code]
    cost = card.spec.cost
    return f"{card.name} ({'X' if cost == X else cost}): {card.text}"


def _deck(run: Run) -> str:
    counts: dict[int, int] = {}
    for code in run.deck:
        counts[code] = counts.get(code, 0) + 1
    parts = ", ".join(f"{VARIANTS[c].name} {n}" for c, n in counts.items())
    return f"deck {len(run.deck)}: {parts}"


def _combat(run: Run, lines: list[str]) -> None:
    fight, player = run.fight, run.player
    status = _statuses(player.status)
    lines.append(
        f"you: HP {player.hp}/{player.max_hp}, block {player.block}, "
        f"energy {fight.energy}/{ENERGY_PER_TURN}" + (f"; {status}" if status else "")
    )
    lines.append(
        f"piles: draw {len(fight.draw_pile)}, discard {len(fight.discard_pile)}, "
        f"exhaust {len(fight.exhaust_pile)}, powers {len(fight.powers)} | {_deck(run)}"
    )
    lines.append("hand:" if fight.hand else "hand: empty")
    lines += [f" {s}. {_card(run.deck[i])}" for s, i in enumerate(fight.hand)]
    lines.append("enemies:")
    for j, enemy in enumerate(fight.enemies):
        if enemy.hp <= 0:
            lines.append(f" {j}. {enemy.name}: dead")
            continue
        status = _statuses(enemy.status)
        flags = MOVES[enemy.kind][enemy.intent].flags
        kinds = [k for k, flag in zip(INTENT_KINDS, flags, strict=True) if flag]
        damage, hits = fight.incoming(enemy)
        if hits:  # an attack: kinds[0] is "attack"
            total = f" x {hits} ({damage * hits})" if hits > 1 else ""
            kinds[0] = f"attack {damage}{total}"
        lines.append(
            f" {j}. {enemy.name}: HP {enemy.hp}/{enemy.max_hp}, block {enemy.block}"
            + (f"; {status}" if status else "")
            + f" | intent: {', '.join(kinds) or 'unknown'}"
        )


def text_view(run: Run) -> str:
    """The text view of ``run`` in its current state (see the module docstring)."""
    phase = run.phase_name
    head = f"{TEXT_VERSION} | floor {run.floor}/{run.fights} | {phase}"
    if phase == "combat":
        lines = [f"{head} | turn {run.fight.turn}"]
        _combat(run, lines)
    else:
        player = run.player
        lines = [head, f"you: HP {player.hp}/{player.max_hp} | {_deck(run)}"]
        if phase == "reward":
            lines.append("reward: take one card or skip:")
            lines += [f" {k}. {_card(code)}" for k, code in enumerate(run.offers)]
        elif phase == "rest":
            upgradable = sorted({c for c in run.deck if not c & 1})
            names = ", ".join(VARIANTS[c].name for c in upgradable) or "none"
            lines.append(f"rest: heal {run.heal_amount()} HP, upgrade one of: {names}; or leave")
        else:
            lines.append(f"the run is over: {'won' if run.won else 'lost'}")
    text = "\n".join(lines)
    return text[:MAX_TEXT_LENGTH]
