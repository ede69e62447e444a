"""The scheduler registry: :func:`register` a class under its ``name``, :func:`make` one by name."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from palaestra.curriculum.base import Scheduler, check_int
from palaestra.curriculum.spaces import DiscreteTaskSpace, TaskSpaceLike, task_pool
from palaestra.envs.tasks import TaskSpace

__all__ = ["make", "names", "register"]

_REGISTRY: dict[str, type[Scheduler]] = {}
S = TypeVar("S", bound=type[Scheduler])


def register(cls: S) -> S:
    """Class decorator: make ``cls`` available to :func:`make` under ``cls.name``."""
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"scheduler name {cls.name!r} is empty or taken")
    _REGISTRY[cls.name] = cls
    return cls


def names() -> list[str]:
    """The registered scheduler names, sorted."""
    return sorted(_REGISTRY)


def make(
    name: str,
    task_space: TaskSpaceLike,
    *,
    seed: int = 0,
    pool_size: int | None = None,
    pool_seed: int | None = None,
    **kwargs: Any,
) -> Scheduler:
    """Build the scheduler registered as ``name``.

    Args:
        name: One of :func:`names`.
        task_space: A :class:`~palaestra.envs.tasks.TaskSpace` or a
            :class:`~palaestra.curriculum.spaces.DiscreteTaskSpace`.
        seed: Seeds the scheduler's own generator.
        pool_size: If given and ``task_space`` is not finite, draw a pool of this many tasks
            first (for any scheduler, ``uniform`` included); otherwise schedulers that need a
            finite set draw 256 and ``uniform`` samples the space directly.
        pool_seed: Seed of that pool (default: ``seed``).
        **kwargs: The scheduler's knobs (see its class).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones), an unknown knob
            (the message lists the scheduler's knobs) or a bad knob value.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown curriculum {name!r}; valid names: {', '.join(names())}")
    cls = _REGISTRY[name]
    knobs = _knobs(cls)
    unknown = sorted(set(kwargs) - set(knobs))
    if unknown:
        raise ValueError(
            f"unknown knob {unknown[0]!r} for curriculum {name!r}; knobs: {', '.join(knobs)}"
        )
    if (pool_size is not None or pool_seed is not None) and not isinstance(
        task_space, DiscreteTaskSpace
    ):
        if not isinstance(task_space, TaskSpace):
            raise ValueError(f"task_space must be a TaskSpace, got {type(task_space).__name__}")
        size = 256 if pool_size is None else check_int("pool_size", pool_size, 1)
        task_seed = seed if pool_seed is None else check_int("pool_seed", pool_seed, 0)
        task_space = task_pool(task_space, size, seed=task_seed)
    return cls(task_space, seed=seed, **kwargs)


def _knobs(cls: type[Scheduler]) -> list[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name != "seed"]
