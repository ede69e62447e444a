"""``palaestra/Gauntlet-v0``: one deck-building card-combat run per episode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from palaestra.envs.games import (
    check_illegal_action,
    check_obs_mode,
    check_render_mode,
    game_observation_space,
    resolve_action,
)
from palaestra.envs.gauntlet.cards import N_CARDS
from palaestra.envs.gauntlet.enemies import ENEMIES
from palaestra.envs.gauntlet.engine import AGENT, Run
from palaestra.envs.gauntlet.rules import HAND_MAX, MAX_ENEMIES
from palaestra.envs.gauntlet.task import GAUNTLET_TASK_SPACE, MAX_DECK, MAX_FIGHTS
from palaestra.envs.gauntlet.text import MAX_TEXT_LENGTH, text_view
from palaestra.envs.gauntlet.vocabulary import N_ACTIONS, VECTOR_FIELDS, VECTOR_KEY, VECTOR_SIZE
from palaestra.envs.tasks import TaskChannel

__all__ = ["DAMAGE_SCALE", "MAX_STEPS_LIMIT", "REWARDS", "GauntletEnv", "vector_bounds"]

REWARDS = ("dense", "sparse")
"""The reward schemes (see the env's Rewards section)."""
DAMAGE_SCALE = 0.01
"""Dense reward per HP of damage dealt to enemies."""
MAX_STEPS_LIMIT = 100_000
_MAX_CARDS = MAX_DECK + MAX_FIGHTS
_INF = float("inf")


def _field_bounds(name: str) -> tuple[float, float]:
    """The bounds of one vector entry (``VECTOR_FIELDS`` name), from the engine's rules."""
    last = name.rsplit("_", 1)[-1]
    if name.startswith(("phase_", "offer_")) or name.endswith(("_upgraded", "_playable")):
        if name.endswith("_card"):
            return 0.0, float(N_CARDS)
        return 0.0, 1.0
    if name.endswith(("strength", "dexterity")):
        return -_INF, _INF  # cards take strength away (Disarm) and may push it below 0
    if name.startswith("hand_") and name.endswith("_card"):
        return 0.0, float(N_CARDS)
    if name.startswith("hand_") and name.endswith("_cost"):
        return -1.0, 3.0
    if name.startswith("hand_count_") or name == "hand":
        return 0.0, float(HAND_MAX)
    if name.startswith("deck_count_") or name in ("deck_size", "draw_pile", "discard_pile"):
        return 0.0, float(_MAX_CARDS)
    if name in ("exhaust_pile", "powers"):
        return 0.0, float(_MAX_CARDS)
    if name in ("hp", "max_hp"):
        return 0.0, 999.0
    if name in ("floor", "fights"):
        return 0.0, float(MAX_FIGHTS)
    if name == "living_enemies":
        return 0.0, float(MAX_ENEMIES)
    if name.startswith("enemy_"):
        field = name.split("_", 2)[2]
        if field == "alive" or (field.startswith("intent_") and last not in ("damage", "hits")):
            return 0.0, 1.0
        if last == "kind":
            return 0.0, float(len(ENEMIES))
    return 0.0, _INF  # block, energy, turn, incoming, enemy HP, statuses, ...


def vector_bounds() -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` of the state vector, entry by entry (``float32``; inf where unbounded)."""
    pairs = [_field_bounds(name) for name in VECTOR_FIELDS]
    low = np.array([p[0] for p in pairs], dtype=np.float32)
    high = np.array([p[1] for p in pairs], dtype=np.float32)
    return low, high


class GauntletEnv(TaskChannel, gym.Env):
    """A seeded deck-building card-combat run: fights, card rewards and rests.

    ## Description
    After the Slay the Spire runs of "Rethinking Agent Design: From Top-Down Workflows to
    Bottom-Up Skill Evolution", as a pure-Python engine (:mod:`palaestra.envs.gauntlet`).
    A run is a sequence of fights against enemies that telegraph their intents (attack,
    defend, buff, debuff); each turn the player has 3 energy and draws 5 cards from a
    deck it grows by one reward card after each fight won, and rests between some fights
    (heal 30 % of maximum HP or upgrade a card). Rules, the status table with exact
    rounding, the 42 cards and 11 enemies (an elite, a boss with phases) are documented
    in :mod:`~palaestra.envs.gauntlet.rules`, ``cards``, ``enemies`` and ``combat``.

    ## Agents
    One, the player.

    ## Action Space
    ``Discrete(78)`` (:mod:`palaestra.envs.gauntlet.vocabulary`): ``3 s + j`` (0-29) plays
    hand slot ``s`` at enemy ``j`` (``j = 0`` for a card without an enemy target); 30 ends
    the turn; 31-33 take reward card ``k``; 34 skips a reward or leaves a rest; 35 rests
    (heal); ``36 + c`` upgrades a copy of card ``c`` at a rest. The ``action_mask`` and
    ``info["legal_actions"]`` (index -> text such as ``"play Bash on Cultist (2
    energy)"``) mark exactly the legal actions; ``action_masks()`` returns the same mask
    as a bool array (sb3-contrib's ``MaskablePPO`` convention). An illegal action raises
    ``ValueError`` naming it and the legal ones under ``illegal_action="raise"``; under
    ``"penalize"`` (the default) the engine's fallback (end turn in combat, else skip) is
    taken instead, the reward is lowered by ``illegal_penalty`` and
    ``info["invalid_action"]`` is True. An action that is not an integer in [0, 78)
    always raises ``ValueError``.

    ## Observation Space
    ``obs_mode="vector"`` (default): a ``Dict`` with ``state``, the engine's ``float32``
    vector of 221 entries (layout: ``VECTOR_FIELDS`` in
    :mod:`~palaestra.envs.gauntlet.vocabulary`; bounds: :func:`vector_bounds`), and
    ``action_mask``, ``int8`` (78,), 1 = legal. ``"text"``: a ``Text`` string (printable
    characters, at most 4096), the view tagged ``gauntlet-v0 text/1``
    (:mod:`palaestra.envs.gauntlet.text`): hand with costs and effects, energy, HP, block
    and statuses of everyone, intents with their damage, pile sizes, the deck by count and
    the offers; never the draw pile's order. ``"both"``: the ``Dict`` plus ``"text"``.
    ``render_mode="ansi"`` renders the text view; ``text_view()`` returns it in any mode.

    ## Rewards
    ``reward="dense"`` (default): ``0.01`` per HP of damage dealt to enemies (cards and
    poison), ``+1`` per fight won, and at the end of the run ``+1`` for a win or ``-1``
    for a death. ``reward="sparse"``: ``+1`` when the run is won, 0 otherwise. In both,
    ``-illegal_penalty`` per penalized action.

    ## Starting State
    The first fight of the task's run, its first turn drawn, all randomness from the
    env's ``np_random`` (seeded by ``reset(seed=...)``).

    ## Episode End
    Terminated when the run ends (the player dies, or wins the last fight); truncated
    after ``max_steps`` steps. The last ``info`` adds ``success`` (the run was won, from
    the engine, never from reward), ``floor``, ``hp_left``, ``damage_dealt``,
    ``damage_taken``, ``cards_played``, ``fights_won``, ``turns`` (the engine's counters,
    :meth:`~palaestra.envs.gauntlet.engine.Run.metrics`), ``invalid_actions``, ``steps``,
    ``end_reason`` (``won``, ``died`` or ``time_limit``) and ``difficulty``. Stepping after
    the end raises ``gymnasium.error.ResetNeeded``.

    ## Tasks and difficulty
    A task is a dict of the knobs in ``env.unwrapped.task_space``
    (:mod:`palaestra.envs.gauntlet.task`: ``ascension``, ``fights``, ``enemy_set``,
    ``encounters``, ``starting_deck``, ``card_pool``, ``pool_seed``, ``rest_every``,
    ``max_hp``), given by ``reset(options={"task": task})`` or ``set_task(task)`` (from the
    next reset). Unknown keys, bad values and unknown card or enemy names raise
    ``ValueError`` naming the key. ``task_space.difficulty(task)`` grows with ascension,
    the number of fights and the enemies' ranks.

    ## Arguments
    * ``render_mode``: ``None`` or ``"ansi"``.
    * ``task``: the task used until another is set.
    * ``obs_mode``: ``"vector"``, ``"text"`` or ``"both"``.
    * ``illegal_action``: ``"penalize"`` (default) or ``"raise"``.
    * ``reward``: ``"dense"`` (default) or ``"sparse"``.
    * ``max_steps``: step limit, 1 to 100000 (default 2000; a default run takes ~100).
    * ``illegal_penalty``: reward lost per penalized action (default 0.1).

    ## Version History
    * v0: first version (text view ``gauntlet-v0 text/1``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}
    task_space = GAUNTLET_TASK_SPACE

    def __init__(
        self,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        obs_mode: str = "vector",
        illegal_action: str = "penalize",
        reward: str = "dense",
        max_steps: int = 2000,
        illegal_penalty: float = 0.1,
    ) -> None:
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.render_mode = render_mode
        self.obs_mode = check_obs_mode(obs_mode)
        self.illegal_action = check_illegal_action(illegal_action)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}; got {reward!r}")
        self.reward_mode = str(reward)
        if (
            isinstance(max_steps, bool)
            or not isinstance(max_steps, (int, np.integer))
            or not 1 <= max_steps <= MAX_STEPS_LIMIT
        ):
            raise ValueError(
                f"max_steps must be an integer in [1, {MAX_STEPS_LIMIT}], got {max_steps!r}"
            )
        self.max_steps = int(max_steps)
        penalty = float(illegal_penalty)
        if not np.isfinite(penalty) or penalty < 0:
            raise ValueError(
                f"illegal_penalty must be a finite number >= 0, got {illegal_penalty!r}"
            )
        self.illegal_penalty = penalty
        self.set_task(task)
        low, high = vector_bounds()
        vector = spaces.Dict(
            {
                VECTOR_KEY: spaces.Box(low, high, (VECTOR_SIZE,), np.float32),
                "action_mask": spaces.Box(0, 1, (N_ACTIONS,), np.int8),
            }
        )
        self.observation_space = game_observation_space(vector, self.obs_mode, MAX_TEXT_LENGTH)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self._run: Run | None = None
        self._done = True
        self._steps = 0
        self._invalid = 0
        self._difficulty = 0.0

    # ------------------------------------------------------------------ the state
    @property
    def run(self) -> Run:
        """The running engine (read it, never change it; ``run.copy()`` to search).

        For baselines that read the simulator (:class:`~palaestra.agents.gauntlet_baselines.
        LookaheadGauntletAgent`) and for debugging; learners should use observations.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self._run is None:
            raise gym.error.ResetNeeded("Gauntlet-v0: call reset() before reading run")
        return self._run

    def text_view(self) -> str:
        """The text view of the running episode, whatever the ``obs_mode``.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        return text_view(self.run)

    def action_masks(self) -> np.ndarray:
        """The legal actions now: bool (78,), equal to ``obs["action_mask"]``.

        The convention of sb3-contrib's ``MaskablePPO``; the same actions as
        ``info["legal_actions"]``. All False once the run is over.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if self._run is None:
            raise gym.error.ResetNeeded("Gauntlet-v0: call reset() before action_masks()")
        return self._run.legal_mask().astype(bool)

    def _observation(self) -> Any:
        run: Run = self._run  # type: ignore[assignment]
        if self.obs_mode == "text":
            return text_view(run)
        obs = {VECTOR_KEY: run.vector(), "action_mask": run.legal_mask()}
        if self.obs_mode == "both":
            obs["text"] = text_view(run)
        return obs

    # ------------------------------------------------------------------ the episode
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start a run; ``options={"task": {...}}`` sets the task first."""
        super().reset(seed=seed)
        self._set_task_from_options(options)
        self._run = Run(self._task, self.np_random)
        self._difficulty = float(self.task_space.difficulty(self._task))
        self._done = False
        self._steps = 0
        self._invalid = 0
        info = {"legal_actions": self._run.legal_actions(), "difficulty": self._difficulty}
        return self._observation(), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Take one action of the player."""
        run = self._run
        if run is None or self._done:
            raise gym.error.ResetNeeded(
                "Gauntlet-v0: the episode has ended (or never started); call reset() before step()"
            )
        mask = run.legal_mask()
        if type(action) is not int and isinstance(action, np.integer):
            action = int(action)
        if type(action) is int and 0 <= action < N_ACTIONS and mask[action]:
            taken, invalid = action, False
        else:
            taken, invalid = resolve_action(
                action,
                mask,
                agent=AGENT,
                names=run.action_names(),
                illegal_action=self.illegal_action,
                fallback=run.fallback_action(),
            )
        stats = run.stats
        dealt, won = stats.damage_dealt, stats.fights_won
        run.step(taken)
        self._steps += 1
        self._invalid += invalid
        terminated = run.over
        truncated = not terminated and self._steps >= self.max_steps
        if self.reward_mode == "dense":
            reward = DAMAGE_SCALE * (stats.damage_dealt - dealt) + (stats.fights_won - won)
            if terminated:
                reward += 1.0 if run.won else -1.0
        else:
            reward = 1.0 if terminated and run.won else 0.0
        if invalid:
            reward -= self.illegal_penalty
        info: dict[str, Any] = {"legal_actions": run.legal_actions(), "invalid_action": invalid}
        if terminated or truncated:
            self._done = True
            info.update(self.episode_metrics())
        return self._observation(), float(reward), terminated, truncated, info

    def episode_metrics(self) -> dict[str, Any]:
        """The metrics the last ``info`` holds, for the running (or last) episode.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        run = self.run
        metrics = run.metrics()
        if run.over:
            reason = "won" if run.won else "died"
        else:
            reason = "time_limit" if self._steps >= self.max_steps else "running"
        metrics.update(
            invalid_actions=self._invalid,
            steps=self._steps,
            end_reason=reason,
            difficulty=self._difficulty,
        )
        return metrics

    def render(self) -> str | None:  # type: ignore[override]
        """The text view in ``ansi`` mode; None otherwise (or before the first reset)."""
        if self.render_mode != "ansi" or self._run is None:
            return None
        return text_view(self._run)

    def close(self) -> None:
        """Nothing to release."""
