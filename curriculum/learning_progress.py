"""Learning progress: favour tasks whose success is changing, up or down.

Sources: I. Kanitscheider et al., "Multi-task curriculum learning in a complex, visual,
hard-exploration domain: Minecraft", 2021 (arXiv:2106.14876): bidirectional learning progress
from a fast and a slow moving average of success; R. Portelas, C. Colas, K. Hofmann and
P.-Y. Oudeyer, "Teacher algorithms for curriculum learning of Deep RL in continuously
parameterized environments", CoRL 2019: absolute learning progress with epsilon exploration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.curriculum.base import FiniteScheduler, check_positive, check_unit
from palaestra.curriculum.registry import register
from palaestra.curriculum.spaces import TaskSpaceLike

__all__ = ["LearningProgress"]


@register
class LearningProgress(FiniteScheduler):
    """Sample in proportion to absolute learning progress, with epsilon exploration.

    For each task, after an episode with success ``s``::

        fast <- fast + fast_rate * (s - fast)
        slow <- slow + slow_rate * (fast - slow)

    (both start at the first success seen, so progress starts at 0). The learning progress is
    ``LP_i = |fast_i - slow_i|``, and the next task is drawn from
    ``(1 - epsilon) * LP / sum(LP) + epsilon / n``; uniform while every ``LP`` is 0.

    Args:
        task_space: A finite space, or a knob space (a pool is drawn; see ``make``).
        seed: Seeds the scheduler's generator.
        fast_rate: Step size of the fast average of success, in (0, 1].
        slow_rate: Step size of the slow average (an average of the fast one), in (0, 1].
        epsilon: Share of uniform draws, in [0, 1].

    Raises:
        ValueError: naming the knob, for a value outside the ranges above.
    """

    name = "learning_progress"

    def __init__(
        self,
        task_space: TaskSpaceLike,
        *,
        seed: int = 0,
        fast_rate: float = 0.1,
        slow_rate: float = 0.1,
        epsilon: float = 0.1,
    ) -> None:
        super().__init__(task_space, seed=seed)
        self.fast_rate = check_unit("fast_rate", check_positive("fast_rate", fast_rate))
        self.slow_rate = check_unit("slow_rate", check_positive("slow_rate", slow_rate))
        self.epsilon = check_unit("epsilon", epsilon)
        n = self.num_tasks
        self.fast = np.zeros(n)
        self.slow = np.zeros(n)
        self.episodes = np.zeros(n, dtype=np.int64)

    def progress(self) -> np.ndarray:
        """``|fast - slow|`` per task (0 for tasks not yet played)."""
        return np.abs(self.fast - self.slow)

    def probabilities(self) -> np.ndarray:
        """``(1 - epsilon) * LP / sum(LP) + epsilon / n``, uniform when all progress is 0."""
        lp = self.progress()
        uniform = np.full(self.num_tasks, 1.0 / self.num_tasks)
        total = lp.sum()
        if total <= 0.0:
            return uniform
        return (1.0 - self.epsilon) * lp / total + self.epsilon * uniform

    def metrics(self) -> dict[str, float]:
        """The mean and largest learning progress over tasks."""
        lp = self.progress()
        return {
            "curriculum/progress_mean": float(lp.mean()),
            "curriculum/progress_max": float(lp.max()),
        }

    def _on_episode(self, index: int, success: float, episode_return: float, length: int) -> None:
        if self.episodes[index] == 0:
            self.fast[index] = self.slow[index] = success
        else:
            self.fast[index] += self.fast_rate * (success - self.fast[index])
            self.slow[index] += self.slow_rate * (self.fast[index] - self.slow[index])
        self.episodes[index] += 1

    def _state(self) -> dict[str, Any]:
        return {
            "fast": self.fast.tolist(),
            "slow": self.slow.tolist(),
            "episodes": self.episodes.tolist(),
        }

    def _load(self, state: Mapping[str, Any]) -> None:
        fast = np.asarray(state["fast"], dtype=np.float64)
        slow = np.asarray(state["slow"], dtype=np.float64)
        episodes = np.asarray(state["episodes"], dtype=np.int64)
        if not fast.shape == slow.shape == episodes.shape == (self.num_tasks,):
            raise IndexError(f"per-task arrays must have {self.num_tasks} entries")
        self.fast, self.slow, self.episodes = fast, slow, episodes
