"""False beliefs in Craft: scheduled world events an agent does not see, the probes that ask
about them, and the events each agent is told it witnessed.

The scene (view radius 2, so a window is 5 tiles wide)::

    T0.......     chest 0 at (0, 1) holds the wooden_pickaxe, chest 1 at (2, 1) is empty;
    C.C......     agent_0 at (1, 0), agent_1 at (1, 2); a tree at (0, 0).
    .1.......

At step 5 the world moves the pickaxe into chest 1 and cuts the tree. In the false-belief
run agent_1 first walks four tiles east to (5, 2): the chests (x <= 2), the tree and
agent_0 (x = 1) are then more than 2 columns away, out of its window, while agent_0 sees
everything but agent_1. In the control run agent_1 stays and sees it all.
"""

from __future__ import annotations

import json

import pettingzoo
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.craft.beliefs import Probe

EAST, NOOP = 2, 0
TASK = {
    "goal": "collect dirt",
    "num_agents": 2,
    "layout": ["T0.......", "C.C......", ".1......."],
    "chests": [["wooden_pickaxe"], []],
    "events": [
        {"step": 5, "kind": "move", "item": "wooden_pickaxe", "to": 1},
        {"step": 5, "kind": "cut", "x": 0, "y": 0},
    ],
}
WORLD_EVENTS = [
    {"type": "chest", "chest": 0, "x": 0, "y": 1, "item": "wooden_pickaxe", "change": -1},
    {"type": "chest", "chest": 1, "x": 2, "y": 1, "item": "wooden_pickaxe", "change": 1},
    {"type": "tile", "x": 0, "y": 0, "before": "tree", "after": "grass"},
]


def run(agent_1_leaves: bool):
    env = pettingzoo.make("parallel", "palaestra/craft-v0", task=TASK)
    env.reset(seed=0)
    before = {a: env.probes(a) for a in env.agents}
    for t in range(5):
        move = EAST if agent_1_leaves and t < 4 else NOOP
        *_, infos = env.step({"agent_0": NOOP, "agent_1": move})
    return env, before, infos


def answers(env, agent):
    return {p.text: (p.reality, p.belief) for p in env.probes(agent)}


def test_everyone_starts_believing_what_they_see():
    _, before, _ = run(agent_1_leaves=True)
    for agent in ("agent_0", "agent_1"):
        assert [(p.order, p.reality, p.belief) for p in before[agent]] == [
            (1, "chest 0", "chest 0"),
            (2, "chest 0", "chest 0"),
            (1, "tree", "tree"),
            (2, "tree", "tree"),
        ]


def test_an_unseen_move_leaves_false_beliefs_first_and_second_order():
    env, _, infos = run(agent_1_leaves=True)
    assert answers(env, "agent_1") == {
        "where does agent_1 think the wooden_pickaxe is?": ("chest 1", "chest 0"),
        "where does agent_1 think agent_0 thinks the wooden_pickaxe is?": ("chest 1", "chest 0"),
        "what does agent_1 think is at (0, 0)?": ("grass", "tree"),
        "what does agent_1 think agent_0 thinks is at (0, 0)?": ("grass", "tree"),
    }
    # agent_0 saw the move, and saw that agent_1 was not there to see it.
    assert answers(env, "agent_0") == {
        "where does agent_0 think the wooden_pickaxe is?": ("chest 1", "chest 1"),
        "where does agent_0 think agent_1 thinks the wooden_pickaxe is?": ("chest 1", "chest 0"),
        "what does agent_0 think is at (0, 0)?": ("grass", "grass"),
        "what does agent_0 think agent_1 thinks is at (0, 0)?": ("grass", "tree"),
    }
    world = [e for e in infos["agent_0"]["events"] if e.get("cause") == "world"]
    assert [{k: v for k, v in e.items() if k != "cause"} for e in world] == WORLD_EVENTS
    assert [e for e in infos["agent_1"]["events"] if e["type"] != "action"] == []
    false_beliefs = [p for p in env.probes("agent_1") if p.false_belief]
    assert {p.order for p in false_beliefs} == {1, 2}


def test_a_witnessed_move_leaves_true_beliefs():
    env, _, infos = run(agent_1_leaves=False)
    for agent in ("agent_0", "agent_1"):
        probes = env.probes(agent)
        assert len(probes) == 4
        assert all(p.belief == p.reality for p in probes)
        world = [e for e in infos[agent]["events"] if e.get("cause") == "world"]
        assert [{k: v for k, v in e.items() if k != "cause"} for e in world] == WORLD_EVENTS
    assert env.probes("agent_1")[1].answers == {"reality": "chest 1", "belief": "chest 1"}


def test_returning_to_the_chests_corrects_the_belief():
    env, _, _ = run(agent_1_leaves=True)
    for _ in range(3):  # back to (2, 2): chest 1 at (2, 1) is in view again
        env.step({"agent_0": NOOP, "agent_1": 4})
    first, second = env.probes("agent_1")[:2]
    assert (first.reality, first.belief) == ("chest 1", "chest 1")
    # agent_0 (x = 1) is in view again, and so are both chests for both of them.
    assert (second.reality, second.belief) == ("chest 1", "chest 1")


def test_probes_are_plain_frozen_data():
    env, _, _ = run(agent_1_leaves=True)
    probe = env.probes("agent_1")[1]
    assert isinstance(probe, Probe)
    assert probe.kind == "item_location" and probe.order == 2
    assert probe.subjects == ("agent_1", "agent_0") and probe.target == "wooden_pickaxe"
    with pytest.raises(AttributeError):
        probe.belief = "chest 1"  # type: ignore[misc]
    record = json.loads(json.dumps(probe.to_dict()))
    assert record == {
        "text": "where does agent_1 think agent_0 thinks the wooden_pickaxe is?",
        "kind": "item_location",
        "order": 2,
        "subjects": ["agent_1", "agent_0"],
        "target": "wooden_pickaxe",
        "reality": "chest 1",
        "belief": "chest 0",
    }


def test_no_tracked_things_no_probes():
    env = pettingzoo.make("parallel", "palaestra/craft-v0")
    env.reset(seed=0)
    assert env.probes("agent_0") == []


def _events(task, actions):
    env = pettingzoo.make("parallel", "palaestra/craft-v0", task=task)
    env.reset(seed=0)
    *_, infos = env.step(actions)
    return env, infos


def test_a_say_out_of_earshot_is_seen_but_not_heard():
    # agent_1 at (2, 0) is in agent_0's window (radius 2) but 2 tiles away, beyond hearing
    # range 1: it sees agent_0 talk, and must not learn what was said.
    task = {
        "goal": "collect dirt",
        "num_agents": 2,
        "layout": ["0.1..", ".....", "....."],
        "hearing_range": 1,
        "knowledge": {"agent_0": ["planks"], "agent_1": ["sticks"]},
    }
    env, infos = _events(task, {"agent_0": 57, "agent_1": NOOP})  # say recipe planks
    assert infos["agent_1"]["events"] == [
        {"type": "action", "agent": "agent_0", "action": "say", "ok": True, "x": 0, "y": 0},
        {"type": "action", "agent": "agent_1", "action": "noop", "ok": True, "x": 2, "y": 0},
    ]
    assert infos["agent_0"]["events"][0]["action"] == "say recipe planks"
    assert env.unwrapped.world.known[1] == 1 << 1  # still only sticks


@pytest.mark.parametrize(
    ("row", "chests", "action", "event"),
    [
        ("..T1.", None, 5, {"type": "tile", "x": 2, "y": 1, "before": "tree", "after": "grass"}),
        (
            "..C1.",
            [["stone"]],
            25 + 2,  # take stone
            {"type": "chest", "chest": 0, "x": 2, "y": 1, "item": "stone", "change": -1},
        ),
    ],
)
def test_a_change_by_an_unseen_agent_does_not_name_it(row, chests, action, event):
    # agent_0 at (0, 0) sees x <= 2: the tree or chest at (2, 1), but not agent_1 at (3, 1).
    task = {"goal": "collect dirt", "num_agents": 2, "layout": ["0....", row, "....."]}
    if chests:
        task["chests"] = chests
    env, infos = _events(task, {"agent_0": NOOP, "agent_1": action})
    assert [e for e in infos["agent_0"]["events"] if e["type"] != "action"] == [
        {**event, "cause": "someone"}
    ]
    assert {**event, "cause": "agent_1"} in infos["agent_1"]["events"]
    if chests:  # agent_0 saw the stone leave chest 0, but not who took it
        assert env.probes("agent_0")[0].answers == {"reality": "agent_1", "belief": "unknown"}
