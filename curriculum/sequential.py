"""Sequential curricula: easy to hard with promotion (the human curriculum), and its reverse.

Sources: Y. Bengio, J. Louradour, R. Collobert and J. Weston, "Curriculum Learning", ICML 2009
(easy to hard); W. Zaremba and I. Sutskever, "Learning to Execute", 2014 (promotion when a
stage is mastered, with a share of earlier material mixed in); anti-curriculum (hard to easy)
as compared in X. Wu, E. Dyer and B. Neyshabur, "When Do Curricula Work?", ICLR 2021.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.curriculum.base import FiniteScheduler, check_int, check_unit
from palaestra.curriculum.registry import register
from palaestra.curriculum.spaces import TaskSpaceLike
from palaestra.curriculum.stats import band_of

__all__ = ["AntiCurriculum", "Sequential"]

logger = logging.getLogger(__name__)


@register
class Sequential(FiniteScheduler):
    """Difficulty bands in order from easy to hard, promoted on success.

    The difficulties are cut into ``num_bands`` equal-width bands (:func:`band_of`); bands
    with no task are skipped. Tasks are drawn uniformly from the current band. Once the last
    ``window`` episodes played on tasks of the current band reach a mean success of at least
    ``threshold``, the scheduler moves to the next band and the window starts afresh; it stays
    in the last band for good. With ``replay > 0``, that share of draws comes uniformly from
    the bands already passed (none at the first band).

    Args:
        task_space: A finite space, or a knob space (a pool is drawn; see ``make``).
        seed: Seeds the scheduler's generator.
        num_bands: How many equal-width difficulty bands to cut [0, 1] into (>= 1).
        threshold: Mean success over the window needed to move on, in [0, 1].
        window: How many recent episodes of the current band the mean is taken over (>= 1).
        replay: Share of draws from bands already passed, in [0, 1).

    Raises:
        ValueError: naming the knob, for a value outside the ranges above.
    """

    name = "sequential"
    descending = False

    def __init__(
        self,
        task_space: TaskSpaceLike,
        *,
        seed: int = 0,
        num_bands: int = 5,
        threshold: float = 0.8,
        window: int = 50,
        replay: float = 0.0,
    ) -> None:
        super().__init__(task_space, seed=seed)
        self.num_bands = check_int("num_bands", num_bands, 1)
        self.threshold = check_unit("threshold", threshold)
        self.window = check_int("window", window, 1)
        self.replay = check_unit("replay", replay)
        if self.replay >= 1.0:
            raise ValueError(f"replay must be in [0, 1), got {replay!r}")
        self.task_bands = np.array([band_of(d, self.num_bands) for d in self.difficulties])
        used = sorted(set(self.task_bands.tolist()), reverse=self.descending)
        self.stages: list[int] = used
        self.stage = 0
        self._recent: deque[float] = deque(maxlen=self.window)

    @property
    def band(self) -> int:
        """The difficulty band tasks are drawn from now."""
        return self.stages[self.stage]

    def probabilities(self) -> np.ndarray:
        """Uniform over the current band, plus ``replay`` spread over the bands passed."""
        current = (self.task_bands == self.band).astype(np.float64)
        p = current / current.sum()
        if self.replay > 0.0 and self.stage > 0:
            passed = np.isin(self.task_bands, self.stages[: self.stage]).astype(np.float64)
            p = (1.0 - self.replay) * p + self.replay * passed / passed.sum()
        return p

    def metrics(self) -> dict[str, float]:
        """The current band and stage."""
        return {"curriculum/band": float(self.band), "curriculum/stage": float(self.stage)}

    def _on_episode(self, index: int, success: float, episode_return: float, length: int) -> None:
        if self.task_bands[index] != self.band:
            return
        self._recent.append(success)
        last = self.stage == len(self.stages) - 1
        full = len(self._recent) == self.window
        if not last and full and float(np.mean(self._recent)) >= self.threshold:
            self.stage += 1
            self._recent.clear()
            logger.info("%s: promoted to difficulty band %d", self.name, self.band)

    def _state(self) -> dict[str, Any]:
        return {"stage": self.stage, "recent": list(self._recent)}

    def _load(self, state: Mapping[str, Any]) -> None:
        stage = int(state["stage"])
        if not 0 <= stage < len(self.stages):
            raise IndexError(f"stage {stage} out of range")
        self.stage = stage
        self._recent = deque((float(s) for s in state["recent"]), maxlen=self.window)


@register
class AntiCurriculum(Sequential):
    """Difficulty bands from hard to easy, promoted on success (see :class:`Sequential`).

    Same knobs and defaults as :class:`Sequential`; it starts in the hardest non-empty band.
    """

    name = "anti"
    descending = True
