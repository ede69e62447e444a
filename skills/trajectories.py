"""Recorded episodes for bottom-up skill mining: the :class:`Trajectory` record and its files.

Glossary:
    trajectory: one played episode of a Gymnasium env of a skill family: the observation
        before every action and the last one, the actions, the rewards, the infos, and
        whether the episode succeeded (``info["success"]`` at the end, from the world).
    action text: the name of an action *in the state it was taken*, in the family's skill
        vocabulary, so that it can be written ``do <text>`` in a skill. A fixed primitive is
        its text in ``PRIMITIVE_ACTIONS`` (``"move east"``); where the vocabulary has derived
        primitives (Gauntlet's ``play {card}``), an action one of them resolves to gets that
        text instead (``"play Strike"`` rather than ``"play slot 3 at enemy 0"``), since the
        slot names nothing that recurs from one hand to the next. See :func:`action_text`.

:func:`record_trajectory` plays one real episode with an agent that follows palaestra's
interface (``act(observation, info=None)``, optional ``reset(seed=None)``);
:func:`save_trajectories` and :func:`load_trajectories` keep them as JSON (numpy arrays and
dicts with integer keys, such as ``info["legal_actions"]``, are tagged so they come back as
they were; the write is atomic: a temporary file, fsync, rename).

Mining (:mod:`palaestra.skills.mining`) reads a trajectory as its *runs* (:func:`runs_of`:
maximal stretches of one action text); :func:`find_occurrences` finds where a mined skill's
pattern of runs appears in other trajectories, i.e. the states where it applies, which is
how a mined skill is verified on fresh episodes.

Cost: recording costs the episode's env steps plus, per step, one resolve per value
combination of each derived primitive until one matches (Gauntlet: at most 42 + 42 x 3).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from palaestra.skills.families import Vocabulary, vocabulary

if TYPE_CHECKING:
    from palaestra.skills.mining import MinedSkill

__all__ = [
    "TRAJECTORY_FORMAT",
    "TRAJECTORY_VERSION",
    "Occurrence",
    "Run",
    "Trajectory",
    "action_text",
    "find_occurrences",
    "load_trajectories",
    "record_trajectory",
    "runs_of",
    "save_trajectories",
]

logger = logging.getLogger(__name__)

TRAJECTORY_FORMAT = "palaestra.trajectories"
"""The ``format`` field of a trajectory file."""
TRAJECTORY_VERSION = 1
"""The version written; a file of a newer version is refused."""
DERIVED_INTS: tuple[int, ...] = (0, 1, 2)
"""The values tried for an int slot of a derived primitive (Gauntlet's enemy slots 0-2)."""


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One recorded episode (compare two with ``a.to_dict() == b.to_dict()``).

    Attributes:
        family: The skill family (``"craft"``, ``"gauntlet"``).
        env_id: The Gymnasium id it was played on.
        task: The episode's task as the env validated it (``None`` when unknown).
        seed: The reset seed.
        observations: The observation before each action, then the last one
            (``steps + 1`` entries), as the env gave them.
        actions: The action indices, in order.
        texts: The action text of each action in the state it was taken (:func:`action_text`).
        rewards: The reward of each step.
        infos: The reset info, then the info of each step (``steps + 1`` entries).
        success: Whether the episode succeeded (its last ``info["success"]``).
        terminated: Whether the env terminated it.
        truncated: Whether the env truncated it (``False`` when ``max_steps`` cut it first).
    """

    family: str
    env_id: str
    task: Mapping[str, Any] | None
    seed: int | None
    observations: tuple[Any, ...]
    actions: tuple[int, ...]
    texts: tuple[str, ...]
    rewards: tuple[float, ...]
    infos: tuple[Mapping[str, Any], ...] = field(repr=False)
    success: bool = False
    terminated: bool = False
    truncated: bool = False

    def __post_init__(self) -> None:
        n = len(self.actions)
        problems = []
        if len(self.observations) != n + 1:
            problems.append(f"{len(self.observations)} observations (need {n + 1})")
        if len(self.infos) != n + 1:
            problems.append(f"{len(self.infos)} infos (need {n + 1})")
        if len(self.texts) != n:
            problems.append(f"{len(self.texts)} action texts (need {n})")
        if len(self.rewards) != n:
            problems.append(f"{len(self.rewards)} rewards (need {n})")
        if problems:
            raise ValueError(f"trajectory of {n} actions has " + ", ".join(problems))

    @property
    def steps(self) -> int:
        """The number of actions."""
        return len(self.actions)

    @property
    def total_reward(self) -> float:
        """The rewards, summed."""
        return float(sum(self.rewards))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see :func:`save_trajectories`)."""
        return {
            "family": self.family,
            "env_id": self.env_id,
            "task": _encode(self.task),
            "seed": self.seed,
            "observations": [_encode(o) for o in self.observations],
            "actions": list(self.actions),
            "texts": list(self.texts),
            "rewards": [_encode(float(r)) for r in self.rewards],
            "infos": [_encode(i) for i in self.infos],
            "success": self.success,
            "terminated": self.terminated,
            "truncated": self.truncated,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trajectory:
        """The trajectory :meth:`to_dict` wrote.

        Raises:
            ValueError: for a missing field or inconsistent lengths.
        """
        try:
            return cls(
                family=str(data["family"]),
                env_id=str(data["env_id"]),
                task=_decode(data["task"]),
                seed=None if data["seed"] is None else int(data["seed"]),
                observations=tuple(_decode(o) for o in data["observations"]),
                actions=tuple(int(a) for a in data["actions"]),
                texts=tuple(str(t) for t in data["texts"]),
                rewards=tuple(float(_decode(r)) for r in data["rewards"]),
                infos=tuple(_decode(i) for i in data["infos"]),
                success=bool(data["success"]),
                terminated=bool(data["terminated"]),
                truncated=bool(data["truncated"]),
            )
        except KeyError as err:
            raise ValueError(f"trajectory record lacks the field {err.args[0]!r}") from None


# ---------------------------------------------------------------------- action texts
def action_text(vocab: Vocabulary, observation: Any, info: Mapping[str, Any], action: int) -> str:
    """The text of ``action`` in this state, for a skill's ``do`` line.

    The first derived primitive (fewest slots first) that resolves to ``action`` here gives
    the text; word slots are tried over their values, int slots over :data:`DERIVED_INTS`.
    Otherwise it is the fixed primitive's text.

    Raises:
        ValueError: for an action index the vocabulary has no primitive for.
    """
    for derived in sorted(vocab.derived, key=lambda d: len(d.slots)):
        choices = []
        for _, type_name in derived.slots:
            kind = vocab.types[type_name]
            choices.append(kind.values if kind.kind == "word" else DERIVED_INTS)
        if not all(choices):
            continue
        for values in itertools.product(*choices):
            text = derived.template
            for (slot, _), value in zip(derived.slots, values, strict=True):
                text = text.replace(f"{{{slot}}}", str(value))
            if derived.resolve(observation, info, values) == action:
                return text
    names = _primitive_names(vocab)
    if not 0 <= action < len(names):
        raise ValueError(f"action {action} is no {vocab.family} primitive (0-{len(names) - 1})")
    return names[action]


@functools.cache
def _names_of(family: str) -> tuple[str, ...]:
    vocab = vocabulary(family)
    return tuple(sorted(vocab.primitives, key=vocab.primitives.__getitem__))


def _primitive_names(vocab: Vocabulary) -> tuple[str, ...]:
    return _names_of(vocab.family)


# ---------------------------------------------------------------------- recording
def _family_of(env: Any, family: str | None) -> Vocabulary:
    if family is not None:
        return vocabulary(family)
    spec = getattr(env, "spec", None)
    env_id = getattr(spec, "id", None)
    if env_id is None:
        raise ValueError("record_trajectory: the env has no spec id; pass family='craft' or so")
    return vocabulary(env_id)


def _snapshot(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Mapping):
        return {k: _snapshot(v) for k, v in value.items()}
    return copy.deepcopy(value)


def record_trajectory(
    env: Any,
    agent: Any,
    *,
    seed: int | None,
    task: Mapping[str, Any] | None = None,
    max_steps: int = 10_000,
    family: str | None = None,
) -> Trajectory:
    """Play one real episode with ``agent`` and record it.

    Args:
        env: A Gymnasium env of a skill family, in ``obs_mode="vector"`` or ``"both"``
            (predicates are read from the vector observation).
        agent: Anything with ``act(observation, info=None)``; its ``reset(seed=seed)`` is
            called first when it has one.
        seed: The reset seed.
        task: The episode's task (passed as ``reset(options={"task": task})``); ``None``
            plays the env's current task.
        max_steps: Stop after this many actions even if the episode has not ended.
        family: The skill family; by default read from ``env.spec.id``.

    Returns:
        The trajectory; ``success`` is the last ``info["success"]`` (``False`` without one).

    Raises:
        ValueError: for a bad ``max_steps``, an env of no skill family, or a text observation.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps must be an integer >= 1; got {max_steps!r}")
    vocab = _family_of(env, family)
    if hasattr(agent, "reset"):
        agent.reset(seed=seed)
    options = None if task is None else {"task": dict(task)}
    observation, info = env.reset(seed=seed, options=options)
    if not isinstance(observation, Mapping):
        raise ValueError(
            "record_trajectory needs vector observations (obs_mode='vector' or 'both'); "
            f"got {type(observation).__name__}"
        )
    used = getattr(env.unwrapped, "task", task)
    observations, infos = [_snapshot(observation)], [_snapshot(info)]
    actions: list[int] = []
    texts: list[str] = []
    rewards: list[float] = []
    terminated = truncated = False
    for _ in range(max_steps):
        action = int(agent.act(observation, info))
        texts.append(action_text(vocab, observation, info, action))
        observation, reward, terminated, truncated, info = env.step(action)
        actions.append(action)
        rewards.append(float(reward))
        observations.append(_snapshot(observation))
        infos.append(_snapshot(info))
        if terminated or truncated:
            break
    spec = getattr(env, "spec", None)
    trajectory = Trajectory(
        family=vocab.family,
        env_id=getattr(spec, "id", None) or vocab.env_id,
        task=_snapshot(used) if used is not None else None,
        seed=seed,
        observations=tuple(observations),
        actions=tuple(actions),
        texts=tuple(texts),
        rewards=tuple(rewards),
        infos=tuple(infos),
        success=bool(info.get("success", False)),
        terminated=bool(terminated),
        truncated=bool(truncated),
    )
    logger.debug(
        "recorded %s seed %s: %d steps, success %s",
        trajectory.env_id,
        seed,
        trajectory.steps,
        trajectory.success,
    )
    return trajectory


# ---------------------------------------------------------------------- runs and matches
@dataclass(frozen=True)
class Occurrence:
    """Where a mined segment was seen.

    Attributes:
        trajectory: The index of the trajectory in the list given.
        start: The step of its first action (its start state is ``observations[start]``).
        end: The step after its last action (its end state is ``observations[end]``).
        args: ``(parameter, value)`` pairs that make the skill replay it (a slot's value,
            loop counts of ``repeat {n}``).
    """

    trajectory: int
    start: int
    end: int
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def arguments(self) -> dict[str, Any]:
        """``args`` as a dict, ready for ``execute(skill, ..., **arguments)``."""
        return dict(self.args)


@dataclass(frozen=True)
class Run:
    """A maximal stretch of one action text: steps ``start`` to ``end - 1``."""

    text: str
    start: int
    end: int


def runs_of(texts: Sequence[str]) -> tuple[Run, ...]:
    """The runs of a sequence of action texts, in order (``O(len(texts))``)."""
    runs: list[Run] = []
    start = 0
    for t in range(1, len(texts) + 1):
        if t == len(texts) or texts[t] != texts[start]:
            runs.append(Run(texts[start], start, t))
            start = t
    return tuple(runs)


def find_occurrences(
    mined: MinedSkill, trajectories: Sequence[Trajectory]
) -> tuple[Occurrence, ...]:
    """Where a mined skill's pattern appears in (other) trajectories, successful or not.

    A place matches when its runs have the pattern's texts, the slot bound to one value
    throughout; counts are not checked (a ``repeat {n}`` gets ``n`` from the run). Matches
    do not overlap within a trajectory. This is how to find states where a skill applies,
    e.g. to verify it with :func:`~palaestra.skills.runner.execute` on fresh episodes.

    Raises:
        ValueError: for a trajectory of another family than the skill's.
    """
    slot = next((p for p in mined.skill.params if p.type != "int"), None)
    regexes = []
    for text in mined.pattern:
        parts = re.split(r"(\{[a-z_][a-z0-9_]*\})", text)
        regexes.append(
            re.compile(
                "".join(
                    "(?P<slot>.+)" if slot and part == f"{{{slot.name}}}" else re.escape(part)
                    for part in parts
                )
            )
        )
    found: list[Occurrence] = []
    n = len(mined.pattern)
    for k, trajectory in enumerate(trajectories):
        if trajectory.family != mined.skill.family:
            raise ValueError(
                f"trajectory {k} is of family {trajectory.family!r}, not {mined.skill.family!r}"
            )
        seq = runs_of(trajectory.texts)
        s = 0
        while s + n <= len(seq):
            value: str | None = None
            ok = True
            for p, regex in enumerate(regexes):
                match = regex.fullmatch(seq[s + p].text)
                if match is None:
                    ok = False
                    break
                if "slot" in match.groupdict():
                    got = match.group("slot")
                    if value is not None and got != value:
                        ok = False
                        break
                    value = got
            if ok and slot is not None and value is not None:
                types = vocabulary(mined.skill.family).types
                ok = value in types[slot.type].values
            if not ok:
                s += 1
                continue
            args: dict[str, Any] = {slot.name: value} if slot and value is not None else {}
            for p, loop in enumerate(mined.loop_params):
                if loop is not None:
                    args[loop] = seq[s + p].end - seq[s + p].start
            found.append(Occurrence(k, seq[s].start, seq[s + n - 1].end, tuple(args.items())))
            s += n
    return tuple(found)


# ---------------------------------------------------------------------- JSON
_TAGS = ("__ndarray__", "__items__", "__tuple__", "__float__")


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"__ndarray__": _encode(value.tolist()), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return _encode(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and not any(t in value for t in _TAGS):
            return {k: _encode(v) for k, v in value.items()}
        return {"__items__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"cannot save a value of type {type(value).__name__} in a trajectory")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        return np.asarray(_decode(value["__ndarray__"]), dtype=np.dtype(value["dtype"]))
    if "__items__" in value:
        return {_hashable(_decode(k)): _decode(v) for k, v in value["__items__"]}
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__float__" in value:
        return float(value["__float__"])
    return {k: _decode(v) for k, v in value.items()}


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def save_trajectories(path: str | os.PathLike[str], trajectories: Iterable[Trajectory]) -> Path:
    """Write trajectories to a JSON file atomically (temporary file, fsync, rename).

    Args:
        path: The file to write (its folder must exist); an existing file is replaced.
        trajectories: The trajectories, in order.

    Returns:
        The path written.

    Raises:
        ValueError: for something that is not a :class:`Trajectory`, or a value JSON cannot
            hold; nothing is written then.
    """
    items = list(trajectories)
    for k, t in enumerate(items):
        if not isinstance(t, Trajectory):
            raise ValueError(f"item {k} is a {type(t).__name__}, not a Trajectory")
    document = {
        "format": TRAJECTORY_FORMAT,
        "version": TRAJECTORY_VERSION,
        "trajectories": [t.to_dict() for t in items],
    }
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    target = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        folder = os.open(target.parent or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return target
    try:
        os.fsync(folder)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(folder)
    return target


def load_trajectories(path: str | os.PathLike[str]) -> list[Trajectory]:
    """Read the trajectories :func:`save_trajectories` wrote.

    Raises:
        ValueError: for a file that is not a trajectory file, or of a newer version.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not a JSON trajectory file ({err})") from None
    if not isinstance(document, dict) or document.get("format") != TRAJECTORY_FORMAT:
        raise ValueError(f"{path}: not a {TRAJECTORY_FORMAT} file")
    version = document.get("version")
    if not isinstance(version, int) or version > TRAJECTORY_VERSION:
        raise ValueError(
            f"{path}: trajectory file version {version!r} is newer than {TRAJECTORY_VERSION}"
        )
    return [Trajectory.from_dict(t) for t in document["trajectories"]]
