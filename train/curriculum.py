"""A curriculum in the training loop: the callback that chooses every episode's task.

:class:`CurriculumCallback` owns a scheduler from :mod:`palaestra.curriculum` and drives the
env batch through its task channel (``set_task``), in this process or in vector-env worker
processes:

1. before every fresh start of the envs, each env copy gets a sampled task;
2. when an env copy ends its episode, the scheduler hears how it went (success from the
   episode's ``info["success"]``, return and length; in multi-agent envs the means over every
   agent's record of that episode, agents that left early included) and the copy gets its
   next task before the autoreset on the following step;
3. after GAE, schedulers that learn from scores (prioritised level replay) get, for every
   stretch of steps an env copy spent on one task in the rollout, the mean absolute GAE
   advantage of those steps;
4. every update logs the ``curriculum/`` statistics (entropy of the sampled tasks, share and
   success of each difficulty band, mean sampled difficulty) and the scheduler's own
   ``metrics()`` (its band, phase, share of tasks seen...); at the end of training the run
   folder gets ``curriculum.png``.

The scheduler's state is saved in every checkpoint, so a resumed run samples the same tasks.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from palaestra.train.callbacks import Callback, TrainerState

if TYPE_CHECKING:
    from palaestra.train.envs import EnvBatch, EpisodeRecord

__all__ = ["CurriculumCallback"]

log = logging.getLogger(__name__)


class CurriculumCallback(Callback):
    """Choose each env copy's task with a curriculum scheduler.

    Args:
        scheduler: A scheduler from :func:`palaestra.curriculum.make`.
        num_bands: Difficulty bands of the logged statistics.
    """

    def __init__(self, scheduler: Any, *, num_bands: int = 5) -> None:
        from palaestra.curriculum import CurriculumStats

        self.scheduler = scheduler
        self.stats = CurriculumStats(scheduler.task_space, num_bands=num_bands)
        self._tasks: list[dict[str, Any] | None] = []
        # (task, first rollout step) of each stretch an env copy spent on one task this rollout
        self._segments: list[list[tuple[dict[str, Any], int]]] = []
        self.plot = True

    @property
    def current_tasks(self) -> list[dict[str, Any] | None]:
        """The task each env copy is playing (or will play after its pending reset)."""
        return [None if t is None else dict(t) for t in self._tasks]

    # ----------------------------------------------------------------- task choice
    def _assign(self, envs: EnvBatch, env_index: int) -> dict[str, Any]:
        task = self.scheduler.sample(1)[0]
        envs.set_task(env_index, task)
        self._tasks[env_index] = task
        self.stats.record_sample(task)
        return task

    def before_reset(self, state: TrainerState) -> None:
        """Give every env copy a task for the fresh start."""
        envs = state.envs
        if envs.task_space is None:
            raise ValueError(
                f"{state.config.env_id} has no task channel: it cannot take a curriculum"
            )
        self._tasks = [None] * envs.num_envs
        self._segments = [[] for _ in range(envs.num_envs)]
        for i in range(envs.num_envs):  # a fresh start always begins a rollout
            self._segments[i].append((self._assign(envs, i), 0))

    def on_env_episode_end(
        self, state: TrainerState, env_index: int, episodes: list[EpisodeRecord]
    ) -> None:
        """Report the episode to the scheduler and choose the copy's next task."""
        task = self._tasks[env_index]
        if task is None or not episodes:
            return
        successes = [e.metrics.get("success") for e in episodes]
        if any(s is None for s in successes):
            raise ValueError(
                f"{state.config.env_id} reports no info['success'] at episode end; a "
                "curriculum needs it to judge episodes"
            )
        success = float(np.mean(successes))
        episode_return = float(np.mean([e.episode_return for e in episodes]))
        length = max(e.length for e in episodes)
        self.scheduler.update_on_episode(
            task, success=success, episode_return=episode_return, length=length
        )
        self.stats.record_episode(task, success)
        # The env resets on the next step, which is not a transition: the new task's stretch
        # starts there.
        new = self._assign(state.envs, env_index)
        self._segments[env_index].append((new, state.rollout_step + 1))

    # ------------------------------------------------------------ scores (PLR)
    def on_advantages(
        self, state: TrainerState, advantages: np.ndarray, values: np.ndarray, valid: np.ndarray
    ) -> None:
        """Score each task stretch of the rollout by its mean absolute GAE advantage."""
        if getattr(self.scheduler, "requires_score_updates", False):
            num_steps = advantages.shape[0]
            rows_per_env = advantages.shape[1] // max(1, len(self._segments))
            for env_index, segments in enumerate(self._segments):
                rows = slice(env_index * rows_per_env, (env_index + 1) * rows_per_env)
                bounds = [start for _, start in segments] + [num_steps]
                for (task, start), end in zip(segments, bounds[1:], strict=True):
                    ok = valid[start:end, rows]
                    if ok.any():
                        score = float(np.abs(advantages[start:end, rows][ok]).mean())
                        if math.isfinite(score):
                            self.scheduler.update_on_score(task, score)
        # The next rollout starts with each copy still on its current task.
        self._segments = [[(task, 0)] if task is not None else [] for task in self._tasks]

    # ------------------------------------------------------------- logging
    def update_metrics(self, state: TrainerState) -> dict[str, float]:
        """The ``curriculum/`` statistics of this update (then reset) and the scheduler's."""
        metrics = getattr(self.scheduler, "metrics", None)
        return {**self.stats.summary(reset=True), **(metrics() if metrics is not None else {})}

    def on_training_end(self, state: TrainerState) -> None:
        """Write ``curriculum.png`` to the run folder."""
        if self.plot:
            from palaestra.train.runlog import plot_curriculum

            plot_curriculum(state.run_dir)

    # ----------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (JSON-ready).

        The statistics need no saving: they restart every update, and checkpoints are taken
        right after an update's metrics are logged.
        """
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.scheduler.load_state_dict(state["scheduler"])
