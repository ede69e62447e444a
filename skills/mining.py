"""Bottom-up skill discovery without a language model: mine recorded successes for skills.

Glossary:
    run: a maximal stretch of one action text repeated in a trajectory (``move south`` x 3);
        a run is one *statement* of a mined skill.
    segment: a contiguous sequence of runs, written as its *pattern*: the action text of each
        run (``("move south", "collect wood", "craft planks")``), the counts left out.
    occurrence: where a segment was seen (:class:`~palaestra.skills.trajectories.Occurrence`).
    support: the number of occurrences (not overlapping within a trajectory).
    slot: a value of a word type in an action text whose replacement by ``{type}`` is a
        primitive for every value of the type (``move {direction}``, ``craft {recipe}``,
        ``play {card}``); segments that differ in one slot make one parameterised skill.

The algorithm (:func:`mine_skills`), over the successful trajectories only:

1. Each trajectory's action texts (:func:`~palaestra.skills.trajectories.action_text`) are
   cut into runs. Every run sequence of 1 to ``max_length`` runs is counted by its pattern
   in a dict (an n-gram count): O(R x max_length^2) time for R runs in all; abstraction
   multiplies it by the slot values per pattern; at most (predicate instances) x (states)
   predicates are evaluated, each once.
2. Abstraction: for each pattern and each slot value ``v`` of a word type ``T`` in it, the
   pattern with ``v`` replaced by ``{T}`` (in every text where that compiles) collects the
   occurrences of every pattern it generalises; it is kept when it binds ``{T}`` to two or
   more values. One parameter per skill.
3. Occurrences overlapping an earlier one in the same trajectory are dropped; a pattern with
   fewer than ``min_support`` occurrences, or whose shortest occurrence takes fewer than
   ``min_length`` actions, goes. Score = support x mean actions per occurrence. A pattern
   contained (contiguously) in a longer one of the same support is dropped.
4. In score order, each pattern becomes a skill until ``max_skills`` are made. A run of
   count 1 everywhere is ``do <text>``; else ``until <literal> max N:`` when one literal is
   false before every action of the run and true right after it, in every occurrence
   (N = twice the longest run, at least 4, at most ``MAX_REPEAT``); else ``repeat k:`` when
   every occurrence repeats it k times; else ``repeat {n}:`` with ``n: int`` defaulting to
   the commonest count. The postcondition is the conjunction of the literals true at every
   occurrence's end state and false at at least ``min_change`` of its start states (it says
   what the segment achieves), the ``max_literals`` most often changed; a pattern without
   one is no skill. Literals are the vocabulary's predicates, positive or negated,
   instantiated over every value of their word types (and the skill's parameter where its
   type fits), ints over :data:`INT_VALUES` and fractions over :data:`FRACTION_VALUES`;
   positional predicates (:data:`EXCLUDED_PREDICATES`) are left out, since they say where,
   not what. Each literal is evaluated at most once per state (a cache).
5. The source is built with :func:`~palaestra.skills.language.skill_source` and compiled by
   :func:`~palaestra.skills.parse.compile_skill`, the validation every skill goes through.
   Names are the pattern's words (``move_direction_collect_wood``), made unique in rank
   order with ``_2``, ``_3``; descriptions are templates (``move {direction} until
   near(tree), then collect wood: ends with has(wood)``).

With a language backend, :func:`describe_with_llm` replaces a mined skill's template
description by one the model writes, and the skill is compiled again (the same validation).
:func:`~palaestra.skills.trajectories.find_occurrences` finds where a mined skill applies in
other trajectories, which is how the tests verify mined skills on fresh episodes.

Everything is ordered by data, never by hashing, so the same trajectories give the same
skills in the same order with the same names. Limits: one parameter per skill; a slot must
fit a whole type (``collect {item}`` is no skill: ``collect planks`` is no primitive); a run
is of one action (a walk that turns is several statements); loops do not nest; a skill is
only as general as the states it was learned from (verify it with ``execute``).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from palaestra.skills.families import ParamType, Vocabulary, vocabulary
from palaestra.skills.language import MAX_REPEAT, Param, Skill, SkillError, render, skill_source
from palaestra.skills.parse import compile_skill
from palaestra.skills.trajectories import Occurrence, Run, Trajectory, runs_of

__all__ = [
    "EXCLUDED_PREDICATES",
    "FRACTION_VALUES",
    "INT_VALUES",
    "MinedSkill",
    "describe_with_llm",
    "mine_skills",
]

logger = logging.getLogger(__name__)

EXCLUDED_PREDICATES: frozenset[str] = frozenset({"at"})
"""Predicates left out of learned conditions by default (positions say where, not what)."""
INT_VALUES: tuple[int, ...] = (1, 2, 3)
"""The values an int argument of a predicate is instantiated over (``energy_at_least(2)``)."""
FRACTION_VALUES: tuple[float, ...] = (0.25, 0.5, 0.75)
"""The values a fraction argument is instantiated over (``hp_below(0.5)``)."""
_MAX_ATOMS_PER_PREDICATE = 128


@dataclass(frozen=True)
class MinedSkill:
    """A skill mined from trajectories, with where it came from.

    Attributes:
        skill: The compiled skill.
        pattern: The action text of each statement (with ``{param}`` for the slot).
        occurrences: Where it was seen, in trajectory and step order.
        support: The number of occurrences.
        trajectories: The number of distinct trajectories it was seen in.
        score: ``support x mean actions per occurrence`` (the rank).
        loop_params: Per statement, the int parameter bounding its ``repeat``, else ``None``.
    """

    skill: Skill
    pattern: tuple[str, ...]
    occurrences: tuple[Occurrence, ...]
    support: int
    trajectories: int
    score: float
    loop_params: tuple[str | None, ...] = ()

    @property
    def name(self) -> str:
        """The skill's name."""
        return self.skill.name

    @property
    def source(self) -> str:
        """The skill's canonical source text."""
        return self.skill.source


# ---------------------------------------------------------------------- literals
@dataclass(frozen=True)
class _Atom:
    name: str
    args: tuple[str, ...]
    plain: tuple[str, ...] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        slotted = any(a.startswith("{") for a in self.args)
        object.__setattr__(self, "plain", None if slotted else (self.name, *self.args))

    def predicate(self, binding: Mapping[str, Any]) -> tuple[str, ...]:
        if self.plain is not None:
            return self.plain
        return (self.name, *(_fill(a, binding) for a in self.args))

    def text(self, negated: bool) -> str:
        return ("not " if negated else "") + f"{self.name}({', '.join(self.args)})"


def _atoms(
    vocab: Vocabulary, allowed: Sequence[str], param: tuple[str, ParamType] | None
) -> tuple[_Atom, ...]:
    atoms: list[_Atom] = []
    for name in allowed:
        spec = vocab.predicates[name]
        options: list[list[str]] = []
        for _, type_name in spec.params:
            kind = vocab.types[type_name]
            if kind.kind == "word":
                values = list(kind.values)
                if param is not None and param[1].fits(kind):
                    values.insert(0, f"{{{param[0]}}}")
            elif kind.kind == "int":
                values = [str(v) for v in INT_VALUES]
            else:
                values = [str(v) for v in FRACTION_VALUES]
            options.append(values)
        combos = itertools.islice(itertools.product(*options), _MAX_ATOMS_PER_PREDICATE)
        atoms.extend(_Atom(name, tuple(c)) for c in combos)
    return tuple(atoms)


class _Truth:
    """Predicate values per (trajectory, step), each evaluated at most once."""

    def __init__(self, vocab: Vocabulary, trajectories: Sequence[Trajectory]) -> None:
        self.vocab = vocab
        self.trajectories = trajectories
        self.states: dict[tuple[int, int], dict[tuple[str, ...], bool]] = {}

    def __call__(self, i: int, step: int, atom: _Atom, binding: Mapping[str, Any]) -> bool:
        table = self.states.setdefault((i, step), {})
        predicate = atom.predicate(binding)
        value = table.get(predicate)
        if value is None:
            try:
                value = self.vocab.evaluate(self.trajectories[i].observations[step], predicate)
            except ValueError as err:
                raise ValueError(f"trajectory {i}, step {step}: {err}") from None
            table[predicate] = value
        return value


def _fill(text: str, binding: Mapping[str, Any]) -> str:
    if text.startswith("{") and text.endswith("}"):
        return str(binding[text[1:-1]])
    return text


# ---------------------------------------------------------------------- slots
@functools.lru_cache(maxsize=65536)
def _slots(family: str, text: str) -> tuple[tuple[str, str, str], ...]:
    """``(type name, value, template)`` for each slot value of a word type in ``text``."""
    vocab = vocabulary(family)
    found: list[tuple[str, str, str]] = []
    for type_name, kind in vocab.types.items():
        if kind.kind != "word":
            continue
        for value in kind.values:
            if value not in text:
                continue
            pattern = r"(?<![\w+])" + re.escape(value) + r"(?![\w+])"
            template = re.sub(pattern, f"{{{type_name}}}", text)
            if template == text:
                continue
            if vocab.check_template(template, {type_name: kind}) is None:
                found.append((type_name, value, template))
    return tuple(found)


# ---------------------------------------------------------------------- candidates
@dataclass
class _Candidate:
    pattern: tuple[str, ...]
    param: str | None
    spots: list[tuple[int, int, str | None]]  # (trajectory, first run, slot value)
    support: int = 0
    trajectories: int = 0
    actions: float = 0.0
    shortest: int = 0

    @property
    def score(self) -> float:
        return self.support * self.actions

    def order(self) -> tuple[Any, ...]:
        return (-self.score, -len(self.pattern), self.pattern, self.param or "")


def _check_args(**limits: tuple[Any, int]) -> None:
    for name, (value, low) in limits.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")


def _candidates(
    family: str, runs: Sequence[tuple[Run, ...]], max_length: int, min_support: int
) -> list[_Candidate]:
    concrete: dict[tuple[str, ...], list[tuple[int, int, str | None]]] = {}
    for i, seq in enumerate(runs):
        for s in range(len(seq)):
            for length in range(1, min(max_length, len(seq) - s) + 1):
                key = tuple(r.text for r in seq[s : s + length])
                concrete.setdefault(key, []).append((i, s, None))
    general: dict[tuple[tuple[str, ...], str], list[tuple[int, int, str | None]]] = {}
    for key, spots in concrete.items():
        options: dict[tuple[str, str], dict[int, str]] = {}
        for p, text in enumerate(key):
            for type_name, value, template in _slots(family, text):
                options.setdefault((type_name, value), {})[p] = template
        for (type_name, value), templates in options.items():
            pattern = tuple(templates.get(p, text) for p, text in enumerate(key))
            bucket = general.setdefault((pattern, type_name), [])
            bucket.extend((i, s, value) for i, s, _ in spots)
    found = [_Candidate(k, None, v) for k, v in concrete.items() if len(v) >= min_support]
    for (pattern, type_name), spots in general.items():
        if len(spots) >= min_support and len({v for _, _, v in spots}) >= 2:
            found.append(_Candidate(pattern, type_name, sorted(spots, key=lambda x: x[:2])))
    return found


def _measure(c: _Candidate, runs: Sequence[tuple[Run, ...]]) -> None:
    kept: list[tuple[int, int, str | None]] = []
    last: dict[int, int] = {}
    for i, s, value in sorted(c.spots, key=lambda x: (x[0], x[1], x[2] or "")):
        if s >= last.get(i, 0):
            kept.append((i, s, value))
            last[i] = s + len(c.pattern)
    c.spots = kept
    lengths = [runs[i][s + len(c.pattern) - 1].end - runs[i][s].start for i, s, _ in kept]
    c.support = len(kept)
    c.trajectories = len({i for i, _, _ in kept})
    c.actions = sum(lengths) / len(lengths) if lengths else 0.0
    c.shortest = min(lengths, default=0)


def _drop_contained(cands: list[_Candidate]) -> list[_Candidate]:
    inside: set[tuple[tuple[str, ...], int]] = set()
    for c in cands:
        n = len(c.pattern)
        for a in range(n):
            for b in range(a + 1, n + 1):
                if b - a < n:
                    inside.add((c.pattern[a:b], c.support))
    return [c for c in cands if (c.pattern, c.support) not in inside]


# ---------------------------------------------------------------------- building skills
def _until_literal(
    atoms: Sequence[_Atom],
    spans: Sequence[tuple[int, Run, dict[str, Any]]],
    truth: _Truth,
) -> str | None:
    for atom in atoms:
        for negated in (False, True):
            if all(
                all(truth(i, t, atom, b) == negated for t in range(r.start, r.end))
                and truth(i, r.end, atom, b) != negated
                for i, r, b in spans
            ):
                return atom.text(negated)
    return None


def _postcondition(
    atoms: Sequence[_Atom],
    occurrences: Sequence[tuple[int, int, int, dict[str, Any]]],
    truth: _Truth,
    min_change: float,
    max_literals: int,
) -> list[str]:
    chosen: list[tuple[float, int, str, tuple[bool, ...]]] = []
    for k, atom in enumerate(atoms):
        ends = [truth(i, end, atom, b) for i, _, end, b in occurrences]
        for negated in (False, True):
            if any(e == negated for e in ends):
                continue
            starts = tuple(truth(i, start, atom, b) != negated for i, start, _, b in occurrences)
            changed = starts.count(False) / len(starts)
            if changed >= min_change:
                trace = tuple(
                    truth(i, t, atom, b) != negated
                    for i, start, end, b in occurrences
                    for t in range(start, end + 1)
                )
                chosen.append((-changed, 2 * k + negated, atom.text(negated), trace))
    best: list[tuple[float, int, str, tuple[bool, ...]]] = []
    for item in sorted(chosen):
        # A literal true at every state of the occurrences where a kept one is true (so
        # implied by it, on these states) says nothing more; the kept one changed as often.
        implied = any(
            all(b or not a for a, b in zip(kept[3], item[3], strict=True)) for kept in best
        )
        if len(best) < max_literals and not implied:
            best.append(item)
    return [text for _, _, text, _ in sorted(best, key=lambda x: x[1])]


def _name_words(pattern: Sequence[str]) -> str:
    words = re.sub(r"[{}]", "", " ".join(pattern)).lower()
    name = re.sub(r"[^a-z0-9]+", "_", words).strip("_") or "skill"
    if len(name) > 48:
        name = name[:48].rsplit("_", 1)[0]
    return name if name[0].isalpha() else f"skill_{name}"


def _build(
    c: _Candidate,
    vocab: Vocabulary,
    runs: Sequence[tuple[Run, ...]],
    truth: _Truth,
    predicates: Sequence[str],
    min_change: float,
    max_literals: int,
) -> tuple[str, list[Param], list[str], list[str], list[str | None], list[Occurrence]] | None:
    param = (c.param, vocab.types[c.param]) if c.param else None
    atoms = _atoms(vocab, predicates, param)
    bindings = [{c.param: v} if c.param else {} for _, _, v in c.spots]
    params = [Param(c.param, c.param)] if c.param else []
    lines: list[str] = []
    parts: list[str] = []
    loops: list[str | None] = []
    counts_of: list[dict[str, int]] = [{} for _ in c.spots]
    for p, text in enumerate(c.pattern):
        spans = [(i, runs[i][s + p], b) for (i, s, _), b in zip(c.spots, bindings, strict=True)]
        counts = [r.end - r.start for _, r, _ in spans]
        loop: str | None = None
        head: str | None = None
        what = text
        if max(counts) > 1 and (cond := _until_literal(atoms, spans, truth)) is not None:
            limit = min(MAX_REPEAT, max(4, 2 * max(counts)))
            head, what = f"until {cond} max {limit}:", f"{text} until {cond}"
        elif max(counts) > 1 and len(set(counts)) == 1:
            head, what = f"repeat {counts[0]}:", f"{text} {counts[0]} times"
        elif max(counts) > 1:
            common = sorted(Counter(counts).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            bound = str(common)
            if "int" in vocab.types and max(counts) <= MAX_REPEAT:
                used = sum(q is not None for q in loops)
                loop = "n" if used == 0 else f"n{used + 1}"
                params.append(Param(loop, "int", default=common))
                bound = f"{{{loop}}}"
                for k, n in enumerate(counts):
                    counts_of[k][loop] = n
            head, what = f"repeat {bound}:", f"{text} {bound} times"
        lines += [f"do {text}"] if head is None else [head, f"    do {text}"]
        parts.append(what)
        loops.append(loop)
    occurrences = [
        (i, runs[i][s].start, runs[i][s + len(c.pattern) - 1].end, b)
        for (i, s, _), b in zip(c.spots, bindings, strict=True)
    ]
    post = _postcondition(atoms, occurrences, truth, min_change, max_literals)
    if not post:
        return None
    where = [
        Occurrence(i, start, end, tuple({**b, **counts_of[k]}.items()))
        for k, (i, start, end, b) in enumerate(occurrences)
    ]
    description = ", then ".join(parts) + ": ends with " + " and ".join(post)
    return description, params, lines, post, loops, where


def mine_skills(
    trajectories: Sequence[Trajectory],
    vocabulary_or_family: Vocabulary | str,
    *,
    min_support: int = 2,
    min_length: int = 2,
    max_length: int = 6,
    max_skills: int = 20,
    min_change: float = 0.5,
    max_literals: int = 3,
    predicates: Sequence[str] | None = None,
) -> list[MinedSkill]:
    """Mine recurring action segments of successful trajectories into skills.

    See the module docstring for the algorithm.

    Args:
        trajectories: Recorded episodes of the vocabulary's family; only the successful ones
            are mined (the others are skipped, so none successful gives no skills).
        vocabulary_or_family: The family's vocabulary or its name (``"craft"``).
        min_support: The fewest occurrences a segment needs.
        min_length: The fewest actions its shortest occurrence must take.
        max_length: The most statements (runs) in a segment.
        max_skills: The most skills returned (0: none).
        min_change: The least share of occurrences at whose start a postcondition literal
            was false (0 to 1; 0 keeps every literal true at all ends).
        max_literals: The most literals in a postcondition.
        predicates: The predicate names literals are made of; by default every predicate of
            the vocabulary but :data:`EXCLUDED_PREDICATES`.

    Returns:
        The skills, best score first (see :class:`MinedSkill`).

    Raises:
        ValueError: for an empty list, something that is not a :class:`Trajectory`, a
            trajectory of another family, bad limits or an unknown predicate name.
    """
    vocab = (
        vocabulary_or_family
        if isinstance(vocabulary_or_family, Vocabulary)
        else vocabulary(vocabulary_or_family)
    )
    _check_args(
        min_support=(min_support, 1),
        min_length=(min_length, 1),
        max_length=(max_length, 1),
        max_skills=(max_skills, 0),
        max_literals=(max_literals, 1),
    )
    if isinstance(min_change, bool) or not 0.0 <= float(min_change) <= 1.0:
        raise ValueError(f"min_change must be a number in [0, 1]; got {min_change!r}")
    if predicates is None:
        allowed = [n for n in vocab.predicates if n not in EXCLUDED_PREDICATES]
    else:
        allowed = list(dict.fromkeys(predicates))
        unknown = [n for n in allowed if n not in vocab.predicates]
        if unknown:
            raise ValueError(
                f"unknown {vocab.family} predicate(s) {', '.join(unknown)}; "
                f"predicates: {', '.join(vocab.predicates)}"
            )
    items = list(trajectories)
    if not items:
        raise ValueError("mine_skills needs at least one trajectory; got none")
    for k, t in enumerate(items):
        if not isinstance(t, Trajectory):
            raise ValueError(f"trajectory {k} is a {type(t).__name__}, not a Trajectory")
        if t.family != vocab.family:
            raise ValueError(
                f"trajectory {k} is of family {t.family!r} ({t.env_id}), not {vocab.family!r}"
            )
    chosen = [k for k, t in enumerate(items) if t.success]
    if not chosen:
        logger.info("mine_skills: none of %d trajectories succeeded; no skills", len(items))
        return []
    if max_skills == 0:
        return []
    # Mining indexes the successful ones; occurrences name the caller's indices.
    runs = [runs_of(items[k].texts) for k in chosen]
    truth = _Truth(vocab, [items[k] for k in chosen])
    cands = _candidates(vocab.family, runs, max_length, min_support)
    for c in cands:
        _measure(c, runs)
    cands = [c for c in cands if c.support >= min_support and c.shortest >= min_length]
    cands = [c for c in cands if not c.param or len({v for _, _, v in c.spots}) >= 2]
    cands = sorted(_drop_contained(cands), key=_Candidate.order)
    mined: list[MinedSkill] = []
    names: Counter[str] = Counter()
    seen_bodies: set[str] = set()
    for c in cands:
        if len(mined) >= max_skills:
            break
        built = _build(c, vocab, runs, truth, allowed, float(min_change), max_literals)
        if built is None:
            continue
        description, params, lines, post, loops, where = built
        body = "\n".join(lines)
        signature = f"{[p.render() for p in params]}\n{body}\n{post}"
        if signature in seen_bodies:
            continue
        base = _name_words(c.pattern)
        names[base] += 1
        name = base if names[base] == 1 else f"{base}_{names[base]}"
        source = skill_source(name, description, lines, params=params, postcondition=post)
        try:
            skill = compile_skill(source, vocab)
        except SkillError as err:
            logger.debug("mined segment %s does not compile: %s", c.pattern, err)
            continue
        seen_bodies.add(signature)
        occurrences = tuple(Occurrence(chosen[o.trajectory], o.start, o.end, o.args) for o in where)
        mined.append(
            MinedSkill(
                skill=skill,
                pattern=c.pattern,
                occurrences=occurrences,
                support=c.support,
                trajectories=c.trajectories,
                score=round(c.score, 6),
                loop_params=tuple(loops),
            )
        )
    logger.info("mine_skills: %d skills from %d successes", len(mined), len(chosen))
    return mined


# ---------------------------------------------------------------------- descriptions
DESCRIBE_PROMPT = """\
Below is a skill of the {family} game, written in a small skill language. Write one short
line saying what it does and what holds when it worked.

{source}
One-line description:"""
"""The prompt :func:`describe_with_llm` sends (``{family}`` and ``{source}`` filled in)."""
_UNPRINTABLE = re.compile(r"[^ -~]")


def describe_with_llm(
    mined: MinedSkill, backend: Any, *, max_new_tokens: int = 40, max_chars: int = 160
) -> MinedSkill:
    """Ask a language backend for a one-line description and recompile the skill with it.

    The backend's ``generate`` gets :data:`DESCRIBE_PROMPT` greedily (temperature 0, stop
    at a newline). Its reply's first non-empty line, without a leading ``description:``,
    non-printable characters or surrounding quotes, cut to ``max_chars`` at a word, becomes
    the description; the source is compiled again by
    :func:`~palaestra.skills.parse.compile_skill`, the validation every skill goes through.
    An empty reply (or one that does not compile) keeps the template description.

    Args:
        mined: A skill from :func:`mine_skills`.
        backend: A :mod:`palaestra.llm` backend with the ``generate`` capability.
        max_new_tokens: The most tokens the reply may take.
        max_chars: The longest description kept.

    Returns:
        The mined skill with the new description (the same object when it is kept).

    Raises:
        palaestra.llm.CapabilityError: for a backend that cannot generate.
    """
    from palaestra.llm import require

    require(backend, "generate")
    prompt = DESCRIBE_PROMPT.format(family=mined.skill.family, source=mined.source)
    (reply,) = backend.generate([prompt], max_new_tokens=max_new_tokens, stop=["\n"])
    line = next((x.strip() for x in str(reply).splitlines() if x.strip()), "")
    line = _UNPRINTABLE.sub(" ", line)
    if line.lower().startswith("description:"):
        line = line[len("description:") :]
    line = " ".join(line.split()).strip("\"' ")
    if len(line) > max_chars:
        line = line[:max_chars].rsplit(" ", 1)[0]
    if not line:
        logger.info("describe_with_llm: empty reply for %s; template kept", mined.name)
        return mined
    lines = render(mined.skill).splitlines()
    lines[1] = f"description: {line}"
    try:
        skill = compile_skill("\n".join(lines) + "\n", mined.skill.family)
    except SkillError as err:
        logger.info("describe_with_llm: %s does not compile (%s); template kept", line, err)
        return mined
    return dataclasses.replace(mined, skill=skill)
