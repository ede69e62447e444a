"""Finite task spaces, box task spaces, and seeded pools drawn from any task space.

:class:`DiscreteTaskSpace` is a fixed list of tasks with a difficulty each; tasks are told
apart by a canonical key (:func:`task_key`). :class:`BoxTaskSpace` is a
:class:`~palaestra.envs.tasks.TaskSpace` of continuous knobs only. :func:`task_pool` and
:func:`split_pools` draw fixed, seeded, disjoint pools from any task space (the carry, craft
and hold'em spaces included), so that schedulers that keep per-task statistics work on it and
evaluation can use tasks the learner never trained on.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from palaestra.envs.tasks import Knob, TaskSpace

__all__ = [
    "DEFAULT_POOL_SIZE",
    "BoxTaskSpace",
    "DiscreteTaskSpace",
    "TaskSpaceLike",
    "as_discrete",
    "split_pools",
    "task_key",
    "task_pool",
]

DEFAULT_POOL_SIZE = 256
"""Pool size used when a scheduler that needs a finite set is given a knob task space."""


def _builtin(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def task_key(task: Mapping[str, Any]) -> str:
    """The canonical key of a task: sorted-key JSON (tuples and lists read the same).

    Raises:
        ValueError: if ``task`` is not a mapping with string keys and JSON-serialisable,
            finite values.
    """
    if not isinstance(task, Mapping):
        raise ValueError(f"a task must be a dict of knob values, got {task!r}")
    try:
        return json.dumps(dict(task), sort_keys=True, allow_nan=False, default=_builtin)
    except (TypeError, ValueError) as err:
        raise ValueError(f"task {task!r} is not a JSON-serialisable dict: {err}") from None


class DiscreteTaskSpace:
    """A finite list of tasks, each with a difficulty in [0, 1].

    Args:
        tasks: The tasks, distinct (by :func:`task_key`), at least one.
        difficulty: One number in [0, 1] per task. ``None`` takes ``space.difficulty`` when
            ``space`` is given, and otherwise reads the list as ordered from easy to hard
            (task ``i`` of ``n`` gets ``i / (n - 1)``).
        space: Optional knob task space the tasks belong to: every task is validated and
            completed by it, and tasks handed back to :meth:`index` are canonicalised by it
            first (so a partial task with default values finds its entry).
        name: Used in messages.

    Raises:
        ValueError: for an empty or repeated task, a task the ``space`` rejects, or a
            difficulty list of the wrong length or with values outside [0, 1].
    """

    def __init__(
        self,
        tasks: Sequence[Mapping[str, Any]],
        difficulty: Sequence[float] | None = None,
        *,
        space: TaskSpace | None = None,
        name: str = "tasks",
    ) -> None:
        if len(tasks) == 0:
            raise ValueError(f"{name}: a discrete task space needs at least one task")
        self.name = name
        self.space = space
        canonical = [space.validate(t) if space is not None else self._plain(t) for t in tasks]
        self._tasks: list[dict[str, Any]] = canonical
        self._keys = [task_key(t) for t in canonical]
        self._lookup: dict[str, int] = {}
        for i, key in enumerate(self._keys):
            if key in self._lookup:
                raise ValueError(f"{name}: task {i} repeats task {self._lookup[key]}: {key}")
            self._lookup[key] = i
        n = len(canonical)
        if difficulty is None:
            if space is not None:
                values = [space.difficulty(t) for t in canonical]
            else:
                values = [i / (n - 1) if n > 1 else 0.0 for i in range(n)]
        else:
            if len(difficulty) != n:
                raise ValueError(f"{name}: {len(difficulty)} difficulties for {n} tasks")
            values = [float(d) for d in difficulty]
            for i, d in enumerate(values):
                if not math.isfinite(d) or not 0.0 <= d <= 1.0:
                    raise ValueError(f"{name}: difficulty of task {i} must be in [0, 1], got {d}")
        self._difficulties = np.asarray(values, dtype=np.float64)
        self._difficulties.setflags(write=False)

    @staticmethod
    def _plain(task: Mapping[str, Any]) -> dict[str, Any]:
        task_key(task)
        return copy.deepcopy(dict(task))

    def __len__(self) -> int:
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"DiscreteTaskSpace({self.name!r}, {len(self)} tasks)"

    @property
    def difficulties(self) -> np.ndarray:
        """The difficulty of every task, in list order (read-only)."""
        return self._difficulties

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """Copies of all tasks, in list order."""
        return [copy.deepcopy(t) for t in self._tasks]

    def task(self, index: int) -> dict[str, Any]:
        """A copy of task ``index``."""
        return copy.deepcopy(self._tasks[index])

    def key(self, index: int) -> str:
        """The canonical key of task ``index``."""
        return self._keys[index]

    def index(self, task: Mapping[str, Any]) -> int:
        """The position of ``task`` in the list.

        Raises:
            ValueError: if ``task`` is not one of the tasks.
        """
        if self.space is not None:
            task = self.space.validate(task)
        key = task_key(task)
        found = self._lookup.get(key)
        if found is None:
            raise ValueError(f"task not in {self.name} ({len(self)} tasks): {key}")
        return found

    def contains(self, task: Mapping[str, Any]) -> bool:
        """Whether ``task`` is one of the tasks."""
        try:
            self.index(task)
        except ValueError:
            return False
        return True

    def validate(self, task: Mapping[str, Any]) -> dict[str, Any]:
        """Return the stored copy of ``task``, or raise ``ValueError`` if it is not here."""
        return self.task(self.index(task))

    def difficulty(self, task: Mapping[str, Any]) -> float:
        """The difficulty of ``task``."""
        return float(self._difficulties[self.index(task)])

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One task drawn uniformly, using only ``rng``."""
        return self.task(int(rng.integers(len(self))))

    def fingerprint(self) -> dict[str, Any]:
        """A short JSON-ready identity (size and a digest of keys and difficulties)."""
        digest = hashlib.sha256()
        for key, d in zip(self._keys, self._difficulties.tolist(), strict=True):
            digest.update(f"{key}|{d!r}\n".encode())
        return {"kind": "discrete", "size": len(self), "digest": digest.hexdigest()[:16]}


TaskSpaceLike = TaskSpace | DiscreteTaskSpace


class BoxTaskSpace(TaskSpace):
    """A task space of continuous knobs, each in a closed interval.

    Args:
        bounds: ``{knob: (low, high)}`` with finite ``low <= high``.
        difficulty: A function from a complete task to [0, 1]; by default the mean of the
            knobs' normalised values (every knob at ``low`` is 0, every knob at ``high`` is 1).
        name: Used in messages.

    Raises:
        ValueError: for no knobs, or a knob whose bounds are not finite with low <= high.
    """

    def __init__(
        self,
        bounds: Mapping[str, tuple[float, float]],
        *,
        difficulty: Callable[[Mapping[str, Any]], float] | None = None,
        name: str = "box",
    ) -> None:
        if not bounds:
            raise ValueError(f"{name}: a box task space needs at least one knob")
        knobs = []
        for key, pair in bounds.items():
            low, high = (float(v) for v in pair)
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ValueError(f"{name}: knob {key!r} needs finite bounds low <= high")
            knobs.append(
                Knob(key, (low + high) / 2.0, f"continuous knob {key}", low=low, high=high)
            )
        super().__init__(name, knobs, difficulty or self._mean_normalized)

    def _mean_normalized(self, task: Mapping[str, Any]) -> float:
        return float(np.mean([k.normalized(task[k.name]) for k in self]))


def _draw_distinct(
    space: TaskSpace, total: int, *, seed: int, exclude: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    seen = {task_key(space.validate(t)) for t in exclude}
    drawn: list[dict[str, Any]] = []
    misses = 0
    while len(drawn) < total and misses < 20 * total + 100:
        task = space.sample(rng)
        key = task_key(task)
        if key in seen:
            misses += 1
        else:
            seen.add(key)
            drawn.append(task)
    return drawn


def split_pools(
    space: TaskSpace,
    sizes: Sequence[int],
    *,
    seed: int = 0,
    exclude: Iterable[Mapping[str, Any]] = (),
) -> list[DiscreteTaskSpace]:
    """Draw disjoint pools of distinct tasks from ``space`` (e.g. training and held-out).

    Tasks come from ``space.sample`` with ``np.random.default_rng(seed)``; the first pool
    equals ``task_pool(space, sizes[0], seed=seed)``, so a held-out pool drawn as the second
    pool never shares a task with that training pool.

    Raises:
        ValueError: for a size < 1, or a space with fewer distinct tasks than requested.
    """
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"pool sizes must be integers >= 1, got {list(sizes)}")
    total = int(sum(sizes))
    drawn = _draw_distinct(space, total, seed=seed, exclude=exclude)
    if len(drawn) < total:
        raise ValueError(
            f"{space.name}: found only {len(drawn)} distinct tasks for pools of {list(sizes)}"
        )
    pools, start = [], 0
    for i, size in enumerate(sizes):
        chunk = drawn[start : start + int(size)]
        pools.append(DiscreteTaskSpace(chunk, space=space, name=f"{space.name}-pool{i}"))
        start += int(size)
    return pools


def task_pool(
    space: TaskSpace,
    size: int = DEFAULT_POOL_SIZE,
    *,
    seed: int = 0,
    exclude: Iterable[Mapping[str, Any]] = (),
) -> DiscreteTaskSpace:
    """Draw one pool of ``size`` distinct tasks from ``space`` (see :func:`split_pools`)."""
    return split_pools(space, [size], seed=seed, exclude=exclude)[0]


def as_discrete(space: TaskSpaceLike, *, seed: int = 0) -> DiscreteTaskSpace:
    """``space`` itself if finite, else a pool drawn with ``seed``.

    The pool holds :data:`DEFAULT_POOL_SIZE` distinct tasks, or every task found if the space
    has fewer (a space of choice knobs only).
    """
    if isinstance(space, DiscreteTaskSpace):
        return space
    if not isinstance(space, TaskSpace):
        raise ValueError(f"expected a TaskSpace or DiscreteTaskSpace, got {type(space).__name__}")
    drawn = _draw_distinct(space, DEFAULT_POOL_SIZE, seed=seed, exclude=())
    return DiscreteTaskSpace(drawn, space=space, name=f"{space.name}-pool0")
