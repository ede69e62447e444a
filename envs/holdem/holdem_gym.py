"""``palaestra/Holdem-v0``: one seat of no-limit hold'em against built-in opponents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from palaestra.envs.games import check_render_mode, resolve_action
from palaestra.envs.holdem.common import (
    HoldemEnvBase,
    check_hands,
    fallback_action,
)
from palaestra.envs.holdem.engine import ACTIONS
from palaestra.envs.holdem.opponents import OPPONENTS, Opponent
from palaestra.envs.holdem.table import Table
from palaestra.envs.holdem.task import HOLDEM_SOLO_TASK_SPACE, MAX_PLAYERS

__all__ = ["HoldemEnv"]

PLAYERS = tuple(f"player_{k}" for k in range(MAX_PLAYERS))
MAX_REDEALS = 100
"""Deals tried at reset for a hand in which the learner has a decision."""


class HoldemEnv(HoldemEnvBase, gym.Env):
    """One learner plays no-limit hold'em against built-in opponents.

    ## Description
    The single-agent form of ``palaestra/holdem-v0`` (same engine, rules, deal order, task
    knobs, actions and observations): the learner takes one seat, built-in opponents
    (:mod:`palaestra.envs.holdem.opponents`) the others. Opponents draw their randomness
    from the env's ``np_random`` only. An episode is one hand, or ``hands`` hands with
    stacks carried over and the button moving clockwise.

    ## Agents
    The learner sits in seat ``seat`` (named ``player_<seat>`` in histories and text), or,
    with ``seat=None`` (default), in a seat drawn uniformly at each reset among the seats
    with chips. Built-in opponents fill the other seats: the task's ``opponents`` knob, or
    the ``opponents`` argument where the task leaves it ``None``, is one name for all of them
    or a list, one name per opponent in seat order clockwise from the learner (seats that
    sit out included). ``random`` plays uniformly random legal actions,
    ``calling_station`` always checks or calls, ``tag`` is a tight-aggressive heuristic
    (:mod:`palaestra.envs.holdem.opponents`; the same players, as agents for
    ``holdem-v0``, are in :mod:`palaestra.agents.holdem_baselines`).

    ## Action Space
    ``Discrete(6)``: ``fold``, ``check_call``, ``raise_min``, ``raise_half_pot``,
    ``raise_pot``, ``all_in``, masked as in ``holdem-v0``. An illegal action is replaced by
    the fallback (check when checking is free, else fold) with a penalty of
    ``illegal_penalty`` big blinds and ``info["invalid_action"] = True`` (default
    ``illegal_action="penalize"``), or raises ``ValueError`` (``"raise"``). Non-integer,
    NaN or out-of-range actions always raise ``ValueError``.

    ## Observation Space
    As in ``holdem-v0``, from the learner's seat: ``obs_mode="vector"`` (a ``Dict`` with
    ``hole_cards``, ``board``, ``street``, ``pot``, ``to_call``, ``stacks``, ``bets``,
    ``in_hand``, ``position`` and ``action_mask``), ``"text"`` or ``"both"``.
    ``info["legal_actions"]`` maps each legal action to its text; ``action_masks()``
    returns the mask as a bool array (sb3-contrib's ``MaskablePPO`` convention).

    ## Rewards
    The learner's net chip change in big blinds when a hand ends (0 before), minus
    ``illegal_penalty`` per penalized action.

    ## Starting State
    The task's stacks and button, blinds posted, cards dealt, opponents acting until the
    learner's turn. A hand that ends before the learner's first decision (everyone folds to
    its big blind, it is all-in from the blinds, or its bet already covers every other
    seat's, all of them all-in) does not start an episode: reset deals again from the task
    (up to 100 times, then ``ValueError``).

    ## Episode End
    Terminated when the last hand ends, the learner busts or fewer than two seats have
    chips. The last ``info`` holds ``hand_history`` (as in ``holdem-v0``), ``net_chips``,
    ``net_bb``, ``won``, ``showdown`` (whether the learner showed down in the last hand),
    ``hands_played``, ``invalid_actions`` and ``difficulty``. Every ``info`` holds
    ``events``, what happened since the last step as text. Stepping after the end raises
    ``gymnasium.error.ResetNeeded``.

    ## Tasks and difficulty
    As in ``holdem-v0`` (``reset(options={"task": ...})``, ``set_task`` and ``task_space``
    with ``num_players``, ``stacks``, ``small_blind``, ``big_blind``, ``ante``, ``button``,
    ``deck``), plus ``opponents``: ``None`` (the default: the ``opponents`` argument), one of
    ``"random"``, ``"calling_station"``, ``"tag"`` for every opponent, or a list of those
    with one name per opponent (``num_players - 1`` names). A curriculum can so schedule the
    opponents; ``task_space.sample`` draws one name for all of them. A bad name or a list of
    the wrong length raises ``ValueError`` naming the key. ``task_space.difficulty`` is that
    of ``holdem-v0`` (player count and stack depth) and does not depend on the opponents:
    which of them is harder depends on the learner.

    ## Arguments
    * ``opponents``: ``"random"`` (default), ``"calling_station"``, ``"tag"``, or a list;
      used where the task's ``opponents`` knob is ``None``.
    * ``seat``: the learner's seat, or ``None`` for a random seat each episode.
    * ``task``: the task used until another is set.
    * ``obs_mode``: ``"vector"``, ``"text"`` or ``"both"``.
    * ``illegal_action``: ``"penalize"`` (default) or ``"raise"``.
    * ``illegal_penalty``: big blinds lost per penalized action (default 0.1).
    * ``hands``: hands per episode (default 1).
    * ``render_mode``: ``None`` or ``"ansi"`` (the learner's text view).

    ## Version History
    * v0: first version; the ``opponents`` task knob added later (tasks without it play
      as before).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}
    task_space = HOLDEM_SOLO_TASK_SPACE

    def __init__(
        self,
        opponents: str | Sequence[str] = "random",
        seat: int | None = None,
        task: Mapping[str, Any] | None = None,
        obs_mode: str = "vector",
        illegal_action: str = "penalize",
        illegal_penalty: float = 0.1,
        hands: int = 1,
        render_mode: str | None = None,
    ) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.observation_space = self._setup_modes(obs_mode, illegal_action)
        self.action_space = spaces.Discrete(len(ACTIONS))
        names = [opponents] if isinstance(opponents, str) else list(opponents)
        for name in names:
            if name not in OPPONENTS:
                raise ValueError(f"unknown opponent {name!r}; opponents are {', '.join(OPPONENTS)}")
        if not names:
            raise ValueError("opponents must name at least one opponent")
        self.opponents: str | list[str] = opponents if isinstance(opponents, str) else names
        if seat is not None and (
            isinstance(seat, bool) or not isinstance(seat, int) or not 0 <= seat < MAX_PLAYERS
        ):
            raise ValueError(
                f"seat must be None or a seat index in [0, {MAX_PLAYERS}), got {seat!r}"
            )
        self.seat = seat
        self.illegal_penalty = float(illegal_penalty)
        self.hands = check_hands(hands)
        self._task = self.task_space.validate(task)
        self._table = None
        self._learner = 0
        self._policies: list[Opponent | None] = []
        self._reward = 0.0
        self._net = 0
        self._invalid = 0

    @property
    def _viewer(self) -> int:  # type: ignore[override]
        return self._learner

    @property
    def learner_seat(self) -> int:
        """The learner's seat in the current episode (``player_<seat>`` in histories)."""
        return self._learner

    def _seat_policies(self, n: int) -> list[Opponent | None]:
        """Each seat's opponent (None for the learner's): the task's, else the argument's."""
        opponents = self._task["opponents"]
        if opponents is None:
            opponents = self.opponents
        if isinstance(opponents, str):
            names = [opponents] * (n - 1)
        elif len(opponents) != n - 1:
            raise ValueError(
                f"opponents lists {len(opponents)} names but the task seats {n - 1} "
                "opponents; give one name per opponent or a single name"
            )
        else:
            names = opponents
        policies: list[Opponent | None] = [None] * n
        for k, name in enumerate(names):
            policies[(self._learner + 1 + k) % n] = OPPONENTS[name]
        return policies

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Deal until the learner has a decision; ``options={"task": {...}}`` sets the task."""
        super().reset(seed=seed)
        self._set_task_from_options(options)
        n, stacks = self._task["num_players"], self._task["stacks"]
        if self.seat is None:
            seats = [k for k in range(n) if stacks[k] > 0]
            self._learner = seats[int(self.np_random.integers(len(seats)))]
        elif self.seat >= n or stacks[self.seat] == 0:
            raise ValueError(
                f"seat {self.seat} has no chips or does not exist with num_players={n}"
            )
        else:
            self._learner = self.seat
        self._policies = self._seat_policies(n)
        for _ in range(MAX_REDEALS):
            self._table = Table(
                self._task, self.hands, self.np_random, PLAYERS[:n], keep=self._learner
            )
            self._net = 0
            self._invalid = 0
            self._reward = 0.0
            self._play_opponents(self._table.start())
            if not self._table.done and self._table.hands_played == 0:
                break
        else:
            raise ValueError(
                f"the learner (seat {self._learner}) never had a decision in {MAX_REDEALS} "
                "deals of this task (it is all-in from the blinds, or everyone folds to it)"
            )
        info = {
            "legal_actions": self._legal_info(self._learner),
            "events": self._table.take_events(),
            "difficulty": self._task_difficulty(),
        }
        return self._observation(self._learner), info

    def _play_opponents(self, deltas: list[int]) -> None:
        """Let opponents act until the learner's turn or the end, adding up its chips."""
        table: Table = self._table  # type: ignore[assignment]
        learner, policies, rng = self._learner, self._policies, self.np_random
        chips = deltas[learner]
        while not table.done:
            hand = table.hand
            seat = hand.to_act
            if seat == learner:
                break
            action = policies[seat](hand, seat, hand.legal_mask(), rng)  # type: ignore[misc]
            chips += table.act(action)[learner]
        self._net += chips
        self._reward += chips / self._task["big_blind"]

    def action_masks(self) -> np.ndarray:
        """The learner's legal actions now: bool (6,), equal to ``obs["action_mask"]``.

        The convention of sb3-contrib's ``MaskablePPO``, which calls it before every step;
        the same actions as ``info["legal_actions"]``. All False once the episode has ended.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self._table is None:
            raise gym.error.ResetNeeded("Holdem-v0: call reset() before action_masks()")
        return np.asarray(self._mask(self._learner), dtype=bool)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Take the learner's ``action``; opponents then act until its next turn or the end."""
        table = self._table
        if table is None or table.done:
            raise gym.error.ResetNeeded(
                "Holdem-v0: the episode has ended (or never started); call reset() before step()"
            )
        hand = table.hand
        mask, names = self._mask_and_names(self._learner)
        taken, invalid = resolve_action(
            action,
            mask,
            agent=f"learner ({PLAYERS[self._learner]})",
            names=names,
            illegal_action=self.illegal_action,
            fallback=fallback_action(hand),
        )
        self._reward = -self.illegal_penalty if invalid else 0.0
        self._invalid += invalid
        self._play_opponents(table.act(taken))
        terminated = table.done
        info: dict[str, Any] = {
            "legal_actions": {} if terminated else self._legal_info(self._learner),
            "events": table.take_events(),
            "invalid_action": invalid,
        }
        if terminated:
            info.update(self._metrics(self._learner, self._net, self._invalid))
        return self._observation(self._learner), self._reward, terminated, False, info
