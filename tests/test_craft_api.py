"""The environment contract of ``palaestra/Craft-v0`` (Gymnasium) and ``palaestra/craft-v0``
(PettingZoo Parallel): API checkers, determinism, vector envs with text, bad input.

Expected values come from the documented contract (the env docstrings and DESIGN.md): 68
actions with ``noop`` at 0, the observation keys and shapes for view radius 2 (a 5 x 5
window), the ``craft-v0 text/1`` tag, ``penalize`` as the Gymnasium default and ``raise`` as
the PettingZoo default.
"""

from __future__ import annotations

import math
import random

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.craft.craft_env import CraftEnv
from palaestra.envs.craft.craft_parallel import CraftParallelEnv

GYM_ID = "palaestra/Craft-v0"
PZ_ID = "palaestra/craft-v0"
N_ACTIONS = 68
OBS_KEYS = {
    "view",
    "inventory",
    "position",
    "knowledge",
    "chest",
    "messages",
    "goal",
    "time",
    "action_mask",
}


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


# ------------------------------------------------------------------------------ checkers
@pytest.mark.parametrize("obs_mode", ["vector", "text", "both"])
def test_gymnasium_check_env(obs_mode):
    env = gym.make(GYM_ID, obs_mode=obs_mode, render_mode="ansi")
    check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("agents", [1, 2, 4])
def test_pettingzoo_parallel_api(agents):
    env = pettingzoo.make(
        "parallel", PZ_ID, max_agents=agents, task={"num_agents": agents, "size": 6}
    )
    parallel_api_test(env, num_cycles=400)
    assert env.possible_agents == [f"agent_{i}" for i in range(agents)]


def test_spaces_and_first_observation():
    env = gym.make(GYM_ID, obs_mode="both")
    obs, info = env.reset(seed=3)
    assert env.action_space == gym.spaces.Discrete(N_ACTIONS)
    assert set(obs) == OBS_KEYS | {"text"}
    assert obs["view"].shape == (2, 5, 5) and obs["view"][1, 2, 2] == 1  # agent_0 at the centre
    assert obs["inventory"].tolist() == [0] * 8
    assert obs["time"].tolist() == [0.0]
    assert obs["goal"].tolist() == [0, 0, 0, 0, 0, 1, 0, 0]  # default goal: wooden_pickaxe
    assert obs["knowledge"].tolist() == [1] * 5
    assert obs["messages"][:, 0].tolist() == [0, 0, 0]
    assert obs["text"].startswith("craft-v0 text/1 | agent_0 | step 0/300")
    assert sorted(info["legal_actions"]) == np.flatnonzero(obs["action_mask"]).tolist()
    assert info["legal_actions"][0] == "noop" and info["events"] == []
    assert 0.0 <= info["difficulty"] <= 1.0
    assert env.render_mode is None and env.unwrapped.render() is None


def test_legal_actions_match_the_mask_and_arrays_are_fresh():
    env = gym.make(GYM_ID, obs_mode="both", illegal_action="raise")
    obs, info = env.reset(seed=5)
    rng = random.Random(0)
    previous = obs
    for _ in range(300):
        legal = np.flatnonzero(obs["action_mask"]).tolist()
        assert sorted(info["legal_actions"]) == legal
        assert info["legal_actions"][0] == "noop"
        obs, reward, terminated, truncated, info = env.step(rng.choice(legal))
        assert isinstance(terminated, bool) and isinstance(truncated, bool)
        assert isinstance(reward, float)
        for key in OBS_KEYS:
            assert not np.shares_memory(obs[key], previous[key])
        assert info["invalid_action"] is False
        previous = obs
        if terminated or truncated:
            obs, info = env.reset()


def test_ansi_render_is_the_text_view():
    env = gym.make(GYM_ID, render_mode="ansi", obs_mode="text")
    obs, _ = env.reset(seed=1)
    assert env.render() == obs
    assert "\n" in obs and len(obs) < 1536
    assert all(c.isprintable() or c == "\n" for c in obs)
    par = pettingzoo.make("parallel", PZ_ID, render_mode="ansi", obs_mode="text")
    observations, _ = par.reset(seed=1)
    assert par.render() == observations["agent_0"] + "\n\n" + observations["agent_1"]


# ------------------------------------------------------------------------------ determinism
def _gym_run(seed: int, episodes: int, mode: str):
    env = gym.make(GYM_ID, obs_mode=mode, max_steps=40, task={"size": 6})
    rng = random.Random(seed)
    trace = []
    obs, info = env.reset(seed=seed)
    trace.append((obs, info))
    done = 0
    while done < episodes:
        action = rng.choice([*sorted(info["legal_actions"]), rng.randrange(N_ACTIONS)])
        obs, reward, terminated, truncated, info = env.step(action)
        trace.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            done += 1
            obs, info = env.reset()
            trace.append((obs, info))
    return trace


@pytest.mark.parametrize("mode", ["vector", "both"])
def test_same_seed_same_actions_same_episodes(mode):
    a, b = _gym_run(7, 3, mode), _gym_run(7, 3, mode)
    assert len(a) == len(b) > 120
    for x, y in zip(a, b, strict=True):
        assert _equal(x, y)
    c = _gym_run(8, 3, mode)
    assert not _equal(a[0][0], c[0][0])  # another seed, another map


def test_parallel_same_seed_same_actions_same_episodes():
    def run():
        env = pettingzoo.make("parallel", PZ_ID, max_agents=3, max_cycles=30, obs_mode="both")
        rng = random.Random(1)
        trace = []
        for episode in range(3):
            obs, infos = env.reset(seed=11 if episode == 0 else None)
            trace.append((obs, infos))
            while env.agents:
                actions = {a: rng.choice(sorted(infos[a]["legal_actions"])) for a in env.agents}
                result = env.step(actions)
                obs, infos = result[0], result[4]
                trace.append(result)
        return trace

    a, b = run(), run()
    assert len(a) == len(b) > 30
    for x, y in zip(a, b, strict=True):
        assert _equal(x, y)


# ------------------------------------------------------------------------------ vector envs
def test_text_observations_survive_async_vector_envs():
    kwargs = {"obs_mode": "text", "max_steps": 10}
    envs = gym.make_vec(
        GYM_ID,
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"shared_memory": False},
        **kwargs,
    )
    singles = [gym.make(GYM_ID, **kwargs) for _ in range(2)]
    try:
        vec_obs, _ = envs.reset(seed=20)
        results = [env.reset(seed=20 + i) for i, env in enumerate(singles)]
        assert tuple(vec_obs) == tuple(obs for obs, _ in results)
        rng = random.Random(0)
        ended = [False, False]
        for _ in range(25):
            actions = []
            for i, env in enumerate(singles):
                if ended[i]:  # the vector env resets this one during this step
                    results[i] = env.reset()
                    ended[i] = False
                    actions.append(0)
                    continue
                action = rng.choice(sorted(results[i][1]["legal_actions"]))
                obs, _, terminated, truncated, info = env.step(action)
                results[i] = (obs, info)
                ended[i] = terminated or truncated
                actions.append(action)
            vec_obs, *_ = envs.step(np.array(actions))
            assert tuple(vec_obs) == tuple(obs for obs, _ in results)
        envs.call("set_task", {"goal": "collect dirt"})
        vec_obs, _ = envs.reset(seed=3)
        assert all("goal: collect dirt" in text for text in vec_obs)
    finally:
        envs.close()


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("task", "words"),
    [
        ({"colour": "red"}, "unknown craft task key 'colour'"),
        ({"size": 30}, "task key 'size'"),
        ({"size": 6.5}, "task key 'size'"),
        ({"resources": 0.9}, "task key 'resources'"),
        ({"goal": "craft diamond"}, "task key 'goal'"),
        ({"num_agents": 2}, "task key 'num_agents'"),
        ({"knowledge": ["planks"]}, "task key 'knowledge'"),
        ({"knowledge": {"agent_7": ["planks"]}}, "agent_7"),
        ({"knowledge": {"agent_0": ["diamond"]}}, "diamond"),
        ({"knowledge": [["planks"]]}, "no agent knows sticks, table, wooden_pickaxe"),
        ({"chests": [["wood"], ["wood"]]}, "twice"),
        ({"events": [{"step": 0, "kind": "cut"}]}, "step must be an integer"),
        ({"events": [{"step": 2, "kind": "move", "item": "wood", "to": 0}]}, "in no chest"),
        ({"layout": ["0..", ".1.", "..."]}, "places 2 agent(s)"),
        ({"layout": ["0.", ".."]}, "task key 'layout'"),
        ({"layout": ["0.x", "...", "..."]}, "bad character 'x'"),
    ],
)
def test_bad_tasks_raise_naming_the_key(task, words):
    with pytest.raises(ValueError, match=None) as err:
        gym.make(GYM_ID, task=task)
    assert words in str(err.value)
    env = gym.make(GYM_ID)
    with pytest.raises(ValueError) as err:
        env.reset(seed=0, options={"task": task})
    assert words in str(err.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"render_mode": "human"},
        {"obs_mode": "image"},
        {"illegal_action": "ignore"},
        {"max_steps": 0},
        {"view_radius": 5},
    ],
)
def test_bad_constructor_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CraftEnv(**kwargs)


def test_bad_parallel_constructor_arguments():
    with pytest.raises(ValueError, match="max_agents"):
        CraftParallelEnv(max_agents=5)
    with pytest.raises(ValueError, match="render_mode"):
        CraftParallelEnv(render_mode="rgb_array")
    with pytest.raises(ValueError, match="task key 'num_agents'"):
        CraftParallelEnv(max_agents=2, task={"num_agents": 3})


@pytest.mark.parametrize("action", [math.nan, 68, -1, 1.5, "noop", np.array([1, 2])])
def test_bad_actions_raise_in_every_mode(action):
    for illegal in ("raise", "penalize"):
        env = gym.make(GYM_ID, illegal_action=illegal)
        env.reset(seed=0)
        with pytest.raises(ValueError, match="agent_0"):
            env.step(action)


def test_illegal_action_raise_names_action_and_legal_ones():
    layout = ["T0d", "S.~", "..."]
    env = gym.make(GYM_ID, illegal_action="raise", task={"layout": layout})
    env.reset(seed=0)
    with pytest.raises(ValueError) as err:
        env.step(1)  # north of (1, 0) is off the map
    message = str(err.value)
    assert "action 1 (move north) is not legal for agent_0" in message
    assert "0 (noop), 3 (move south), 5 (collect wood), 6 (collect dirt)" in message


def test_illegal_action_penalize_takes_noop_and_counts():
    layout = ["T0d", "S.~", "..."]
    env = gym.make(GYM_ID, task={"layout": layout, "goal": "collect dirt"}, max_steps=3)
    obs, _ = env.reset(seed=0)
    obs2, reward, terminated, truncated, info = env.step(1)
    assert info["invalid_action"] is True and reward == pytest.approx(-0.1)
    assert obs2["position"].tolist() == obs["position"].tolist() == [1, 0]
    assert info["events"] == [
        {"type": "action", "agent": "agent_0", "action": "noop", "ok": True, "x": 1, "y": 0}
    ]
    env.step(2)  # move east into dirt: illegal again
    _, _, terminated, truncated, info = env.step(0)
    assert truncated and not terminated
    assert info["invalid_actions"] == 2 and info["success"] is False
    assert info["end_reason"] == "time_limit" and info["steps"] == 3


def test_step_after_end_or_before_reset_needs_reset():
    env = CraftEnv(max_steps=1)
    with pytest.raises(ResetNeeded):
        env.step(0)
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(ResetNeeded):
        env.step(0)
    par = CraftParallelEnv(max_cycles=1)
    with pytest.raises(ResetNeeded):
        par.step({"agent_0": 0, "agent_1": 0})
    par.reset(seed=0)
    par.step({"agent_0": 0, "agent_1": 0})
    assert par.agents == []
    with pytest.raises(ResetNeeded):
        par.step({"agent_0": 0, "agent_1": 0})


def test_text_view_in_any_obs_mode():
    env = CraftParallelEnv(max_agents=3, task={"num_agents": 2}, obs_mode="vector")
    with pytest.raises(ResetNeeded, match="text_view"):
        env.text_view()
    env.reset(seed=0)
    text = CraftParallelEnv(max_agents=3, task={"num_agents": 2}, obs_mode="text")
    observations, _ = text.reset(seed=0)
    assert env.text_view("agent_1") == observations["agent_1"]
    with pytest.raises(ValueError, match="unknown agent 'agent_2' for text_view"):
        env.text_view("agent_2")


def test_unknown_and_missing_agents():
    env = CraftParallelEnv(max_agents=3, task={"num_agents": 2})
    env.reset(seed=0)
    assert env.agents == ["agent_0", "agent_1"]
    with pytest.raises(ValueError, match="unknown agent 'agent_2'"):
        env.step({"agent_0": 0, "agent_1": 0, "agent_2": 0})
    with pytest.raises(ValueError, match=r"missing agent\(s\) \['agent_1'\]"):
        env.step({"agent_0": 0})
    with pytest.raises(ValueError, match="unknown agent 'bob'"):
        env.observation_space("bob")
    with pytest.raises(ValueError, match="unknown agent 'bob'"):
        env.action_space("bob")
    with pytest.raises(ValueError, match="unknown agent 'agent_2' for probes"):
        env.probes("agent_2")
    with pytest.raises(ValueError, match="agent_1"):
        env.step({"agent_0": 0, "agent_1": math.nan})
    # Nothing was carried out by the rejected steps.
    observations, *_ = env.step({"agent_0": 0, "agent_1": 0})
    assert observations["agent_0"]["time"].tolist() == pytest.approx([1 / 300])


def test_parallel_penalize_replaces_illegal_actions_per_agent():
    env = CraftParallelEnv(
        illegal_action="penalize", task={"layout": ["01.", "...", "..."], "goal": "collect dirt"}
    )
    env.reset(seed=0)
    # agent_0 at (0, 0) cannot move north or west; agent_1 moves south, which is legal.
    obs, rewards, _, _, infos = env.step({"agent_0": 4, "agent_1": 3})
    assert rewards == {"agent_0": pytest.approx(-0.1), "agent_1": 0.0}
    assert infos["agent_0"]["invalid_action"] is True
    assert infos["agent_1"]["invalid_action"] is False
    assert obs["agent_0"]["position"].tolist() == [0, 0]
    assert obs["agent_1"]["position"].tolist() == [1, 1]
    env.max_cycles = 2
    env.reset(seed=0)
    env.step({"agent_0": 1, "agent_1": 0})
    *_, infos = env.step({"agent_0": 4, "agent_1": 0})
    assert infos["agent_0"]["invalid_actions"] == 2 and infos["agent_1"]["invalid_actions"] == 0
    assert infos["agent_0"]["success"] is False


def test_set_task_applies_from_the_next_reset_and_task_is_a_copy():
    env = CraftEnv(task={"goal": "collect wood"})
    env.reset(seed=0)
    env.set_task({"goal": "craft planks", "chests": [["wood"]]})
    assert env.goal == "collect wood" and env.task["goal"] == "craft planks"
    env.task["chests"][0].append("stone")
    assert env.task["chests"] == [["wood"]]
    env.reset(seed=0)
    assert env.goal == "craft planks" and env.episode_task == env.task
    with pytest.raises(ValueError, match="task key 'goal'"):
        env.set_task({"goal": "fly"})
    assert env.task["goal"] == "craft planks"
