"""Adaptive Difficulty Curriculum Learning (ADCL): re-estimate difficulty as the learner changes.

Source: E. Zhang et al., "Learning Like Humans: Advancing LLM Reasoning Capabilities via
Adaptive Difficulty Curriculum Learning and Expert-Guided Self-Reformulation", 2025
(arXiv:2505.08364). The data is ordered from easy to hard and taken in batches; because the
difficulty a learner perceives shifts as it trains, the difficulty of the batches still to
come is re-estimated with the current learner before they are used, and they are re-sorted.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
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

__all__ = ["AdaptiveDifficulty", "ProbeFn"]

logger = logging.getLogger(__name__)

ProbeFn = Callable[[list[dict[str, Any]]], Sequence[float]]
"""Runs a few short episodes of each task with the current learner; returns success in [0, 1]."""


@register
class AdaptiveDifficulty(FiniteScheduler):
    """Easy-to-hard batches whose upcoming order is revised with the learner's own difficulty.

    The tasks start ordered by static difficulty (ties by position) and are taken
    ``batch_size`` at a time: draws come uniformly from the current batch, except an
    ``explore`` share drawn uniformly from all other tasks (which keeps recent success of
    upcoming tasks current). Every ``interval`` finished episodes the next batch becomes
    current (after the last batch, a new pass over all tasks starts) and the tasks from the
    current batch to the end of the pass (at most ``lookahead`` of them) are re-estimated and
    re-sorted by estimate, easiest first (ties keep their order). The estimate is

    - ``1 - probe(tasks)[i]`` when a ``probe`` callback is given, else
    - ``(c_i * (1 - s_i) + prior * d_i) / (c_i + prior)``: ``s_i`` the mean of the task's last
      ``window`` successes (``c_i`` of them) pulled towards its static difficulty ``d_i``.

    Args:
        task_space: A finite space, or a knob space (a pool is drawn; see ``make``).
        seed: Seeds the scheduler's generator.
        interval: ``K``, finished episodes between re-estimations (>= 1).
        batch_size: Tasks per batch (>= 1; capped at the number of tasks).
        lookahead: How many upcoming tasks are re-estimated (``None``: all left in the pass).
        window: Recent episodes per task behind the success estimate (>= 1).
        prior: Weight, in pseudo-episodes, of the static difficulty in the estimate (> 0).
        explore: Share of draws from tasks outside the current batch, in [0, 1].
        probe: Optional callback that measures the learner's success on a list of tasks.

    Raises:
        ValueError: naming the knob, for a value outside the ranges above.
    """

    name = "adcl"

    def __init__(
        self,
        task_space: TaskSpaceLike,
        *,
        seed: int = 0,
        interval: int = 100,
        batch_size: int = 16,
        lookahead: int | None = None,
        window: int = 20,
        prior: float = 2.0,
        explore: float = 0.1,
        probe: ProbeFn | None = None,
    ) -> None:
        super().__init__(task_space, seed=seed)
        self.interval = check_int("interval", interval, 1)
        self.batch_size = min(check_int("batch_size", batch_size, 1), self.num_tasks)
        self.lookahead = None if lookahead is None else check_int("lookahead", lookahead, 1)
        self.window = check_int("window", window, 1)
        self.prior = check_positive("prior", prior)
        self.explore = check_unit("explore", explore)
        if probe is not None and not callable(probe):
            raise ValueError(f"probe must be callable, got {probe!r}")
        self.probe = probe
        self._order = np.argsort(self.difficulties, kind="stable")
        self.estimates = np.array(self.difficulties, dtype=np.float64)
        self.position = 0
        self.since = 0
        self._recent: list[deque[float]] = [
            deque(maxlen=self.window) for _ in range(self.num_tasks)
        ]

    @property
    def order(self) -> list[int]:
        """The task indices in the order of the current pass."""
        return self._order.tolist()

    def batch(self) -> np.ndarray:
        """Indices of the tasks in the current batch."""
        return self._order[self.position : self.position + self.batch_size]

    def estimate(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The learner's difficulty of tasks ``indices`` now (see the class docstring).

        Raises:
            ValueError: if the probe returns the wrong number of values or one outside [0, 1].
        """
        indices = np.asarray(indices, dtype=np.int64)
        if self.probe is not None:
            result = list(self.probe([self.task_space.task(int(i)) for i in indices]))
            if len(result) != len(indices):
                raise ValueError(f"probe returned {len(result)} values for {len(indices)} tasks")
            return 1.0 - np.array([check_unit("probe success", s) for s in result])
        counts = np.array([len(self._recent[i]) for i in indices], dtype=np.float64)
        failures = np.array([len(self._recent[i]) - sum(self._recent[i]) for i in indices])
        static = self.difficulties[indices]
        return (failures + self.prior * static) / (counts + self.prior)

    def reestimate(self) -> None:
        """Re-estimate the upcoming tasks of this pass and re-sort them, easiest first."""
        end = self.num_tasks if self.lookahead is None else self.position + self.lookahead
        upcoming = self._order[self.position : end]
        estimates = self.estimate(upcoming)
        self.estimates[upcoming] = estimates
        self._order[self.position : self.position + len(upcoming)] = upcoming[
            np.argsort(estimates, kind="stable")
        ]
        logger.debug("%s: batch at %d, order %s", self.name, self.position, self.order)

    def probabilities(self) -> np.ndarray:
        """``1 - explore`` uniform over the batch, ``explore`` uniform over the other tasks."""
        inside = np.zeros(self.num_tasks)
        inside[self.batch()] = 1.0
        p = inside / inside.sum()
        outside = 1.0 - inside
        if self.explore > 0.0 and outside.sum() > 0:
            p = (1.0 - self.explore) * p + self.explore * outside / outside.sum()
        return p

    def metrics(self) -> dict[str, float]:
        """Mean estimated and static difficulty of the current batch."""
        batch = self.batch()
        return {
            "curriculum/batch_estimate": float(self.estimates[batch].mean()),
            "curriculum/batch_difficulty": float(self.difficulties[batch].mean()),
        }

    def _on_episode(self, index: int, success: float, episode_return: float, length: int) -> None:
        self._recent[index].append(success)
        self.since += 1
        if self.since >= self.interval:
            self.since = 0
            self.position += self.batch_size
            if self.position >= self.num_tasks:
                self.position = 0
            self.reestimate()

    def _state(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "estimates": self.estimates.tolist(),
            "position": self.position,
            "since": self.since,
            "recent": [list(r) for r in self._recent],
        }

    def _load(self, state: Mapping[str, Any]) -> None:
        order = np.asarray(state["order"], dtype=np.int64)
        if sorted(order.tolist()) != list(range(self.num_tasks)):
            raise IndexError("order is not a permutation of the tasks")
        recent = state["recent"]
        if len(recent) != self.num_tasks:
            raise IndexError(f"recent must have {self.num_tasks} entries")
        estimates = np.asarray(state["estimates"], dtype=np.float64)
        if estimates.shape != (self.num_tasks,):
            raise IndexError(f"estimates must have {self.num_tasks} entries")
        self._order = order
        self.estimates = estimates
        self.position = int(state["position"])
        self.since = int(state["since"])
        self._recent = [deque((float(s) for s in r), maxlen=self.window) for r in recent]
