"""Curricula: task spaces and schedulers that decide which task each episode gets.

Glossary:
    task: a plain ``dict`` of knob values for one episode; it reaches an env only through
        ``reset(options={"task": task})`` or ``env.set_task(task)``.
    task space: a knob :class:`~palaestra.envs.tasks.TaskSpace` (carry, craft, hold'em,
        :class:`BoxTaskSpace`) or a finite :class:`DiscreteTaskSpace`.
    pool: a seeded, finite draw of distinct tasks from a knob space (:func:`task_pool`);
        :func:`split_pools` adds disjoint held-out pools for evaluation.
    difficulty: a number in [0, 1] the task space assigns to a task; ``adcl`` also estimates
        it from the learner.
    band: one of ``num_bands`` equal-width slices of [0, 1] (:func:`band_of`).
    success: how well an episode went, in [0, 1].
    score: a per-episode learning signal for ``plr`` (:func:`mean_abs_gae`,
        :func:`positive_value_loss`).

Every scheduler follows one protocol (:class:`Curriculum`): ``sample(k)``,
``update_on_episode(task, *, success, episode_return, length)``, ``update_on_score`` (used
where ``requires_score_updates``), ``update_on_step`` (used where ``requires_step_updates``;
none here needs it), ``state_dict()`` / ``load_state_dict()`` (JSON-serialisable), and owns a
generator seeded from ``seed``. Build one by name with :func:`make`:

>>> from palaestra.curriculum import DiscreteTaskSpace, make
>>> space = DiscreteTaskSpace([{"level": i} for i in range(4)])
>>> scheduler = make("sequential", space, seed=0, num_bands=2)
>>> sorted({task["level"] for task in scheduler.sample(20)})  # band 0: levels 0 and 1
[0, 1]
"""

from palaestra.curriculum.adcl import AdaptiveDifficulty
from palaestra.curriculum.base import Curriculum, FiniteScheduler, Scheduler
from palaestra.curriculum.cyclical import Cyclical
from palaestra.curriculum.learning_progress import LearningProgress
from palaestra.curriculum.medium import MediumDifficulty
from palaestra.curriculum.plr import PrioritizedLevelReplay, mean_abs_gae, positive_value_loss
from palaestra.curriculum.registry import make, names, register
from palaestra.curriculum.sequential import AntiCurriculum, Sequential
from palaestra.curriculum.spaces import (
    DEFAULT_POOL_SIZE,
    BoxTaskSpace,
    DiscreteTaskSpace,
    split_pools,
    task_key,
    task_pool,
)
from palaestra.curriculum.stats import CurriculumStats, band_of
from palaestra.curriculum.toy import ToyLearner, train_toy
from palaestra.curriculum.uniform import Uniform

__all__ = [
    "DEFAULT_POOL_SIZE",
    "AdaptiveDifficulty",
    "AntiCurriculum",
    "BoxTaskSpace",
    "Curriculum",
    "CurriculumStats",
    "Cyclical",
    "DiscreteTaskSpace",
    "FiniteScheduler",
    "LearningProgress",
    "MediumDifficulty",
    "PrioritizedLevelReplay",
    "Scheduler",
    "Sequential",
    "ToyLearner",
    "Uniform",
    "band_of",
    "make",
    "mean_abs_gae",
    "names",
    "positive_value_loss",
    "register",
    "split_pools",
    "task_key",
    "task_pool",
    "train_toy",
]
