"""Task spaces: the knobs that set up one episode of an env family.

Glossary:
    task: a plain ``dict`` of knob values for one episode. It reaches an env only through
        ``env.reset(options={"task": task})`` or ``env.set_task(task)``, never through the seed.
    knob: one named parameter of a task: a choice among strings, a number in a range (float
        or integer), or a structured value (a list of stacks, a card order) that the knob's own
        ``parse`` function checks.
    difficulty: a number in [0, 1] that an env family assigns to a task.

A :class:`TaskSpace` validates tasks (unknown keys and out-of-range values raise
``ValueError`` naming the key and its allowed range), fills in defaults, samples tasks
uniformly from a generator it is given, and scores their difficulty. Curriculum schedulers
build on it.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["Knob", "TaskChannel", "TaskSpace", "task_from_options"]


@dataclass(frozen=True)
class Knob:
    """One parameter of a task.

    Attributes:
        name: The key of the knob in a task dict.
        default: The value used when a task leaves the knob out.
        doc: One line saying what the knob changes in the episode.
        choices: For a categorical knob, the allowed strings; ``None`` otherwise.
        low: For a numeric knob, the smallest allowed value (inclusive).
        high: For a numeric knob, the largest allowed value (inclusive).
        integer: For a numeric knob, whether values must be whole numbers (validated to
            ``int`` and sampled as integers).
        parse: For a structured knob, a function that returns the value in canonical form or
            raises ``ValueError`` saying what is wrong; ``None`` (the default value) always
            passes, meaning "derive it from the other knobs". Structured knobs are not sampled:
            :meth:`TaskSpace.sample` leaves them at their default.
        allowed: For a structured knob, the allowed values in words (for messages and tables).
    """

    name: str
    default: Any
    doc: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    integer: bool = False
    parse: Callable[[Any], Any] | None = None
    allowed: str = ""

    def __post_init__(self) -> None:
        if self.parse is not None:
            if self.choices is not None or self.low is not None or self.high is not None:
                raise ValueError(f"knob {self.name!r}: a parsed knob takes no choices or range")
            return
        if self.choices is None and (self.low is None or self.high is None):
            raise ValueError(f"knob {self.name!r} needs choices, a low/high range or parse")
        if self.choices is not None and self.default not in self.choices:
            raise ValueError(f"knob {self.name!r}: default {self.default!r} not in {self.choices}")
        if self.choices is None and not (self.low <= self.default <= self.high):  # type: ignore[operator]
            raise ValueError(f"knob {self.name!r}: default {self.default} outside its range")

    @property
    def is_choice(self) -> bool:
        """Whether the knob takes one of a fixed set of strings."""
        return self.choices is not None

    @property
    def is_structured(self) -> bool:
        """Whether the knob takes a structured value checked by its ``parse`` function."""
        return self.parse is not None

    def describe(self) -> str:
        """The allowed values, written for an error message or a table."""
        if self.parse is not None:
            return self.allowed or "see the env's documentation"
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.integer:
            return f"an integer in [{self.low:g}, {self.high:g}]"
        return f"a number in [{self.low:g}, {self.high:g}]"

    def validate(self, value: Any) -> Any:
        """Return ``value`` in canonical form, or raise ``ValueError`` naming the knob."""
        if self.parse is not None:
            if value is None:
                return None
            try:
                return self.parse(value)
            except (TypeError, ValueError) as err:
                raise ValueError(f"task key {self.name!r}: {err}") from None
        if self.choices is not None:
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(
                    f"task key {self.name!r}: got {value!r}, expected {self.describe()}"
                )
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"task key {self.name!r}: got {value!r}, expected {self.describe()}")
        number = float(value)
        if not math.isfinite(number) or not (self.low <= number <= self.high):  # type: ignore[operator]
            raise ValueError(f"task key {self.name!r}: got {value!r}, expected {self.describe()}")
        if self.integer:
            if number != int(number):
                raise ValueError(
                    f"task key {self.name!r}: got {value!r}, expected {self.describe()}"
                )
            return int(number)
        return number

    def normalized(self, value: Any) -> float:
        """Map a valid value of a numeric knob to [0, 1] (low -> 0, high -> 1)."""
        if self.choices is not None or self.parse is not None:
            raise TypeError(f"knob {self.name!r} is not numeric")
        span = self.high - self.low  # type: ignore[operator]
        return 0.0 if span == 0 else (float(value) - self.low) / span  # type: ignore[operator]


class TaskSpace:
    """The set of tasks of one env family, with validation, sampling and difficulty.

    Args:
        name: The env family the space belongs to, used in messages.
        knobs: The knobs, in the order they are listed to users.
        difficulty: A function from a complete, valid task to a number in [0, 1].
        finalize: Optional checks across knobs, run on the complete task after every knob is
            valid: it returns the task with derived values filled in (e.g. one stack per seat
            when ``stacks`` is ``None``) or raises ``ValueError`` naming the keys involved.
    """

    def __init__(
        self,
        name: str,
        knobs: Sequence[Knob],
        difficulty: Callable[[Mapping[str, Any]], float],
        finalize: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.name = name
        self.knobs: dict[str, Knob] = {k.name: k for k in knobs}
        if len(self.knobs) != len(knobs):
            raise ValueError(f"task space {name!r} has duplicate knob names")
        self._difficulty = difficulty
        self._finalize = finalize

    def __iter__(self) -> Iterator[Knob]:
        return iter(self.knobs.values())

    def __repr__(self) -> str:
        return f"TaskSpace({self.name!r}, knobs={list(self.knobs)})"

    def default(self) -> dict[str, Any]:
        """The task made of every knob's default value."""
        return {k.name: k.default for k in self}

    def validate(self, task: Mapping[str, Any] | None) -> dict[str, Any]:
        """Check a (possibly partial) task and return it complete, defaults filled in.

        Raises:
            ValueError: if ``task`` is not a mapping, has a key that is not a knob, or a value
                outside its knob's range. The message names the key and its allowed values.
        """
        if task is None:
            task = {}
        if not isinstance(task, Mapping):
            raise ValueError(f"a {self.name} task must be a dict of knob values, got {task!r}")
        unknown = [key for key in task if key not in self.knobs]
        if unknown:
            raise ValueError(
                f"unknown {self.name} task key {unknown[0]!r}; valid keys: "
                + ", ".join(f"{k.name} ({k.describe()})" for k in self)
            )
        full = self.default()
        for key, value in task.items():
            full[key] = self.knobs[key].validate(value)
        if self._finalize is not None:
            full = self._finalize(full)
        return full

    def contains(self, task: Mapping[str, Any]) -> bool:
        """Whether ``task`` is a valid task of this space."""
        try:
            self.validate(task)
        except ValueError:
            return False
        return True

    def difficulty(self, task: Mapping[str, Any] | None) -> float:
        """The difficulty of ``task`` in [0, 1] (validated first)."""
        value = float(self._difficulty(self.validate(task)))
        return min(1.0, max(0.0, value))

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one task uniformly over every knob, using only ``rng``.

        Structured knobs keep their default. The result is complete and valid (``finalize``
        has filled in derived values).
        """
        task: dict[str, Any] = {}
        for knob in self:
            if knob.parse is not None:
                task[knob.name] = knob.default
            elif knob.choices is not None:
                task[knob.name] = knob.choices[int(rng.integers(len(knob.choices)))]
            elif knob.integer:
                task[knob.name] = int(rng.integers(int(knob.low), int(knob.high) + 1))  # type: ignore[arg-type]
            else:
                task[knob.name] = float(rng.uniform(knob.low, knob.high))
        return self.validate(task)

    def restricted(self, name: str | None = None, **ranges: Any) -> TaskSpace:
        """A sub-family of this space: some knobs narrowed, difficulty and checks unchanged.

        Args:
            name: The new space's name (default: this one's with ``-restricted``).
            **ranges: Per knob, a ``(low, high)`` pair inside a numeric knob's range, or a
                sequence of allowed strings from a choice knob's choices. A knob whose
                default falls outside the new range takes its nearest allowed value.

        Every task of the result is a task of this space, with the same difficulty, so
        schedulers and held-out sets can work on a sub-family while envs validate against
        the whole space.

        Raises:
            ValueError: for an unknown knob, a structured knob, or a range that is empty or
                not inside the knob's own.
        """
        knobs = []
        for knob in self:
            if knob.name not in ranges:
                knobs.append(knob)
                continue
            narrow = ranges[knob.name]
            if knob.parse is not None:
                raise ValueError(f"knob {knob.name!r} is structured and cannot be narrowed")
            if knob.choices is not None:
                choices = tuple(narrow) if not isinstance(narrow, str) else (narrow,)
                bad = [c for c in choices if c not in knob.choices]
                if not choices or bad:
                    raise ValueError(
                        f"knob {knob.name!r}: choices {choices!r} must be a non-empty subset "
                        f"of {knob.choices!r}"
                    )
                default = knob.default if knob.default in choices else choices[0]
                knobs.append(replace(knob, choices=choices, default=default))
                continue
            try:
                low, high = (float(v) for v in narrow)
            except (TypeError, ValueError):
                raise ValueError(
                    f"knob {knob.name!r}: expected a (low, high) pair, got {narrow!r}"
                ) from None
            if not (knob.low <= low <= high <= knob.high):  # type: ignore[operator]
                raise ValueError(
                    f"knob {knob.name!r}: range ({low:g}, {high:g}) is empty or outside "
                    f"[{knob.low:g}, {knob.high:g}]"
                )
            if knob.integer and not (low.is_integer() and high.is_integer()):
                raise ValueError(f"knob {knob.name!r} takes integers; got ({low:g}, {high:g})")
            default = min(high, max(low, float(knob.default)))
            if knob.integer:
                default = round(default)
            knobs.append(replace(knob, low=low, high=high, default=default))
        unknown = sorted(set(ranges) - set(self.knobs))
        if unknown:
            raise ValueError(
                f"unknown {self.name} knob {unknown[0]!r}; knobs: {', '.join(self.knobs)}"
            )
        return TaskSpace(name or f"{self.name}-restricted", knobs, self._difficulty, self._finalize)

    def table(self) -> str:
        """A markdown table of the knobs, for documentation."""
        rows = ["| key | allowed | default | effect |", "| --- | --- | --- | --- |"]
        for k in self:
            rows.append(f"| `{k.name}` | {k.describe()} | `{k.default!r}` | {k.doc} |")
        return "\n".join(rows)


class TaskChannel:
    """The task channel every palaestra env shares (mixed into the env classes).

    ``task`` is the task of the current episode, or of the next one once set; ``set_task``
    (or assigning to ``task``, which a vector env's ``set_attr("task", tasks)`` does in each
    worker) validates a task and uses it from the next reset on. Subclasses set
    ``task_space`` and ``_task``; one that caches something per task overrides
    :meth:`set_task` and calls ``super().set_task``.
    """

    task_space: TaskSpace
    _task: dict[str, Any]

    @property
    def task(self) -> dict[str, Any]:
        """A copy of the task of the current episode, or of the next one once set."""
        return copy.deepcopy(self._task)

    @task.setter
    def task(self, task: Mapping[str, Any] | None) -> None:
        self.set_task(task)

    def set_task(self, task: Mapping[str, Any] | None) -> None:
        """Validate ``task`` (``ValueError`` naming a bad key) and use it from the next reset."""
        self._task = self.task_space.validate(task)

    def _set_task_from_options(self, options: Mapping[str, Any] | None) -> None:
        """At reset: apply ``options["task"]``, if given, with :meth:`set_task`.

        Other option keys are logged and ignored (:func:`task_from_options`).
        """
        task = task_from_options(options, self.task_space.name)
        if task is not None:
            self.set_task(task)


def task_from_options(options: Mapping[str, Any] | None, family: str) -> Any:
    """The ``task`` entry of ``reset`` options, or None; other keys are logged and ignored.

    Other keys are not an error: conformance tests (PettingZoo's ``parallel_api_test``)
    pass dummy options, and generic training code may pass options meant for other envs.
    """
    if not options:
        return None
    unknown = sorted(str(k) for k in options if k != "task")
    if unknown:
        log.warning(
            "%s env: ignoring unknown reset option(s) %s; the only one is 'task'", family, unknown
        )
    return options.get("task")
