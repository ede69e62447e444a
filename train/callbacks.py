"""Callbacks: the extension points of the PPO loop (evaluation, curricula, logging).

Subclass :class:`Callback` and override what you need; pass instances to
:func:`palaestra.train.ppo.train`. Each hook receives the running :class:`TrainerState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from palaestra.train.config import TrainConfig
    from palaestra.train.envs import EnvBatch, EpisodeRecord

__all__ = ["Callback", "TrainerState"]


@dataclass
class TrainerState:
    """What callbacks can see (and, with care, change) while training runs.

    Attributes:
        config: The run's configuration.
        run_dir: The run folder.
        envs: The env batch being trained on (``envs`` of a vector env batch can be reached
            through it, e.g. to call ``set_task`` for a curriculum).
        policy: The policy (a torch module).
        global_step: Environment steps so far.
        update: Updates done so far.
        rollout_step: The step within the current rollout (0 to ``num_steps - 1``).
        metrics: The metrics of the latest update (also written to metrics.jsonl).
        obs_norm: The observation normaliser (None without normalisation): pass it to
            :func:`~palaestra.train.evaluate.evaluate_policy` to evaluate mid-training.
        critic_norm: The centralised critic's observation normaliser, or None.
    """

    config: TrainConfig
    run_dir: Path
    envs: EnvBatch
    policy: Any
    global_step: int = 0
    update: int = 0
    rollout_step: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    obs_norm: Any = None
    critic_norm: Any = None


class Callback:
    """Hooks called by the training loop; every method is optional.

    A callback with state that must survive a resume (a curriculum's scheduler) returns it
    from :meth:`state_dict` (JSON-ready); it is saved in every checkpoint and handed back to
    :meth:`load_state_dict` before anything else happens in a resumed run.
    """

    def before_reset(self, state: TrainerState) -> None:
        """Before every fresh start of all envs (set the envs' tasks here).

        Called before the first reset and before the one after each checkpoint.
        """

    def on_training_start(self, state: TrainerState) -> None:
        """Before the first rollout (also after a resume)."""

    def on_episode_end(self, state: TrainerState, episode: EpisodeRecord) -> None:
        """For every finished episode (per agent in multi-agent envs)."""

    def on_env_episode_end(
        self, state: TrainerState, env_index: int, episodes: list[EpisodeRecord]
    ) -> None:
        """When env copy ``env_index`` ends its episode.

        ``episodes`` holds the records of all its agents for the episode, those that left
        early included (one record in single-agent envs). The env
        resets on the next step: a task set now with ``state.envs.set_task(env_index, task)``
        is the one it plays next.
        """

    def on_rollout_end(self, state: TrainerState) -> None:
        """After a rollout is collected, before the update."""

    def on_advantages(
        self, state: TrainerState, advantages: np.ndarray, values: np.ndarray, valid: np.ndarray
    ) -> None:
        """After GAE, before the update (scores for prioritised level replay come from here).

        ``advantages``, the value predictions ``values`` and ``valid`` (real transitions) are
        ``[num_steps, rows]`` arrays of the rollout.
        """

    def update_metrics(self, state: TrainerState) -> dict[str, float]:
        """Extra metrics for this update's line of metrics.jsonl and TensorBoard."""
        return {}

    def on_update_end(self, state: TrainerState) -> bool | None:
        """After an update and its logging; return False to stop training."""
        return None

    def on_training_end(self, state: TrainerState) -> None:
        """After the final checkpoint."""

    def state_dict(self) -> dict[str, Any] | None:
        """State to save in checkpoints (JSON-ready), or None for a stateless callback."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (called when a run resumes)."""
