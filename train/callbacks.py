"""Callbacks: the extension points of the PPO loop (evaluation, curricula, logging).

Subclass :class:`Callback` and override what you need; pass instances to
:func:`palaestra.train.ppo.train`. Each hook receives the running :class:`TrainerState`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
        metrics: The metrics of the latest update (also written to metrics.jsonl).
    """

    config: TrainConfig
    run_dir: Path
    envs: EnvBatch
    policy: Any
    global_step: int = 0
    update: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Hooks called by the training loop; every method is optional."""

    def on_training_start(self, state: TrainerState) -> None:
        """Before the first rollout (also after a resume)."""

    def on_episode_end(self, state: TrainerState, episode: EpisodeRecord) -> None:
        """For every finished episode (per agent in multi-agent envs)."""

    def on_rollout_end(self, state: TrainerState) -> None:
        """After a rollout is collected, before the update."""

    def on_update_end(self, state: TrainerState) -> bool | None:
        """After an update and its logging; return False to stop training."""
        return None

    def on_training_end(self, state: TrainerState) -> None:
        """After the final checkpoint."""
