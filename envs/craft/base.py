"""What both Craft envs share: argument checks, the task channel, probes and rendering."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from palaestra.envs.craft.beliefs import Probe
from palaestra.envs.craft.core import MAX_VIEW_RADIUS, CraftEpisode
from palaestra.envs.craft.world import CraftWorld
from palaestra.envs.tasks import TaskChannel, TaskSpace

__all__ = ["MAX_STEPS_LIMIT", "CraftEnvBase", "check_int"]

MAX_STEPS_LIMIT = 10_000


def check_int(name: str, value: Any, low: int, high: int) -> int:
    """Return ``value`` as an int in ``[low, high]``, else raise ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def check_radius(view_radius: Any) -> int:
    """Validate the view radius (1 to 4)."""
    return check_int("view_radius", view_radius, 1, MAX_VIEW_RADIUS)


class CraftEnvBase(TaskChannel):
    """The task channel (``task``, ``set_task``, ``task_space``), probes and ``render``.

    Subclasses set ``task_space``, ``_episode`` and ``render_mode`` and call
    :meth:`set_task` once in ``__init__``.
    """

    task_space: TaskSpace
    _episode: CraftEpisode
    _task: dict[str, Any]
    _difficulty: float
    render_mode: str | None

    @property
    def goal(self) -> str:
        """The goal of the running episode (of the next one before the first reset)."""
        return self._episode.task["goal"] if self._episode.n else self._task["goal"]

    @property
    def episode_task(self) -> dict[str, Any]:
        """The task of the running episode (``task`` is the next one after ``set_task``)."""
        if self._episode.n == 0:
            return self.task
        return copy.deepcopy(self._episode.task)

    def set_task(self, task: Mapping[str, Any] | None) -> None:
        """Validate ``task`` and use it from the next reset on."""
        super().set_task(task)
        self._difficulty = self.task_space.difficulty(self._task)

    @property
    def world(self) -> CraftWorld:
        """The full state of the current episode (read it, never change it).

        For planners and scripted agents that play with full knowledge of the map, and for
        debugging; learners and memory modules should use observations and events.
        """
        return self._episode.world

    def probes(self, agent: str = "agent_0") -> list[Probe]:
        """Probes about ``agent``'s first- and second-order beliefs, answers included.

        One ``item_location`` probe per tracked item (the chest items of the task) and one
        ``tile`` probe per tile a scheduled event changes, each first order and then second
        order about every other agent in the episode. See
        :class:`~palaestra.envs.craft.beliefs.Probe`.

        Raises:
            ValueError: for an agent not in the current episode.
        """
        return self._episode.probes(agent)

    def text_view(self, agent: str = "agent_0") -> str:
        """``agent``'s text view of the running episode, whatever the env's ``obs_mode``.

        The text an ``obs_mode="text"`` env would observe now (for logs, language agents
        beside a vector learner, debugging).

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
            ValueError: for an agent not in the current episode.
        """
        episode = self._episode
        if episode.n == 0:
            from gymnasium.error import ResetNeeded

            raise ResetNeeded(f"{episode.env_name}: call reset() before text_view()")
        if agent not in episode.names[: episode.n]:
            raise ValueError(
                f"{episode.env_name}: unknown agent {agent!r} for text_view; "
                f"agents in this episode: {episode.names[: episode.n]}"
            )
        return episode.text(episode.names.index(agent))

    def _render_text(self, agents: list[int]) -> str | None:
        if self.render_mode != "ansi" or self._episode.n == 0:
            return None
        return "\n\n".join(self._episode.text(i) for i in agents)

    def close(self) -> None:
        """Nothing to release."""
