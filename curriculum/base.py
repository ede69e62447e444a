"""The scheduler protocol, the shared base classes and the checks on knob values.

The vocabulary (task, task space, pool, difficulty, band, success, score) is defined in the
glossary of :mod:`palaestra.curriculum`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from palaestra.curriculum.spaces import DiscreteTaskSpace, TaskSpaceLike, as_discrete
from palaestra.envs.tasks import TaskSpace

__all__ = [
    "Curriculum",
    "FiniteScheduler",
    "Scheduler",
    "check_int",
    "check_positive",
    "check_unit",
]

Task = dict[str, Any]
_STATE_VERSION = 1


@runtime_checkable
class Curriculum(Protocol):
    """What a trainer or an agent loop needs from a curriculum."""

    requires_step_updates: bool
    requires_score_updates: bool

    def sample(self, k: int) -> list[Task]:
        """Return the next ``k`` tasks."""
        ...

    def update_on_episode(
        self, task: Mapping[str, Any], *, success: float, episode_return: float, length: int
    ) -> None:
        """Record a finished episode of ``task``."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of the scheduler."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a snapshot made by :meth:`state_dict`."""
        ...


def check_unit(name: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1], or raise ``ValueError`` naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        value = float(value)
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return number


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a finite float > 0, or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0.0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return number


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as a finite float, or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum``, or raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Scheduler:
    """Shared machinery: the seeded generator, input checks and ``state_dict``.

    Subclasses set ``name`` and implement :meth:`_sample_one`; they may override
    :meth:`_on_episode`, :meth:`_on_score`, :meth:`_state` and :meth:`_load`.

    Attributes:
        requires_step_updates: Whether the trainer must call :meth:`update_on_step` every
            step. ``False`` for every scheduler in this package.
        requires_score_updates: Whether the trainer should call :meth:`update_on_score` after
            each episode (``plr`` needs it).
        rng: The scheduler's own generator, ``np.random.default_rng(seed)``.
    """

    name: ClassVar[str] = ""
    requires_step_updates: bool = False
    requires_score_updates: bool = False

    def __init__(self, task_space: TaskSpaceLike, *, seed: int = 0) -> None:
        self.seed = check_int("seed", seed, 0)
        self.rng = np.random.default_rng(self.seed)
        self.task_space: TaskSpaceLike = task_space
        if not isinstance(task_space, (TaskSpace, DiscreteTaskSpace)):
            raise ValueError(
                f"{self.name}: task_space must be a TaskSpace or DiscreteTaskSpace, "
                f"got {type(task_space).__name__}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.task_space!r}, seed={self.seed})"

    def sample(self, k: int) -> list[Task]:
        """Return the next ``k`` tasks (fresh dicts the caller may keep or change)."""
        k = check_int("k", k, 0)
        return [self._sample_one() for _ in range(k)]

    def update_on_episode(
        self, task: Mapping[str, Any], *, success: float, episode_return: float, length: int
    ) -> None:
        """Record a finished episode of ``task``.

        Raises:
            ValueError: if ``task`` is not in the task space, ``success`` is not a number in
                [0, 1], ``episode_return`` is not finite or ``length`` is a negative integer.
        """
        index = self._index(task)
        self._on_episode(
            index,
            check_unit("success", success),
            check_finite("episode_return", episode_return),
            check_int("length", length, 0),
        )

    def update_on_step(self, task: Mapping[str, Any], *, reward: float, done: bool) -> None:
        """Record one environment step; only needed where ``requires_step_updates``."""

    def update_on_score(self, task: Mapping[str, Any], score: float) -> None:
        """Record a learning signal for the episode just finished on ``task``.

        Schedulers that do not use scores ignore it after checking the input.
        """
        self._on_score(self._index(task), check_finite("score", score))

    def metrics(self) -> dict[str, float]:
        """Scheduler-specific numbers for logging (keys start with ``curriculum/``)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot: generator state, task space fingerprint, statistics."""
        return {
            "scheduler": self.name,
            "version": _STATE_VERSION,
            "seed": self.seed,
            "space": _fingerprint(self.task_space),
            "rng": self.rng.bit_generator.state,
            "state": self._state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a snapshot made by :meth:`state_dict` on the same task space.

        Raises:
            ValueError: if the snapshot belongs to another scheduler or task space, or is
                malformed; the scheduler is then left as it was.
        """
        if not isinstance(state, Mapping) or state.get("scheduler") != self.name:
            raise ValueError(f"state is not a {self.name!r} scheduler state")
        if state.get("space") != _fingerprint(self.task_space):
            raise ValueError(f"{self.name}: state was saved on a different task space")
        seed, rng, own = self.seed, self.rng.bit_generator.state, self._state()
        try:
            self.seed = int(state["seed"])
            self.rng.bit_generator.state = dict(state["rng"])
            self._load(state["state"])
        except (KeyError, TypeError, IndexError, ValueError) as err:
            # A refused snapshot must not leave a half-loaded scheduler behind.
            self.seed, self.rng.bit_generator.state = seed, rng
            self._load(own)
            raise ValueError(f"{self.name}: malformed state ({err!r})") from None

    def _index(self, task: Mapping[str, Any]) -> int:
        if isinstance(self.task_space, DiscreteTaskSpace):
            return self.task_space.index(task)
        self.task_space.validate(task)
        return -1

    def _sample_one(self) -> Task:
        raise NotImplementedError

    def _on_episode(self, index: int, success: float, episode_return: float, length: int) -> None:
        """Hook: a finished episode of task ``index`` (-1 for a continuous space)."""

    def _on_score(self, index: int, score: float) -> None:
        """Hook: a score for task ``index``."""

    def _state(self) -> dict[str, Any]:
        return {}

    def _load(self, state: Mapping[str, Any]) -> None:
        """Hook: restore what :meth:`_state` saved."""


class FiniteScheduler(Scheduler):
    """A scheduler over a finite set of tasks, drawing each task from :meth:`probabilities`.

    A :class:`~palaestra.envs.tasks.TaskSpace` given here is replaced by a pool of
    :data:`~palaestra.curriculum.spaces.DEFAULT_POOL_SIZE` tasks drawn with ``seed``; use
    :func:`make` (``pool_size=``, ``pool_seed=``) or
    :func:`~palaestra.curriculum.spaces.task_pool` to choose the pool.
    """

    def __init__(self, task_space: TaskSpaceLike, *, seed: int = 0) -> None:
        super().__init__(task_space, seed=seed)
        self.task_space: DiscreteTaskSpace = as_discrete(task_space, seed=self.seed)
        self.num_tasks = len(self.task_space)
        self.difficulties = self.task_space.difficulties

    def probabilities(self) -> np.ndarray:
        """The distribution the next task is drawn from, one entry per task of the pool."""
        raise NotImplementedError

    def _sample_one(self) -> Task:
        p = self.probabilities()
        index = int(self.rng.choice(self.num_tasks, p=p / p.sum()))
        self._on_sampled(index)
        return self.task_space.task(index)

    def _on_sampled(self, index: int) -> None:
        """Hook: task ``index`` was just handed out."""


def _fingerprint(space: TaskSpaceLike) -> dict[str, Any]:
    if isinstance(space, DiscreteTaskSpace):
        return space.fingerprint()
    return {"kind": "space", "name": space.name, "knobs": list(space.knobs)}
