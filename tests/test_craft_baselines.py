"""Craft's scripted players: the planner solves every generated task, talking teammates
succeed only when they can talk, and the random agent is seeded and legal."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents.craft_baselines import CooperativeCrafter, CraftPlanner, RandomCraftAgent
from palaestra.envs.craft import CRAFT_SOLO_TASK_SPACE
from palaestra.envs.craft.vocabulary import GOALS


def _play(env, planner, task, seed):
    obs, _ = env.reset(seed=seed, options={"task": task})
    planner.reset()
    while True:
        obs, _, terminated, truncated, info = env.step(planner.act(obs))
        if terminated or truncated:
            return info


@pytest.mark.parametrize("goal", GOALS)
def test_planner_solves_100_random_tasks_per_goal(goal):
    env = gym.make("palaestra/Craft-v0", illegal_action="raise")
    planner = CraftPlanner(env)
    rng = np.random.default_rng(GOALS.index(goal))
    for k in range(100):
        task = {**CRAFT_SOLO_TASK_SPACE.sample(rng), "goal": goal}
        info = _play(env, planner, task, seed=k)
        assert info["success"], (task, k)
        assert info["invalid_actions"] == 0


@pytest.mark.parametrize("goal", ["craft wooden_pickaxe", "craft stone_pickaxe"])
def test_planner_with_chests_and_cut_trees(goal):
    env = gym.make("palaestra/Craft-v0", illegal_action="raise")
    planner = CraftPlanner(env)
    rng = np.random.default_rng(3)
    for k in range(25):
        task = {**CRAFT_SOLO_TASK_SPACE.sample(rng), "goal": goal}
        task["chests"] = [["planks"], ["sticks", "stone"]]
        task["events"] = [{"step": 2, "kind": "cut"}, {"step": 9, "kind": "cut"}]
        assert _play(env, planner, task, seed=k)["success"], (task, k)


# agent_1 is on an island it cannot leave, within earshot of agent_0 (5 tiles).
ISLAND = ["TT....~~~", "T.0...~1~", "TT....~~~"]
KNOWLEDGE = {"agent_0": ["planks", "sticks", "table"], "agent_1": ["wooden_pickaxe"]}


def _team(talk_allowed: bool, agents_talk: bool = True):
    task = {
        "goal": "craft wooden_pickaxe",
        "num_agents": 2,
        "layout": ISLAND,
        "knowledge": KNOWLEDGE,
        "talk": "on" if talk_allowed else "off",
    }
    env = pettingzoo.make("parallel", "palaestra/craft-v0", task=task, max_cycles=120)
    obs, infos = env.reset(seed=0)
    team = {a: CooperativeCrafter(env, a, talk=agents_talk) for a in env.agents}
    said = []
    while env.agents:
        actions = {a: team[a].act(obs[a]) for a in env.agents}
        said += [infos[a]["legal_actions"][act] for a, act in actions.items() if act >= 41]
        obs, _, _, _, infos = env.step(actions)
    return infos["agent_0"], said


def test_teammates_succeed_when_they_talk():
    info, said = _team(talk_allowed=True)
    assert info["success"] and info["steps"] < 120
    assert "say need wooden_pickaxe" in said and "say recipe wooden_pickaxe" in said


def test_teammates_fail_when_say_is_disabled():
    info, said = _team(talk_allowed=False)
    assert not info["success"] and info["steps"] == 120 and said == []
    info, said = _team(talk_allowed=True, agents_talk=False)
    assert not info["success"] and said == []


def test_random_agent_is_seeded_and_legal():
    def run(seed):
        env = gym.make("palaestra/Craft-v0", illegal_action="raise", obs_mode="both")
        agent = RandomCraftAgent(seed)
        obs, info = env.reset(seed=0)
        actions = []
        for t in range(200):
            action = agent.act(obs) if t % 2 else agent.act(obs["text"], info)
            assert action in info["legal_actions"]
            actions.append(action)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                obs, info = env.reset()
        return actions

    first = run(1)
    assert first == run(1)
    assert first != run(2)
    assert len(set(first)) > 5


def test_random_agent_reseeds_in_reset_and_needs_legal_actions_for_text():
    env = gym.make("palaestra/Craft-v0", obs_mode="both")
    obs, info = env.reset(seed=0)
    agent = RandomCraftAgent(5)
    first = [agent.act(obs, info) for _ in range(30)]
    agent.reset(seed=5)
    assert [agent.act(obs, info) for _ in range(30)] == first
    agent.reset()  # no seed: keeps drawing
    assert [agent.act(obs, info) for _ in range(30)] != first
    assert all(a in info["legal_actions"] for a in first)
    with pytest.raises(ValueError, match="legal_actions"):
        agent.act(obs["text"])
