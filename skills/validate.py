"""Check the pieces of a skill against its family's vocabulary and the skills it calls.

:class:`Checker` holds what one compilation knows (the vocabulary, the declared parameters,
the resolved callees) and checks primitives, predicates, loop bounds and calls, raising a
:class:`~palaestra.skills.language.SkillError` that names the line and column. Predicates go
through the family's ``split_predicate`` and ``parse_predicate``; primitives through its
``PRIMITIVE_ACTIONS`` (:meth:`~palaestra.skills.families.Vocabulary.check_template`).
:mod:`palaestra.skills.parse` reads the text and calls these checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from palaestra.envs.games import split_predicate
from palaestra.skills.families import ParamType, Vocabulary
from palaestra.skills.language import (
    MAX_CALL_DEPTH,
    MAX_REPEAT,
    Atom,
    Call,
    Do,
    Param,
    Skill,
    SkillError,
    loop_params,
)

__all__ = ["Checker", "SkillResolver", "SourceLine"]

SkillResolver = Mapping[str, Skill] | Callable[[str], Skill | None]
"""Where ``call`` finds skills: a mapping or a function from name to :class:`Skill`."""

NAME = r"[a-z_][a-z0-9_]*"
NAME_RE = re.compile(NAME)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_CALL = re.compile(rf"call\s+({NAME})\s*(?:\((.*)\))?")


@dataclass(frozen=True)
class SourceLine:
    """One non-blank, non-comment source line.

    Attributes:
        number: Its 1-based number in the source.
        indent: Its indentation in spaces.
        text: The text after the indentation, without trailing spaces.
    """

    number: int
    indent: int
    text: str


class Checker:
    """The checks of one compilation (see the module docstring).

    Attributes:
        vocab: The family's vocabulary.
        resolver: Where calls find skills.
        name: The skill's name, once read.
        types: Declared parameter name -> its type.
        callees: The skills called so far, by name.
    """

    def __init__(self, vocab: Vocabulary, resolver: SkillResolver | None) -> None:
        self.vocab = vocab
        self.resolver = resolver
        self.name: str | None = None
        self.types: dict[str, ParamType] = {}
        self.defaults: dict[str, object] = {}
        self.callees: dict[str, Skill] = {}

    def error(self, problem: str, line: int | None, column: int | None = None) -> SkillError:
        """A :class:`SkillError` at ``line``/``column`` of this skill."""
        return SkillError(problem, line=line, column=column, skill=self.name)

    def _placeholder(self, text: str, line: SourceLine, column: int) -> str | None:
        """The parameter a ``{name}`` text names (checked to be declared), else ``None``."""
        match = _PLACEHOLDER.fullmatch(text.strip())
        if match is None:
            return None
        name = match.group(1).strip()
        if name not in self.types:
            raise self.error(
                f"undeclared parameter {{{name}}}; parameters: {', '.join(self.types) or 'none'}",
                line.number,
                column,
            )
        return name

    def _bound(self, text: str, line: SourceLine, column: int, what: str) -> int | str:
        text = text.strip()
        if not text:
            raise self.error(f"syntax: {what} needs a count", line.number, column)
        name = self._placeholder(text, line, column)
        if name is not None:
            if self.types[name].kind != "int":
                raise self.error(
                    f"wrong argument type: {what} bound {{{name}}} is of type "
                    f"{self.types[name].name}, not int",
                    line.number,
                    column,
                )
            default = self.defaults.get(name)
            if default is not None and not 0 <= default <= MAX_REPEAT:
                raise self.error(
                    f"{what} bound {{{name}}} has the default {default}, outside 0-{MAX_REPEAT}",
                    line.number,
                    column,
                )
            return name
        if NAME_RE.fullmatch(text) and text in self.types:
            raise self.error(
                f"syntax: write the parameter as {{{text}}} in '{what} {{{text}}}'",
                line.number,
                column,
            )
        if not text.isdigit() or not 1 <= int(text) <= MAX_REPEAT:
            raise self.error(
                f"{what} count must be a whole number from 1 to {MAX_REPEAT} or an int "
                f"parameter; got {text!r}",
                line.number,
                column,
            )
        return int(text)

    def _do(self, line: SourceLine) -> Do:
        text = " ".join(line.text[2:].split())
        column = line.indent + 4
        if not text:
            raise self.error("syntax: 'do' needs a primitive", line.number, column)
        for match in _PLACEHOLDER.finditer(text):
            self._placeholder(match.group(0), line, column + match.start())
        text = _PLACEHOLDER.sub(lambda m: "{" + m.group(1).strip() + "}", text)
        problem = self.vocab.check_template(text, self.types)
        if problem is not None:
            raise self.error(problem, line.number, column)
        return Do(text, line.number)

    def _atom(self, text: str, line: SourceLine, column: int, negated: bool) -> Atom:
        try:
            name, raw, _ = split_predicate(text, self.vocab.table)
        except ValueError as err:
            raise self.error(str(err), line.number, column) from None
        args = tuple(str(a).strip() for a in raw)
        types = self.vocab.predicates[name].params
        sample: list[str] = []
        kept: list[str] = []
        for arg, (param, tname) in zip(args, types, strict=True):
            pname = self._placeholder(arg, line, column)
            if pname is None:
                if "{" in arg or "}" in arg:
                    raise self.error(
                        f"syntax: bad placeholder {arg!r} in {name}", line.number, column
                    )
                sample.append(arg)
                kept.append(arg)
                continue
            declared, wanted = self.types[pname], self.vocab.types[tname]
            if not declared.fits(wanted):
                raise self.error(
                    f"wrong argument type: {name}'s {param} takes type {wanted.name}, but "
                    f"{{{pname}}} is of type {declared.name}",
                    line.number,
                    column,
                )
            sample.append(declared.sample())
            kept.append(f"{{{pname}}}")
        try:
            self.vocab.parse_predicate((name, *sample))
        except ValueError as err:
            raise self.error(str(err), line.number, column) from None
        return Atom(name, tuple(kept), negated)

    def _call(self, line: SourceLine) -> Call:
        match = _CALL.fullmatch(line.text)
        column = line.indent + 6
        if match is None:
            raise self.error("syntax: expected 'call <skill>(<args>)'", line.number, column)
        name = match.group(1)
        if name == self.name:
            raise self.error(f"recursion: skill {name} calls itself", line.number, column)
        callee = self._resolve(name, line, column)
        if callee.family != self.vocab.family:
            raise self.error(
                f"skill {name} is a {callee.family} skill, not {self.vocab.family}",
                line.number,
                column,
            )
        chain = _path_to(callee, self.name or "")
        if chain:
            path = " -> ".join([self.name or "", *chain])
            raise self.error(f"recursion: {path}", line.number, column)
        if callee.depth + 1 > MAX_CALL_DEPTH:
            raise self.error(
                f"recursion too deep: calling {name} (depth {callee.depth}) nests calls "
                f"{callee.depth + 1} deep; the limit is {MAX_CALL_DEPTH}",
                line.number,
                column,
            )
        args = self._call_args(callee, match.group(2) or "", line, column)
        self.callees[name] = callee
        return Call(name, args, line.number)

    def _resolve(self, name: str, line: SourceLine, column: int) -> Skill:
        if name in self.callees:
            return self.callees[name]
        resolver = self.resolver
        found: Any = None
        if isinstance(resolver, Mapping):
            found = resolver.get(name)
        elif resolver is not None:
            found = resolver(name)
        if not isinstance(found, Skill):
            known = (
                f"; known: {', '.join(sorted(resolver))}" if isinstance(resolver, Mapping) else ""
            )
            raise self.error(f"unknown skill {name!r}{known or ''}", line.number, column)
        return found

    def _call_args(
        self, callee: Skill, text: str, line: SourceLine, column: int
    ) -> tuple[tuple[str, str], ...]:
        params = {p.name: p for p in callee.params}
        given: dict[str, str] = {}
        parts = [p.strip() for p in text.split(",")] if text.strip() else []
        for i, part in enumerate(parts):
            key, eq, value = part.partition("=")
            if eq:
                key, value = key.strip(), value.strip()
                if key not in params:
                    raise self.error(
                        f"{callee.name} has no parameter {key!r}; parameters: "
                        f"{', '.join(params) or 'none'}",
                        line.number,
                        column,
                    )
            else:
                if given and len(given) != i:
                    raise self.error(
                        "syntax: positional argument after keyword", line.number, column
                    )
                if i >= len(callee.params):
                    raise self.error(
                        f"{callee.name} takes {len(callee.params)} argument(s); got {len(parts)}",
                        line.number,
                        column,
                    )
                key, value = callee.params[i].name, part
            if key in given:
                raise self.error(f"argument {key} given twice", line.number, column)
            given[key] = self._call_value(callee, params[key], value, line, column)
        for p in callee.params:
            if p.name not in given and p.default is None:
                raise self.error(
                    f"call {callee.name}: missing argument {p.name} ({p.type})", line.number, column
                )
        return tuple((p.name, given[p.name]) for p in callee.params if p.name in given)

    def _call_value(
        self, callee: Skill, param: Param, value: str, line: SourceLine, col: int
    ) -> str:
        wanted = self.vocab.types[param.type]
        pname = self._placeholder(value, line, col)
        if pname is not None:
            if not self.types[pname].fits(wanted):
                raise self.error(
                    f"wrong argument type: {callee.name}'s {param.name} takes type {wanted.name}, "
                    f"but {{{pname}}} is of type {self.types[pname].name}",
                    line.number,
                    col,
                )
            return f"{{{pname}}}"
        try:
            checked = wanted.check(value)
        except ValueError as err:
            hint = f" (write the parameter as {{{value}}})" if value in self.types else ""
            raise self.error(
                f"wrong argument type: {callee.name}'s {param.name} {err}{hint}", line.number, col
            ) from None
        if param.name in loop_params(callee) and not 0 <= checked <= MAX_REPEAT:
            raise self.error(
                f"{callee.name}'s {param.name} bounds a loop and must be 0-{MAX_REPEAT}",
                line.number,
                col,
            )
        return str(checked)


def _path_to(skill: Skill, target: str) -> list[str]:
    """The call chain from ``skill`` to a skill named ``target`` (empty when there is none)."""
    if skill.name == target:
        return [skill.name]
    for callee in skill.callees:
        path = _path_to(callee, target)
        if path:
            return [skill.name, *path]
    return []
