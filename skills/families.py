"""The vocabulary of each env family a skill may use: primitives, predicates, parameter types.

Glossary:
    primitive: one action of the env's ``Discrete`` space, named by its text in the family's
        ``PRIMITIVE_ACTIONS`` (``"move east"``, ``"end turn"``); a skill writes ``do <text>``.
    derived primitive: a text that names an action only in a given state, resolved against the
        observation when it runs (Gauntlet's ``play <card>``: the hand slot holding the card).
    predicate: a test of an observation from the family's ``PREDICATES`` table
        (``has(wood)``, ``enemies_at_least(1)``), parsed by its ``parse_predicate`` and
        evaluated by its ``evaluate_predicate``; this module never parses a predicate itself.
    parameter type: the values a skill parameter may take. Word types are named after the
        predicate parameters that take them (``item``, ``kind``, ``card``, ``status``, ...),
        numbers are ``int`` or ``fraction``; Craft adds ``direction`` from its action texts.

:func:`vocabulary` returns a family's :class:`Vocabulary`, built once from the env's own
vocabulary module, so a new card or item reaches skills without a list copied here.
"""

from __future__ import annotations

import functools
import itertools
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "FAMILIES",
    "DerivedPrimitive",
    "ParamType",
    "PredicateSpec",
    "Vocabulary",
    "vocabulary",
]

FAMILIES: tuple[str, ...] = ("craft", "gauntlet")
"""The families with a skill vocabulary."""

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(frozen=True)
class ParamType:
    """The values a skill parameter (or a predicate or primitive argument) may take.

    Attributes:
        name: The type's name, as written in a parameter declaration (``dir: direction``).
        kind: ``"word"`` (one of ``values``), ``"int"`` or ``"fraction"`` (a number in [0, 1]).
        values: The allowed words of a word type, in the vocabulary's order; empty otherwise.
    """

    name: str
    kind: str
    values: tuple[str, ...] = ()

    def check(self, value: Any) -> Any:
        """Return ``value`` as this type holds it (a word, an ``int`` or a ``float``).

        Raises:
            ValueError: naming the type when ``value`` is not one of its values.
        """
        if self.kind == "word":
            if isinstance(value, str) and value.strip() in self.values:
                return value.strip()
            raise ValueError(
                f"must be of type {self.name} ({', '.join(self.values)}); got {value!r}"
            )
        if isinstance(value, bool):
            raise ValueError(f"must be {self._what()}; got {value!r}")
        if self.kind == "int" and isinstance(value, numbers.Integral):
            return int(value)
        if self.kind == "int" and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise ValueError(f"must be {self._what()}; got {value!r}") from None
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"must be {self._what()}; got {value!r}") from None
        if self.kind == "int":
            if not number.is_integer():
                raise ValueError(f"must be {self._what()}; got {value!r}")
            return int(number)
        if not 0.0 <= number <= 1.0:
            raise ValueError(f"must be {self._what()}; got {value!r}")
        return number

    def fits(self, other: ParamType) -> bool:
        """Whether every value of this type is a value of ``other`` (it may be passed there)."""
        if self.kind == "word":
            return other.kind == "word" and set(self.values) <= set(other.values)
        return self.kind == other.kind

    def sample(self) -> str:
        """One value of the type as text, to check a template at compile time."""
        return self.values[0] if self.kind == "word" else ("0" if self.kind == "int" else "0.5")

    def describe(self) -> str:
        """One line for a prompt: the name and its values."""
        if self.kind == "word":
            return f"{self.name}: {', '.join(self.values)}"
        return f"{self.name}: {self._what()}"

    def _what(self) -> str:
        return "an integer" if self.kind == "int" else "a number in [0, 1]"


@dataclass(frozen=True)
class PredicateSpec:
    """A predicate as a skill sees it.

    Attributes:
        name: The name written in ``name(args)``.
        params: ``(argument name, type name)`` per argument.
        doc: What it means, from the family's table.
    """

    name: str
    params: tuple[tuple[str, str], ...]
    doc: str

    def signature(self) -> str:
        """``name(arg: type, ...)``."""
        return f"{self.name}({', '.join(f'{p}: {t}' for p, t in self.params)})"


@dataclass(frozen=True)
class DerivedPrimitive:
    """A primitive text whose action index depends on the state (resolved when it runs).

    Attributes:
        template: The text with typed slots, e.g. ``"play {card}"``.
        slots: ``(slot name, type name)`` per slot, in the template's order.
        doc: What it does and when it fails.
        resolve: ``(observation, info, args) -> action index or None`` (``None``: no such
            action now, which fails the skill).
    """

    template: str
    slots: tuple[tuple[str, str], ...]
    doc: str
    resolve: Callable[[Any, Mapping[str, Any], tuple[Any, ...]], int | None] = field(
        compare=False, repr=False
    )


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """What a skill of one env family may say (one object per family, from :func:`vocabulary`).

    Attributes:
        family: The family name (``"craft"``, ``"gauntlet"``).
        env_id: The Gymnasium id whose action space the primitives index.
        primitives: Primitive text -> action index, in action order.
        derived: The state-dependent primitives (see :class:`DerivedPrimitive`).
        predicates: Predicate name -> its spec, in the family's order.
        types: Type name -> :class:`ParamType`.
        table: The family's own ``PREDICATES`` table (for ``split_predicate``).
    """

    family: str
    env_id: str
    primitives: Mapping[str, int]
    derived: tuple[DerivedPrimitive, ...]
    predicates: Mapping[str, PredicateSpec]
    types: Mapping[str, ParamType]
    table: Mapping[str, Any] = field(repr=False)
    _parse: Callable[[Any], tuple[str, tuple[Any, ...]]] = field(repr=False)
    _evaluate: Callable[[Any, Any], bool] = field(repr=False)
    _patterns: tuple[tuple[re.Pattern[str], DerivedPrimitive], ...] = field(repr=False)

    # ------------------------------------------------------------------ predicates
    def parse_predicate(self, predicate: str | tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
        """The family's ``parse_predicate`` (raises ``ValueError`` for a bad predicate)."""
        return self._parse(predicate)

    def evaluate(self, observation: Any, predicate: str | tuple[Any, ...]) -> bool:
        """The family's ``evaluate_predicate`` on one observation."""
        return bool(self._evaluate(observation, predicate))

    # ------------------------------------------------------------------ primitives
    def lookup(self, text: str) -> int | tuple[DerivedPrimitive, tuple[Any, ...]] | None:
        """What a primitive text names (``None`` when it is no primitive).

        Returns:
            An action index, or a derived primitive and its arguments, or ``None``.
        """
        index = self.primitives.get(text)
        if index is not None:
            return index
        for pattern, derived in self._patterns:
            match = pattern.fullmatch(text)
            if match is not None:
                args = tuple(
                    self.types[t].check(v)
                    for (_, t), v in zip(derived.slots, match.groups(), strict=True)
                )
                return derived, args
        return None

    def resolve(self, text: str, observation: Any, info: Mapping[str, Any]) -> int | None:
        """The action index of a primitive text now, or ``None`` (no such action now)."""
        found = self.lookup(text)
        if found is None or isinstance(found, int):
            return found
        derived, args = found
        return derived.resolve(observation, info, args)

    # ------------------------------------------------------------------ prompt text
    def grammar_text(self) -> str:
        """The skill language's grammar as plain text (the same for every family)."""
        from palaestra.skills.language import GRAMMAR

        return GRAMMAR

    def prompt_text(self) -> str:
        """The grammar plus this family's vocabulary, as plain text for a model's prompt.

        Deterministic: the same text for the same env vocabulary, every call.
        """
        lines = [self.grammar_text().rstrip(), "", f"Vocabulary of {self.family} ({self.env_id})"]
        lines += ["", "Types:"]
        lines += [f"  {t.describe()}" for t in self.types.values()]
        lines += ["", "Predicates:"]
        lines += [f"  {p.signature()}: {p.doc}" for p in self.predicates.values()]
        lines += ["", "Primitives (do <text>):"]
        lines += [f"  {', '.join(chunk)}" for chunk in _chunks(tuple(self.primitives), 8)]
        if self.derived:
            lines += ["", "Primitives resolved in the current state (do <text>):"]
            for d in self.derived:
                slots = ", ".join(f"{s}: {t}" for s, t in d.slots)
                lines.append(f"  {d.template} ({slots}): {d.doc}")
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ templates
    def check_template(self, template: str, types: Mapping[str, ParamType]) -> str | None:
        """Check a ``do`` text with ``{param}`` slots at compile time.

        Word slots are tried with every value of their type, numbers with one sample value.

        Args:
            template: The text after ``do``.
            types: Each placeholder's declared type.

        Returns:
            ``None`` when it is fine, else the problem (a text naming the first bad value).
        """
        names = _PLACEHOLDER.findall(template)
        choices = []
        for name in dict.fromkeys(names):
            kind = types[name]
            choices.append(kind.values if kind.kind == "word" else (kind.sample(),))
        order = list(dict.fromkeys(names))
        for values in itertools.islice(itertools.product(*choices), 20_000):
            bound = dict(zip(order, values, strict=True))
            text = _PLACEHOLDER.sub(lambda m, b=bound: str(b[m.group(1)]), template)
            try:
                found = self.lookup(text)
            except ValueError:
                found = None
            if found is None:
                if not names:
                    close = _close(text, tuple(self.primitives) + self._derived_names())
                    hint = f"; did you mean {close}?" if close else ""
                    return f"unknown primitive {text!r}{hint}"
                given = ", ".join(f"{n} = {v!r}" for n, v in bound.items())
                kinds = ", ".join(f"{n}: {types[n].name}" for n in order)
                return (
                    f"wrong argument type: {template!r} with {given} is {text!r}, which is no "
                    f"{self.family} primitive (declared {kinds})"
                )
        return None

    def _derived_names(self) -> tuple[str, ...]:
        return tuple(d.template for d in self.derived)


def _close(text: str, options: tuple[str, ...]) -> str:
    import difflib

    found = difflib.get_close_matches(text, options, n=3, cutoff=0.6)
    return " or ".join(repr(f) for f in found)


def _chunks(items: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# ---------------------------------------------------------------------- building
def _types_from(
    table: Mapping[str, Any], allowed: Callable[[Any, int], Any]
) -> tuple[dict[str, ParamType], dict[str, PredicateSpec]]:
    """Parameter types and predicate specs from a family's predicate table.

    Args:
        table: The family's ``PREDICATES``.
        allowed: ``(spec, i) -> "int" | "fraction" | tuple of words`` for argument ``i``.
    """
    types: dict[str, ParamType] = {}
    specs: dict[str, PredicateSpec] = {}
    for name, spec in table.items():
        params = []
        for i, param in enumerate(spec.params):
            kind = allowed(spec, i)
            if isinstance(kind, str):
                ptype = ParamType(kind, kind)
            else:
                ptype = ParamType(param, "word", tuple(kind))
                if param in types and types[param] != ptype:
                    ptype = ParamType(f"{name}_{param}", "word", tuple(kind))
            types.setdefault(ptype.name, ptype)
            params.append((param, ptype.name))
        specs[name] = PredicateSpec(name, tuple(params), spec.doc)
    return types, specs


def _compile_pattern(d: DerivedPrimitive, types: Mapping[str, ParamType]) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", d.template)
    regex = []
    slot_types = dict(d.slots)
    for part in parts:
        match = _PLACEHOLDER.fullmatch(part)
        if match is None:
            regex.append(re.escape(part))
            continue
        kind = types[slot_types[match.group(1)]]
        if kind.kind == "word":
            words = sorted(kind.values, key=len, reverse=True)
            regex.append("(" + "|".join(re.escape(w) for w in words) + ")")
        else:
            regex.append(r"(-?\d+(?:\.\d+)?)")
    return re.compile("".join(regex))


def _build(
    family: str,
    env_id: str,
    module: Any,
    types: dict[str, ParamType],
    specs: dict[str, PredicateSpec],
    derived: tuple[DerivedPrimitive, ...] = (),
) -> Vocabulary:
    primitives = {text: i for i, text in enumerate(module.PRIMITIVE_ACTIONS)}
    if primitives != dict(module.ACTION_INDEX):
        raise RuntimeError(f"{family}: PRIMITIVE_ACTIONS and ACTION_INDEX disagree")
    return Vocabulary(
        family=family,
        env_id=env_id,
        primitives=MappingProxyType(primitives),
        derived=derived,
        predicates=MappingProxyType(specs),
        types=MappingProxyType(types),
        table=MappingProxyType(dict(module.PREDICATES)),
        _parse=module.parse_predicate,
        _evaluate=module.evaluate_predicate,
        _patterns=tuple((_compile_pattern(d, types), d) for d in derived),
    )


def _craft() -> Vocabulary:
    from palaestra.envs.craft import vocabulary as craft

    def allowed(spec: Any, i: int) -> Any:
        values = spec.values[i]
        return "int" if values is None else values

    types, specs = _types_from(craft.PREDICATES, allowed)
    types["direction"] = ParamType("direction", "word", tuple(craft.DIRECTIONS))
    return _build("craft", "palaestra/Craft-v0", craft, types, specs)


def _legal(observation: Any, info: Mapping[str, Any]) -> Callable[[int], bool]:
    mask = observation.get("action_mask") if isinstance(observation, Mapping) else None
    if mask is not None:
        return lambda a: bool(mask[a])
    legal = info.get("legal_actions") if isinstance(info, Mapping) else None
    if legal is not None:
        return lambda a: a in legal
    return lambda a: True


def _gauntlet() -> Vocabulary:
    import numpy as np

    from palaestra.envs.gauntlet import vocabulary as gauntlet
    from palaestra.envs.gauntlet.cards import CARD_INDEX
    from palaestra.envs.gauntlet.rules import HAND_MAX, MAX_ENEMIES

    def allowed(spec: Any, i: int) -> Any:
        return spec.kinds[i]

    types, specs = _types_from(gauntlet.PREDICATES, allowed)
    width = len(gauntlet.HAND_FIELDS)

    def play(observation: Any, info: Mapping[str, Any], args: tuple[Any, ...]) -> int | None:
        card = args[0]
        targets = range(MAX_ENEMIES) if len(args) == 1 else (args[1],)
        vector = observation.get(gauntlet.VECTOR_KEY) if isinstance(observation, Mapping) else None
        vector = np.asarray(observation if vector is None else vector)
        if vector.shape != (gauntlet.VECTOR_SIZE,):
            raise ValueError("Gauntlet primitives resolve on a vector observation")
        legal = _legal(observation, info)
        code = CARD_INDEX[card] + 1
        for slot in range(HAND_MAX):
            if vector[gauntlet.HAND_AT + slot * width] != code:
                continue
            for target in targets:
                if 0 <= target < MAX_ENEMIES:
                    action = gauntlet.play_action(slot, target)
                    if legal(action):
                        return action
        return None

    derived = (
        DerivedPrimitive(
            "play {card}",
            (("card", "card"),),
            "play the first copy of `card` in hand at the first enemy it may target; "
            "fails when no copy can be played",
            play,
        ),
        DerivedPrimitive(
            "play {card} at enemy {target}",
            (("card", "card"), ("target", "int")),
            "play the first copy of `card` in hand at enemy slot `target` (0-2); fails when "
            "that play is not legal",
            play,
        ),
    )
    return _build("gauntlet", "palaestra/Gauntlet-v0", gauntlet, types, specs, derived)


_BUILDERS: dict[str, Callable[[], Vocabulary]] = {"craft": _craft, "gauntlet": _gauntlet}


def vocabulary(family: str) -> Vocabulary:
    """The skill vocabulary of an env family (built once, then shared).

    Args:
        family: ``"craft"`` or ``"gauntlet"`` (case-insensitive; ``"palaestra/Craft-v0"``
            works too).

    Raises:
        ValueError: for an unknown family, listing the known ones.
    """
    key = str(family).strip().lower()
    if key.startswith("palaestra/"):
        key = key.split("/", 1)[1].split("-", 1)[0]
    if key not in _BUILDERS:
        raise ValueError(f"unknown skill family {family!r}; families: {', '.join(FAMILIES)}")
    return _built(key)


@functools.cache
def _built(key: str) -> Vocabulary:
    return _BUILDERS[key]()
