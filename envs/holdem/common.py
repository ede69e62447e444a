"""What both hold'em envs share: the task channel, observation modes, rendering, metrics."""

from __future__ import annotations

import logging
from typing import Any

from gymnasium import spaces
from gymnasium.error import ResetNeeded

from palaestra.envs.games import (
    check_illegal_action,
    check_obs_mode,
    game_observation_space,
    legal_actions,
)
from palaestra.envs.holdem.engine import CHECK_CALL, FOLD, Hand
from palaestra.envs.holdem.table import Table
from palaestra.envs.holdem.task import HOLDEM_TASK_SPACE
from palaestra.envs.holdem.views import (
    MAX_TEXT_LENGTH,
    action_texts,
    text_view,
    vector_observation,
    vector_space,
)
from palaestra.envs.tasks import TaskChannel

__all__ = [
    "HoldemEnvBase",
    "check_hands",
    "fallback_action",
]

log = logging.getLogger(__name__)
_NO_ACTIONS = [0, 0, 0, 0, 0, 0]
MAX_HANDS = 100_000


def check_hands(hands: Any) -> int:
    """Return ``hands`` (hands per episode) if it is an integer in [1, 100000], else raise."""
    if isinstance(hands, bool) or not isinstance(hands, int) or not 1 <= hands <= MAX_HANDS:
        raise ValueError(f"hands must be an integer in [1, {MAX_HANDS}], got {hands!r}")
    return hands


def fallback_action(hand: Hand) -> int:
    """The action taken instead of an illegal one: check when checking is free, else fold."""
    return CHECK_CALL if hand.current_bet <= hand.bet[hand.to_act] else FOLD


class HoldemEnvBase(TaskChannel):
    """The task channel, observations and rendering of both hold'em envs.

    Subclasses set ``_task``, ``_table``, ``obs_mode``, ``illegal_action``, ``render_mode``
    and ``_viewer`` (the seat whose view ``render`` shows).
    """

    task_space = HOLDEM_TASK_SPACE
    _task: dict[str, Any]
    _table: Table | None
    obs_mode: str
    illegal_action: str
    render_mode: str | None
    _viewer: int

    @property
    def hand(self) -> Hand:
        """The hand being played: the engine's :class:`~palaestra.envs.holdem.engine.Hand`.

        Read it, never change it. For scripted players that read the simulator (the
        built-in opponents, :mod:`palaestra.agents.holdem_baselines`) and for debugging;
        learners see only their observations. ``hand.to_act`` is the seat to act (-1 once
        the episode is over).

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self._table is None:
            raise ResetNeeded("no hand is being played; call reset() first")
        return self._table.hand

    def _setup_modes(self, obs_mode: Any, illegal_action: Any) -> spaces.Space[Any]:
        self.obs_mode = check_obs_mode(obs_mode)
        self.illegal_action = check_illegal_action(illegal_action)
        return game_observation_space(vector_space(), self.obs_mode, MAX_TEXT_LENGTH)

    _difficulty: tuple[dict[str, Any] | None, float] = (None, 0.0)

    def _task_difficulty(self) -> float:
        """The current task's difficulty (computed once per task)."""
        if self._difficulty[0] is not self._task:
            self._difficulty = (self._task, self.task_space.difficulty(self._task))
        return self._difficulty[1]

    def _mask(self, seat: int) -> list[int]:
        """``seat``'s legal actions now (all 0 when it is not its turn, or the hand is over)."""
        hand = self._table.hand  # type: ignore[union-attr]
        return hand.legal_mask() if hand.to_act == seat else _NO_ACTIONS

    def _mask_and_names(self, seat: int) -> tuple[list[int], list[str]]:
        mask = self._mask(seat)
        return mask, action_texts(self._table.hand, mask)  # type: ignore[union-attr]

    def _observation(self, seat: int) -> Any:
        table = self._table
        hand = table.hand  # type: ignore[union-attr]
        if self.obs_mode == "vector":
            return vector_observation(hand, seat, self._mask(seat), hand.big_blind)
        mask, names = self._mask_and_names(seat)
        text = text_view(
            hand,
            seat,
            table.players,  # type: ignore[union-attr]
            names,
            mask,
            table.hand_number,  # type: ignore[union-attr]
            table.hands,  # type: ignore[union-attr]
        )
        if self.obs_mode == "text":
            return text
        obs: dict[str, Any] = vector_observation(hand, seat, mask, hand.big_blind)
        obs["text"] = text
        return obs

    def _legal_info(self, seat: int) -> dict[int, str]:
        mask, names = self._mask_and_names(seat)
        return legal_actions(mask, names)

    def render(self) -> str | None:
        """The text view of the viewer's seat in ``ansi`` mode; ``None`` otherwise."""
        if self.render_mode != "ansi" or self._table is None:
            return None
        table = self._table
        hand = table.hand
        mask, names = self._mask_and_names(self._viewer)
        number = table.hand_number
        return text_view(hand, self._viewer, table.players, names, mask, number, table.hands)

    def close(self) -> None:
        """Nothing to release (no windows or processes); present for the APIs' checkers."""

    def _metrics(self, seat: int, net_chips: int, invalid: int) -> dict[str, Any]:
        table = self._table
        history = table.history  # type: ignore[union-attr]
        big = self._task["big_blind"]
        return {
            "hand_history": history,
            "net_chips": net_chips,
            "net_bb": net_chips / big,
            "won": net_chips > 0,
            "showdown": bool(history and table.players[seat] in history["hands_shown"]),  # type: ignore[union-attr]
            "hands_played": table.hands_played,  # type: ignore[union-attr]
            "invalid_actions": invalid,
            "difficulty": self._task_difficulty(),
        }
