"""The skill language: its syntax tree, the :class:`Skill` record, rendering and the grammar.

Glossary:
    skill: a named program over one env family's primitives, with typed parameters, a
        one-line description, a body and a postcondition (see :class:`Skill`).
    postcondition: a conjunction of predicate literals (``has(wood) and not near(water)``),
        checked on the world after the body ran; a run is ``done`` only when it holds.
    literal: one predicate, possibly negated (:class:`Atom`).
    placeholder: ``{name}``, a declared parameter used inside a primitive text, a predicate
        argument, a loop bound or a call argument.

Source text (parsed and validated by :func:`compile_skill` in :mod:`palaestra.skills.parse`;
:func:`render` writes the canonical text back, and ``compile_skill(render(s)) == s``)::

    skill collect_wood(dir: direction)
    description: walk dir until next to a tree, then collect one wood
    postcondition: has(wood)
    until near(tree) max 12:
        do move {dir}
    do collect wood

The grammar in full is :data:`GRAMMAR`, the text each family's vocabulary puts in prompts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from palaestra.skills.runner import SkillRun, SkillView

__all__ = [
    "DEFAULT_BUDGET",
    "GRAMMAR",
    "MAX_CALL_DEPTH",
    "MAX_NESTING",
    "MAX_REPEAT",
    "RESERVED_NAMES",
    "AllOf",
    "AnyOf",
    "Atom",
    "Call",
    "Condition",
    "Do",
    "If",
    "Not",
    "Param",
    "Repeat",
    "Skill",
    "SkillError",
    "Statement",
    "Until",
    "render",
    "render_condition",
    "skill_source",
]

MAX_REPEAT = 100
"""The largest bound of a ``repeat`` or ``until ... max`` loop (a literal or a parameter)."""
MAX_CALL_DEPTH = 8
"""The deepest chain of calls: a skill that calls no other has depth 1; deeper is an error."""
MAX_NESTING = 8
"""The deepest nesting of blocks (``repeat``, ``until``, ``if``) in one skill."""
DEFAULT_BUDGET = 200
"""Primitive actions a run may take unless told otherwise."""
RESERVED_NAMES = frozenset({"budget", "early_stop", "and", "or", "not", "max", "true"})
"""Names a parameter may not take (keyword arguments of :meth:`Skill.run`, keywords)."""
KEYWORDS = ("do", "repeat", "until", "if", "elif", "else", "call")
"""The words a statement starts with."""

GRAMMAR = f"""\
Skill language (one skill per text; lines are statements; blocks are indented under a
line ending in ':'; '#' starts a comment line).

  skill <name>(<param>: <type>, <param>: <type> = <default>, ...)
  description: <one line saying what the skill does>
  postcondition: <literal> and <literal> ...      (optional; what holds when it worked)
  <statement>
  ...

Statements:
  do <primitive>                  one action; {{param}} inserts a parameter's value
  repeat <N>:                     run the block N times
  until <condition> max <N>:      run the block until the condition holds, at most N times
                                  (the condition is tested before each pass; 'max' is required)
  if <condition>:                 run the block when the condition holds,
  elif <condition>:               else the first elif whose condition holds,
  else:                           else this block
  call <skill>(<arg>, <param>=<arg>, ...)   run another skill; it must reach its postcondition

N is a whole number from 1 to {MAX_REPEAT} or an int parameter {{n}}. An argument (of a
predicate or a call) is a value of its type or a parameter {{p}} of a type that fits.
Conditions combine predicates with not, and, or and parentheses:
  until has(wood) or not (sees(tree) and near(water)) max 20:
A literal is a predicate or 'not' and a predicate. Names are lower case: a-z, 0-9 and _.
A run stops when the body ends (done if the postcondition holds, else failed), when a
primitive is not legal now (failed), or when its budget of actions is spent (budget).
Calls nest at most {MAX_CALL_DEPTH} deep and blocks {MAX_NESTING} deep; a skill may not call
itself, directly or through others.
"""
"""The grammar as plain text for a language model's prompt (verbatim, deterministic)."""


class SkillError(ValueError):
    """A skill that does not compile, or arguments a skill does not take.

    Attributes:
        problem: What is wrong, without the place.
        line: The 1-based source line, or ``None``.
        column: The 1-based column, or ``None``.
        skill: The skill's name, when known.
    """

    def __init__(
        self,
        problem: str,
        *,
        line: int | None = None,
        column: int | None = None,
        skill: str | None = None,
    ) -> None:
        self.problem = problem
        self.line = line
        self.column = column
        self.skill = skill
        place = []
        if skill:
            place.append(f"skill {skill}")
        if line is not None:
            place.append(f"line {line}" + (f", column {column}" if column is not None else ""))
        super().__init__(f"{', '.join(place)}: {problem}" if place else problem)


# ---------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class Atom:
    """A predicate literal: ``name(args)``, or ``not name(args)`` when ``negated``.

    Attributes:
        name: The predicate's name in the family's table.
        args: The argument texts as written: a literal (``"wood"``, ``"3"``) or a
            placeholder (``"{item}"``).
        negated: Whether the literal is the predicate's negation.
    """

    name: str
    args: tuple[str, ...] = ()
    negated: bool = False

    def predicate(self) -> str:
        """The predicate text, without the negation: ``has(wood)``."""
        return f"{self.name}({', '.join(self.args)})"

    def render(self) -> str:
        """The literal as source text."""
        return ("not " if self.negated else "") + self.predicate()


@dataclass(frozen=True)
class Not:
    """The negation of a group: ``not (a or b)`` (a negated predicate is an :class:`Atom`)."""

    condition: Condition


@dataclass(frozen=True)
class AllOf:
    """``a and b and ...`` (two or more parts)."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """``a or b or ...`` (two or more parts)."""

    parts: tuple[Condition, ...]


Condition = Atom | Not | AllOf | AnyOf


def render_condition(condition: Condition, *, _inside: str = "") -> str:
    """A condition as source text, with parentheses only where they are needed."""
    if isinstance(condition, Atom):
        return condition.render()
    if isinstance(condition, Not):
        return f"not ({render_condition(condition.condition)})"
    if isinstance(condition, AllOf):
        text = " and ".join(render_condition(p, _inside="and") for p in condition.parts)
        return f"({text})" if _inside == "and" else text
    text = " or ".join(render_condition(p, _inside="or") for p in condition.parts)
    return f"({text})" if _inside in ("and", "or") else text


# ---------------------------------------------------------------------- statements
@dataclass(frozen=True)
class Do:
    """``do <text>``: one primitive; ``{param}`` placeholders are filled when it runs."""

    text: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Repeat:
    """``repeat <count>:``; ``count`` is a number or the name of an int parameter."""

    count: int | str
    body: tuple[Statement, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Until:
    """``until <condition> max <limit>:``; tested before each pass of the body."""

    condition: Condition
    limit: int | str
    body: tuple[Statement, ...]
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class If:
    """``if <condition>:`` with an optional ``else`` (``elif`` is an ``If`` alone in it)."""

    condition: Condition
    then: tuple[Statement, ...]
    orelse: tuple[Statement, ...] = ()
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    """``call <skill>(...)``; ``args`` are ``(parameter, value text)`` in the callee's order."""

    skill: str
    args: tuple[tuple[str, str], ...] = ()
    line: int = field(default=0, compare=False)


Statement = Do | Repeat | Until | If | Call


# ---------------------------------------------------------------------- the skill
@dataclass(frozen=True)
class Param:
    """A declared parameter.

    Attributes:
        name: Its name, written ``{name}`` where it is used.
        type: The name of a type of the family's vocabulary (``item``, ``int``, ``card``...).
        default: The value used when a run or a call does not give one; ``None``: required.
    """

    name: str
    type: str
    default: str | int | float | None = None

    def render(self) -> str:
        """``name: type`` or ``name: type = default``."""
        text = f"{self.name}: {self.type}"
        return text if self.default is None else f"{text} = {self.default}"


@dataclass(frozen=True)
class Skill:
    """A compiled, validated skill (make one with :func:`~palaestra.skills.compile_skill`).

    Attributes:
        name: The skill's name (lower case, ``a-z0-9_``).
        family: The env family whose vocabulary it uses (``"craft"``, ``"gauntlet"``).
        params: The declared parameters, in order.
        description: One line saying what it does.
        postcondition: The literals that must all hold on the world after the body ran (empty:
            the body finishing is enough). Mining learns these; :meth:`with_postcondition`
            replaces them.
        body: The statements.
        callees: The skills it calls, resolved at compile time, sorted by name.
    """

    name: str
    family: str
    params: tuple[Param, ...]
    description: str
    postcondition: tuple[Atom, ...]
    body: tuple[Statement, ...]
    callees: tuple[Skill, ...] = ()

    @property
    def source(self) -> str:
        """The canonical source text (:func:`render`)."""
        return render(self)

    @property
    def depth(self) -> int:
        """The call depth: 1 without calls, else 1 + the deepest callee's."""
        return _depth(self)

    @property
    def max_actions(self) -> int:
        """The most primitive actions one run can take (int-parameter bounds at their maximum)."""
        return _max_actions(self)

    def callee(self, name: str) -> Skill:
        """The called skill named ``name``."""
        for skill in self.callees:
            if skill.name == name:
                return skill
        raise KeyError(name)

    def with_postcondition(self, literals: Iterable[Atom | str]) -> Skill:
        """The same skill with another postcondition, compiled (so checked) again.

        Args:
            literals: :class:`Atom` objects or literal texts (``"not has(wood)"``); empty for
                none.

        Raises:
            SkillError: for a literal the family's vocabulary does not take.
        """
        from palaestra.skills.parse import compile_skill

        texts = [lit.render() if isinstance(lit, Atom) else str(lit) for lit in literals]
        source = skill_source(
            self.name,
            self.description,
            _render_block(self.body, 0),
            params=self.params,
            postcondition=texts,
        )
        return compile_skill(source, self.family, skills={c.name: c for c in self.callees})

    def bind(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check run arguments and fill in defaults.

        Raises:
            SkillError: for an unknown or missing argument, a value of the wrong type, or a
                loop bound outside 0-:data:`MAX_REPEAT`.
        """
        from palaestra.skills.families import vocabulary

        types = vocabulary(self.family).types
        declared = {p.name: p for p in self.params}
        unknown = sorted(set(args) - set(declared))
        if unknown:
            known = ", ".join(declared) or "none"
            raise SkillError(
                f"unknown argument(s) {', '.join(unknown)}; parameters: {known}", skill=self.name
            )
        bound: dict[str, Any] = {}
        for p in self.params:
            value = args.get(p.name, p.default)
            if value is None:
                raise SkillError(f"missing argument {p.name} ({p.type})", skill=self.name)
            try:
                bound[p.name] = types[p.type].check(value)
            except ValueError as err:
                raise SkillError(f"argument {p.name} {err}", skill=self.name) from None
        for name in loop_params(self):
            if not 0 <= bound[name] <= MAX_REPEAT:
                raise SkillError(
                    f"argument {name} bounds a loop and must be 0-{MAX_REPEAT}; got {bound[name]}",
                    skill=self.name,
                )
        return bound

    def run(
        self,
        view: SkillView,
        /,
        *,
        budget: int = DEFAULT_BUDGET,
        early_stop: bool = False,
        **args: Any,
    ) -> SkillRun:
        """Start a run: an iterator of action indices (see :class:`~palaestra.skills.SkillRun`).

        Args:
            view: What the caller updates after each env step (``observation``, ``info``).
            budget: The most primitive actions to take.
            early_stop: End as ``done`` as soon as a non-empty postcondition holds.
            **args: The skill's arguments.

        Raises:
            SkillError: for bad arguments (checked now, before any action).
        """
        from palaestra.skills.runner import SkillRun

        return SkillRun(self, view, self.bind(args), budget=budget, early_stop=early_stop)


@functools.lru_cache(maxsize=4096)
def _depth(skill: Skill) -> int:
    return 1 + max((c.depth for c in skill.callees), default=0)


def _block_actions(skill: Skill, block: Sequence[Statement]) -> int:
    total = 0
    for s in block:
        if isinstance(s, Do):
            total += 1
        elif isinstance(s, (Repeat, Until)):
            bound = s.count if isinstance(s, Repeat) else s.limit
            total += (bound if isinstance(bound, int) else MAX_REPEAT) * _block_actions(
                skill, s.body
            )
        elif isinstance(s, If):
            total += max(_block_actions(skill, s.then), _block_actions(skill, s.orelse))
        else:
            total += skill.callee(s.skill).max_actions
    return total


@functools.lru_cache(maxsize=4096)
def _max_actions(skill: Skill) -> int:
    return _block_actions(skill, skill.body)


@functools.lru_cache(maxsize=4096)
def loop_params(skill: Skill) -> frozenset[str]:
    """The parameters that bound a loop, in the skill or (passed on) in a callee."""
    found: set[str] = set()

    def walk(block: Sequence[Statement]) -> None:
        for s in block:
            if isinstance(s, Repeat) and isinstance(s.count, str):
                found.add(s.count)
            if isinstance(s, Until) and isinstance(s.limit, str):
                found.add(s.limit)
            if isinstance(s, (Repeat, Until)):
                walk(s.body)
            elif isinstance(s, If):
                walk(s.then)
                walk(s.orelse)
            elif isinstance(s, Call):
                inner = loop_params(skill.callee(s.skill))
                for param, value in s.args:
                    if param in inner and value.startswith("{"):
                        found.add(value[1:-1])

    walk(skill.body)
    return frozenset(found)


# ---------------------------------------------------------------------- rendering
def _bound(value: int | str) -> str:
    return str(value) if isinstance(value, int) else f"{{{value}}}"


def _render_block(block: Sequence[Statement], indent: int) -> str:
    pad = " " * indent
    lines: list[str] = []
    for s in block:
        if isinstance(s, Do):
            lines.append(f"{pad}do {s.text}")
        elif isinstance(s, Repeat):
            lines.append(f"{pad}repeat {_bound(s.count)}:")
            lines.append(_render_block(s.body, indent + 4))
        elif isinstance(s, Until):
            cond = render_condition(s.condition)
            lines.append(f"{pad}until {cond} max {_bound(s.limit)}:")
            lines.append(_render_block(s.body, indent + 4))
        elif isinstance(s, If):
            keyword = "if"
            node: If = s
            while True:
                lines.append(f"{pad}{keyword} {render_condition(node.condition)}:")
                lines.append(_render_block(node.then, indent + 4))
                rest = node.orelse
                if len(rest) == 1 and isinstance(rest[0], If):
                    keyword, node = "elif", rest[0]
                    continue
                if rest:
                    lines.append(f"{pad}else:")
                    lines.append(_render_block(rest, indent + 4))
                break
        else:
            args = ", ".join(f"{k}={v}" for k, v in s.args)
            lines.append(f"{pad}call {s.skill}({args})")
    return "\n".join(lines)


def skill_source(
    name: str,
    description: str,
    body: str | Sequence[str],
    *,
    params: Sequence[Param | str] = (),
    postcondition: Sequence[str] = (),
) -> str:
    """Build a skill's source text from parts (compile it with ``compile_skill``).

    Args:
        name: The skill's name.
        description: Its one-line description.
        body: The body's text, or its lines (indented relative to the body).
        params: :class:`Param` objects or declarations such as ``"dir: direction"``.
        postcondition: Literal texts such as ``"has(wood)"``, joined with ``and``.
    """
    decl = ", ".join(p.render() if isinstance(p, Param) else str(p) for p in params)
    lines = [f"skill {name}({decl})", f"description: {description}"]
    if postcondition:
        lines.append(f"postcondition: {' and '.join(postcondition)}")
    lines.append(body if isinstance(body, str) else "\n".join(body))
    return "\n".join(lines).rstrip("\n") + "\n"


def render(skill: Skill) -> str:
    """The canonical source text of a skill; ``compile_skill(render(s), ...) == s``."""
    return skill_source(
        skill.name,
        skill.description,
        _render_block(skill.body, 0),
        params=skill.params,
        postcondition=[a.render() for a in skill.postcondition],
    )
