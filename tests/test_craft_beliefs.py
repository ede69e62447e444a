"""False beliefs in Craft: scheduled world events an agent does not see, the probes that ask
about them, and the events each agent is told it witnessed.

The scene (view radius 2, so a window is 5 tiles wide)::

    T0.......     chest 0 at (1, 1) holds the wooden_pickaxe, chest 1 at (3, 1) is empty;
    .C.C.....     agent_0 at (1, 0) and agent_1 at (1, 2), both next to chest 0 (the only
    .1.......     chest next to either); a tree at (0, 0).

Chests are not see-through: an agent sees a chest's contents only standing next to it, so
both start believing chest 0, and each saw the other next to it. At step 5 the world moves
the pickaxe into chest 1 and cuts the tree. In the false-belief run agent_1 first walks
five tiles east to (6, 2) (passing chest 1, empty then): the chests (x <= 3), the tree and
agent_0 (x = 1) are then more than 2 columns away, out of its window, while agent_0 sees
everything but agent_1. In the control run agent_1 stays and sees it all.
"""

from __future__ import annotations

import json
import random

import gymnasium as gym
import pettingzoo
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.craft.beliefs import Probe
from palaestra.envs.craft.vocabulary import ITEMS

NOOP, EAST, SOUTH, WEST = 0, 2, 3, 4
ITEM = {"goal": "collect dirt", "chests": [["wooden_pickaxe"]]}
TASK = {
    "goal": "collect dirt",
    "num_agents": 2,
    "layout": ["T0.......", ".C.C.....", ".1......."],
    "chests": [["wooden_pickaxe"], []],
    "events": [
        {"step": 5, "kind": "move", "item": "wooden_pickaxe", "to": 1},
        {"step": 5, "kind": "cut", "x": 0, "y": 0},
    ],
}
WORLD_EVENTS = [
    {"type": "chest", "chest": 0, "x": 1, "y": 1, "item": "wooden_pickaxe", "change": -1},
    {"type": "chest", "chest": 1, "x": 3, "y": 1, "item": "wooden_pickaxe", "change": 1},
    {"type": "tile", "x": 0, "y": 0, "before": "tree", "after": "grass"},
]


def run(agent_1_leaves: bool):
    env = pettingzoo.make("parallel", "palaestra/craft-v0", task=TASK)
    env.reset(seed=0)
    before = {a: env.probes(a) for a in env.agents}
    move = EAST if agent_1_leaves else NOOP
    for _ in range(5):
        *_, infos = env.step({"agent_0": NOOP, "agent_1": move})
    return env, before, infos


def answers(env, agent):
    return {p.text: (p.reality, p.belief) for p in env.probes(agent)}


def test_everyone_starts_believing_what_they_see_next_to_the_chest():
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


def test_only_looking_into_the_chest_corrects_the_belief():
    env, _, _ = run(agent_1_leaves=True)
    env.step({"agent_0": NOOP, "agent_1": WEST})  # to (5, 2): chest 1 in view, 2 tiles away
    assert answers(env, "agent_1")["where does agent_1 think the wooden_pickaxe is?"] == (
        "chest 1",
        "chest 0",
    )
    env.step({"agent_0": NOOP, "agent_1": WEST})  # (4, 2): chest 1 diagonal, not adjacent
    assert env.probes("agent_1")[0].belief == "chest 0"
    observations, *_ = env.step({"agent_0": NOOP, "agent_1": WEST})  # (3, 2): next to it
    assert observations["agent_1"]["chest"].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    assert answers(env, "agent_1") == {
        "where does agent_1 think the wooden_pickaxe is?": ("chest 1", "chest 1"),
        # agent_0 (1, 0) is in view again, next to chest 0, which agent_1 now believes
        # empty; agent_0 cannot see into chest 1 from there, so as far as agent_1 can
        # tell, agent_0 no longer knows where the pickaxe is.
        "where does agent_1 think agent_0 thinks the wooden_pickaxe is?": ("chest 1", "unknown"),
        # The tree at (0, 0) is 3 columns away, still out of view.
        "what does agent_1 think is at (0, 0)?": ("grass", "tree"),
        "what does agent_1 think agent_0 thinks is at (0, 0)?": ("grass", "tree"),
    }
    # agent_0 sees agent_1 next to chest 1, where agent_0 saw the pickaxe go.
    assert env.probes("agent_0")[1].answers == {"reality": "chest 1", "belief": "chest 1"}


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


def test_a_chest_seen_from_two_tiles_away_is_not_see_through():
    # agent_0 at (0, 0), the chest at (2, 0): in view (radius 2) but not adjacent.
    env = gym.make("palaestra/Craft-v0", task={"layout": ["0.C", "...", "..."], **ITEM})
    obs, _ = env.reset(seed=0)
    assert obs["chest"].tolist() == [0] * 8
    assert env.unwrapped.probes()[0].answers == {"reality": "chest 0", "belief": "unknown"}
    obs, *_ = env.step(EAST)  # to (1, 0): the chest is east, adjacent, and shown
    assert obs["chest"].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    assert env.unwrapped.probes()[0].answers == {"reality": "chest 0", "belief": "chest 0"}


def test_a_watcher_two_tiles_away_learns_nothing_from_the_chest_but_sees_who_looks():
    # agent_1 at (1, 2) stands next to chest 0 (1, 1); agent_0 at (3, 0) sees both, two
    # columns away, and is next to no chest.
    task = {"layout": ["...0", ".C..", ".1.."], "num_agents": 2, **ITEM}
    env = pettingzoo.make("parallel", "palaestra/craft-v0", task=task)
    env.reset(seed=0)
    assert answers(env, "agent_0") == {
        "where does agent_0 think the wooden_pickaxe is?": ("chest 0", "unknown"),
        # agent_0 saw agent_1 look into chest 0, but not what it saw there.
        "where does agent_0 think agent_1 thinks the wooden_pickaxe is?": ("chest 0", "unknown"),
    }
    assert answers(env, "agent_1") == {
        "where does agent_1 think the wooden_pickaxe is?": ("chest 0", "chest 0"),
        "where does agent_1 think agent_0 thinks the wooden_pickaxe is?": ("chest 0", "unknown"),
    }
    env.step({"agent_0": WEST, "agent_1": NOOP})  # agent_0 to (2, 0): still not adjacent
    assert env.probes("agent_0")[0].belief == "unknown"
    env.step({"agent_0": SOUTH, "agent_1": NOOP})  # (2, 1): chest 0 to its west, shown
    assert answers(env, "agent_0") == {
        "where does agent_0 think the wooden_pickaxe is?": ("chest 0", "chest 0"),
        # Now agent_0 knows what agent_1, still next to the chest, sees in it.
        "where does agent_0 think agent_1 thinks the wooden_pickaxe is?": ("chest 0", "chest 0"),
    }
    # agent_1 sees agent_0 next to the chest it believes holds the pickaxe.
    assert env.probes("agent_1")[1].belief == "chest 0"


def test_between_two_chests_the_belief_uses_the_chest_the_observation_shows():
    # agent_0 at (1, 0): chest 0 west (0, 0) holds the pickaxe, chest 1 east (2, 0) is
    # empty. The first adjacent chest (north, east, south, west) is chest 1: the vector
    # observation and the first chest line of the text view show it, so the pickaxe stays
    # unknown although the text view also lists chest 0.
    task = {"layout": ["C0C", "...", "..."], **ITEM, "chests": [["wooden_pickaxe"], []]}
    env = gym.make("palaestra/Craft-v0", obs_mode="both", task=task)
    obs, _ = env.reset(seed=0)
    assert obs["chest"].tolist() == [0] * 8
    lines = [line for line in obs["text"].splitlines() if line.startswith("chest ")]
    assert lines == ["chest 1 (east): empty", "chest 0 (west): wooden_pickaxe 1"]
    assert env.unwrapped.probes()[0].belief == "unknown"


def test_a_give_to_an_agent_out_of_view_reads_someone():
    # agent_2 at (0, 0) sees x <= 2: agent_0 at (2, 0) and the chest at (2, 1), not agent_1
    # at (3, 0), east of agent_0, whom agent_0 gives to.
    task = {
        "goal": "collect dirt",
        "num_agents": 3,
        "layout": ["2.01", "..C.", "...."],
        "chests": [["stone"]],
    }
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=3, task=task)
    env.reset(seed=0)
    idle = {"agent_1": NOOP, "agent_2": NOOP}
    env.step({"agent_0": 25 + 2, **idle})  # take stone from the chest to its south
    assert env.probes("agent_2")[0].answers == {"reality": "agent_0", "belief": "agent_0"}
    *_, infos = env.step({"agent_0": 33 + 2, **idle})  # give stone: to agent_1, east
    give = {"type": "give", "from": "agent_0", "to": "agent_1", "item": "stone"}
    assert give in infos["agent_0"]["events"] and give in infos["agent_1"]["events"]
    assert [e for e in infos["agent_2"]["events"] if e["type"] == "give"] == [
        {**give, "to": "someone"}
    ]
    stone = {
        agent: {p.subjects: p.belief for p in env.probes(agent)}
        for agent in ("agent_0", "agent_1", "agent_2")
    }
    assert stone == {
        "agent_0": {
            ("agent_0",): "agent_1",
            ("agent_0", "agent_1"): "agent_1",  # agent_1 saw it come
            ("agent_0", "agent_2"): "unknown",  # agent_2 saw it go, not to whom
        },
        "agent_1": {
            ("agent_1",): "agent_1",
            ("agent_1", "agent_0"): "agent_1",
            ("agent_1", "agent_2"): "unknown",  # agent_2 (x = 0) never in view (x >= 1)
        },
        "agent_2": {
            ("agent_2",): "unknown",
            ("agent_2", "agent_0"): "unknown",  # agent_2 cannot tell what agent_0 saw
            ("agent_2", "agent_1"): "unknown",  # out of view
        },
    }


class PerceptionMemory:
    """First-order beliefs about tracked items from one agent's observations and events only.

    A memory module as the beliefs module documents it, written here from the documented
    event schema and observations, to check that every first-order probe answer can be
    derived from what the agent perceived. (It tells items apart by kind, so the task below
    has one of each tracked kind and no recipes to make more.)
    """

    def __init__(self, agent, items):
        self.agent = agent
        self.belief = dict.fromkeys(items, "unknown")

    def observe(self, obs, events):
        put_seen = set()
        for e in events:
            item = e.get("item", e.get("action", "").partition(" ")[2])
            if e["type"] == "chest" and item in self.belief:
                if e["change"] > 0:
                    self.belief[item] = f"chest {e['chest']}"
                    put_seen.add((e["cause"], item))
                else:
                    self.belief[item] = "unknown"
            elif e["type"] == "give" and item in self.belief:
                self.belief[item] = "unknown" if e["to"] == "someone" else e["to"]
            elif e["type"] == "action" and e["ok"]:
                verb = e["action"].split()[0]
                if verb == "take" and item in self.belief:
                    self.belief[item] = e["agent"]
                elif verb == "put" and item in self.belief and (e["agent"], item) not in put_seen:
                    self.belief[item] = "unknown"  # saw it go into a chest out of view
                elif verb == "place" and "table" in self.belief:
                    self.belief["table"] = "used"
        shown = [line for line in obs["text"].splitlines() if line.startswith("chest ")]
        if shown:  # the first chest line: the chest the vector observation shows
            label, _, rest = shown[0].partition(" (")
            counts = obs["chest"].tolist()
            for item in self.belief:
                if f" {item} " in f" {rest.partition(': ')[2]} ":
                    assert counts[ITEMS.index(item)] == 1
                    self.belief[item] = label
                elif self.belief[item] == label:
                    self.belief[item] = "unknown"
        return self.belief


@pytest.mark.parametrize("seed", range(6))
def test_first_order_beliefs_follow_from_observations_and_events_alone(seed):
    rng = random.Random(seed)
    items = ["table", "wooden_pickaxe", "stone_pickaxe"]
    task = {
        "goal": "collect dirt",
        "num_agents": 3,
        "talk": "off",
        "knowledge": [[], [], []],
        "layout": ["0..C....", ".....T..", ".C...1..", "........", "...TC..2", "........"],
        "chests": [["wooden_pickaxe"], ["stone_pickaxe", "table"], []],
        "events": [
            {"step": 9, "kind": "move", "item": "wooden_pickaxe", "to": 2},
            {"step": 17, "kind": "move", "item": "stone_pickaxe", "to": 0},
            {"step": 30, "kind": "move", "item": "table", "to": 2},
            {"step": 45, "kind": "move", "item": "wooden_pickaxe", "to": 1},
        ],
    }
    env = pettingzoo.make(
        "parallel", "palaestra/craft-v0", max_agents=3, obs_mode="both", task=task
    )
    observations, infos = env.reset(seed=seed)
    memories = {a: PerceptionMemory(a, items) for a in env.agents}
    kinds, answers_seen = set(), set()
    for _ in range(200):
        for agent, memory in memories.items():
            belief = memory.observe(observations[agent], infos[agent]["events"])
            first = {p.target: p.belief for p in env.probes(agent) if p.order == 1}
            assert first == belief, (agent, infos[agent]["events"])
            answers_seen.update(belief.values())
        actions = {}
        for agent in env.agents:
            legal = list(infos[agent]["legal_actions"])
            busy = [a for a in legal if 17 <= a < 41 or 13 <= a < 17]
            actions[agent] = rng.choice(busy if busy and rng.random() < 0.6 else legal)
        observations, _, _, _, infos = env.step(actions)
        kinds.update(e["type"] for i in infos.values() for e in i["events"])
    assert {"chest", "give"} <= kinds
    assert {"unknown", "chest 0"} < answers_seen
