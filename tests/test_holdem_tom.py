"""The adaptive hold'em agent: interface, legality, determinism and that beliefs change play."""

from __future__ import annotations

import gymnasium as gym
import pettingzoo
import pytest

import palaestra  # noqa: F401
from palaestra.agents.base import check_agent
from palaestra.agents.holdem_tom import AdaptiveConfig, AdaptiveTagAgent


def run(opponent: str, episodes: int, *, memory: str = "persistent", seed: int = 0):
    env = gym.make("palaestra/Holdem-v0", opponents=opponent, seat=0,
                   task={"num_players": 3}, illegal_action="raise")  # fmt: skip
    agent = AdaptiveTagAgent(env, seed=seed, memory=memory)
    trace, total = [], 0.0
    for episode in range(episodes):
        obs, info = env.reset(seed=seed * 1000 + episode)
        agent.reset()
        done = False
        while not done:
            action = agent.act(obs, info)
            assert action in info["legal_actions"]
            trace.append(action)
            obs, reward, done, _, info = env.step(action)
            total += reward
        agent.observe(obs, info)
    return agent, trace, total


def test_interface():
    env = gym.make("palaestra/Holdem-v0", opponents="tag", seat=0, hands=5)
    check_agent(AdaptiveTagAgent(env, seed=0), env, steps=30)


def test_legal_and_deterministic():
    a, trace_a, total_a = run("random", 60, seed=3)
    b, trace_b, total_b = run("random", 60, seed=3)
    assert trace_a == trace_b and total_a == total_b and a.stats() == b.stats()
    assert a.stats()["hands_counted"] == 60


@pytest.mark.parametrize(
    ("opponent", "rule"), [("tag", "bluffs"), ("calling_station", "thin_value")]
)
def test_beliefs_change_play(opponent, rule):
    adaptive, _, _ = run(opponent, 80)
    forgetful, _, _ = run(opponent, 80, memory="hand")
    assert adaptive.stats()[rule] > 0
    assert forgetful.stats()[rule] == 0  # it never knows anyone for min_hands hands
    assert forgetful.stats()["hands_counted"] == 80


def test_aec_seat_and_bad_input():
    env = pettingzoo.make("aec", "palaestra/holdem-v0", num_players=3)
    agents = {a: AdaptiveTagAgent(env, a, seed=1) for a in env.possible_agents}
    env.reset(seed=0)
    for name in env.agent_iter():
        obs, _, term, trunc, info = env.last()
        if term or trunc:
            env.step(None)
            continue
        action = agents[name].act(obs, info)
        assert action in info["legal_actions"]
        env.step(action)
    with pytest.raises(ValueError, match="seat must name the agent it plays"):
        AdaptiveTagAgent(env, "player_7")
    with pytest.raises(ValueError, match="memory must be"):
        AdaptiveTagAgent(gym.make("palaestra/Holdem-v0"), memory="forever")
    with pytest.raises(ValueError, match="bluff_rate"):
        AdaptiveConfig(bluff_rate=2.0)
