"""Uniform sampling: domain randomisation.

Source: J. Tobin et al., "Domain Randomization for Transferring Deep Neural Networks from
Simulation to the Real World", IROS 2017.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from palaestra.curriculum.base import Scheduler
from palaestra.curriculum.registry import register
from palaestra.curriculum.spaces import DiscreteTaskSpace

__all__ = ["Uniform"]


@register
class Uniform(Scheduler):
    """Every task equally likely, whatever the learner does (domain randomisation).

    On a :class:`~palaestra.curriculum.spaces.DiscreteTaskSpace` each task has probability
    ``1 / n``; on a knob :class:`~palaestra.envs.tasks.TaskSpace` each task is a fresh draw of
    ``task_space.sample(rng)``, uniform over every knob (no pool). It has no knobs; updates
    are checked (a task outside the space or a bad success raises ``ValueError``) and
    otherwise ignored.

    Args:
        task_space: A finite or a knob task space.
        seed: Seeds the scheduler's generator.
    """

    name = "uniform"

    def probabilities(self) -> np.ndarray:
        """``1 / n`` for each task of a finite space.

        Raises:
            TypeError: on a knob task space, which has no finite list of tasks.
        """
        if not isinstance(self.task_space, DiscreteTaskSpace):
            raise TypeError("uniform over a knob task space has no finite distribution")
        n = len(self.task_space)
        return np.full(n, 1.0 / n)

    def _sample_one(self) -> dict[str, Any]:
        return self.task_space.sample(self.rng)
