"""A synthetic learner for testing and comparing schedulers without an environment.

Its success on each task is a known function of how much it has practised: task ``i`` has a
difficulty ``h_i`` *for this learner* (which may differ from the task space's static
difficulty), its practice ``E_i`` is the number of episodes played on it plus ``transfer``
times those played on other tasks ``j`` with ``h_j <= h_i``, and its success probability is
the logistic curve

    ``p_i = 1 / (1 + exp(-(E_i - need_i) / width))``, ``need_i = need_easy + (need_hard -
    need_easy) * h_i``,

so practice on easier tasks carries over to harder ones, and harder tasks need more of it
(a negative ``need`` means a task is mostly solved before any practice).
Each episode's success is a Bernoulli draw from the learner's own seeded generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from palaestra.curriculum.base import (
    Scheduler,
    check_finite,
    check_int,
    check_positive,
    check_unit,
)
from palaestra.curriculum.spaces import DiscreteTaskSpace

__all__ = ["ToyLearner", "train_toy"]


class ToyLearner:
    """A learner whose success on each task rises with practice (see the module docstring).

    Args:
        difficulties: ``h_i`` in [0, 1] for each task, as this learner finds them.
        seed: Seeds the generator behind each episode's success.
        need_easy: Practice at which a task with ``h = 0`` is solved half the time.
        need_hard: The same for ``h = 1`` (>= ``need_easy``).
        width: Episodes over which the logistic curve rises (> 0); smaller is sharper.
        transfer: Weight in [0, 1] of practice on easier tasks (0: only a task's own counts).

    Raises:
        ValueError: naming the argument, for a value outside the ranges above.
    """

    def __init__(
        self,
        difficulties: Sequence[float],
        *,
        seed: int = 0,
        need_easy: float = 20.0,
        need_hard: float = 200.0,
        width: float = 10.0,
        transfer: float = 1.0,
    ) -> None:
        h = np.asarray(difficulties, dtype=np.float64)
        if h.ndim != 1 or h.size == 0 or not np.all((h >= 0.0) & (h <= 1.0)):
            raise ValueError("difficulties must be a non-empty list of numbers in [0, 1]")
        need_easy = check_finite("need_easy", need_easy)
        if check_finite("need_hard", need_hard) < need_easy:
            raise ValueError(f"need_hard must be >= need_easy, got {need_hard!r}")
        self.width = check_positive("width", width)
        self.transfer = check_unit("transfer", transfer)
        self.difficulties = h
        self.need = need_easy + (need_hard - need_easy) * h
        self.practice = np.zeros(h.size, dtype=np.int64)
        easier = (h[None, :] <= h[:, None]).astype(np.float64) * self.transfer
        np.fill_diagonal(easier, 1.0)
        self._weights = easier
        self.rng = np.random.default_rng(check_int("seed", seed, 0))

    def success_probs(self) -> np.ndarray:
        """``p_i`` of every task now."""
        effective = self._weights @ self.practice
        return 1.0 / (1.0 + np.exp(-(effective - self.need) / self.width))

    def success_prob(self, index: int) -> float:
        """``p_i`` of task ``index`` now."""
        return float(self.success_probs()[index])

    def play(self, index: int) -> float:
        """Play one episode of task ``index``: 1.0 with probability ``p_i``, else 0.0."""
        p = self.success_prob(index)
        self.practice[index] += 1
        return float(self.rng.random() < p)


def train_toy(
    scheduler: Scheduler, learner: ToyLearner, episodes: int, *, batch: int = 1
) -> list[tuple[int, float, float]]:
    """Let ``scheduler`` pick ``episodes`` tasks for ``learner``, ``batch`` at a time.

    Each episode updates the scheduler with its success (also as the return, length 1); a
    scheduler that wants scores gets ``|success - p|``, the error of predicting the outcome
    by ``p``, the toy counterpart of an advantage's magnitude.

    Returns:
        ``(task index, success probability before the episode, success)`` per episode.

    Raises:
        ValueError: if the scheduler's task space is not a finite space the size of the
            learner's task list.
    """
    space = scheduler.task_space
    if not isinstance(space, DiscreteTaskSpace) or len(space) != learner.difficulties.size:
        raise ValueError("the scheduler needs a finite space with one task per learner task")
    history: list[tuple[int, float, float]] = []
    while len(history) < episodes:
        for task in scheduler.sample(min(batch, episodes - len(history))):
            index = space.index(task)
            p = learner.success_prob(index)
            success = learner.play(index)
            scheduler.update_on_episode(task, success=success, episode_return=success, length=1)
            if scheduler.requires_score_updates:
                scheduler.update_on_score(task, abs(success - p))
            history.append((index, p, success))
    return history
