"""Scripted players for ``palaestra/Gauntlet-v0``: random, greedy and a one-turn look-ahead.

- :class:`RandomGauntletAgent` plays a uniformly random legal action with its own seeded
  generator (the legal set from ``info["legal_actions"]``, else the observation's mask).
- :class:`GreedyGauntletAgent` blocks what is coming, then plays the most damage per
  energy. It reads only its observation (the ``state`` vector of ``obs_mode="vector"`` or
  ``"both"``) and the legal actions (``info`` or the mask), plus the card table, which is
  the rules every player knows.
- :class:`LookaheadGauntletAgent` searches one turn ahead on copies of the simulator
  (``env.unwrapped.run.copy()``): every play sequence of up to ``depth`` cards, each
  finished greedily and followed by the enemies' turn, scored on what the copy then holds.
  It cheats by design: a copy carries the generator's state, so the search sees the cards
  to be drawn and the intents to be rolled. It is an upper reference, not a fair player.

All three follow the agent interface (:mod:`palaestra.agents.base`): ``act(observation,
info=None)`` and ``reset(seed=None)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.envs.gauntlet.cards import VARIANTS, Card, X
from palaestra.envs.gauntlet.rules import (
    DEXTERITY,
    HAND_MAX,
    MAX_ENEMIES,
    N_STATUSES,
    POISON,
    STRENGTH,
    attack_damage,
    block_gain,
)
from palaestra.envs.gauntlet.vocabulary import (
    CHOOSE_AT,
    END_TURN,
    ENEMY_AT,
    ENEMY_FIELDS,
    HAND_AT,
    HAND_FIELDS,
    HEADER_FIELDS,
    N_ACTIONS,
    N_PLAY,
    OFFER_AT,
    OFFER_FIELDS,
    PLAYER_STATUS_AT,
    REST_HEAL,
    SKIP,
    UPGRADE_AT,
    VECTOR_KEY,
    VECTOR_SIZE,
)

__all__ = ["GreedyGauntletAgent", "LookaheadGauntletAgent", "RandomGauntletAgent"]

_H = {name: i for i, name in enumerate(HEADER_FIELDS)}
_E = {name: i for i, name in enumerate(ENEMY_FIELDS)}
_EW, _HW = len(ENEMY_FIELDS), len(HAND_FIELDS)
_ESTATUS = len(ENEMY_FIELDS) - N_STATUSES
_TAKE_AT_LEAST = 5.0
"""The least :func:`card_value` a reward card must have to be taken (a Strike is 6)."""


def _legal(observation: Any, info: Mapping[str, Any] | None) -> list[int]:
    """The legal action indices from ``info["legal_actions"]``, else the observation's mask."""
    if info and "legal_actions" in info:
        return sorted(int(a) for a in info["legal_actions"])
    if isinstance(observation, Mapping) and "action_mask" in observation:
        return np.flatnonzero(np.asarray(observation["action_mask"])).tolist()
    return []


def card_value(card: Card) -> float:
    """A rough worth of a card for a reward or an upgrade: its printed effect per energy."""
    spec = card.spec
    times = 3 if spec.cost == X else 1
    value = spec.damage * spec.hits * (2 if spec.target == "all" else 1) + spec.block
    value += 3 * spec.draw + 4 * spec.energy + 3 * sum(abs(a) for _, a in card.apply)
    value += (8 if spec.kind == "power" else 3) * sum(abs(a) for _, a in card.gain)
    return times * value / max(spec.cost, 1)


class RandomGauntletAgent:
    """Plays a uniformly random legal action with its own generator.

    Args:
        seed: Seed of its generator; ``reset(seed)`` reseeds it.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Reseed the generator when ``seed`` is given."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    def act(self, observation: Any = None, info: Mapping[str, Any] | None = None) -> int:
        """A random action among the legal ones (``info``, else the observation's mask).

        With neither (a text observation and no info) it draws among all 78 indices; the
        env then penalizes or refuses an illegal one.
        """
        legal = _legal(observation, info)
        if not legal:
            return int(self.rng.integers(N_ACTIONS))
        return int(legal[int(self.rng.integers(len(legal)))])


class GreedyGauntletAgent:
    """Block what is coming, then the most damage per energy; rewards and rests by rule.

    It reads its observation's ``state`` vector (energy, block, incoming damage, statuses,
    the hand's cards, each enemy's HP, block and statuses, the offers) and the legal actions
    (``info["legal_actions"]``, else ``action_mask``), and the card table. In combat: while
    the incoming damage exceeds its block, it plays the legal card with the most block per
    energy; otherwise the play with the most damage per energy (counting every living enemy
    for a card that hits all, X-cost cards at the energy left, capped at what the target
    can lose, with a bonus for a kill); then a power or another useful card (draw, energy,
    statuses); then it ends the turn. At a reward it takes the offer of highest
    :func:`card_value` if that is at least 5, else skips; at a rest it heals below half HP,
    else upgrades the card of highest value it can, else heals or leaves.

    Raises:
        ValueError: (from ``act``) for an observation without the state vector (text mode).
    """

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget (it is deterministic)."""

    def act(self, observation: Any = None, info: Mapping[str, Any] | None = None) -> int:
        """The greedy action for this observation (see the class)."""
        vector = observation.get(VECTOR_KEY) if isinstance(observation, Mapping) else None
        if vector is None or np.shape(vector) != (VECTOR_SIZE,):
            raise ValueError(
                "GreedyGauntletAgent reads the state vector: use obs_mode='vector' or 'both'"
            )
        return self.choose(np.asarray(vector), _legal(observation, info))

    def choose(self, vector: np.ndarray, legal: list[int]) -> int:
        """The greedy action for a state vector and its legal actions."""
        if not legal:
            return END_TURN
        if vector[_H["phase_combat"]] > 0:
            return self._combat(vector, legal)
        if vector[_H["phase_reward"]] > 0:
            return self._reward(vector, legal)
        return self._rest(vector, legal)

    def _combat(self, v: np.ndarray, legal: list[int]) -> int:
        energy, block, incoming = v[_H["energy"]], v[_H["block"]], v[_H["incoming"]]
        mine = [int(x) for x in v[PLAYER_STATUS_AT : PLAYER_STATUS_AT + N_STATUSES]]
        best_block = best_damage = best_other = None
        for action in legal:
            if action >= N_PLAY:
                continue
            slot, j = divmod(action, MAX_ENEMIES)
            at = HAND_AT + slot * _HW
            card = VARIANTS[2 * (int(v[at]) - 1) + int(v[at + 1])]
            spec = card.spec
            cost = float(energy) if spec.cost == X else float(spec.cost)
            per = max(cost, 0.5)
            times = (energy + spec.x_bonus) if spec.cost == X else 1
            if spec.special == "double_block":
                gained = float(block)
            else:
                gained = float(block_gain(spec.block, mine) * times) if spec.block else 0.0
            if gained > 0 and (best_block is None or gained / per > best_block[0]):
                best_block = (gained / per, action)
            damage = self._damage(v, card, j, mine, times, block + gained)
            if damage > 0 and (best_damage is None or damage / per > best_damage[0]):
                best_damage = (damage / per, action)
            useful = spec.kind == "power" or spec.draw or spec.energy or card.gain or card.apply
            if useful and times > 0 and not damage and not gained and best_other is None:
                best_other = (0.0, action)
        if incoming > block and best_block is not None:
            return best_block[1]
        for best in (best_damage, best_other):
            if best is not None:
                return best[1]
        return END_TURN

    @staticmethod
    def _damage(
        v: np.ndarray, card: Card, target: int, mine: list[int], times: float, block: float
    ) -> float:
        spec = card.spec
        if not (spec.damage or spec.special == "block_damage") or times <= 0:
            return 0.0
        base = int(block) if spec.special == "block_damage" else spec.damage
        if spec.target == "enemy":
            targets = [target]
        else:
            targets = [j for j in range(MAX_ENEMIES) if v[ENEMY_AT + j * _EW] > 0]
        total = 0.0
        for j in targets:
            at = ENEMY_AT + j * _EW
            theirs = [int(x) for x in v[at + _ESTATUS : at + _EW]]
            hit = attack_damage(base, mine, theirs, spec.strength_mult)
            dealt = hit * spec.hits * times
            if spec.target == "random":
                dealt /= len(targets)
            room = v[at + _E["hp"]] + v[at + _E["block"]]
            total += min(dealt, room) + (3.0 if dealt >= room else 0.0)
        return float(total)

    @staticmethod
    def _reward(v: np.ndarray, legal: list[int]) -> int:
        best, choice = _TAKE_AT_LEAST, SKIP
        for action in legal:
            if CHOOSE_AT <= action < SKIP:
                at = OFFER_AT + (action - CHOOSE_AT) * len(OFFER_FIELDS)
                value = card_value(VARIANTS[2 * (int(v[at]) - 1) + int(v[at + 1])])
                if value >= best:
                    best, choice = value, action
        return choice if choice in legal else legal[0]

    @staticmethod
    def _rest(v: np.ndarray, legal: list[int]) -> int:
        if REST_HEAL in legal and v[_H["hp"]] * 2 < v[_H["max_hp"]]:
            return REST_HEAL
        upgrades = [a for a in legal if a >= UPGRADE_AT]
        if upgrades:
            return max(upgrades, key=lambda a: (card_value(VARIANTS[2 * (a - UPGRADE_AT)]), -a))
        if REST_HEAL in legal:
            return REST_HEAL
        return SKIP if SKIP in legal else legal[0]


class LookaheadGauntletAgent:
    """Searches one turn ahead on copies of the simulator: an upper reference that cheats.

    In combat it tries every sequence of up to ``depth`` plays (ending the turn early
    included), finishes the turn with :class:`GreedyGauntletAgent`'s plays, lets the
    enemies take their turn, and scores the copy: a won run or fight first, a lost one last,
    else ``2 x HP - enemies' HP - 0.3 x their block + 0.5 x their poison + 2 x strength``.
    It then plays the first action of the best sequence (searching again at every step).
    Rewards and rests follow the greedy rules. Since ``Run.copy()`` copies the generator,
    the search knows the next draws and intents: it reads the simulator (``env.unwrapped.
    run``), not its observation, and so takes the env in its constructor.

    Args:
        env: ``palaestra/Gauntlet-v0`` (wrapped or not).
        depth: Plays searched exhaustively before the greedy finish (1 to 4).

    Raises:
        ValueError: for an env that is not Gauntlet-v0, or a bad ``depth``.
    """

    def __init__(self, env: Any, depth: int = 2) -> None:
        from palaestra.envs.gauntlet.gauntlet_env import GauntletEnv

        unwrapped = getattr(env, "unwrapped", env)
        if not isinstance(unwrapped, GauntletEnv):
            raise ValueError(
                "LookaheadGauntletAgent plays palaestra/Gauntlet-v0, "
                f"not {type(unwrapped).__name__}"
            )
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 4:
            raise ValueError(f"depth must be an integer in [1, 4], got {depth!r}")
        self.env = unwrapped
        self.depth = depth
        self._greedy = GreedyGauntletAgent()

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget (it is deterministic)."""

    def act(self, observation: Any = None, info: Mapping[str, Any] | None = None) -> int:
        """The first action of the best turn found (see the class).

        Raises:
            ValueError: once the run is over.
            gymnasium.error.ResetNeeded: before the env's first reset.
        """
        run = self.env.run
        if run.over:
            raise ValueError("LookaheadGauntletAgent: the run is over; reset the env")
        legal = run.legal_indices()
        if run.phase_name != "combat":
            return self._greedy.choose(run.vector(), legal)
        best: list[Any] = [-np.inf, END_TURN]
        self._search(run, None, self.depth, run.floor, best)
        return int(best[1])

    def _search(self, run: Any, first: int | None, depth: int, floor: int, best: list[Any]) -> None:
        for action in run.legal_indices():
            child = run.copy()
            child.step(action)
            start = action if first is None else first
            if action == END_TURN or depth == 1 or child.phase_name != "combat":
                if child.phase_name == "combat" and action != END_TURN:
                    self._finish_turn(child)
                score = self._score(child, floor)
                if score > best[0]:
                    best[0], best[1] = score, start
            else:
                self._search(child, start, depth - 1, floor, best)

    def _finish_turn(self, run: Any) -> None:
        turn = run.fight.turn
        for _ in range(HAND_MAX + 20):
            if run.phase_name != "combat" or run.fight.turn != turn:
                return
            action = self._greedy.choose(run.vector(), run.legal_indices())
            run.step(action)
            if action == END_TURN:
                return

    @staticmethod
    def _score(run: Any, floor: int) -> float:
        player = run.player
        if run.over:
            return 1e6 + player.hp if run.won else -1e6
        if run.phase_name != "combat" or run.floor != floor:
            return 1e5 + 2.0 * player.hp
        score = 2.0 * player.hp + 2.0 * player.status[STRENGTH] + player.status[DEXTERITY]
        for enemy in run.enemies:
            if enemy.hp > 0:
                score -= enemy.hp + 0.3 * enemy.block - 0.5 * enemy.status[POISON]
        return float(score)
