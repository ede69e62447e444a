"""Memory records: JSON round trips for every type, and what ``from_dict`` refuses."""

from __future__ import annotations

import json
import math

import pytest

from palaestra.memory.records import (
    RECORD_TYPES,
    RECORD_VERSION,
    Action,
    Belief,
    Desire,
    Intention,
    Message,
    Percept,
    from_dict,
    from_json,
    to_json,
)

RECORDS = [
    Percept(
        "agent_0",
        3,
        (4, 5),
        (("agent_1", 5, 5),),
        0,
        (("wooden_pickaxe", 1),),
        (".....", ".T.C.", "..1..", ".....", "#####"),
        ({"type": "action", "agent": "agent_1", "action": "noop", "ok": True, "x": 5, "y": 5},),
    ),
    Percept("agent_3", 0, (0, 0), (), None, (), ("...",) * 3, ()),
    Message("agent_1", "agent_0", 7, "have wood", "have", ("wood",), True),
    Message("agent_1", "agent_0", 7, "go 3 4", "go", (3, 4), True),
    Message("agent_2", "agent_0", 8, "hello there", None, (), False),
    Belief("agent_0", (), "wooden_pickaxe", "chest 1", "observed", 5, 1.0, ("saw it",)),
    Belief("agent_0", ("agent_1",), "3 4", "tree", "inferred", 2, 0.5),
    Belief("agent_1", ("agent_0", "agent_2"), "knows planks", "yes", "told", 9, 0.25, ("x",)),
    Belief("agent_0", (), "stone", "unknown", "inferred", -1, 0.0),
    Desire("agent_1", "planks", 4, "told"),
    Intention("agent_2", "go 3 4", 6),
    Action("agent_0", 2, 25, "take wood", False),
    Action("agent_1", 2, None, "say", True),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_round_trips_through_json(record):
    text = to_json(record)
    data = json.loads(text)
    assert data["type"] == type(record).__name__ and data["version"] == RECORD_VERSION
    assert from_json(text) == record
    assert type(record).from_dict(data) == record
    assert from_dict(record.to_dict()) == record


def test_every_record_type_is_covered():
    assert {type(r).__name__ for r in RECORDS} == set(RECORD_TYPES)


def test_a_belief_knows_its_order():
    assert [b.order for b in RECORDS if isinstance(b, Belief)] == [1, 2, 3, 1]


@pytest.mark.parametrize("record", RECORDS[::3], ids=lambda r: type(r).__name__)
def test_from_dict_refuses_newer_versions_unknown_types_and_fields(record):
    data = record.to_dict()
    with pytest.raises(ValueError, match=f"version {RECORD_VERSION + 1} is newer"):
        from_dict({**data, "version": RECORD_VERSION + 1})
    with pytest.raises(ValueError, match="version"):
        from_dict({**data, "version": "1"})
    with pytest.raises(ValueError, match="'Thought'"):
        from_dict({**data, "type": "Thought"})
    first = next(k for k in data if k not in ("type", "version"))
    partial = {k: v for k, v in data.items() if k != first}
    with pytest.raises(ValueError, match=rf"missing field\(s\) \['{first}'\]"):
        from_dict(partial)
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['mood'\]"):
        from_dict({**data, "mood": "calm"})
    other = Desire if not isinstance(record, Desire) else Action
    with pytest.raises(ValueError, match=f"of type '{type(record).__name__}'"):
        other.from_dict(data)


def test_field_values_are_validated():
    ok = {"holder": "agent_0", "about": (), "key": "wood", "value": "chest 0"}
    ok.update(source="observed", step=1, confidence=1.0)
    Belief(**ok)
    with pytest.raises(ValueError, match="source must be one of observed, told, inferred"):
        Belief(**{**ok, "source": "guessed"})
    for bad in (1.5, -0.1, math.nan, "high", True):
        with pytest.raises(ValueError, match="confidence"):
            Belief(**{**ok, "confidence": bad})
    with pytest.raises(ValueError, match="3 agents long; at most 2"):
        Belief(**{**ok, "about": ("agent_1", "agent_2", "agent_3")})
    with pytest.raises(ValueError, match="agent_0 follows itself"):
        Belief(**{**ok, "about": ("agent_0",)})
    with pytest.raises(ValueError, match="agent_0, agent_1, agent_2, agent_3"):
        Belief(**{**ok, "holder": "agent_5"})
    with pytest.raises(ValueError, match="step"):
        Belief(**{**ok, "step": -2})
    with pytest.raises(ValueError, match="unparsed Message"):
        Message("agent_1", "agent_0", 1, "hi", "need", (), False)
    with pytest.raises(ValueError, match="verb"):
        Message("agent_1", "agent_0", 1, "hi", "shout", (), True)
    with pytest.raises(ValueError, match="source"):
        Desire("agent_1", "wood", 1, "dreamt")
    with pytest.raises(ValueError, match="ok must be a bool"):
        Action("agent_1", 1, 0, "noop", 1)
    with pytest.raises(ValueError, match="takes a memory record"):
        to_json({"type": "Belief"})
    with pytest.raises(ValueError, match="not a JSON record"):
        from_json("{not json")
