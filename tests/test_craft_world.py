"""Craft's rules on hand-made layouts: views, gathering, recipes, tables, chests, giving,
talking, simultaneous moves, the task space, the map generator and the predicates.

Every expected value is worked out by hand from the layout and the documented rules
(recipes in the env docstring, action indices in ``vocabulary.PRIMITIVE_ACTIONS``' table).
"""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.craft import (
    CRAFT_SOLO_TASK_SPACE,
    CRAFT_TASK_SPACE,
    PRIMITIVE_ACTIONS,
    evaluate_predicate,
    parse_predicate,
    requirements,
)

# Action indices from the documented table.
NOOP, NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3, 4
COLLECT_WOOD, COLLECT_DIRT, MINE_STONE = 5, 6, 7
CRAFT_PLANKS, CRAFT_STICKS, CRAFT_TABLE, CRAFT_WOODEN_PICKAXE = 8, 9, 10, 11
PLACE_NORTH = 13
TAKE_STONE, TAKE_WOODEN_PICKAXE = 25 + 2, 25 + 6
GIVE_STONE = 33 + 2
SAY_HAVE_STONE, SAY_RECIPE_PLANKS, SAY_AT, SAY_GO_TREE = 49 + 2, 57, 62, 63


def solo(layout, **task):
    env = gym.make("palaestra/Craft-v0", illegal_action="raise", task={"layout": layout, **task})
    obs, info = env.reset(seed=0)
    return env, obs, info


def duo(layout, **task):
    env = pettingzoo.make("parallel", "palaestra/craft-v0", task={"layout": layout, **task})
    observations, infos = env.reset(seed=0)
    return env, observations, infos


def test_action_table():
    assert len(PRIMITIVE_ACTIONS) == 68
    expected = {
        0: "noop",
        1: "move north",
        4: "move west",
        5: "collect wood",
        7: "mine stone",
        8: "craft planks",
        12: "craft stone_pickaxe",
        13: "place table north",
        17: "put wood",
        25: "take wood",
        31: "take wooden_pickaxe",
        33: "give wood",
        41: "say need wood",
        49: "say have wood",
        57: "say recipe planks",
        62: "say at",
        63: "say go tree",
        67: "say go chest",
    }
    for index, text in expected.items():
        assert PRIMITIVE_ACTIONS[index] == text


def test_requirements_worked_by_hand():
    # wooden_pickaxe: planks 1 + sticks 2 (1 plank) + table (3 planks) = 5 planks = 3 wood.
    raw, recipes, table = requirements("craft wooden_pickaxe")
    assert raw == {"wood": 3} and table
    assert recipes == {"planks", "sticks", "table", "wooden_pickaxe"}
    # stone_pickaxe: 2 stone + 2 sticks (1 plank) + the pickaxe's 5 planks = 6 planks = 3 wood.
    raw, recipes, _ = requirements("craft stone_pickaxe")
    assert raw == {"wood": 3, "stone": 2} and len(recipes) == 5
    assert requirements("mine stone")[0] == {"wood": 3, "stone": 1}
    assert requirements("craft table") == ({"wood": 2}, frozenset({"planks", "table"}), False)
    assert requirements("craft sticks")[0] == {"wood": 1}
    assert requirements("collect dirt") == ({"dirt": 1}, frozenset(), False)


def test_first_view_and_text_of_a_hand_layout():
    env, obs, info = solo(["T0d", "S.~", "..."])
    assert obs["position"].tolist() == [1, 0]
    assert obs["view"][0].tolist() == [
        [0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0],
        [0, 2, 1, 3, 0],
        [0, 4, 1, 5, 0],
        [0, 1, 1, 1, 0],
    ]
    assert obs["view"][1].sum() == 1 and obs["view"][1, 2, 2] == 1
    assert info["legal_actions"] == {
        0: "noop",
        3: "move south",
        5: "collect wood",
        6: "collect dirt",
    }
    text = env.unwrapped.text_view("agent_0").split("\n")
    assert text[1] == "you are at (1, 0); inventory: nothing"
    assert text[4:] == ["#####", "#####", "#T@d#", "#S.~#", "#...#"]


def test_gather_then_craft_planks():
    env, obs, _ = solo(["T0d", "S.~", "..."], goal="craft planks")
    obs, reward, terminated, _, info = env.step(COLLECT_WOOD)
    assert reward == pytest.approx(0.1)  # wood is on the way to planks
    assert obs["inventory"].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert obs["view"][0, 2, 1] == 1  # the tree became grass
    assert [e["type"] for e in info["events"]] == ["tile", "inventory", "action"]
    assert info["events"][0] == {
        "type": "tile",
        "x": 0,
        "y": 0,
        "before": "tree",
        "after": "grass",
        "cause": "agent_0",
    }
    assert CRAFT_PLANKS in info["legal_actions"] and COLLECT_WOOD not in info["legal_actions"]
    obs, reward, terminated, truncated, info = env.step(CRAFT_PLANKS)
    assert obs["inventory"].tolist() == [0, 0, 0, 2, 0, 0, 0, 0]
    assert reward == pytest.approx(1.0) and terminated and not truncated
    assert info["success"] is True and info["end_reason"] == "success"
    assert info["milestones"] == ["wood"] and info["steps"] == 2


def test_wooden_pickaxe_needs_a_placed_table():
    env, obs, _ = solo(["TTT", "T0T", "..."])
    total = 0.0
    plan = [COLLECT_WOOD] * 3 + [CRAFT_PLANKS] * 3 + [CRAFT_STICKS, CRAFT_TABLE]
    for action in plan:
        obs, reward, terminated, _, info = env.step(action)
        total += reward
    # 3 wood -> 6 planks; sticks use 1, the table 3: 2 planks, 2 sticks, 1 table.
    assert obs["inventory"].tolist() == [0, 0, 0, 2, 2, 1, 0, 0]
    assert CRAFT_WOODEN_PICKAXE not in info["legal_actions"]
    assert {13, 14, 15, 16} <= set(info["legal_actions"])  # every neighbour is grass now
    obs, reward, terminated, _, info = env.step(PLACE_NORTH)
    total += reward
    assert obs["view"][0, 1, 2] == 6 and obs["inventory"][5] == 0
    assert CRAFT_WOODEN_PICKAXE in info["legal_actions"]
    obs, reward, terminated, _, info = env.step(CRAFT_WOODEN_PICKAXE)
    total += reward
    assert terminated and info["success"]
    assert obs["inventory"].tolist() == [0, 0, 0, 1, 0, 0, 1, 0]
    # Milestones wood, planks, sticks, table (0.1 each), then success (1).
    assert total == pytest.approx(1.4)
    assert info["milestones"] == ["wood", "planks", "sticks", "table"]


def test_unknown_recipes_cannot_be_crafted():
    env, obs, info = solo(
        ["TTT", "T0T", "..."], goal="craft table", knowledge=[["planks", "table"]]
    )
    assert obs["knowledge"].tolist() == [1, 0, 1, 0, 0]
    env.step(COLLECT_WOOD)
    obs, *_, info = env.step(CRAFT_PLANKS)
    assert CRAFT_STICKS not in info["legal_actions"]
    with pytest.raises(ValueError, match="craft sticks"):
        env.step(CRAFT_STICKS)


def test_mining_needs_a_pickaxe_from_the_chest():
    env, obs, info = solo(["S0C", "...", "..."], goal="mine stone", chests=[["wooden_pickaxe"]])
    assert obs["chest"].tolist() == [0, 0, 0, 0, 0, 0, 1, 0]
    assert info["legal_actions"] == {0: "noop", 3: "move south", 31: "take wooden_pickaxe"}
    probe = env.unwrapped.probes()[0]
    assert (probe.text, probe.reality, probe.belief) == (
        "where does agent_0 think the wooden_pickaxe is?",
        "chest 0",
        "chest 0",
    )
    obs, reward, *_, info = env.step(TAKE_WOODEN_PICKAXE)
    assert reward == pytest.approx(0.1) and obs["chest"].tolist() == [0] * 8
    assert MINE_STONE in info["legal_actions"]
    assert env.unwrapped.probes()[0].answers == {"reality": "agent_0", "belief": "agent_0"}
    obs, reward, terminated, _, info = env.step(MINE_STONE)
    assert terminated and info["success"] and obs["inventory"][2] == 1


def test_give_and_what_both_agents_witness():
    env, obs, infos = duo(["01.", "C..", "..."], goal="collect dirt", chests=[["stone"]])
    env.step({"agent_0": TAKE_STONE, "agent_1": NOOP})
    obs, _, _, _, infos = env.step({"agent_0": GIVE_STONE, "agent_1": NOOP})
    assert obs["agent_0"]["inventory"][2] == 0 and obs["agent_1"]["inventory"][2] == 1
    give = {"type": "give", "from": "agent_0", "to": "agent_1", "item": "stone"}
    for agent in ("agent_0", "agent_1"):
        assert give in infos[agent]["events"]
    assert {"type": "inventory", "item": "stone", "change": 1} in infos["agent_1"]["events"]
    assert {"type": "inventory", "item": "stone", "change": -1} in infos["agent_0"]["events"]
    assert SAY_HAVE_STONE in infos["agent_1"]["legal_actions"]
    assert SAY_HAVE_STONE not in infos["agent_0"]["legal_actions"]
    for agent in ("agent_0", "agent_1"):
        for probe in env.probes(agent):
            assert probe.reality == probe.belief == "agent_1"


def test_messages_teach_recipes_and_fill_the_observation():
    knowledge = {"agent_0": ["planks"], "agent_1": ["sticks", "table", "wooden_pickaxe"]}
    env, obs, infos = duo(["01.", "...", "..."], knowledge=knowledge)
    assert obs["agent_1"]["knowledge"].tolist() == [0, 1, 1, 1, 0]
    assert SAY_RECIPE_PLANKS in infos["agent_0"]["legal_actions"]
    assert SAY_RECIPE_PLANKS not in infos["agent_1"]["legal_actions"]
    assert SAY_GO_TREE not in infos["agent_0"]["legal_actions"]  # no tree in view
    obs, rewards, _, _, infos = env.step({"agent_0": SAY_RECIPE_PLANKS, "agent_1": SAY_AT})
    assert obs["agent_1"]["knowledge"].tolist() == [1, 1, 1, 1, 0]
    assert obs["agent_1"]["messages"][0].tolist() == [1, 3, 1, -1, -1, 0, 0]
    assert obs["agent_0"]["messages"][0].tolist() == [2, 4, 0, 1, 0, 1, 0]
    assert obs["agent_0"]["messages"][1].tolist() == [0, 0, 0, -1, -1, -1, -1]
    heard = [e for e in infos["agent_1"]["events"] if e["type"] in ("message", "learned")]
    assert heard == [
        {
            "type": "message",
            "from": "agent_0",
            "text": "recipe planks",
            "verb": "recipe",
            "speaker_x": 0,
            "speaker_y": 0,
        },
        {"type": "learned", "recipe": "planks", "from": "agent_0"},
    ]
    assert "heard agent_1 at (1, 0): at 1 0" in env.unwrapped.text_view("agent_0")
    assert rewards == {"agent_0": 0.0, "agent_1": 0.0}


@pytest.mark.parametrize(("hearing", "heard"), [(3, False), (4, True)])
def test_hearing_range(hearing, heard):
    env, *_ = duo(["0...1", ".....", "....T"], hearing_range=hearing)
    obs, *_ = env.step({"agent_0": SAY_AT, "agent_1": SAY_GO_TREE})
    # agent_1 at (4, 0) sees the tree at (4, 2): "go 4 2"; the agents are 4 apart.
    assert bool(obs["agent_0"]["messages"][0, 0] == 2) is heard
    assert bool(obs["agent_1"]["messages"][0, 0] == 1) is heard
    if heard:
        assert obs["agent_0"]["messages"][0].tolist() == [2, 5, 0, 4, 2, 4, 0]


def test_say_is_masked_when_talk_is_off_or_alone():
    _, _, infos = duo(["01.", "...", "..."], talk="off")
    assert max(infos["agent_0"]["legal_actions"]) < 41
    _, _, info = solo(["0..", "...", "..."])
    assert max(info["legal_actions"]) < 41


def test_simultaneous_moves_into_one_tile():
    env, *_ = duo(["0.1", "...", "..."])
    obs, rewards, _, _, infos = env.step({"agent_0": EAST, "agent_1": WEST})
    assert obs["agent_0"]["position"].tolist() == [1, 0]
    assert obs["agent_1"]["position"].tolist() == [2, 0]
    failed = [e for e in infos["agent_1"]["events"] if e.get("agent") == "agent_1"]
    assert failed == [
        {"type": "action", "agent": "agent_1", "action": "move west", "ok": False, "x": 2, "y": 0}
    ]
    assert rewards["agent_1"] == 0.0 and infos["agent_1"]["invalid_action"] is False
    assert obs["agent_0"]["view"][1, 2, 3] == 2  # agent_1 right of agent_0


def test_knowledge_split_and_difficulty_by_hand():
    task = CRAFT_TASK_SPACE.validate({"num_agents": 2, "knowledge": "split"})
    assert task["knowledge"] == [["planks", "table", "stone_pickaxe"], ["sticks", "wooden_pickaxe"]]
    easy = {"goal": "collect wood", "resources": 0.4, "size": 5, "water": 0.0}
    assert CRAFT_SOLO_TASK_SPACE.difficulty(easy) == pytest.approx(0.0)
    hard = {"goal": "craft stone_pickaxe", "resources": 0.05, "size": 16, "water": 0.3}
    hard["events"] = [{"step": s, "kind": "cut"} for s in (1, 2, 3)]
    # depth 3 + scarcity 1.5 + size 1 + water 0.5 + events 0.5, over weights 8.
    assert CRAFT_SOLO_TASK_SPACE.difficulty(hard) == pytest.approx(6.5 / 8)
    assert CRAFT_TASK_SPACE.validate(task) == task  # validating twice changes nothing


def test_task_sampling_is_seeded_and_valid():
    a = [CRAFT_TASK_SPACE.sample(np.random.default_rng(4)) for _ in range(3)]
    b = [CRAFT_TASK_SPACE.sample(np.random.default_rng(4)) for _ in range(3)]
    assert a == b
    for task in a:
        assert CRAFT_TASK_SPACE.validate(task) == task
        assert len(task["knowledge"]) == task["num_agents"]


def _grass_connected(tiles: np.ndarray) -> bool:
    cells = {tuple(c) for c in np.argwhere(tiles == 1)}
    start = next(iter(cells))
    seen, queue = {start}, deque([start])
    while queue:
        y, x = queue.popleft()
        for q in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if q in cells and q not in seen:
                seen.add(q)
                queue.append(q)
    return seen == cells


def test_random_maps_keep_grass_connected_and_what_is_needed_reachable():
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=4)
    rng = np.random.default_rng(9)
    for k in range(60):
        task = CRAFT_TASK_SPACE.sample(rng)
        task["chests"] = [["wood"], ["stone"]][: k % 3]
        env.reset(seed=k, options={"task": task})
        world = env.unwrapped.world
        r = world.radius
        tiles = world.planes[0, r : r + world.height, r : r + world.width]
        assert tiles.shape == (task["size"], task["size"])
        assert _grass_connected(tiles)
        starts = list(zip(world.xs, world.ys, strict=True))
        assert len(set(starts)) == task["num_agents"]
        assert all(tiles[y, x] == 1 for x, y in starts)
        padded = np.pad(tiles, 1)
        near_grass = np.zeros_like(padded, dtype=bool)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            near_grass |= np.roll(np.roll(padded == 1, dy, 0), dx, 1)
        near_grass = near_grass[1:-1, 1:-1]
        for x, y in world.chest_xy:
            assert near_grass[y, x]
        for item, count in requirements(task["goal"])[0].items():
            code = {"wood": 2, "dirt": 3, "stone": 4}[item]
            assert np.count_nonzero((tiles == code) & near_grass) >= count


def test_predicates():
    env, obs, _ = solo(["T0d", "S.~", "..."])
    assert evaluate_predicate(obs, "sees(tree)") and evaluate_predicate(obs, "sees(water)")
    assert not evaluate_predicate(obs, "sees(chest)")
    assert not evaluate_predicate(obs, "sees(agent)")
    assert evaluate_predicate(obs, "near(dirt)") and evaluate_predicate(obs, "near(tree)")
    assert not evaluate_predicate(obs, "near(stone)")  # diagonal is not adjacent
    assert evaluate_predicate(obs, "at(1, 0)") and not evaluate_predicate(obs, ("at", 0, 1))
    assert evaluate_predicate(obs, "knows(planks)")
    assert not evaluate_predicate(obs, "has(wood)")
    obs, *_ = env.step(COLLECT_WOOD)
    assert evaluate_predicate(obs, ("has", "wood"))
    assert not evaluate_predicate(obs, "near(tree)")
    assert parse_predicate(" at( 3 ,4 ) ") == ("at", (3, 4))
    for bad in ("fly(x)", "has(diamond)", "at(1)", "at(a, b)", "has wood", 7):
        with pytest.raises(ValueError):
            parse_predicate(bad)
    with pytest.raises(ValueError, match="vector observation"):
        evaluate_predicate("a text view", "has(wood)")


def test_every_legal_action_succeeds_for_the_first_agent():
    # The first agent acts first, and the others only wait, so nothing can get in its way:
    # an action the mask allows must then have its effect ("ok" in its own action event).
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=3, max_cycles=150)
    rng = np.random.default_rng(2)
    used = set()
    for k in range(12):
        task = {**CRAFT_TASK_SPACE.sample(rng), "size": 6, "resources": 0.4}
        task["num_agents"] = 1 + k % 3
        task["knowledge"] = None
        task["chests"] = [["wood", "planks"], ["sticks", "stone"]]
        _, infos = env.reset(seed=k, options={"task": task})
        while env.agents:
            legal = sorted(infos["agent_0"]["legal_actions"])
            action = legal[int(rng.integers(len(legal)))]
            used.add(action)
            actions = dict.fromkeys(env.agents, NOOP)
            actions["agent_0"] = action
            *_, infos = env.step(actions)
            own = [e for e in infos["agent_0"]["events"] if e.get("agent") == "agent_0"]
            assert own[0]["ok"] is True, own
    verbs = {PRIMITIVE_ACTIONS[a].split()[0] for a in used}
    assert verbs >= {"move", "collect", "craft", "put", "take", "give", "say"}


def test_the_mask_allows_exactly_the_actions_that_would_have_their_effect():
    # For the first agent (it acts first, so nothing gets in its way), an action is legal
    # if and only if the world, carrying it out on a copy, reports its effect ("ok") --
    # except that the mask also refuses every say action when talking is off and a recipe
    # the agent does not know (the world would say anything). Over many random steps.
    import copy

    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=3, max_cycles=40)
    rng = np.random.default_rng(11)
    steps = 0
    allowed = set()
    for k in range(16):
        task = {**CRAFT_TASK_SPACE.sample(rng), "size": 6, "resources": 0.4}
        task["num_agents"] = 1 + k % 3
        task["knowledge"] = None if k % 2 else "split"
        task["chests"] = [["wood", "planks", "table"], ["sticks", "stone", "wooden_pickaxe"]]
        if k % 4 == 0:  # a pickaxe to take, then stone to mine, next to the chest
            task.update(layout=["S0CT", "d..S", ".1.2"], num_agents=3, talk="on")
            task["chests"] = [["wooden_pickaxe", "planks"]]
        obs, infos = env.reset(seed=k, options={"task": task})
        world = env.unwrapped.world
        while env.agents:
            mask = obs["agent_0"]["action_mask"]
            for action, text in enumerate(PRIMITIVE_ACTIONS):
                ok = copy.deepcopy(world).act(0, action)
                if text.startswith("say "):
                    ok = ok and world.talk
                if text.startswith("say recipe "):
                    ok = ok and bool(world.known[0] >> (action - SAY_RECIPE_PLANKS) & 1)
                assert bool(mask[action]) == ok, (k, steps, text)
            allowed.update(np.flatnonzero(mask).tolist())
            legal = sorted(infos["agent_0"]["legal_actions"])
            actions = {a: int(rng.choice(sorted(infos[a]["legal_actions"]))) for a in env.agents}
            actions["agent_0"] = legal[int(rng.integers(len(legal)))]
            obs, _, _, _, infos = env.step(actions)
            steps += 1
    assert steps > 300
    verbs = {PRIMITIVE_ACTIONS[a].split()[0] for a in allowed}
    assert verbs >= {"move", "collect", "mine", "craft", "place", "put", "take", "give", "say"}


def test_a_cut_at_given_coordinates_leaves_a_random_map_solvable():
    # Seed 0 draws a 5 x 5 map whose only tree is at (4, 0) when the cut is not counted. Every
    # cut, with coordinates or without, must come with a spare tree: at least 1 + 1 reachable
    # trees, of which the cut removes at most one.
    task = {"goal": "collect wood", "size": 5, "resources": 0.05, "water": 0.0}
    task["events"] = [{"step": 1, "kind": "cut", "x": 4, "y": 0}]
    env = gym.make("palaestra/Craft-v0", task=task)
    for seed in range(10):
        env.reset(seed=seed)
        env.step(NOOP)
        world = env.unwrapped.world
        near = ((0, 1), (0, -1), (1, 0), (-1, 0))
        trees = [
            (x, y)
            for y in range(5)
            for x in range(5)
            if world.tile(x, y) == 2 and any(world.tile(x + a, y + b) == 1 for a, b in near)
        ]
        assert trees, seed
    # So they take room: 3 wood + 2 stone + 6 cuts is more than the 4 * 3 - 2 = 10 tiles.
    cuts = [{"step": 1, "kind": "cut", "x": x, "y": 0} for x in range(5)]
    cuts.append({"step": 1, "kind": "cut", "x": 0, "y": 1})
    with pytest.raises(ValueError, match="5 resources, 6 cut tree"):
        CRAFT_SOLO_TASK_SPACE.validate({"goal": "craft stone_pickaxe", "size": 5, "events": cuts})
