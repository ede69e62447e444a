"""Parse skill source text into a checked :class:`~palaestra.skills.language.Skill`.

Every problem is a :class:`~palaestra.skills.language.SkillError` naming the line (and the
column where it helps): syntax and indentation, an unknown primitive or predicate, a wrong
argument type, an undeclared parameter, an unbounded loop, an unknown callee, and recursion
(a skill calling itself directly or through others, or calls nesting deeper than
:data:`~palaestra.skills.language.MAX_CALL_DEPTH`). Predicates are checked by the family's
own ``parse_predicate`` (through ``split_predicate``), never by a parser of this module.
"""

from __future__ import annotations

import re

from palaestra.skills.families import Vocabulary, vocabulary
from palaestra.skills.language import (
    KEYWORDS,
    MAX_NESTING,
    RESERVED_NAMES,
    AllOf,
    AnyOf,
    Atom,
    Condition,
    If,
    Not,
    Param,
    Repeat,
    Skill,
    SkillError,
    Statement,
    Until,
)
from palaestra.skills.validate import NAME_RE, Checker, SkillResolver, SourceLine

__all__ = ["SkillResolver", "compile_skill"]

_HEADER = re.compile(r"skill\s+(\S+?)\s*(?:\((.*)\))?\s*:?")
_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z_][A-Za-z0-9_]*)\s*(\()?)")


class _Compiler(Checker):
    def __init__(self, source: str, vocab: Vocabulary, skills: SkillResolver | None) -> None:
        super().__init__(vocab, skills)
        self.lines = self._split(source)

    # ------------------------------------------------------------------ lines
    def _split(self, source: str) -> list[SourceLine]:
        if not isinstance(source, str):
            raise SkillError(f"skill source must be a string; got {type(source).__name__}")
        lines = []
        for number, raw in enumerate(source.splitlines(), start=1):
            text = raw.rstrip()
            stripped = text.lstrip(" ")
            if not stripped or stripped.startswith("#"):
                continue
            if stripped[0] == "\t" or "\t" in text[: len(text) - len(stripped)]:
                raise self.error("bad indentation: use spaces, not tabs", number, 1)
            lines.append(SourceLine(number, len(text) - len(stripped), stripped))
        if not lines:
            raise SkillError("empty skill source: expected 'skill <name>(<params>)'", line=1)
        return lines

    # ------------------------------------------------------------------ header
    def compile(self) -> Skill:
        first = self.lines[0]
        match = _HEADER.fullmatch(first.text)
        if first.indent or match is None:
            raise self.error(
                "syntax: a skill starts with 'skill <name>(<params>)'", first.number, 1
            )
        name = match.group(1)
        if not NAME_RE.fullmatch(name):
            raise self.error(
                f"syntax: skill name {name!r} must be lower case letters, digits and _",
                first.number,
                7,
            )
        self.name = name
        params = self._params(match.group(2) or "", first)
        description, post, at = None, None, 1
        while at < len(self.lines) and self.lines[at].indent == 0:
            line = self.lines[at]
            key, _, value = line.text.partition(":")
            if key.strip() not in ("description", "postcondition") or " " in key.strip():
                break
            if key.strip() == "description":
                if description is not None:
                    raise self.error("syntax: a second description line", line.number, 1)
                description = value.strip()
                if not description:
                    raise self.error("syntax: the description is empty", line.number, 13)
            else:
                if post is not None:
                    raise self.error("syntax: a second postcondition line", line.number, 1)
                post = self._postcondition(value, line, len(key) + 2)
            at += 1
        if description is None:
            where = self.lines[at].number if at < len(self.lines) else first.number + 1
            raise self.error("syntax: expected 'description: <one line>'", where, 1)
        if at == len(self.lines):
            raise self.error("syntax: the skill has no body", self.lines[-1].number + 1, 1)
        body, at = self._block(at, 0, 0)
        if at < len(self.lines):  # pragma: no cover - _block consumes every line at indent 0
            raise self.error("bad indentation", self.lines[at].number, 1)
        callees = tuple(sorted(self.callees.values(), key=lambda s: s.name))
        return Skill(name, self.vocab.family, params, description, post or (), body, callees)

    def _params(self, text: str, line: SourceLine) -> tuple[Param, ...]:
        params: list[Param] = []
        if not text.strip():
            return ()
        column = line.text.index("(") + 2
        for part in text.split(","):
            decl, eq, default = part.partition("=")
            pname, colon, ptype = (s.strip() for s in decl.partition(":"))
            col = column + len(part) - len(part.lstrip())
            if not colon or not pname or not ptype:
                raise self.error(
                    f"syntax: parameter {part.strip()!r} must be declared as 'name: type'",
                    line.number,
                    col,
                )
            if not NAME_RE.fullmatch(pname) or pname in RESERVED_NAMES:
                why = "is reserved" if pname in RESERVED_NAMES else "must be a-z, 0-9 and _"
                raise self.error(f"parameter name {pname!r} {why}", line.number, col)
            if pname in self.types:
                raise self.error(f"parameter {pname} is declared twice", line.number, col)
            kind = self.vocab.types.get(ptype)
            if kind is None:
                raise self.error(
                    f"unknown type {ptype!r} for parameter {pname}; {self.vocab.family} types: "
                    f"{', '.join(self.vocab.types)}",
                    line.number,
                    col,
                )
            value = None
            if eq:
                try:
                    value = kind.check(default.strip())
                except ValueError as err:
                    raise self.error(
                        f"wrong argument type: default of {pname} {err}", line.number, col
                    ) from None
            self.types[pname] = kind
            self.defaults[pname] = value
            params.append(Param(pname, ptype, value))
            column += len(part) + 1
        return tuple(params)

    def _postcondition(self, text: str, line: SourceLine, column: int) -> tuple[Atom, ...]:
        if not text.strip():
            raise self.error("syntax: the postcondition is empty", line.number, column)
        condition = self._condition(text, line, column)
        parts = condition.parts if isinstance(condition, AllOf) else (condition,)
        if not all(isinstance(p, Atom) for p in parts):
            raise self.error(
                "syntax: a postcondition is a conjunction of literals (p and not q), "
                "without 'or' or parentheses",
                line.number,
                column,
            )
        return tuple(p for p in parts if isinstance(p, Atom))

    # ------------------------------------------------------------------ blocks
    def _block(self, at: int, indent: int, nesting: int) -> tuple[tuple[Statement, ...], int]:
        if nesting > MAX_NESTING:
            raise self.error(
                f"blocks nest deeper than {MAX_NESTING}", self.lines[at].number, indent + 1
            )
        body: list[Statement] = []
        while at < len(self.lines):
            line = self.lines[at]
            if line.indent < indent:
                break
            if line.indent > indent:
                raise self.error(
                    f"bad indentation: unexpected indent of {line.indent} (the block is at "
                    f"{indent})",
                    line.number,
                    line.indent + 1,
                )
            statement, at = self._statement(at, indent, nesting)
            body.append(statement)
        return tuple(body), at

    def _sub_block(self, at: int, indent: int, nesting: int) -> tuple[tuple[Statement, ...], int]:
        head = self.lines[at]
        nxt = at + 1
        if nxt == len(self.lines) or self.lines[nxt].indent <= indent:
            raise self.error(
                f"bad indentation: expected an indented block after {head.text.split()[0]!r}",
                self.lines[nxt].number if nxt < len(self.lines) else head.number + 1,
                indent + 1,
            )
        return self._block(nxt, self.lines[nxt].indent, nesting + 1)

    def _statement(self, at: int, indent: int, nesting: int) -> tuple[Statement, int]:
        line = self.lines[at]
        text = line.text
        word = text.split(None, 1)[0].rstrip(":")
        col = line.indent + 1
        if word == "do":
            return self._do(line), at + 1
        if word == "call":
            return self._call(line), at + 1
        if word in ("repeat", "until", "if"):
            if not text.endswith(":"):
                raise self.error(
                    f"syntax: {word!r} must end with ':'", line.number, line.indent + len(text)
                )
            head = text[len(word) : -1]
            offset = line.indent + len(word) + 1
            if word == "repeat":
                count = self._bound(head, line, offset, "repeat")
                body, at = self._sub_block(at, indent, nesting)
                return Repeat(count, body, line.number), at
            if word == "until":
                match = re.fullmatch(r"(.*?)\s+max\s+(\S+)\s*", head)
                if match is None:
                    raise self.error(
                        "unbounded loop: 'until' needs a bound, 'until <condition> max <N>:'",
                        line.number,
                        col,
                    )
                condition = self._condition(match.group(1), line, offset)
                limit = self._bound(match.group(2), line, offset + match.start(2), "max")
                body, at = self._sub_block(at, indent, nesting)
                return Until(condition, limit, body, line.number), at
            return self._if(at, indent, nesting)
        if word in ("elif", "else"):
            raise self.error(f"syntax: {word!r} without a matching 'if'", line.number, col)
        if word in ("while", "loop", "for", "forever"):
            raise self.error(
                f"unbounded loop: {word!r} is not a statement; use 'until <condition> max <N>:'"
                " or 'repeat <N>:'",
                line.number,
                col,
            )
        raise self.error(
            f"syntax: unknown statement {word!r}; statements start with {', '.join(KEYWORDS)}",
            line.number,
            col,
        )

    def _if(self, at: int, indent: int, nesting: int) -> tuple[If, int]:
        line = self.lines[at]
        word = line.text.split(None, 1)[0]
        condition = self._condition(line.text[len(word) : -1], line, line.indent + len(word) + 1)
        then, at = self._sub_block(at, indent, nesting)
        orelse: tuple[Statement, ...] = ()
        if at < len(self.lines) and self.lines[at].indent == indent:
            nxt = self.lines[at]
            head = nxt.text.split(None, 1)[0]
            if head == "elif":
                if not nxt.text.endswith(":"):
                    raise self.error("syntax: 'elif' must end with ':'", nxt.number, indent + 1)
                inner, at = self._if(at, indent, nesting)
                orelse = (inner,)
            elif head.rstrip(":") == "else":
                if nxt.text.replace(" ", "") != "else:":
                    raise self.error("syntax: expected 'else:'", nxt.number, indent + 1)
                orelse, at = self._sub_block(at, indent, nesting)
        return If(condition, then, orelse, line.number), at

    # ------------------------------------------------------------------ pieces
    def _condition(self, text: str, line: SourceLine, column: int) -> Condition:
        tokens = self._tokens(text, line, column)
        pos = 0

        def peek() -> tuple[str, str, int] | None:
            return tokens[pos] if pos < len(tokens) else None

        def expect_end(kind: str) -> None:
            tok = peek()
            if tok is not None and tok[0] != kind:
                raise self.error(f"syntax: unexpected {tok[1]!r} in condition", line.number, tok[2])

        def disjunction() -> Condition:
            nonlocal pos
            parts = [conjunction()]
            while (tok := peek()) is not None and tok[1] == "or":
                pos += 1
                parts.append(conjunction())
            return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

        def conjunction() -> Condition:
            nonlocal pos
            parts = [negation()]
            while (tok := peek()) is not None and tok[1] == "and":
                pos += 1
                parts.append(negation())
            return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

        def negation() -> Condition:
            nonlocal pos
            tok = peek()
            if tok is not None and tok[1] == "not":
                pos += 1
                inner = negation()
                if isinstance(inner, Atom):
                    return Atom(inner.name, inner.args, not inner.negated)
                return inner.condition if isinstance(inner, Not) else Not(inner)
            return primary()

        def primary() -> Condition:
            nonlocal pos
            tok = peek()
            if tok is None:
                raise self.error(
                    "syntax: the condition ends too early", line.number, column + len(text)
                )
            kind, value, col = tok
            pos += 1
            if kind == "atom":
                return self._atom(value, line, col, False)
            if value == "(":
                inner = disjunction()
                close = peek()
                if close is None or close[1] != ")":
                    raise self.error("syntax: missing ')' in condition", line.number, col)
                pos += 1
                return inner
            raise self.error(
                f"syntax: expected a predicate such as name(args); got {value!r}",
                line.number,
                col,
            )

        result = disjunction()
        expect_end("")
        return result

    def _tokens(self, text: str, line: SourceLine, column: int) -> list[tuple[str, str, int]]:
        tokens: list[tuple[str, str, int]] = []
        at = 0
        while text[at:].strip():
            match = _TOKEN.match(text, at)
            start = at + (len(text[at:]) - len(text[at:].lstrip()))
            if match is None:
                raise self.error(
                    f"syntax: unexpected {text[start]!r} in condition", line.number, column + start
                )
            word = match.group(3)
            if word and match.group(4) and word not in ("and", "or", "not"):  # name( ... )
                close = text.find(")", match.end())
                if close < 0:
                    raise self.error(
                        f"syntax: missing ')' after {match.group(3)}(", line.number, column + start
                    )
                tokens.append(("atom", text[start : close + 1], column + start))
                at = close + 1
            elif word:
                if word not in ("and", "or", "not"):
                    raise self.error(
                        f"syntax: expected a predicate such as name(args); got {word!r}",
                        line.number,
                        column + start,
                    )
                tokens.append(("word", word, column + start))
                at = match.start(3) + len(word)
            else:
                tokens.append(("paren", match.group(1) or match.group(2), column + start))
                at = match.end()
        if not tokens:
            raise self.error("syntax: expected a condition", line.number, column)
        return tokens


def compile_skill(
    source: str,
    vocabulary_or_family: Vocabulary | str,
    *,
    skills: SkillResolver | None = None,
) -> Skill:
    """Parse and validate a skill's source text.

    Args:
        source: The text (grammar: :data:`~palaestra.skills.language.GRAMMAR`).
        vocabulary_or_family: The family's :class:`~palaestra.skills.families.Vocabulary`
            or its name (``"craft"``).
        skills: Where ``call`` finds other skills (name -> compiled :class:`Skill`); a call
            to a skill it does not know is an error.

    Returns:
        The compiled skill, its callees resolved.

    Raises:
        SkillError: naming the line (and column) and the problem.
    """
    vocab = (
        vocabulary_or_family
        if isinstance(vocabulary_or_family, Vocabulary)
        else vocabulary(vocabulary_or_family)
    )
    return _Compiler(source, vocab, skills).compile()
