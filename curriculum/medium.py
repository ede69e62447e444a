"""Medium-difficulty weighting: favour tasks the learner solves about half the time.

Source: Z. Guo et al., "Observe-R1: Unlocking Reasoning Abilities of MLLMs with Dynamic
Progressive Reinforcement Learning", 2025 (arXiv:2505.12432), which weights training samples
towards those of medium difficulty for the current model. Here the weight of a task is the
variance ``p (1 - p)`` of its success, which peaks at ``p = 0.5``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.curriculum.base import (
    FiniteScheduler,
    check_int,
    check_positive,
    check_unit,
)
from palaestra.curriculum.registry import register
from palaestra.curriculum.spaces import TaskSpaceLike

__all__ = ["MediumDifficulty"]


@register
class MediumDifficulty(FiniteScheduler):
    """Sample tasks in proportion to ``p (1 - p)`` of their smoothed success ``p``.

    For each task, ``p = (sum of the last window successes + prior / 2) / (count + prior)``:
    the recent success rate pulled towards 0.5 by ``prior`` pseudo-episodes, so an unplayed
    task counts as medium. The next task is drawn from
    ``(1 - epsilon) * w / sum(w) + epsilon / n`` with ``w = (p (1 - p)) ** (1 / temperature)``.

    Args:
        task_space: A finite space, or a knob space (a pool is drawn; see ``make``).
        seed: Seeds the scheduler's generator.
        window: How many recent episodes per task the success rate uses (>= 1).
        prior: Pseudo-episodes of success 0.5 added to each estimate, > 0.
        temperature: Sharpness of the weighting, > 0 (smaller is sharper).
        epsilon: Share of uniform draws, in [0, 1].

    Raises:
        ValueError: naming the knob, for a value outside the ranges above.
    """

    name = "medium"

    def __init__(
        self,
        task_space: TaskSpaceLike,
        *,
        seed: int = 0,
        window: int = 20,
        prior: float = 1.0,
        temperature: float = 0.5,
        epsilon: float = 0.05,
    ) -> None:
        super().__init__(task_space, seed=seed)
        self.window = check_int("window", window, 1)
        self.prior = check_positive("prior", prior)
        self.temperature = check_positive("temperature", temperature)
        self.epsilon = check_unit("epsilon", epsilon)
        self._recent: list[deque[float]] = [
            deque(maxlen=self.window) for _ in range(self.num_tasks)
        ]

    def success_estimate(self) -> np.ndarray:
        """The smoothed success ``p`` of every task."""
        sums = np.array([sum(r) for r in self._recent])
        counts = np.array([len(r) for r in self._recent], dtype=np.float64)
        return (sums + 0.5 * self.prior) / (counts + self.prior)

    def probabilities(self) -> np.ndarray:
        """``(1 - epsilon) * w / sum(w) + epsilon / n`` with ``w = (p (1 - p)) ** (1 / T)``."""
        p = self.success_estimate()
        w = (p * (1.0 - p)) ** (1.0 / self.temperature)
        uniform = np.full(self.num_tasks, 1.0 / self.num_tasks)
        total = w.sum()
        if total <= 0.0:
            return uniform
        return (1.0 - self.epsilon) * w / total + self.epsilon * uniform

    def metrics(self) -> dict[str, float]:
        """The mean smoothed success over tasks."""
        return {"curriculum/success_estimate": float(self.success_estimate().mean())}

    def _on_episode(self, index: int, success: float, episode_return: float, length: int) -> None:
        self._recent[index].append(success)

    def _state(self) -> dict[str, Any]:
        return {"recent": [list(r) for r in self._recent]}

    def _load(self, state: Mapping[str, Any]) -> None:
        recent = state["recent"]
        if len(recent) != self.num_tasks:
            raise IndexError(f"recent must have {self.num_tasks} entries")
        self._recent = [deque((float(s) for s in r), maxlen=self.window) for r in recent]
