"""Cyclical curriculum: the share of the task set in use grows and shrinks in cycles.

Source: H. T. Kesgin and M. F. Amasyali, "Cyclical Curriculum Learning", IEEE Transactions on
Neural Networks and Learning Systems, 2023 (arXiv:2202.05531, 2022). The share follows the
paper's cycle: it starts at ``start_share``, is divided by ``multiplier`` each phase until it
reaches ``end_share``, then multiplied by it each phase back down to ``start_share``, and so
on; the subset in use is the easiest part of the set, so phases alternate between curriculum
training and training on (nearly) everything.
"""

from __future__ import annotations

import logging
import math
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

__all__ = ["Cyclical"]

logger = logging.getLogger(__name__)


@register
class Cyclical(FiniteScheduler):
    """The easiest ``share`` of the tasks in use, with ``share`` cycling phase by phase.

    Tasks are ordered by difficulty (ties by position). In phase ``t`` (``t`` = tasks sampled
    so far // ``phase_length``) the scheduler draws uniformly from the first
    ``ceil(share_t * n)`` tasks of that order, where ``share_t`` is entry ``t mod len(cycle)``
    of :attr:`cycle`. With the defaults the shares run 0.25, 0.5, 1, 0.5, 0.25, 0.5, 1, ...

    Args:
        task_space: A finite space, or a knob space (a pool is drawn; see ``make``).
        seed: Seeds the scheduler's generator.
        start_share: The smallest share of the set in use, in (0, 1].
        end_share: The largest share, in [start_share, 1].
        multiplier: The factor between neighbouring phases' shares, in (0, 1).
        phase_length: How many sampled tasks each phase lasts (>= 1).

    Raises:
        ValueError: naming the knob, for a value outside the ranges above.
    """

    name = "cyclical"

    def __init__(
        self,
        task_space: TaskSpaceLike,
        *,
        seed: int = 0,
        start_share: float = 0.25,
        end_share: float = 1.0,
        multiplier: float = 0.5,
        phase_length: int = 256,
    ) -> None:
        super().__init__(task_space, seed=seed)
        self.start_share = check_positive("start_share", start_share)
        check_unit("start_share", start_share)
        self.end_share = check_unit("end_share", end_share)
        if self.end_share < self.start_share:
            raise ValueError(f"end_share must be >= start_share, got {end_share!r}")
        self.multiplier = check_unit("multiplier", multiplier)
        if not 0.0 < self.multiplier < 1.0:
            raise ValueError(f"multiplier must be in (0, 1), got {multiplier!r}")
        self.phase_length = check_int("phase_length", phase_length, 1)
        self.cycle = self._cycle()
        self.order = np.argsort(self.difficulties, kind="stable")
        self.sampled = 0

    def _cycle(self) -> list[float]:
        up = [self.start_share]
        while up[-1] < self.end_share:
            up.append(min(up[-1] / self.multiplier, self.end_share))
        down = [up[-1]]
        while down[-1] > self.start_share:
            down.append(max(down[-1] * self.multiplier, self.start_share))
        return up + down[1:-1]

    @property
    def phase(self) -> int:
        """The current phase (0, 1, 2, ...)."""
        return self.sampled // self.phase_length

    @property
    def share(self) -> float:
        """The share of the set in use in the current phase."""
        return self.cycle[self.phase % len(self.cycle)]

    def active(self) -> np.ndarray:
        """Indices of the tasks in use now, easiest first."""
        count = max(1, math.ceil(self.share * self.num_tasks - 1e-9))
        return self.order[:count]

    def probabilities(self) -> np.ndarray:
        """Uniform over :meth:`active`."""
        p = np.zeros(self.num_tasks)
        active = self.active()
        p[active] = 1.0 / len(active)
        return p

    def metrics(self) -> dict[str, float]:
        """The share of the set in use and the phase."""
        return {"curriculum/share": self.share, "curriculum/phase": float(self.phase)}

    def _on_sampled(self, index: int) -> None:
        self.sampled += 1
        if self.sampled % self.phase_length == 0:
            logger.debug("%s: phase %d, share %.3f", self.name, self.phase, self.share)

    def _state(self) -> dict[str, Any]:
        return {"sampled": self.sampled}

    def _load(self, state: Mapping[str, Any]) -> None:
        self.sampled = int(state["sampled"])
