"""The skill language: vocabularies, parsing, validation errors and the render round trip."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.craft import vocabulary as craft_vocab
from palaestra.envs.gauntlet import vocabulary as gauntlet_vocab
from palaestra.skills import (
    FAMILIES,
    GRAMMAR,
    MAX_CALL_DEPTH,
    MAX_NESTING,
    MAX_REPEAT,
    AllOf,
    AnyOf,
    Atom,
    Call,
    Do,
    If,
    Not,
    Param,
    Repeat,
    SkillError,
    Until,
    compile_skill,
    render,
    skill_source,
    vocabulary,
)

COLLECT = """\
skill collect_wood(dir: direction)
description: walk dir until next to a tree, then collect one wood
postcondition: has(wood)
until near(tree) max 12:
    do move {dir}
do collect wood
"""

HEAD = "skill t(d: direction, n: int, it: item, r: recipe)\ndescription: test\n"


# ---------------------------------------------------------------------- vocabularies
def test_vocabulary_families_and_unknown_family():
    assert FAMILIES == ("craft", "gauntlet")
    assert vocabulary("craft") is vocabulary("Craft") is vocabulary("palaestra/Craft-v0")
    with pytest.raises(ValueError, match="unknown skill family 'chess'; families: craft, gauntlet"):
        vocabulary("chess")


@pytest.mark.parametrize("family, module", [("craft", craft_vocab), ("gauntlet", gauntlet_vocab)])
def test_vocabulary_mirrors_the_env_tables(family, module):
    vocab = vocabulary(family)
    assert dict(vocab.primitives) == module.ACTION_INDEX
    assert tuple(vocab.primitives) == module.PRIMITIVE_ACTIONS
    assert tuple(vocab.predicates) == tuple(module.PREDICATES)
    for name, spec in module.PREDICATES.items():
        mine = vocab.predicates[name]
        assert tuple(p for p, _ in mine.params) == spec.params and mine.doc == spec.doc
        for i, (_, tname) in enumerate(mine.params):
            allowed = spec.values[i] if family == "craft" else spec.kinds[i]
            ptype = vocab.types[tname]
            if allowed is None or isinstance(allowed, str):
                assert ptype.kind == ("int" if allowed in (None, "int") else "fraction")
            else:
                assert ptype.values == tuple(allowed)
    with pytest.raises(dataclasses.FrozenInstanceError):
        vocab.family = "other"
    with pytest.raises(TypeError):
        vocab.primitives["jump"] = 99


def test_vocabulary_types():
    craft = vocabulary("craft").types
    assert set(craft) == {"item", "kind", "int", "recipe", "direction"}
    assert craft["item"].values == craft_vocab.ITEMS
    assert craft["direction"].values == craft_vocab.DIRECTIONS
    assert craft["recipe"].values == tuple(r.output for r in craft_vocab.RECIPES)
    gauntlet = vocabulary("gauntlet").types
    assert {"card", "int", "fraction", "status", "kind", "phase"} <= set(gauntlet)
    assert "Twin Strike" in gauntlet["card"].values
    assert gauntlet["fraction"].check("0.25") == 0.25
    with pytest.raises(ValueError, match="number in"):
        gauntlet["fraction"].check(1.5)
    with pytest.raises(ValueError, match="integer"):
        craft["int"].check(True)
    assert craft["recipe"].fits(craft["item"]) and not craft["item"].fits(craft["recipe"])


def test_prompt_text_is_deterministic_and_complete():
    for family in FAMILIES:
        vocab = vocabulary(family)
        text = vocab.prompt_text()
        assert text == vocab.prompt_text()
        assert vocab.grammar_text() == GRAMMAR and text.startswith(GRAMMAR.rstrip())
        for primitive in vocab.primitives:
            assert primitive in text
        for spec in vocab.predicates.values():
            assert f"  {spec.signature()}: {spec.doc}" in text
        for ptype in vocab.types.values():
            assert ptype.describe() in text
    assert "play {card} (card: card)" in vocabulary("gauntlet").prompt_text()


def test_grammar_examples_compile():
    example = "  until has(wood) or not (sees(tree) and near(water)) max 20:"
    assert example in GRAMMAR
    skill = compile_skill(HEAD + example.strip() + "\n    do noop\n", "craft")
    assert isinstance(skill.body[0], Until) and skill.body[0].limit == 20
    assert str(MAX_REPEAT) in GRAMMAR and str(MAX_CALL_DEPTH) in GRAMMAR


def test_predicates_evaluate_on_real_observations():
    env = gym.make("palaestra/Craft-v0", task={"layout": ["0.T", "...", "..."]})
    obs, _ = env.reset(seed=0)
    craft = vocabulary("craft")
    assert craft.evaluate(obs, "at(0, 0)") and craft.evaluate(obs, "sees(tree)")
    assert not craft.evaluate(obs, "near(tree)") and not craft.evaluate(obs, "has(wood)")
    obs, *_ = env.step(craft.primitives["move east"])
    assert craft.evaluate(obs, ("near", "tree"))
    env = gym.make("palaestra/Gauntlet-v0", task={"encounters": ["mite"], "fights": 1})
    obs, _ = env.reset(seed=0)
    gauntlet = vocabulary("gauntlet")
    assert gauntlet.evaluate(obs, "enemies_at_least(1)")
    assert not gauntlet.evaluate(obs, "enemies_at_least(2)")
    assert gauntlet.evaluate(obs, "in_phase(combat)") and gauntlet.evaluate(obs, "can_play(Strike)")


# ---------------------------------------------------------------------- parsing
def test_compile_builds_the_tree():
    skill = compile_skill(COLLECT, vocabulary("craft"))
    assert skill == compile_skill(COLLECT, "craft")
    assert skill.name == "collect_wood" and skill.family == "craft"
    assert skill.params == (Param("dir", "direction"),)
    assert skill.description == "walk dir until next to a tree, then collect one wood"
    assert skill.postcondition == (Atom("has", ("wood",)),)
    assert skill.body == (
        Until(Atom("near", ("tree",)), 12, (Do("move {dir}"),)),
        Do("collect wood"),
    )
    assert skill.body[0].line == 4 and skill.body[1].line == 6
    assert skill.depth == 1 and skill.max_actions == 13
    assert skill.source == COLLECT


def test_conditions_parse_with_precedence():
    src = HEAD + (
        "if has(wood) or not near(tree) and sees(water):\n    do noop\n"
        "if not (has({it}) or knows({r})):\n    do noop\n"
        "if (has(wood) or has(dirt)) and not not at(1, 2):\n    do noop\n"
    )
    a, b, c = compile_skill(src, "craft").body
    assert a.condition == AnyOf(
        (Atom("has", ("wood",)), AllOf((Atom("near", ("tree",), True), Atom("sees", ("water",)))))
    )
    assert b.condition == Not(AnyOf((Atom("has", ("{it}",)), Atom("knows", ("{r}",)))))
    assert c.condition == AllOf(
        (AnyOf((Atom("has", ("wood",)), Atom("has", ("dirt",)))), Atom("at", ("1", "2")))
    )


ROUND_TRIP = [
    COLLECT,
    """\
# a comment line, then a blank one

skill fetch(it: item = wood, n: int = 3, d: direction = east)
description: try n times to get an item, turning when blocked
postcondition: has({it}) and not near(water)
repeat {n}:
    if has({it}):
        do noop
    elif near(tree) and not sees(water):
        do collect wood
    elif sees(stone) or (sees(dirt) and not has(dirt)):
        do move {d}
    else:
        until near(tree) or at(0, 0) max {n}:
            do move north
""",
    """\
skill fight(c: card = Twin Strike, frac: fraction = 0.5)
description: play a card while healthy, else defend
until not enemies_at_least(1) max 40:
    if hp_below({frac}) and can_play(Defend):
        do play Defend
    elif can_play({c}):
        do play {c}
    elif can_play(Strike):
        do play Strike at enemy 0
    else:
        do end turn
""",
]


@pytest.mark.parametrize("source", ROUND_TRIP)
def test_render_round_trip(source):
    family = "gauntlet" if "enemies" in source else "craft"
    skill = compile_skill(source, family)
    again = compile_skill(render(skill), family)
    assert again == skill
    assert render(again) == render(skill)
    assert compile_skill(skill.source, family) == skill


def test_source_is_normalised():
    loose = HEAD + "if  has( { it } )and not(near(tree)):\n      do   move { d }\n"
    skill = compile_skill(loose, "craft")
    tidy = compile_skill(HEAD + "if has({it}) and not near(tree):\n    do move {d}\n", "craft")
    assert skill == tidy and render(skill) == render(tidy)


def test_defaults_are_typed():
    skill = compile_skill(ROUND_TRIP[1], "craft")
    assert [p.default for p in skill.params] == ["wood", 3, "east"]
    assert skill.max_actions == MAX_REPEAT * MAX_REPEAT
    gauntlet = compile_skill(ROUND_TRIP[2], "gauntlet")
    assert gauntlet.params == (Param("c", "card", "Twin Strike"), Param("frac", "fraction", 0.5))


def test_skill_source_from_parts_and_with_postcondition():
    text = skill_source(
        "step_east",
        "take one step east",
        ["do move east"],
        params=["n: int = 1"],
        postcondition=["at(1, 0)", "not has(wood)"],
    )
    skill = compile_skill(text, "craft")
    assert skill.postcondition == (Atom("at", ("1", "0")), Atom("has", ("wood",), True))
    learned = skill.with_postcondition([Atom("near", ("tree",)), "not has(dirt)"])
    assert learned.postcondition == (Atom("near", ("tree",)), Atom("has", ("dirt",), True))
    assert learned.body == skill.body and learned.params == skill.params
    assert skill.with_postcondition([]).postcondition == ()
    with pytest.raises(SkillError, match="unknown predicate 'flies'"):
        skill.with_postcondition(["flies(wood)"])


# ---------------------------------------------------------------------- errors
BAD = [
    ("unknown primitive", HEAD + "do noop\ndo jump\n", 4, "unknown primitive 'jump'"),
    ("close primitive", HEAD + "do move eest\n", 3, "did you mean 'move west' or 'move east'"),
    ("unknown predicate", HEAD + "if flies(wood):\n    do noop\n", 3, "unknown predicate 'flies'"),
    ("bad literal", HEAD + "if has(water):\n    do noop\n", 3, "item must be one of"),
    ("arity", HEAD + "if has(wood, 2):\n    do noop\n", 3, "takes 1 argument(s)"),
    ("int literal", HEAD + "if at(x, 1):\n    do noop\n", 3, "x must be an integer"),
    ("predicate type", HEAD + "if has({d}):\n    do noop\n", 3, "wrong argument type: has's item"),
    ("primitive type", HEAD + "do craft {it}\n", 3, "wrong argument type: 'craft {it}'"),
    ("int in move", HEAD + "do move {n}\n", 3, "'move 0', which is no craft primitive"),
    ("undeclared do", HEAD + "do move {x}\n", 3, "undeclared parameter {x}"),
    (
        "undeclared pred",
        HEAD + "do noop\nif has({x}):\n    do noop\n",
        4,
        "undeclared parameter {x}",
    ),
    ("undeclared bound", HEAD + "repeat {k}:\n    do noop\n", 3, "undeclared parameter {k}"),
    ("unbounded until", HEAD + "until has(wood):\n    do noop\n", 3, "unbounded loop"),
    ("while", HEAD + "while has(wood):\n    do noop\n", 3, "unbounded loop"),
    ("repeat too big", HEAD + "repeat 101:\n    do noop\n", 3, "from 1 to 100"),
    ("repeat zero", HEAD + "repeat 0:\n    do noop\n", 3, "from 1 to 100"),
    ("max too big", HEAD + "until has(wood) max 500:\n    do noop\n", 3, "max count must be"),
    ("bare param", HEAD + "repeat n:\n    do noop\n", 3, "write the parameter as {n}"),
    ("bound type", HEAD + "repeat {d}:\n    do noop\n", 3, "is of type direction, not int"),
    ("indent", HEAD + "do noop\n  do noop\n", 4, "bad indentation: unexpected indent"),
    ("no block", HEAD + "repeat 3:\ndo noop\n", 4, "expected an indented block after 'repeat'"),
    ("block at end", HEAD + "if has(wood):\n", 4, "expected an indented block after 'if'"),
    ("dedent", HEAD + "repeat 3:\n    do noop\n  do noop\n", 5, "bad indentation"),
    ("tab", HEAD + "repeat 3:\n\tdo noop\n", 4, "use spaces, not tabs"),
    ("else alone", HEAD + "else:\n    do noop\n", 3, "'else' without a matching 'if'"),
    ("no colon", HEAD + "repeat 3\n    do noop\n", 3, "must end with ':'"),
    ("dangling and", HEAD + "if has(wood) and:\n    do noop\n", 3, "ends too early"),
    ("bad word", HEAD + "if has(wood) xor near(tree):\n    do noop\n", 3, "got 'xor'"),
    ("open paren", HEAD + "if (has(wood):\n    do noop\n", 3, "missing ')'"),
    ("unknown statement", HEAD + "jump east\n", 3, "unknown statement 'jump'"),
    ("empty do", HEAD + "do\n", 3, "'do' needs a primitive"),
    ("no description", "skill t()\ndo noop\n", 2, "expected 'description: <one line>'"),
    ("two descriptions", "skill t()\ndescription: a\ndescription: b\ndo noop\n", 3, "second"),
    ("no header", "do noop\n", 1, "a skill starts with 'skill <name>(<params>)'"),
    ("bad name", "skill Fetch()\ndescription: x\ndo noop\n", 1, "must be lower case"),
    ("no body", "skill t()\ndescription: x\n", 3, "has no body"),
    ("unknown type", "skill t(a: colour)\ndescription: x\ndo noop\n", 1, "unknown type 'colour'"),
    ("bad declaration", "skill t(a)\ndescription: x\ndo noop\n", 1, "declared as 'name: type'"),
    ("twice", "skill t(a: int, a: int)\ndescription: x\ndo noop\n", 1, "declared twice"),
    ("bad default", "skill t(d: direction = up)\ndescription: x\ndo noop\n", 1, "default of d"),
    ("reserved", "skill t(budget: int)\ndescription: x\ndo noop\n", 1, "is reserved"),
    (
        "post or",
        "skill t()\ndescription: x\npostcondition: has(wood) or has(dirt)\ndo noop\n",
        3,
        "conjunction of literals",
    ),
    (
        "post predicate",
        "skill t()\ndescription: x\npostcondition: has(gold)\ndo noop\n",
        3,
        "item must be one of",
    ),
    ("self call", "skill t()\ndescription: x\ncall t()\n", 3, "recursion: skill t calls itself"),
    ("unknown call", "skill t()\ndescription: x\ncall u()\n", 3, "unknown skill 'u'"),
]


@pytest.mark.parametrize("case, source, line, message", BAD, ids=[b[0] for b in BAD])
def test_malformed_programs_name_the_line(case, source, line, message):
    with pytest.raises(SkillError) as err:
        compile_skill(source, "craft")
    assert err.value.line == line, str(err.value)
    assert message in err.value.problem
    assert f"line {line}" in str(err.value) and isinstance(err.value, ValueError)


def test_errors_name_the_column():
    with pytest.raises(SkillError) as err:
        compile_skill(HEAD + "if has(wood) and fly(x):\n    do noop\n", "craft")
    assert (err.value.line, err.value.column) == (3, 18)
    assert "line 3, column 18" in str(err.value) and "skill t" in str(err.value)
    with pytest.raises(SkillError) as err:
        compile_skill(HEAD + "  \n# note\n\ndo move {dir}\n", "craft")
    assert (err.value.line, err.value.column) == (6, 9)


def test_gauntlet_errors():
    head = "skill g(c: card, s: status)\ndescription: x\n"
    cases = [
        (head + "do play Sword\n", "unknown primitive 'play Sword'"),
        (head + "if hp_below(2):\n    do end turn\n", "fraction must be a number in [0, 1]"),
        (head + "if hand_has({s}):\n    do end turn\n", "takes type card, but {s} is of type"),
        (head + "do upgrade {s}\n", "wrong argument type: 'upgrade {s}'"),
    ]
    for source, message in cases:
        with pytest.raises(SkillError, match=message.replace("[", r"\[").replace("]", r"\]")):
            compile_skill(source, "gauntlet")
    skill = compile_skill(head + "do upgrade {c}\ndo play {c} at enemy 2\n", "gauntlet")
    assert skill.body == (Do("upgrade {c}"), Do("play {c} at enemy 2"))


# ---------------------------------------------------------------------- calls
def _chain(depth):
    skills = {}
    prev = None
    for k in range(1, depth + 1):
        body = "do noop\n" if prev is None else f"call {prev}()\n"
        name = f"s{k}"
        skills[name] = compile_skill(
            f"skill {name}()\ndescription: level {k}\n{body}", "craft", skills=skills
        )
        prev = name
    return skills


def test_calls_resolve_and_check_arguments():
    walk = compile_skill(COLLECT, "craft")
    lib = {"collect_wood": walk}
    src = (
        "skill get(d: direction, k: kind)\ndescription: get wood\n"
        "call collect_wood({d})\ncall collect_wood(dir={d})\ncall collect_wood(dir=east)\n"
    )
    skill = compile_skill(src, "craft", skills=lib)
    assert skill.callees == (walk,) and skill.depth == 2
    assert [s.args for s in skill.body] == [(("dir", "{d}"),)] * 2 + [(("dir", "east"),)]
    assert isinstance(skill.body[0], Call) and skill.max_actions == 3 * walk.max_actions
    assert compile_skill(render(skill), "craft", skills=lib.get) == skill
    head = "skill get(d: direction, k: kind)\ndescription: get wood\n"
    bad = [
        ("call collect_wood(up)", "must be of type direction"),
        ("call collect_wood(d)", "write the parameter as {d}"),
        ("call collect_wood({k})", "takes type direction, but {k} is of type kind"),
        ("call collect_wood()", "missing argument dir"),
        ("call collect_wood(way=east)", "has no parameter 'way'"),
        ("call collect_wood(east, west)", "takes 1 argument(s); got 2"),
        ("call collect_wood({z})", "undeclared parameter {z}"),
        ("call fetch()", "unknown skill 'fetch'; known: collect_wood"),
    ]
    for line, message in bad:
        with pytest.raises(SkillError, match=message.replace("(", r"\(").replace(")", r"\)")):
            compile_skill(head + line + "\n", "craft", skills=lib)
    gauntlet = compile_skill("skill g()\ndescription: x\ndo end turn\n", "gauntlet")
    with pytest.raises(SkillError, match="is a gauntlet skill, not craft"):
        compile_skill(head + "call g()\n", "craft", skills={"g": gauntlet})


def test_call_depth_limit():
    skills = _chain(MAX_CALL_DEPTH)
    assert skills[f"s{MAX_CALL_DEPTH}"].depth == MAX_CALL_DEPTH
    with pytest.raises(SkillError) as err:
        compile_skill(
            f"skill top()\ndescription: x\ndo noop\ncall s{MAX_CALL_DEPTH}()\n",
            "craft",
            skills=skills,
        )
    assert err.value.line == 4 and "recursion too deep" in err.value.problem
    assert f"the limit is {MAX_CALL_DEPTH}" in err.value.problem


def test_mutual_recursion_is_refused():
    first = compile_skill("skill a()\ndescription: x\ndo noop\n", "craft")
    b = compile_skill("skill b()\ndescription: x\ncall a()\n", "craft", skills={"a": first})
    with pytest.raises(SkillError) as err:
        compile_skill("skill a()\ndescription: x\ndo noop\ncall b()\n", "craft", skills={"b": b})
    assert err.value.line == 4 and "recursion: a -> b -> a" in err.value.problem


def test_loop_bound_arguments_are_checked():
    inner = compile_skill("skill wait(n: int)\ndescription: x\nrepeat {n}:\n    do noop\n", "craft")
    with pytest.raises(SkillError, match="bounds a loop"):
        compile_skill(
            "skill w()\ndescription: x\ncall wait(500)\n", "craft", skills={"wait": inner}
        )
    outer = compile_skill(
        "skill w(k: int)\ndescription: x\ncall wait({k})\n", "craft", skills={"wait": inner}
    )
    with pytest.raises(SkillError, match="argument k bounds a loop"):
        outer.bind({"k": 101})
    assert outer.bind({"k": 4}) == {"k": 4}


def test_nesting_limit():
    def nested(levels):
        lines = [" " * (4 * k) + "repeat 2:" for k in range(levels)]
        return HEAD + "\n".join(lines) + "\n" + " " * (4 * levels) + "do noop\n"

    assert compile_skill(nested(MAX_NESTING), "craft").max_actions == 2**MAX_NESTING
    with pytest.raises(SkillError) as err:
        compile_skill(nested(MAX_NESTING + 1), "craft")
    assert (
        f"deeper than {MAX_NESTING}" in err.value.problem and err.value.line == 3 + MAX_NESTING + 1
    )


def test_word_parameters_that_fit_every_primitive():
    skill = compile_skill(HEAD + "do craft {r}\ndo place table {d}\ndo give {it}\n", "craft")
    assert [s.text for s in skill.body] == ["craft {r}", "place table {d}", "give {it}"]


def test_statement_records():
    skill = compile_skill(ROUND_TRIP[1], "craft")
    loop = skill.body[0]
    assert isinstance(loop, Repeat) and loop.count == "n"
    first = loop.body[0]
    assert isinstance(first, If) and isinstance(first.orelse[0], If)
    assert first.line == 7
