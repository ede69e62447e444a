"""Run a compiled skill: a generator of primitive actions over a view the caller updates.

The protocol (:class:`SkillRun`, started by :meth:`Skill.run
<palaestra.skills.language.Skill.run>`)::

    view = SkillView(observation, info)
    run = skill.run(view, budget=50, dir="east")
    for action in run:                      # an action index of the env's Discrete space
        observation, reward, terminated, truncated, info = env.step(action)
        view.update(observation, info)      # before asking for the next action
        if terminated or truncated:
            run.finish("the episode ended")
            break
    outcome = run.outcome                   # also StopIteration.value (``yield from``)

A run ends with an :class:`Outcome` whose status is

- ``done``: the body finished (or, with ``early_stop``, the postcondition held before an
  action) and every postcondition literal holds on the latest observation;
- ``failed``: the body finished but the postcondition is false, a primitive is not legal
  now (``observation["action_mask"]`` or ``info["legal_actions"]``, when present; an
  illegal action is never yielded), a state-dependent primitive has no action now, or a
  called skill failed;
- ``budget``: the run would take more than ``budget`` actions, or its control flow did more
  than :data:`MAX_WORK` loop passes and tests without acting.

:func:`execute` drives a Gymnasium env with this protocol and adds up the reward.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from palaestra.skills.families import Vocabulary, vocabulary
from palaestra.skills.language import (
    DEFAULT_BUDGET,
    MAX_CALL_DEPTH,
    AllOf,
    AnyOf,
    Atom,
    Call,
    Condition,
    Do,
    If,
    Not,
    Repeat,
    Skill,
    SkillError,
    Statement,
    Until,
)

__all__ = [
    "MAX_WORK",
    "STATUSES",
    "Execution",
    "Outcome",
    "SkillRun",
    "SkillView",
    "execute",
    "unmet_postcondition",
]

logger = logging.getLogger(__name__)

STATUSES = ("done", "failed", "budget")
"""The statuses of an :class:`Outcome`."""
MAX_WORK = 100_000
"""Loop passes and condition tests one run may do in all (a guard on loops that never act)."""
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass
class SkillView:
    """What a running skill sees; the caller updates it after every env step.

    Attributes:
        observation: The latest observation (a vector-mode dict for Craft and Gauntlet).
        info: The latest ``info`` (``legal_actions`` is used when present).
    """

    observation: Any
    info: Mapping[str, Any] = field(default_factory=dict)

    def update(self, observation: Any, info: Mapping[str, Any] | None = None) -> None:
        """Replace the observation and info with the env's latest."""
        self.observation = observation
        self.info = {} if info is None else info


@dataclass(frozen=True)
class Outcome:
    """How a run ended.

    Attributes:
        status: ``done``, ``failed`` or ``budget`` (see the module docstring).
        steps: Primitive actions taken.
        reason: Why it ended, in words.
        actions: The action indices taken, in order.
        skill: The skill where it ended (a callee when a call failed).
        line: The source line where it ended, or ``None`` (the end of the body).
    """

    status: str
    steps: int
    reason: str
    actions: tuple[int, ...] = ()
    skill: str = ""
    line: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the status is ``done``."""
        return self.status == "done"


class _Stop(Exception):
    def __init__(self, status: str, reason: str, skill: str, line: int | None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.skill, self.line = status, reason, skill, line


class SkillRun(Iterator[int]):
    """One run of a skill: iterate it for action indices (see the module docstring).

    Attributes:
        skill: The skill.
        view: The view it reads.
        args: Its bound arguments.
        budget: The most actions it may take.
        outcome: ``None`` until the run ends, then its :class:`Outcome`.
    """

    def __init__(
        self,
        skill: Skill,
        view: SkillView,
        args: Mapping[str, Any],
        *,
        budget: int = DEFAULT_BUDGET,
        early_stop: bool = False,
    ) -> None:
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
            raise SkillError(f"budget must be an integer >= 0; got {budget!r}", skill=skill.name)
        self.skill = skill
        self.view = view
        self.args = dict(args)
        self.budget = budget
        self.early_stop = early_stop
        self.outcome: Outcome | None = None
        self._vocab: Vocabulary = vocabulary(skill.family)
        self._actions: list[int] = []
        self._work = 0
        self._gen = self._main()

    @property
    def steps(self) -> int:
        """Actions yielded so far."""
        return len(self._actions)

    def __iter__(self) -> SkillRun:
        return self

    def __next__(self) -> int:
        if self.outcome is not None:
            raise StopIteration(self.outcome)
        try:
            return next(self._gen)
        except StopIteration as stop:
            self.outcome = stop.value
            logger.debug("skill %s: %s", self.skill.name, self.outcome)
            raise StopIteration(self.outcome) from None

    def send(self, value: Any) -> int:
        """Generator protocol: the same as ``next(run)`` (the value is ignored)."""
        return next(self)

    def finish(self, reason: str = "the episode ended") -> Outcome:
        """End the run now (the env ended) before its body finished.

        The outcome is ``done`` when the skill's postcondition holds on the world; a skill
        without a postcondition has nothing to show it succeeded, so its cut-short run fails.
        """
        if self.outcome is None:
            self._gen.close()
            missing = self._missing(self.skill, self.args)
            if not self.skill.postcondition:
                status, why = "failed", f"{reason}; the body did not finish (no postcondition)"
            else:
                status = "done" if missing is None else "failed"
                why = reason if missing is None else f"{reason}; postcondition {missing} is false"
            self.outcome = self._outcome(status, why, self.skill.name, None)
        return self.outcome

    def close(self) -> None:
        """Stop the run without an outcome of its own (``finish`` records one)."""
        self.finish("closed")

    # ------------------------------------------------------------------ the interpreter
    def _outcome(self, status: str, reason: str, skill: str, line: int | None) -> Outcome:
        return Outcome(status, len(self._actions), reason, tuple(self._actions), skill, line)

    def _main(self) -> Generator[int, None, Outcome]:
        try:
            yield from self._skill(self.skill, self.args, 1)
        except _Stop as stop:
            return self._outcome(stop.status, stop.reason, stop.skill, stop.line)
        return self._outcome("done", "the body finished", self.skill.name, None)

    def _skill(self, skill: Skill, args: Mapping[str, Any], depth: int) -> Generator[int]:
        if depth > MAX_CALL_DEPTH:
            raise _Stop("failed", f"calls nest deeper than {MAX_CALL_DEPTH}", skill.name, None)
        yield from self._block(skill, skill.body, args, depth)
        missing = self._missing(skill, args)
        if missing is not None:
            raise _Stop("failed", f"postcondition {missing} is false", skill.name, None)

    def _missing(self, skill: Skill, args: Mapping[str, Any]) -> str | None:
        for atom in skill.postcondition:
            if not self._test(atom, args, skill, None):
                return atom.render()
        return None

    def _tick(self, skill: Skill, line: int) -> None:
        self._work += 1
        if self._work > MAX_WORK:
            raise _Stop("budget", f"more than {MAX_WORK} loop passes and tests", skill.name, line)

    def _block(
        self, skill: Skill, block: tuple[Statement, ...], args: Mapping[str, Any], depth: int
    ) -> Generator[int]:
        for s in block:
            if isinstance(s, Do):
                yield self._act(skill, s, args)
            elif isinstance(s, Repeat):
                count = s.count if isinstance(s.count, int) else int(args[s.count])
                for _ in range(count):
                    self._tick(skill, s.line)
                    yield from self._block(skill, s.body, args, depth)
            elif isinstance(s, Until):
                limit = s.limit if isinstance(s.limit, int) else int(args[s.limit])
                for _ in range(limit):
                    if self._test(s.condition, args, skill, s.line):
                        break
                    yield from self._block(skill, s.body, args, depth)
            elif isinstance(s, If):
                branch = s.then if self._test(s.condition, args, skill, s.line) else s.orelse
                yield from self._block(skill, branch, args, depth)
            elif isinstance(s, Call):
                yield from self._call(skill, s, args, depth)

    def _call(
        self, skill: Skill, call: Call, args: Mapping[str, Any], depth: int
    ) -> Generator[int]:
        callee = skill.callee(call.skill)
        given = {k: _value(v, args) for k, v in call.args}
        try:
            bound = callee.bind(given)
        except SkillError as err:
            raise _Stop(
                "failed", f"call {callee.name}: {err.problem}", skill.name, call.line
            ) from None
        try:
            yield from self._skill(callee, bound, depth + 1)
        except _Stop as stop:
            if stop.status != "failed" or stop.skill == skill.name:
                raise
            reason = f"call {callee.name} failed: {stop.reason}"
            raise _Stop("failed", reason, stop.skill, stop.line) from None

    def _act(self, skill: Skill, do: Do, args: Mapping[str, Any]) -> int:
        observation, info = self.view.observation, self.view.info
        if (
            self.early_stop
            and self.skill.postcondition
            and self._missing(self.skill, self.args) is None
        ):
            raise _Stop("done", "the postcondition held early", skill.name, do.line)
        text = _PLACEHOLDER.sub(lambda m: str(args[m.group(1)]), do.text)
        try:
            action = self._vocab.resolve(text, observation, info)
        except ValueError as err:
            raise SkillError(str(err), line=do.line, skill=skill.name) from None
        if action is None:
            raise _Stop("failed", f"no action {text!r} now", skill.name, do.line)
        if not _is_legal(action, observation, info):
            reason = f"{text!r} (action {action}) is not legal now"
            raise _Stop("failed", reason, skill.name, do.line)
        if len(self._actions) >= self.budget:
            raise _Stop(
                "budget", f"the budget of {self.budget} actions is spent", skill.name, do.line
            )
        self._actions.append(action)
        return action

    def _test(
        self, condition: Condition, args: Mapping[str, Any], skill: Skill, line: int | None
    ) -> bool:
        self._tick(skill, line or 0)
        if isinstance(condition, Atom):
            predicate = (condition.name, *(_value(a, args) for a in condition.args))
            try:
                value = self._vocab.evaluate(self.view.observation, predicate)
            except ValueError as err:
                raise SkillError(str(err), line=line, skill=skill.name) from None
            return value != condition.negated
        if isinstance(condition, Not):
            return not self._test(condition.condition, args, skill, line)
        if isinstance(condition, AllOf):
            return all(self._test(p, args, skill, line) for p in condition.parts)
        if isinstance(condition, AnyOf):
            return any(self._test(p, args, skill, line) for p in condition.parts)
        raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover


def _value(text: str, args: Mapping[str, Any]) -> Any:
    match = _PLACEHOLDER.fullmatch(text)
    return args[match.group(1)] if match else text


def _is_legal(action: int, observation: Any, info: Mapping[str, Any]) -> bool:
    mask = observation.get("action_mask") if isinstance(observation, Mapping) else None
    if mask is not None:
        return bool(mask[action])
    legal = info.get("legal_actions") if isinstance(info, Mapping) else None
    return True if legal is None else action in legal


def unmet_postcondition(
    skill: Skill, observation: Any, args: Mapping[str, Any] | None = None
) -> tuple[Atom, ...]:
    """The postcondition literals of ``skill`` that are false on ``observation``.

    How a library verifies a run on the world after it: empty means the postcondition holds.

    Args:
        skill: The skill.
        observation: A vector observation of its family's env.
        args: The arguments the skill ran with (defaults filled in).

    Raises:
        SkillError: for bad arguments or an observation the predicates cannot read.
    """
    bound = skill.bind(args or {})
    vocab = vocabulary(skill.family)
    unmet = []
    for atom in skill.postcondition:
        predicate = (atom.name, *(_value(a, bound) for a in atom.args))
        try:
            holds = vocab.evaluate(observation, predicate)
        except ValueError as err:
            raise SkillError(str(err), skill=skill.name) from None
        if holds == atom.negated:
            unmet.append(atom)
    return tuple(unmet)


@dataclass(frozen=True)
class Execution:
    """A skill run on a real env by :func:`execute`.

    Attributes:
        outcome: How the run ended.
        reward: The env's rewards, summed.
        steps: Env steps taken (the outcome's actions).
        observation: The last observation.
        info: The last info.
        terminated: Whether the episode terminated during the run.
        truncated: Whether it was truncated during the run.
    """

    outcome: Outcome
    reward: float
    steps: int
    observation: Any
    info: Mapping[str, Any]
    terminated: bool
    truncated: bool


def execute(
    skill: Skill,
    env: Any,
    observation: Any,
    info: Mapping[str, Any] | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
    early_stop: bool = False,
    **args: Any,
) -> Execution:
    """Run a skill on a Gymnasium env from its current state until the run ends.

    Args:
        skill: The skill.
        env: A reset env of the skill's family (vector or both obs mode).
        observation: The env's latest observation.
        info: The env's latest info.
        budget: The most actions to take.
        early_stop: End as ``done`` as soon as the postcondition holds.
        **args: The skill's arguments.

    Returns:
        The outcome, the reward sum, the steps and the env's last state. When the episode
        ends first, the outcome is ``done`` if the postcondition holds, else ``failed``.
    """
    view = SkillView(observation, {} if info is None else info)
    run = skill.run(view, budget=budget, early_stop=early_stop, **args)
    total, terminated, truncated = 0.0, False, False
    for action in run:
        observation, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        view.update(observation, info)
        if terminated or truncated:
            run.finish("the episode ended")
            break
    outcome = run.outcome
    if outcome is None:  # pragma: no cover - the loop always ends with an outcome
        outcome = run.finish()
    return Execution(
        outcome, total, outcome.steps, view.observation, view.info, terminated, truncated
    )
