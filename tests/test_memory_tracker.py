"""The Craft BeliefTracker against the simulator's own belief answers, on the real envs.

Every probe of ``env.probes(agent)`` carries the answer the simulator derives from what the
agent perceived (:mod:`palaestra.envs.craft.beliefs`); a tracker fed only that agent's
observations and infos must reach it, at every step, first and second order, for items and
tiles: on generated false-belief scenarios with agents wandering between chests, on hand-built
scenes (the layouts of ``tests/test_craft_beliefs.py``, copied), and from a JSON recording of
the stream alone. Messages, discrepancies, rendering and bad input are checked on scenes
worked out by hand.
"""

from __future__ import annotations

import json
import random

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.craft.beliefs import Probe
from palaestra.envs.craft.scenarios import chest_positions, false_belief_scenarios
from palaestra.envs.craft.vocabulary import ACTION_INDEX, RECIPE_INDEX
from palaestra.memory.records import Desire, from_json, to_json
from palaestra.memory.tracker import BeliefTracker, Discrepancy

NOOP, NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3, 4
MOVES = {NORTH: (0, -1), EAST: (1, 0), SOUTH: (0, 1), WEST: (-1, 0)}


class Wanderer:
    """Walks from chest to chest (and a few other spots), dwells, takes, puts, gives, places."""

    def __init__(self, task, rng):
        self.rng = rng
        w, h = len(task["layout"][0]), len(task["layout"])
        self.spots = [*chest_positions(task), (rng.randrange(w), rng.randrange(h))]
        self.target, self.dwell = rng.choice(self.spots), 0

    def act(self, obs, legal):
        rng, (x, y) = self.rng, (int(v) for v in obs["position"])
        tx, ty = self.target
        distance = abs(tx - x) + abs(ty - y)
        if distance <= 1:
            if self.dwell <= 0:
                self.dwell, self.target = rng.randint(0, 6), rng.choice(self.spots)
            self.dwell -= 1
            busy = [a for a in legal if 13 <= a < 41]
            return rng.choice(busy) if busy and rng.random() < 0.4 else NOOP
        if rng.random() < 0.1:
            return rng.choice(legal)
        moves = [a for a in legal if a in MOVES]
        closer = [
            a for a in moves if abs(tx - x - MOVES[a][0]) + abs(ty - y - MOVES[a][1]) < distance
        ]
        return rng.choice(closer or moves or [NOOP])


def play(env, task, seed, steps, policy=None, script=None):
    """Run an episode, checking every tracker answer against every probe at every step.

    Returns the trackers and the probes seen, as ``(order, kind, false_belief)`` triples.
    """
    obs, infos = env.reset(seed=seed, options={"task": task})
    trackers = {a: BeliefTracker(a) for a in env.agents}
    rng = random.Random(seed)
    policies = {a: (policy or Wanderer)(task, rng) for a in env.agents}
    seen = []
    for t in range(steps + 1):
        for agent in obs:
            trackers[agent].observe(obs[agent], infos[agent])
            for probe in env.probes(agent):
                assert trackers[agent].answer(probe) == probe.belief, (t, probe)
                seen.append((probe.order, probe.kind, probe.false_belief))
        if not env.agents or t == steps:
            break
        if script is not None:
            actions = script[t]
        else:
            actions = {a: policies[a].act(obs[a], list(infos[a]["legal_actions"])) for a in obs}
        obs, _, _, _, infos = env.step(actions)
    return trackers, seen


@pytest.mark.parametrize("num_agents", [2, 3, 4])
def test_the_tracker_matches_every_probe_on_generated_scenarios(num_agents):
    tasks = false_belief_scenarios(8, 100 + num_agents, num_agents=num_agents, close_chests=0.0)
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=num_agents, obs_mode="both")
    seen = []
    for k, task in enumerate(tasks):
        seen += play(env, task, k, 50)[1]
    # The scenarios must have produced what the test is about: false beliefs at both orders,
    # for items and for tiles.
    for order in (1, 2):
        for kind in ("item_location", "tile"):
            assert (order, kind, True) in seen and (order, kind, False) in seen


def test_chests_side_by_side_rarely_fool_the_second_order():
    # An agent between two chests sees the first one (north, east, south, west); a watcher
    # who never saw a tile next to it cannot tell whether that tile is a chest and takes it
    # for none (the module documents this). Everything else still matches.
    tasks = false_belief_scenarios(6, 7, num_agents=3, close_chests=1.0)
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=3, obs_mode="both")
    hits = total = 0
    for k, task in enumerate(tasks):
        obs, infos = env.reset(seed=k, options={"task": task})
        trackers = {a: BeliefTracker(a) for a in env.agents}
        policies = {a: Wanderer(task, random.Random(k)) for a in env.agents}
        for _ in range(40):
            for a in obs:
                trackers[a].observe(obs[a], infos[a])
                for probe in env.probes(a):
                    ok = trackers[a].answer(probe) == probe.belief
                    assert ok or probe.order == 2, probe
                    hits, total = hits + ok, total + 1
            actions = {a: policies[a].act(obs[a], list(infos[a]["legal_actions"])) for a in obs}
            obs, _, _, _, infos = env.step(actions)
    assert hits / total > 0.99


# --------------------------------------------------------------------------- hand-built
TASK = {  # tests/test_craft_beliefs.py: chest 0 (1, 1) holds the pickaxe, chest 1 (3, 1)
    "goal": "collect dirt",
    "num_agents": 2,
    "layout": ["T0.......", ".C.C.....", ".1......."],
    "chests": [["wooden_pickaxe"], []],
    "events": [
        {"step": 5, "kind": "move", "item": "wooden_pickaxe", "to": 1},
        {"step": 5, "kind": "cut", "x": 0, "y": 0},
    ],
}


def _scripted(env, task, moves):
    """Play a fixed list of action dicts (the whole episode), checking every probe."""
    return play(env, task, 0, len(moves), script=moves)


def _parallel(n=2, **kwargs):
    return pettingzoo.make(
        "parallel", "palaestra/craft-v0", max_agents=n, obs_mode="both", **kwargs
    )


@pytest.mark.parametrize("leaves", [True, False])
def test_the_unseen_move_scene_matches_and_leaves_discrepancies(leaves):
    # agent_1 walks five tiles east (out of view of the chests, the tree and agent_0) before
    # the world moves the pickaxe into chest 1 and cuts the tree at step 5; in the control
    # it stays and sees it all. Then it walks back and looks into chest 1.
    go = EAST if leaves else NOOP
    back = WEST if leaves else NOOP
    moves = [{"agent_0": NOOP, "agent_1": go}] * 5 + [{"agent_0": NOOP, "agent_1": back}] * 3
    env = _parallel()
    trackers, seen = _scripted(env, TASK, moves[:5])
    holder = trackers["agent_0"]
    gaps = holder.discrepancies("agent_0", "agent_1")
    if leaves:
        # agent_0 saw the pickaxe go into chest 1 and the tree cut while agent_1 was away.
        assert gaps == [
            Discrepancy("wooden_pickaxe", "chest 1", "chest 0", "wrong"),
            Discrepancy("0 0", "grass", "tree", "wrong"),
        ]
        assert trackers["agent_1"].discrepancies("agent_1", "agent_0") == []
        assert (2, "item_location", True) in seen and (1, "tile", True) in seen
        text = holder.render()
        assert "wooden_pickaxe in chest 1" in text
        line = next(row for row in text.splitlines() if row.startswith("agent_1 believes"))
        assert "wooden_pickaxe in chest 0" in line and "(0, 0) tree" in line
    else:
        assert gaps == [] and not any(false for *_, false in seen)
    _scripted(env, TASK, moves)  # the walk back matches too


def test_a_watcher_two_tiles_away_knows_the_other_saw_and_it_did_not():
    # agent_1 stands next to chest 0; agent_0, two columns away, sees it but not into the
    # chest, then walks next to the chest.
    task = {"layout": ["...0", ".C..", ".1.."], "num_agents": 2, "goal": "collect dirt"}
    task["chests"] = [["wooden_pickaxe"]]
    env = _parallel()
    trackers, _ = _scripted(env, task, [{"agent_0": NOOP, "agent_1": NOOP}])
    assert trackers["agent_1"].discrepancies("agent_1", "agent_0") == [
        Discrepancy("wooden_pickaxe", "chest 0", "unknown", "ignorant")
    ]
    assert trackers["agent_0"].discrepancies("agent_0", "agent_1") == []  # it knows nothing
    _scripted(env, task, [{"agent_0": WEST, "agent_1": NOOP}, {"agent_0": SOUTH, "agent_1": NOOP}])


def test_a_give_to_an_agent_out_of_view_and_a_change_by_an_unseen_agent():
    task = {
        "goal": "collect dirt",
        "num_agents": 3,
        "layout": ["2.01", "..C.", "...."],
        "chests": [["stone"]],
    }
    idle = {"agent_1": NOOP, "agent_2": NOOP}
    take, give = ACTION_INDEX["take stone"], ACTION_INDEX["give stone"]
    _scripted(_parallel(3), task, [{"agent_0": take, **idle}, {"agent_0": give, **idle}])
    # agent_1 receives and sees agent_2 (5, 0), who sees agent_1 but not the giver (2, 0):
    # a give counts as seen only with the giver in view, so agent_2 learned nothing.
    task = {**task, "layout": ["..01.2..", "..C.....", "........"]}
    trackers, _ = _scripted(
        _parallel(3), task, [{"agent_0": take, **idle}, {"agent_0": give, **idle}]
    )
    assert trackers["agent_1"].belief("stone", ("agent_2",)).value == "unknown"
    assert trackers["agent_1"].belief("stone", ("agent_0",)).value == "agent_1"
    task = {"goal": "collect dirt", "num_agents": 2, "layout": ["0....", "..C1.", "....."]}
    task["chests"] = [["stone"]]
    _scripted(_parallel(2), task, [{"agent_0": NOOP, "agent_1": take}])


def test_a_craft_uses_up_the_tracked_item_and_shows_the_recipe():
    # No trees: the chest's planks are the only ones. agent_0 takes them and crafts sticks
    # while agent_1 watches (both know only what the task gives them).
    task = {"goal": "collect dirt", "num_agents": 2, "layout": ["C0.1", "....", "...."]}
    task.update(chests=[["planks"]], knowledge=[["sticks"], []])
    idle = {"agent_1": NOOP}
    moves = [{"agent_0": ACTION_INDEX["take planks"], **idle}]
    moves.append({"agent_0": ACTION_INDEX["craft sticks"], **idle})
    env = _parallel()
    trackers, _ = _scripted(env, task, moves)
    assert [p.belief for p in env.probes("agent_1")] == ["used", "used"]
    assert trackers["agent_1"].known_recipes("agent_0") == {"sticks"}
    assert trackers["agent_0"].known_recipes("agent_1") == frozenset()


def _single(task):
    env = gym.make("palaestra/Craft-v0", obs_mode="both", task=task)
    obs, info = env.reset(seed=0)
    tracker = BeliefTracker("agent_0")
    tracker.observe(obs, info)
    return env, tracker


def test_single_agent_scenes_between_two_chests_and_from_two_tiles_away():
    item = {"goal": "collect dirt", "chests": [["wooden_pickaxe"], []]}
    env, tracker = _single({"layout": ["C0C", "...", "..."], **item})
    (probe,) = env.unwrapped.probes()
    assert tracker.answer(probe) == probe.belief == "unknown"  # the east chest is shown
    env, tracker = _single({"layout": ["0.C", "...", "..."], **item, "chests": [["stone"]]})
    for _ in range(2):
        (probe,) = env.unwrapped.probes()
        assert tracker.answer(probe) == probe.belief
        obs, _, _, _, info = env.step(EAST)
        tracker.observe(obs, info)
    assert tracker.answer(env.unwrapped.probes()[0]) == "chest 0"


def test_a_long_random_three_agent_rollout_with_talk_off_matches():
    # tests/test_craft_beliefs.py's PerceptionMemory scene: busy legal actions, four moves.
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

    class Busy:
        def __init__(self, task, rng):
            self.rng = rng

        def act(self, obs, legal):
            busy = [a for a in legal if 17 <= a < 41 or 13 <= a < 17]
            return self.rng.choice(busy if busy and self.rng.random() < 0.6 else legal)

    env = _parallel(3)
    answers = set()
    for seed in range(2):
        trackers, seen = play(env, task, seed, 150, policy=Busy)
        answers |= {b.value for t in trackers.values() for b in t.beliefs() if b.key == "table"}
        assert (2, "item_location", True) in seen
    assert "used" in answers  # someone placed the table, and someone saw it


# --------------------------------------------------------------------------- no peeking
def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def test_a_tracker_rebuilt_from_a_json_recording_reaches_the_same_answers():
    task = false_belief_scenarios(1, 3, close_chests=0.0)[0]
    env = _parallel()
    obs, infos = env.reset(seed=3, options={"task": task})
    live = BeliefTracker("agent_1")
    policies = {a: Wanderer(task, random.Random(3)) for a in env.agents}
    frames = []
    for _ in range(40):
        live.observe(obs["agent_1"], infos["agent_1"])
        probes = env.probes("agent_1")
        frames.append(
            {
                "obs": _plain(obs["agent_1"]),
                "info": _plain(infos["agent_1"]),
                "probes": [p.to_dict() for p in probes],
                "live": [live.answer(p) for p in probes],
            }
        )
        actions = {a: policies[a].act(obs[a], list(infos[a]["legal_actions"])) for a in obs}
        obs, _, _, _, infos = env.step(actions)
    recording = json.loads(json.dumps(frames))  # nothing but plain data survives
    replayed = BeliefTracker("agent_1")
    false_beliefs = 0
    for frame in recording:
        observation = {k: v if k == "text" else np.asarray(v) for k, v in frame["obs"].items()}
        replayed.observe(observation, frame["info"])
        for data, live_answer in zip(frame["probes"], frame["live"], strict=True):
            probe = Probe(**{**data, "subjects": tuple(data["subjects"])})
            assert replayed.answer(probe) == live_answer == probe.belief
            false_beliefs += probe.false_belief
    assert false_beliefs > 0


def test_a_new_episode_starts_by_itself_and_text_observations_are_refused():
    env = _parallel()
    trackers, _ = _scripted(env, TASK, [{"agent_0": NOOP, "agent_1": EAST}] * 5)
    tracker = trackers["agent_0"]
    assert tracker.belief("wooden_pickaxe").value == "chest 1"
    obs, infos = env.reset(seed=1, options={"task": TASK})
    tracker.observe(obs["agent_0"], infos["agent_0"])  # time 0: a new episode
    assert tracker.step == 0 and tracker.belief("wooden_pickaxe").value == "chest 0"
    text_env = pettingzoo.make("parallel", "palaestra/craft-v0", obs_mode="text", task=TASK)
    obs, infos = text_env.reset(seed=0)
    with pytest.raises(ValueError, match="obs_mode 'vector' or 'both'"):
        tracker.observe(obs["agent_0"], infos["agent_0"])
    percept = tracker.last_percept
    assert from_json(to_json(percept)) == percept and percept.chest == 0


# --------------------------------------------------------------------------- messages
TALK = {
    # chest 0 (0, 0) holds the pickaxe, next to agent_1 (1, 0); chest 1 (3, 1) is empty;
    # agent_0 (7, 0) is 6 tiles away: in hearing range 8, out of view (radius 2).
    "goal": "collect dirt",
    "num_agents": 2,
    "layout": ["C1.....0", "...C....", "........"],
    "chests": [["wooden_pickaxe"], []],
    "knowledge": {"agent_0": ["planks"], "agent_1": ["sticks"]},
}


def _talk(trust=None):
    env = _parallel()
    obs, infos = env.reset(seed=0, options={"task": TALK})
    trackers = {a: BeliefTracker(a, trust=trust) for a in env.agents}
    script = [
        (NOOP, ACTION_INDEX["take wooden_pickaxe"]),  # unseen by agent_0
        (WEST, EAST),
        (WEST, EAST),  # agent_0 (5, 0) and agent_1 (3, 0) see each other now
        (ACTION_INDEX["say recipe planks"], ACTION_INDEX["say have wooden_pickaxe"]),
        (NOOP, ACTION_INDEX["say need sticks"]),
    ]
    for a in env.agents:
        trackers[a].observe(obs[a], infos[a])
    for zero, one in script:
        obs, _, _, _, infos = env.step({"agent_0": zero, "agent_1": one})
        for a in env.agents:
            trackers[a].observe(obs[a], infos[a])
    return env, trackers


def _probe(env, agent, order):
    return next(p for p in env.probes(agent) if p.order == order)


def test_have_recipe_need_update_told_beliefs_and_both_models_never_perception():
    env, trackers = _talk(trust={"agent_1": 0.25})
    zero, one = trackers["agent_0"], trackers["agent_1"]
    # Perception is untouched: agent_0 never saw the pickaxe; the probes agree.
    for order in (1, 2):
        probe = _probe(env, "agent_0", order)
        assert zero.answer(probe) == probe.belief == "unknown"
    # Told: agent_1 said it has it; agent_0 believes so, with its trust in agent_1.
    told = zero.belief("wooden_pickaxe")
    assert (told.value, told.source, told.confidence) == ("agent_1", "told", 0.25)
    assert zero.answer(_probe(env, "agent_0", 1), use_messages=True) == "agent_1"
    assert zero.belief("wooden_pickaxe", ("agent_1",)).value == "agent_1"  # the speaker's view
    # The speaker's model of its listener: agent_0 heard it, in view and in range.
    assert one.belief("wooden_pickaxe", ("agent_0",)).value == "agent_1"
    assert one.answer(_probe(env, "agent_1", 2)) == _probe(env, "agent_1", 2).belief
    # Recipes: agent_1 learned planks (the world says so), and both trackers know it.
    assert env.unwrapped.world.known[1] >> RECIPE_INDEX["planks"] & 1
    assert {"planks", "sticks"} <= one.known_recipes("agent_1")
    assert "planks" in one.known_recipes("agent_0")
    assert "planks" in zero.known_recipes("agent_1")  # it heard what I said
    assert zero.known_recipes("agent_0") == {"planks"}
    # Needs.
    assert [(d.agent, d.item, d.source) for d in zero.desires("agent_1")] == [
        ("agent_1", "sticks", "told")
    ]
    assert isinstance(zero.desires("agent_1")[0], Desire) and zero.desires("agent_0") == []
    assert [m.text for m in zero.messages] == [
        "recipe planks",
        "have wooden_pickaxe",
        "need sticks",
    ]
    assert "agent_1 needs sticks" in zero.render()


def test_an_observation_later_beats_the_report_and_at_equal_steps():
    env, trackers = _talk()
    zero = trackers["agent_0"]
    assert zero.belief("wooden_pickaxe").value == "agent_1"
    obs, _, _, _, infos = env.step({"agent_0": NOOP, "agent_1": ACTION_INDEX["put wooden_pickaxe"]})
    zero.observe(obs["agent_0"], infos["agent_0"])  # it sees chest 1 (3, 1) take it
    belief = zero.belief("wooden_pickaxe")
    assert (belief.value, belief.source) == ("chest 1", "observed")
    # At equal steps: a report heard in the very step the item is seen stays second.
    obs, _, _, _, infos = env.step({"agent_0": WEST, "agent_1": NOOP})
    obs, _, _, _, infos = env.step({"agent_0": SOUTH, "agent_1": NOOP})  # (4, 1), chest west
    heard = {"type": "message", "from": "agent_1", "text": "have wooden_pickaxe", "verb": "have"}
    info = {**infos["agent_0"], "events": [*infos["agent_0"]["events"], heard]}
    zero.observe(obs["agent_0"], info)
    assert obs["agent_0"]["chest"][6] == 1
    assert zero.belief("wooden_pickaxe").value == "chest 1"


def test_an_unparsable_message_is_kept_unparsed():
    env = _parallel()
    obs, infos = env.reset(seed=0, options={"task": TALK})
    tracker = BeliefTracker("agent_0")
    odd = {"type": "message", "from": "agent_1", "text": "hello there", "verb": "need"}
    tracker.observe(obs["agent_0"], {**infos["agent_0"], "events": [odd]})
    (message,) = tracker.messages
    assert (message.parsed, message.verb, message.text) == (False, None, "hello there")
    assert tracker.desires("agent_1") == []


# --------------------------------------------------------------------------- bad input
def test_bad_input_is_refused_with_a_clear_error():
    for name in ("bob", "agent_4", None):
        with pytest.raises(ValueError, match="agent_0, agent_1, agent_2, agent_3"):
            BeliefTracker(name)
    for order in (0, 3, True):
        with pytest.raises(ValueError, match="max_order"):
            BeliefTracker("agent_0", max_order=order)
    with pytest.raises(ValueError, match="trust"):
        BeliefTracker("agent_0", trust={"agent_1": 1.5})
    with pytest.raises(ValueError, match="default_trust"):
        BeliefTracker("agent_0", default_trust=-0.1)
    env = _parallel()
    trackers, _ = _scripted(env, TASK, [{"agent_0": NOOP, "agent_1": NOOP}])
    tracker = trackers["agent_0"]
    other = env.probes("agent_1")[0]
    with pytest.raises(ValueError, match=r"'agent_1'.*allowed: 'agent_0'"):
        tracker.answer(other)
    probe = env.probes("agent_0")[1]
    with pytest.raises(ValueError, match="unknown probe kind 'smell'"):
        tracker.answer(Probe("?", "smell", 1, ("agent_0",), "wood", "x", "x"))
    with pytest.raises(ValueError, match="agent_7"):
        tracker.answer(Probe("?", "tile", 2, ("agent_0", "agent_7"), "0 0", "x", "x"))
    first_only = BeliefTracker("agent_0", max_order=1)
    with pytest.raises(ValueError, match=r"\('agent_0', 'agent_1'\).*max_order is 1"):
        first_only.answer(probe)
    with pytest.raises(ValueError, match=r"order 3.*max_order is 2"):
        tracker.belief("wooden_pickaxe", ("agent_1", "agent_0"))
    with pytest.raises(ValueError, match="max_order is 1"):
        first_only.discrepancies("agent_0", "agent_1")
    with pytest.raises(ValueError, match="unknown belief key"):
        tracker.belief("gold")
    for method in (tracker.known_recipes, tracker.desires, tracker.last_seen):
        with pytest.raises(ValueError, match="agent_9"):
            method("agent_9")
    with pytest.raises(ValueError, match="obs_mode"):
        tracker.observe("craft-v0 text/1 | agent_0", {})
