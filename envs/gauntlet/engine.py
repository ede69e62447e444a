"""The Gauntlet run engine: a sequence of fights, with rewards and rests in between.

:class:`Run` plays one run of a task with the numpy generator it is given and nothing
else, so the same task, generator state and actions give the same run, step for step. It
knows nothing of agents, observations or rewards; the envs sit on top of it, through
:meth:`Run.step`, :meth:`Run.legal_mask`, :meth:`Run.legal_actions`, :meth:`Run.vector`
and :meth:`Run.metrics`.

Glossary:
    run: fights 1 to ``fights`` in order (the *floor* is the number of the current or last
        fight); lost when the player's HP reaches 0, won when the last fight is won.
    phase: ``combat`` (play cards, end turns: a :class:`~.combat.Fight`), ``reward`` (take
        one of the offered cards or skip), ``rest`` (heal, upgrade a card or leave) or
        ``over``. After a fight won comes its reward (none after the last fight), then a rest
        after every ``rest_every``-th fight, then the next fight.
    deck: every card the player owns, as card codes indexed by *instance*. A card taken at a
        reward joins the deck; an upgrade turns the first copy not yet upgraded (in deck
        order) into its ``+`` form.
    offer: a card code offered after a fight won: :data:`~.rules.N_OFFERS` distinct cards
        of the reward pool (fewer when the pool is smaller), never upgraded.

Randomness, all from the run's generator: the encounter of each fight (``rng.integers``),
enemy maximum HP (``rng.integers(low, high + 1)`` per enemy in slot order), intents
(``rng.random`` in :func:`~.enemies.choose_move`), draw-pile shuffles
(``rng.permutation``), random targets (``rng.integers`` over the living enemies) and
offers (``rng.choice`` without replacement).

Rules, card resolution and enemy patterns are documented in :mod:`~.rules`,
:mod:`~.cards`, :mod:`~.enemies` and :mod:`~.combat`; the action encoding and the vector
layout in :mod:`~.vocabulary`; the task knobs in :mod:`~.task`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from palaestra.envs.gauntlet.cards import VARIANTS, X, card_code
from palaestra.envs.gauntlet.combat import Enemy, Fight, RunStats
from palaestra.envs.gauntlet.enemies import ENEMY_SETS, fight_plan
from palaestra.envs.gauntlet.rules import MAX_ENEMIES, N_OFFERS, Combatant
from palaestra.envs.gauntlet.task import GAUNTLET_TASK_SPACE, REST_HEAL_PERCENT, reward_pool
from palaestra.envs.gauntlet.vocabulary import (
    CHOOSE_AT,
    END_TURN,
    N_ACTIONS,
    N_PLAY,
    PHASES,
    REST_HEAL,
    SKIP,
    UPGRADE_AT,
    action_text,
    write_vector,
)

__all__ = ["COMBAT", "OVER", "REST", "REWARD", "Run", "RunOverError", "RunStats"]

COMBAT, REWARD, REST, OVER = range(4)
"""Phase codes (:data:`~.vocabulary.PHASES` names them)."""
AGENT = "player"
"""The name errors give the one who acts."""


class RunOverError(ValueError):
    """An action was given after the run ended."""


class Run:
    """One Gauntlet run.

    Args:
        task: A Gauntlet task, possibly partial (validated here with
            :data:`~.task.GAUNTLET_TASK_SPACE`; ``ValueError`` names a bad knob).
        rng: The generator every random draw of the run comes from.
        record: Whether to keep a log of what happens (:meth:`take_events`).

    Attributes:
        task: The complete task.
        phase: ``COMBAT``, ``REWARD``, ``REST`` or ``OVER`` (:attr:`phase_name` in words).
        won: Whether the run was won (only once over).
        floor: The number of the current (or last) fight, from 1.
        fights: The number of fights of the run.
        player: The player (HP carries over from fight to fight).
        deck: The card code of every instance the player owns.
        fight: The current (or last) fight.
        offers: Card codes offered, at a reward.
        stats: The run's counters.
    """

    def __init__(
        self, task: Mapping[str, Any] | None, rng: np.random.Generator, *, record: bool = False
    ) -> None:
        self.task = GAUNTLET_TASK_SPACE.validate(task)
        task = self.task
        self.rng = rng
        self.events: list[str] | None = [] if record else None
        self.ascension: int = task["ascension"]
        self.fights: int = task["fights"]
        self.rest_every: int = task["rest_every"]
        self.pool = reward_pool(task)
        self.enemy_set = ENEMY_SETS[task["enemy_set"]]
        self.plan = fight_plan(self.enemy_set, self.fights)
        self.encounters: list[list[str]] | None = task["encounters"]
        self.previous: dict[str, int] = {}
        self.player = Combatant("you", task["max_hp"], task["max_hp"])
        self.deck = [card_code(name) for name in task["starting_deck"]]
        self.phase = COMBAT
        self.won = False
        self.floor = 0
        self.stats = RunStats()
        self.offers: list[int] = []
        self._mask: bytearray | None = None
        self._indices: list[int] = []
        self._start_fight()

    # ------------------------------------------------------------------ the state
    @property
    def over(self) -> bool:
        """Whether the run has ended."""
        return self.phase == OVER

    @property
    def phase_name(self) -> str:
        """The phase in words: ``combat``, ``reward``, ``rest`` or ``over``."""
        return PHASES[self.phase]

    @property
    def enemies(self) -> list[Enemy]:
        """The enemies of the current (or last) fight, by slot; dead ones keep their slot."""
        return self.fight.enemies

    @property
    def hand(self) -> list[int]:
        """The instances in hand, by slot."""
        return self.fight.hand

    @property
    def energy(self) -> int:
        """Energy left this turn."""
        return self.fight.energy

    def piles(self) -> dict[str, list[int]]:
        """The fight's piles by name (``draw``, ``hand``, ``discard``, ``exhaust``, ``powers``).

        In combat they hold every instance of the deck exactly once; outside combat they are
        empty.
        """
        f = self.fight
        return {
            "draw": f.draw_pile,
            "hand": f.hand,
            "discard": f.discard_pile,
            "exhaust": f.exhaust_pile,
            "powers": f.powers,
        }

    def cost(self, code: int) -> int:
        """The energy a card costs to play now (an X card: all the energy there is)."""
        cost = VARIANTS[code].spec.cost
        return self.fight.energy if cost == X else cost

    def heal_amount(self) -> int:
        """The HP a rest would heal now."""
        p = self.player
        return min(p.max_hp - p.hp, p.max_hp * REST_HEAL_PERCENT // 100)

    def incoming(self, enemy: Enemy) -> tuple[int, int]:
        """``(damage per hit as it would hit the player before block, hits)`` of an intent."""
        return self.fight.incoming(enemy)

    def legal_indices(self) -> list[int]:
        """The legal actions, in index order (empty once the run is over)."""
        self._legal()
        return self._indices[:]

    def legal_mask(self) -> np.ndarray:
        """A fresh ``int8`` array of :data:`~.vocabulary.N_ACTIONS` entries, 1 = legal."""
        return np.frombuffer(bytes(self._legal()), dtype=np.int8).copy()

    def legal_actions(self) -> dict[int, str]:
        """Every legal action index mapped to its text (the texts are distinct)."""
        self._legal()
        return {i: action_text(self, i) for i in self._indices}

    def action_name(self, action: int) -> str:
        """The text of an action in this state, e.g. ``"play Bash on Cultist (2 energy)"``.

        An index that means nothing now (an empty hand slot) gets its fixed name from
        :data:`~.vocabulary.PRIMITIVE_ACTIONS`.
        """
        return action_text(self, action)

    def action_names(self) -> list[str]:
        """The text of every action index in this state."""
        return [action_text(self, i) for i in range(N_ACTIONS)]

    def state_changed(self) -> None:
        """Forget what was worked out about the state (call after editing it by hand)."""
        self._mask = None

    def fallback_action(self) -> int:
        """The legal action that changes least: end turn in combat, else skip."""
        return END_TURN if self.phase == COMBAT else SKIP

    def vector(self) -> np.ndarray:
        """The state as a fresh ``float32`` vector (layout: :mod:`~.vocabulary`)."""
        return write_vector(self, self._legal())

    def metrics(self) -> dict[str, Any]:
        """The run's metrics: success, floor, hp_left and the counters of :class:`RunStats`."""
        s = self.stats
        return {
            "success": self.won,
            "floor": self.floor,
            "hp_left": self.player.hp,
            "damage_dealt": s.damage_dealt,
            "damage_taken": s.damage_taken,
            "cards_played": s.cards_played,
            "fights_won": s.fights_won,
            "turns": s.turns,
        }

    def take_events(self) -> list[str]:
        """What happened since the last call, oldest first (always empty without ``record``)."""
        if self.events is None:
            return []
        events, self.events = self.events, []
        self.fight.events = self.events
        return events

    def copy(self) -> Run:
        """An independent copy, generator state included (for look-ahead search)."""
        other = copy.copy(self)
        bits = type(self.rng.bit_generator)(0)  # seeded only to skip the entropy read
        bits.state = self.rng.bit_generator.state
        other.rng = np.random.Generator(bits)
        other.events = None if self.events is None else self.events[:]
        other.previous = dict(self.previous)
        other.player = self.player.clone()
        other.deck = self.deck[:]
        other.offers = self.offers[:]
        other.stats = replace(self.stats)
        other.fight = self.fight.clone(
            other.player, other.deck, other.rng, other.stats, other.events
        )
        other._mask = None
        return other

    # ------------------------------------------------------------------ actions
    def step(self, action: Any) -> None:
        """Take one action (an index of the encoding in :mod:`~.vocabulary`).

        Raises:
            RunOverError: (a ``ValueError``) if the run has ended.
            ValueError: if ``action`` is not an integer in range, or is not legal now; the
                message names the action and the legal ones.
        """
        if self.phase == OVER:
            result = "won" if self.won else "lost"
            raise RunOverError(
                f"the run has ended ({result} on floor {self.floor} of {self.fights}); "
                "start a new run before acting"
            )
        if type(action) is not int and isinstance(action, np.integer):
            action = int(action)
        if type(action) is int and 0 <= action < N_ACTIONS and self._legal()[action]:
            index = action
        else:
            index = self._check(action)
        self._mask = None
        if index < N_PLAY:
            fight = self.fight
            fight.play(index // MAX_ENEMIES, index % MAX_ENEMIES)
            if fight.over:
                self._fight_over()
        elif index == END_TURN:
            self.fight.end_turn()
            if self.fight.over:
                self._fight_over()
        elif index < SKIP:
            code = self.offers[index - CHOOSE_AT]
            self.deck.append(code)
            self._log(f"you take {VARIANTS[code].name}")
            self._leave_reward()
        elif index == SKIP:
            if self.phase == REWARD:
                self._leave_reward()
            else:
                self._start_fight()
        elif index == REST_HEAL:
            self._log(f"you rest and heal {self.player.heal(self.heal_amount())} HP")
            self._start_fight()
        else:
            code = 2 * (index - UPGRADE_AT)
            self.deck[self.deck.index(code)] = code + 1
            self._log(f"you upgrade {VARIANTS[code].name}")
            self._start_fight()

    def _check(self, action: Any) -> int:
        from palaestra.envs.games import resolve_action

        index, _ = resolve_action(
            action,
            self.legal_mask(),
            agent=AGENT,
            names=self.action_names(),
            illegal_action="raise",
            fallback=self.fallback_action(),
        )
        return index

    def _legal(self) -> bytearray:
        mask = self._mask
        if mask is not None:
            return mask
        mask = bytearray(N_ACTIONS)
        legal: list[int] = []
        phase = self.phase
        if phase == COMBAT:
            fight = self.fight
            alive = [j for j, e in enumerate(fight.enemies) if e.hp > 0]
            seen: set[int] = set()
            deck, energy = self.deck, fight.energy
            for slot, instance in enumerate(fight.hand):
                code = deck[instance]
                if code in seen:
                    continue
                seen.add(code)
                card = VARIANTS[code]
                if card.spec.cost > energy:
                    continue
                base = slot * MAX_ENEMIES
                if card.targeted:
                    legal += [base + j for j in alive]
                else:
                    legal.append(base)
            legal.append(END_TURN)
        elif phase == REWARD:
            legal += [CHOOSE_AT + k for k in range(len(self.offers))]
            legal.append(SKIP)
        elif phase == REST:
            legal.append(SKIP)
            if self.player.hp < self.player.max_hp:
                legal.append(REST_HEAL)
            legal += sorted({UPGRADE_AT + code // 2 for code in self.deck if not code & 1})
        for i in legal:
            mask[i] = 1
        self._mask, self._indices = mask, legal
        return mask

    # ------------------------------------------------------------------ between fights
    def _log(self, text: str) -> None:
        if self.events is not None:
            self.events.append(text)

    def _start_fight(self) -> None:
        self.offers = []
        self.floor += 1
        k = self.floor - 1
        names = self.encounters[k] if self.encounters is not None else self._encounter(k)
        self._log(f"floor {self.floor} of {self.fights}")
        self.phase = COMBAT
        self.fight = Fight(
            names,
            self.player,
            self.deck,
            self.rng,
            self.stats,
            ascension=self.ascension,
            events=self.events,
        )

    def _encounter(self, k: int) -> list[str]:
        rank = self.plan[k]
        options = {"normal": self.enemy_set.normal, "elite": self.enemy_set.elite}.get(
            rank, self.enemy_set.boss
        )
        before = self.previous.get(rank, -1)
        if len(options) > 1 and before >= 0:
            pick = int(self.rng.integers(len(options) - 1))
            pick += pick >= before
        else:
            pick = int(self.rng.integers(len(options)))
        self.previous[rank] = pick
        return list(options[pick])

    def _fight_over(self) -> None:
        fight = self.fight
        fight.clear()
        if fight.lost:
            self.phase = OVER
            self._log(f"you die on floor {self.floor}")
            return
        self.stats.fights_won += 1
        self._log(f"you win the fight on floor {self.floor}")
        if self.floor >= self.fights:
            self.phase, self.won = OVER, True
            self._log("you win the run")
            return
        size = min(N_OFFERS, len(self.pool))
        chosen = self.rng.choice(len(self.pool), size=size, replace=False)
        self.offers = [2 * self.pool[int(k)] for k in chosen]
        self.phase = REWARD

    def _leave_reward(self) -> None:
        self.offers = []
        if self.rest_every and self.floor % self.rest_every == 0:
            self.phase = REST
        else:
            self._start_fight()
