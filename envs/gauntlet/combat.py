"""One Gauntlet fight: the player's piles and turns, card resolution and enemy turns.

A :class:`Fight` is made by the run engine (:mod:`~palaestra.envs.gauntlet.engine`) for
each floor and plays by the rules of :mod:`~palaestra.envs.gauntlet.rules` (turn order,
formulas), :mod:`~palaestra.envs.gauntlet.cards` (resolution order) and
:mod:`~palaestra.envs.gauntlet.enemies` (patterns, phases). It shares the run's player,
deck, generator, counters and log, and ends when every enemy is dead (:attr:`Fight.won`)
or the player is (:attr:`Fight.lost`).

Glossary:
    instance: the index of a card in the run's deck; piles hold instances, so the same
        card can be followed from pile to pile. While the fight runs, the draw pile, hand,
        discard pile, exhaust pile and powers pile hold every instance exactly once (the
        card being played is briefly in none).
    draw pile: drawn from its end. It is a random permutation of the deck when the fight
        begins (``rng.permutation``); when a card must be drawn and it is empty, the discard
        pile is shuffled (``rng.permutation``) into it. With both empty, nothing is drawn.
        A card drawn into a full hand (:data:`~.rules.HAND_MAX`) goes to the discard pile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from palaestra.envs.gauntlet.cards import VARIANTS, Card, X
from palaestra.envs.gauntlet.enemies import (
    ENEMIES,
    ENEMY_INDEX,
    MOVES,
    PATTERNS,
    PHASE_BUFFS,
    choose_move,
)
from palaestra.envs.gauntlet.rules import (
    DRAW_PER_TURN,
    DURATION_STATUSES,
    ENERGY_PER_TURN,
    HAND_MAX,
    NOXIOUS,
    POISON,
    STATUS_INDEX,
    Combatant,
    attack_damage,
)

__all__ = ["Enemy", "Fight", "RunStats"]


@dataclass
class RunStats:
    """The counters of a run.

    Attributes:
        fights_won: Fights won.
        turns: Player turns started, over all fights.
        cards_played: Cards played.
        damage_dealt: HP enemies lost to the player's cards and to poison (never more than
            they had).
        damage_taken: HP the player lost, to anything.
    """

    fights_won: int = 0
    turns: int = 0
    cards_played: int = 0
    damage_dealt: int = 0
    damage_taken: int = 0


class Enemy(Combatant):
    """An enemy in a fight: a :class:`~.rules.Combatant` with its kind and plan.

    Args:
        name: The name shown (unique in the fight).
        hp: Its maximum (and starting) HP.
        kind: The kind id (an index into ``ENEMIES``).

    Attributes:
        phase: The current phase (0: the opening phase).
        step: Moves chosen in this phase so far.
        intent: The index of the move it will make next.
        last: The index of its last move made (-1: none yet).
        repeats: How many times in a row it made ``last``.
    """

    __slots__ = ("intent", "kind", "last", "phase", "repeats", "step")

    def __init__(self, name: str, hp: int, kind: int) -> None:
        super().__init__(name, hp, hp)
        self.kind = kind
        self.phase = self.step = self.intent = self.repeats = 0
        self.last = -1

    def clone(self) -> Enemy:
        """A copy that shares nothing mutable with this one."""
        other = Enemy(self.name, self.max_hp, self.kind)
        other.hp, other.block, other.status = self.hp, self.block, self.status[:]
        other.phase, other.step = self.phase, self.step
        other.intent, other.last, other.repeats = self.intent, self.last, self.repeats
        return other


class Fight:
    """One fight of a run, from the first draw to the last blow.

    Args:
        names: The enemy kinds of the encounter, by slot.
        player: The run's player (its HP carries over; block and statuses are cleared).
        deck: The run's deck (card codes by instance); read only during the fight.
        rng: The run's generator.
        stats: The run's counters, updated in place.
        ascension: The run's ascension (enemy HP and damage bonuses, see ``task``).
        events: The run's log, appended to, or ``None`` for no log.

    Attributes:
        enemies: The enemies by slot; dead ones stay in their slot.
        draw_pile, hand, discard_pile, exhaust_pile, powers: Instances (see the glossary).
        energy: Energy left this turn.
        turn: The current turn, from 1.
        damage_bonus: Added to every hit of an enemy attack.
    """

    def __init__(
        self,
        names: Sequence[str],
        player: Combatant,
        deck: list[int],
        rng: np.random.Generator,
        stats: RunStats,
        *,
        ascension: int,
        events: list[str] | None,
    ) -> None:
        self.player, self.deck, self.rng, self.stats, self.events = player, deck, rng, stats, events
        self.damage_bonus = ascension // 3
        self.enemies: list[Enemy] = []
        for slot, name in enumerate(names):
            kind = ENEMY_INDEX[name]
            spec = ENEMIES[kind]
            title = spec.title
            if names.count(name) > 1:
                title = f"{title} {names[: slot + 1].count(name)}"
            hp = int(rng.integers(spec.hp[0], spec.hp[1] + 1))
            enemy = Enemy(title, hp + hp * ascension // 20, kind)
            for status, amount in spec.statuses:
                enemy.status[STATUS_INDEX[status]] += amount
            self.enemies.append(enemy)
        player.reset_for_fight()
        self.draw_pile: list[int] = rng.permutation(len(deck)).tolist()
        self.hand: list[int] = []
        self.discard_pile: list[int] = []
        self.exhaust_pile: list[int] = []
        self.powers: list[int] = []
        self.energy = 0
        self.turn = 0
        self._log(", ".join(e.name for e in self.enemies) + " appear")
        for enemy in self.enemies:
            self._choose_intent(enemy)
        self._start_turn()

    def clone(
        self,
        player: Combatant,
        deck: list[int],
        rng: np.random.Generator,
        stats: RunStats,
        events: list[str] | None,
    ) -> Fight:
        """A copy of this fight attached to a copy of the run (its player, deck, ...)."""
        other = Fight.__new__(Fight)
        other.__dict__.update(self.__dict__)
        other.player, other.deck, other.rng, other.stats, other.events = (
            player, deck, rng, stats, events,
        )  # fmt: skip
        other.enemies = [e.clone() for e in self.enemies]
        for name in ("draw_pile", "hand", "discard_pile", "exhaust_pile", "powers"):
            setattr(other, name, getattr(self, name)[:])
        return other

    @property
    def won(self) -> bool:
        """Whether every enemy is dead."""
        return all(e.hp <= 0 for e in self.enemies)

    @property
    def lost(self) -> bool:
        """Whether the player is dead."""
        return self.player.hp <= 0

    @property
    def over(self) -> bool:
        """Whether the fight has ended."""
        return self.player.hp <= 0 or all(e.hp <= 0 for e in self.enemies)

    def incoming(self, enemy: Enemy) -> tuple[int, int]:
        """``(damage per hit as it would hit the player before block, hits)`` of an intent."""
        move = MOVES[enemy.kind][enemy.intent].move
        if not move.damage:
            return 0, 0
        damage = attack_damage(move.damage + self.damage_bonus, enemy.status, self.player.status)
        return damage, move.hits

    def clear(self) -> None:
        """Empty every pile (the fight is over)."""
        self.draw_pile, self.hand, self.discard_pile = [], [], []
        self.exhaust_pile, self.powers = [], []
        self.energy = 0

    # ------------------------------------------------------------------ the player
    def play(self, slot: int, target: int) -> None:
        """Play the card in hand slot ``slot`` at enemy slot ``target`` (checked by the caller)."""
        instance = self.hand.pop(slot)
        card = VARIANTS[self.deck[instance]]
        spec = card.spec
        if spec.cost == X:
            times = self.energy + spec.x_bonus
            self.energy = 0
        else:
            times = 1
            self.energy -= spec.cost
        self.stats.cards_played += 1
        self._log(f"you play {card.name}")
        for _ in range(times):
            self._resolve(card, target)
            if self.over:
                break
        if spec.kind == "power":
            self.powers.append(instance)
        elif spec.exhaust:
            self.exhaust_pile.append(instance)
        else:
            self.discard_pile.append(instance)

    def end_turn(self) -> None:
        """End the player's turn; the enemies take theirs; the next turn starts."""
        player = self.player
        player.end_turn()
        deck, keep = self.deck, []
        for instance in self.hand:
            if VARIANTS[deck[instance]].spec.retain:
                keep.append(instance)
            else:
                self.discard_pile.append(instance)
        self.hand = keep
        self._log("you end your turn")
        for enemy in self.enemies:
            if enemy.hp <= 0:
                continue
            lost = enemy.start_turn()
            if lost:
                self._log(f"{enemy.name} loses {lost} HP to poison")
                self._enemy_lost(enemy, lost)
                if enemy.hp <= 0:
                    continue
            self._enemy_act(enemy)
            if player.hp <= 0:
                return
            enemy.end_turn()
        if self.won:
            return
        for enemy in self.enemies:
            if enemy.hp > 0:
                self._choose_intent(enemy)
        self._start_turn()

    def _log(self, text: str) -> None:
        if self.events is not None:
            self.events.append(text)

    def _start_turn(self) -> None:
        self.turn += 1
        self.stats.turns += 1
        player = self.player
        lost = player.start_turn()
        if lost:
            self._player_lost(lost, "poison")
            if player.hp <= 0:
                return
        noxious = player.status[NOXIOUS]
        if noxious > 0:
            for enemy in self.enemies:
                if enemy.hp > 0:
                    enemy.status[POISON] += noxious
        self.energy = ENERGY_PER_TURN
        self.draw(DRAW_PER_TURN)

    def draw(self, n: int) -> None:
        """Draw ``n`` cards (see the glossary for an empty draw pile and a full hand)."""
        draw, hand = self.draw_pile, self.hand
        for _ in range(n):
            if not draw:
                discard = self.discard_pile
                if not discard:
                    return
                order = self.rng.permutation(len(discard)).tolist()
                draw.extend([discard[i] for i in order])
                discard.clear()
            instance = draw.pop()
            if len(hand) < HAND_MAX:
                hand.append(instance)
            else:
                self.discard_pile.append(instance)

    def _player_lost(self, amount: int, cause: str) -> None:
        self.stats.damage_taken += amount
        self._log(f"you lose {amount} HP ({cause})")

    def _hit(self, enemy: Enemy, base: int, strength_mult: int) -> None:
        damage = attack_damage(base, self.player.status, enemy.status, strength_mult)
        lost = enemy.take_hit(damage)
        self._log(f"you hit {enemy.name} for {damage} ({lost} HP)")
        if lost:
            self._enemy_lost(enemy, lost)

    def _resolve(self, card: Card, target: int) -> None:
        spec, player, enemies = card.spec, self.player, self.enemies
        if spec.hp_cost:
            self._player_lost(player.lose_hp(spec.hp_cost), card.name)
            if player.hp <= 0:
                return
        if spec.special == "double_block":
            player.block *= 2
        elif spec.block:
            player.gain_block(spec.block)
        if spec.damage or spec.special == "block_damage":
            base = player.block if spec.special == "block_damage" else spec.damage
            mult = spec.strength_mult
            if spec.target == "enemy":
                enemy = enemies[target]
                for _ in range(spec.hits):
                    if enemy.hp <= 0:
                        break
                    self._hit(enemy, base, mult)
            elif spec.target == "all":
                for _ in range(spec.hits):
                    for enemy in enemies:
                        if enemy.hp > 0:
                            self._hit(enemy, base, mult)
            else:
                for _ in range(spec.hits):
                    living = [e for e in enemies if e.hp > 0]
                    if not living:
                        break
                    self._hit(living[int(self.rng.integers(len(living)))], base, mult)
        if card.apply or spec.special == "poison_mult":
            for enemy in [enemies[target]] if card.targeted else enemies:
                if enemy.hp > 0:
                    for sid, amount in card.apply:
                        enemy.status[sid] += amount
                    if spec.special == "poison_mult":
                        enemy.status[POISON] *= spec.special_value
        for sid, amount in card.gain:
            player.status[sid] += amount
        self.energy += spec.energy
        if spec.draw:
            self.draw(spec.draw)

    # ------------------------------------------------------------------ the enemies
    def _choose_intent(self, enemy: Enemy) -> None:
        pattern = PATTERNS[enemy.kind][enemy.phase]
        enemy.intent = choose_move(pattern, enemy.step, enemy.last, enemy.repeats, self.rng)
        enemy.step += 1

    def _enemy_lost(self, enemy: Enemy, amount: int) -> None:
        self.stats.damage_dealt += amount
        if enemy.hp <= 0:
            self._log(f"{enemy.name} dies")
            return
        phases = ENEMIES[enemy.kind].phases
        while enemy.phase < len(phases):
            phase = phases[enemy.phase]
            if enemy.hp * 100 > enemy.max_hp * phase.below_percent:
                break
            enemy.block += phase.block
            if phase.cleanse:
                for sid in (*DURATION_STATUSES, POISON):
                    enemy.status[sid] = 0
            for sid, amount in PHASE_BUFFS[enemy.kind][enemy.phase]:
                enemy.status[sid] += amount
            enemy.phase += 1
            enemy.step = 0
            self._choose_intent(enemy)
            self._log(f"{enemy.name} enters its {phase.name} phase")

    def _enemy_act(self, enemy: Enemy) -> None:
        compiled = MOVES[enemy.kind][enemy.intent]
        move, player = compiled.move, self.player
        self._log(f"{enemy.name} uses {move.name}")
        if move.damage:
            base = move.damage + self.damage_bonus
            for _ in range(move.hits):
                lost = player.take_hit(attack_damage(base, enemy.status, player.status))
                if lost:
                    self._player_lost(lost, enemy.name)
                    if player.hp <= 0:
                        return
        if move.block:
            enemy.gain_block(move.block)
        for sid, amount in compiled.buffs:
            enemy.status[sid] += amount
        for sid, amount in compiled.debuffs:
            player.status[sid] += amount
        if enemy.intent == enemy.last:
            enemy.repeats += 1
        else:
            enemy.last, enemy.repeats = enemy.intent, 1
