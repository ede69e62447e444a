"""Curriculum statistics for logging: what was sampled, and how episodes went, per band.

:class:`CurriculumStats` is fed the tasks a scheduler hands out and the episodes that finish,
and turns them, once per update, into a flat dict of floats with these keys (``prefix``
defaults to ``curriculum``):

- ``curriculum/entropy``: entropy in nats of the sampled task distribution. Over tasks for a
  finite space (:class:`~palaestra.curriculum.spaces.DiscreteTaskSpace`, pools included);
  over difficulty bands for a knob :class:`~palaestra.envs.tasks.TaskSpace`, whose tasks
  rarely repeat. 0 when nothing was sampled.
- ``curriculum/band_share/<b>``: share of sampled tasks in band ``b``, for every band.
- ``curriculum/band_success/<b>``: mean success of finished episodes in band ``b``, only for
  bands with at least one finished episode.
- ``curriculum/mean_difficulty``: mean difficulty of sampled tasks (only when some were sampled).
- ``curriculum/success``: mean success of finished episodes (only when some finished).
- ``curriculum/sampled`` and ``curriculum/episodes``: the counts behind those numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from palaestra.curriculum.spaces import DiscreteTaskSpace, TaskSpaceLike

__all__ = ["CurriculumStats", "band_of"]


def band_of(difficulty: float, num_bands: int) -> int:
    """The band of ``difficulty`` among ``num_bands`` equal-width bands of [0, 1].

    Band ``b`` holds difficulties in ``[b / num_bands, (b + 1) / num_bands)``; a difficulty of
    exactly 1 belongs to the last band.

    Raises:
        ValueError: if ``difficulty`` is not a number in [0, 1] or ``num_bands`` < 1.
    """
    if isinstance(num_bands, bool) or not isinstance(num_bands, (int, np.integer)):
        raise ValueError(f"num_bands must be an integer >= 1, got {num_bands!r}")
    if num_bands < 1:
        raise ValueError(f"num_bands must be an integer >= 1, got {num_bands!r}")
    d = float(difficulty)
    if not math.isfinite(d) or not 0.0 <= d <= 1.0:
        raise ValueError(f"difficulty must be a number in [0, 1], got {difficulty!r}")
    return min(int(d * num_bands), int(num_bands) - 1)


class CurriculumStats:
    """Accumulates sampled tasks and finished episodes between two calls of :meth:`summary`.

    Args:
        task_space: The space the tasks come from (finite or knob space).
        num_bands: How many equal-width difficulty bands to report.
        prefix: The first part of every key.

    Raises:
        ValueError: for ``num_bands`` < 1.
    """

    def __init__(
        self, task_space: TaskSpaceLike, *, num_bands: int = 5, prefix: str = "curriculum"
    ) -> None:
        band_of(0.0, num_bands)
        self.task_space = task_space
        self.num_bands = int(num_bands)
        self.prefix = prefix
        self.reset()

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self._sampled: Counter[int] = Counter()
        self._band_sampled = np.zeros(self.num_bands)
        self._difficulty_sum = 0.0
        self._band_success = np.zeros(self.num_bands)
        self._band_episodes = np.zeros(self.num_bands)

    def record_samples(self, tasks: Iterable[Mapping[str, Any]]) -> None:
        """Record tasks a scheduler handed out (see :meth:`record_sample`)."""
        for task in tasks:
            self.record_sample(task)

    def record_sample(self, task: Mapping[str, Any]) -> None:
        """Record one task a scheduler handed out.

        Raises:
            ValueError: for a task not in the space.
        """
        if isinstance(self.task_space, DiscreteTaskSpace):
            index = self.task_space.index(task)
            difficulty = float(self.task_space.difficulties[index])
            band = band_of(difficulty, self.num_bands)
            self._sampled[index] += 1
        else:
            difficulty = self.task_space.difficulty(task)
            band = band_of(difficulty, self.num_bands)
            self._sampled[band] += 1
        self._band_sampled[band] += 1
        self._difficulty_sum += difficulty

    def record_episode(self, task: Mapping[str, Any], success: float) -> None:
        """Record a finished episode of ``task`` with ``success`` in [0, 1].

        Raises:
            ValueError: for a task not in the space or a success outside [0, 1] or NaN.
        """
        value = float(success)
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"success must be a number in [0, 1], got {success!r}")
        band = band_of(self.task_space.difficulty(task), self.num_bands)
        self._band_success[band] += value
        self._band_episodes[band] += 1

    def summary(self, *, reset: bool = True) -> dict[str, float]:
        """The numbers described in the module docstring; then start afresh if ``reset``."""
        p = self.prefix
        sampled = float(self._band_sampled.sum())
        episodes = float(self._band_episodes.sum())
        counts = np.array(list(self._sampled.values()), dtype=np.float64)
        entropy = 0.0
        if sampled > 0:
            q = counts / counts.sum()
            entropy = float(-(q * np.log(q)).sum())
        out = {f"{p}/entropy": entropy, f"{p}/sampled": sampled, f"{p}/episodes": episodes}
        for b in range(self.num_bands):
            share = self._band_sampled[b] / sampled if sampled > 0 else 0.0
            out[f"{p}/band_share/{b}"] = float(share)
        for b in range(self.num_bands):
            if self._band_episodes[b] > 0:
                out[f"{p}/band_success/{b}"] = float(self._band_success[b] / self._band_episodes[b])
        if sampled > 0:
            out[f"{p}/mean_difficulty"] = self._difficulty_sum / sampled
        if episodes > 0:
            out[f"{p}/success"] = float(self._band_success.sum() / episodes)
        if reset:
            self.reset()
        return out
