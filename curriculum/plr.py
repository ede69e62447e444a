"""Prioritised level replay (PLR).

Source: M. Jiang, E. Grefenstette and T. Rocktäschel, "Prioritized Level Replay", ICML 2021;
the fixed replay probability and the positive-value-loss score are from M. Jiang et al.,
"Replay-Guided Adversarial Environment Design" (Robust PLR), NeurIPS 2021.

The trainer scores each finished episode with :func:`mean_abs_gae` (PLR's GAE magnitude) or
:func:`positive_value_loss` of that episode's advantages and passes the score to
:meth:`PrioritizedLevelReplay.update_on_score`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from palaestra.curriculum.base import (
    FiniteScheduler,
    check_positive,
    check_unit,
)
from palaestra.curriculum.registry import register
from palaestra.curriculum.spaces import TaskSpaceLike

__all__ = ["PrioritizedLevelReplay", "mean_abs_gae", "positive_value_loss"]


def _advantages(advantages: Sequence[float] | np.ndarray) -> np.ndarray:
    a = np.asarray(advantages, dtype=np.float64).ravel()
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError("advantages must be a non-empty sequence of finite numbers")
    return a


def mean_abs_gae(advantages: Sequence[float] | np.ndarray) -> float:
    """PLR's score: the mean magnitude of an episode's GAE advantages, ``mean |A_t|``."""
    return float(np.abs(_advantages(advantages)).mean())


def positive_value_loss(advantages: Sequence[float] | np.ndarray) -> float:
    """Robust PLR's score: the mean of an episode's positive advantages, ``mean max(A_t, 0)``."""
    return float(np.maximum(_advantages(advantages), 0.0).mean())


@register
class PrioritizedLevelReplay(FiniteScheduler):
    """Replay tasks with high learning potential; try unseen tasks otherwise.

    A task is *seen* once an episode or a score of it has been recorded. Its score ``S_i`` is
    the latest score (``score_alpha = 1``) or a moving average of scores. Replay draws a seen
    task from ``P = (1 - rho) * P_S + rho * P_C``, where, over the seen tasks,

    - ``P_S(i) ∝ (1 / rank(S_i)) ** (1 / temperature)`` (rank 1 = highest score, ties broken
      by position), and
    - ``P_C(i) = (c - C_i) / sum_j (c - C_j)``, the staleness: ``c`` counts tasks sampled so
      far and ``C_i`` is the count when ``i`` was last sampled (uniform if all are zero).

    Each draw replays with probability ``replay_prob`` (or ``|seen| / n`` when it is ``None``,
    as in the original paper) and otherwise takes an unseen task uniformly; with no unseen
    task it always replays, with no seen task it never does.

    Args:
        task_space: A finite space, or a knob space (a pool is drawn; see ``make``).
        seed: Seeds the scheduler's generator.
        temperature: ``beta`` of the rank prioritisation, > 0; smaller focuses on the top.
        rho: Staleness mixing weight, in [0, 1].
        replay_prob: Probability of replaying a seen task, in [0, 1], or ``None``.
        score_alpha: Weight of a new score in the task's moving average, in (0, 1].

    Raises:
        ValueError: naming the knob, for a value outside the ranges above.
    """

    name = "plr"
    requires_score_updates = True

    def __init__(
        self,
        task_space: TaskSpaceLike,
        *,
        seed: int = 0,
        temperature: float = 0.1,
        rho: float = 0.1,
        replay_prob: float | None = None,
        score_alpha: float = 1.0,
    ) -> None:
        super().__init__(task_space, seed=seed)
        self.temperature = check_positive("temperature", temperature)
        self.rho = check_unit("rho", rho)
        self.replay_prob = None if replay_prob is None else check_unit("replay_prob", replay_prob)
        self.score_alpha = check_positive("score_alpha", score_alpha)
        check_unit("score_alpha", score_alpha)
        n = self.num_tasks
        self.scores = np.zeros(n)
        self.seen = np.zeros(n, dtype=bool)
        self.scored = np.zeros(n, dtype=bool)
        self.last_sampled = np.zeros(n, dtype=np.int64)
        self.sampled = 0

    def replay_distribution(self) -> np.ndarray:
        """``P`` over all tasks (zero for unseen ones); all zeros when nothing is seen."""
        p = np.zeros(self.num_tasks)
        seen = np.flatnonzero(self.seen)
        if seen.size == 0:
            return p
        order = np.argsort(-self.scores[seen], kind="stable")
        ranks = np.empty(seen.size)
        ranks[order] = np.arange(1, seen.size + 1)
        h = (1.0 / ranks) ** (1.0 / self.temperature)
        p_score = h / h.sum()
        stale = (self.sampled - self.last_sampled[seen]).astype(np.float64)
        total = stale.sum()
        p_stale = stale / total if total > 0 else np.full(seen.size, 1.0 / seen.size)
        p[seen] = (1.0 - self.rho) * p_score + self.rho * p_stale
        return p

    def probabilities(self) -> np.ndarray:
        """The replay/explore mixture the next task is drawn from."""
        n_seen = int(self.seen.sum())
        unseen = (~self.seen).astype(np.float64)
        if n_seen == 0:
            return unseen / unseen.sum()
        replay = self.replay_distribution()
        if n_seen == self.num_tasks:
            return replay
        q = n_seen / self.num_tasks if self.replay_prob is None else self.replay_prob
        return q * replay + (1.0 - q) * unseen / unseen.sum()

    def metrics(self) -> dict[str, float]:
        """Share of tasks seen and the mean score of the seen ones."""
        out = {"curriculum/seen": float(self.seen.mean())}
        if self.scored.any():
            out["curriculum/score"] = float(self.scores[self.scored].mean())
        return out

    def _on_sampled(self, index: int) -> None:
        self.sampled += 1
        self.last_sampled[index] = self.sampled

    def _on_episode(self, index: int, success: float, episode_return: float, length: int) -> None:
        self.seen[index] = True

    def _on_score(self, index: int, score: float) -> None:
        if self.scored[index]:
            self.scores[index] += self.score_alpha * (score - self.scores[index])
        else:
            self.scores[index] = score
        self.scored[index] = True
        self.seen[index] = True

    def _state(self) -> dict[str, Any]:
        return {
            "scores": self.scores.tolist(),
            "seen": self.seen.tolist(),
            "scored": self.scored.tolist(),
            "last_sampled": self.last_sampled.tolist(),
            "sampled": self.sampled,
        }

    def _load(self, state: Mapping[str, Any]) -> None:
        n = self.num_tasks
        arrays = {
            "scores": np.asarray(state["scores"], dtype=np.float64),
            "seen": np.asarray(state["seen"], dtype=bool),
            "scored": np.asarray(state["scored"], dtype=bool),
            "last_sampled": np.asarray(state["last_sampled"], dtype=np.int64),
        }
        if any(a.shape != (n,) for a in arrays.values()):
            raise IndexError(f"per-task arrays must have {n} entries")
        self.scores, self.seen = arrays["scores"], arrays["seen"]
        self.scored, self.last_sampled = arrays["scored"], arrays["last_sampled"]
        self.sampled = int(state["sampled"])
