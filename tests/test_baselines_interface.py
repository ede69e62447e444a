"""Every scripted baseline follows the agent interface on its env (``check_agent``), and an
object with the wrong signature is refused with ``AgentInterfaceError``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents.base import Agent, AgentInterfaceError, check_agent
from palaestra.agents.carry_baselines import (
    AdmittanceFollower,
    LoadTakingFollower,
    PassiveCarrier,
)
from palaestra.agents.craft_baselines import CooperativeCrafter, CraftPlanner, RandomCraftAgent
from palaestra.agents.gauntlet_baselines import (
    GreedyGauntletAgent,
    LookaheadGauntletAgent,
    RandomGauntletAgent,
)
from palaestra.agents.holdem_baselines import (
    HOLDEM_AGENTS,
    CallingStationAgent,
    RandomHoldemAgent,
    TagAgent,
)
from palaestra.envs.holdem.opponents import OPPONENTS

HOLDEM = (RandomHoldemAgent, CallingStationAgent, TagAgent)


@pytest.mark.parametrize("cls", [AdmittanceFollower, LoadTakingFollower, PassiveCarrier])
def test_carry_baselines(closing, cls):
    env = closing(gym.make("palaestra/Carry-v0"))
    check_agent(cls(), env, steps=30)
    par = closing(pettingzoo.make("parallel", "palaestra/carry-v0"))
    check_agent(cls(), par, seat="carrier_0", steps=10)
    assert isinstance(cls(), Agent)


def test_craft_baselines(closing):
    env = closing(gym.make("palaestra/Craft-v0"))
    check_agent(CraftPlanner(env), env, steps=40)
    check_agent(RandomCraftAgent(0), env, steps=40)
    par = closing(pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=2))
    check_agent(CooperativeCrafter(par, "agent_1"), par, seat="agent_1", steps=40)
    check_agent(CraftPlanner(par, "agent_0"), par, seat="agent_0", steps=40)
    check_agent(RandomCraftAgent(1), par, seat="agent_0", steps=40)


@pytest.mark.parametrize("obs_mode", ["vector", "both"])
def test_gauntlet_baselines(closing, obs_mode):
    env = closing(gym.make("palaestra/Gauntlet-v0", obs_mode=obs_mode, illegal_action="raise"))
    check_agent(RandomGauntletAgent(0), env, steps=40)
    check_agent(GreedyGauntletAgent(), env, steps=40)
    check_agent(LookaheadGauntletAgent(env), env, steps=40)
    text = closing(gym.make("palaestra/Gauntlet-v0", obs_mode="text"))
    check_agent(RandomGauntletAgent(1), text, steps=20)
    check_agent(LookaheadGauntletAgent(text, depth=1), text, steps=20)


@pytest.mark.parametrize("cls", HOLDEM)
@pytest.mark.parametrize("obs_mode", ["vector", "text"])
def test_holdem_baselines_in_the_learner_seat(closing, cls, obs_mode):
    env = closing(gym.make("palaestra/Holdem-v0", hands=20, obs_mode=obs_mode))
    agent = cls(env, seed=0)
    check_agent(agent, env, steps=40)
    assert isinstance(agent, Agent)


def _aec_table(classes, seed, hands=10):
    env = pettingzoo.make("aec", "palaestra/holdem-v0", num_players=len(classes), hands=hands)
    players = {
        a: cls(env, seat=a, seed=k)
        for k, (a, cls) in enumerate(zip(env.possible_agents, classes, strict=True))
    }
    env.reset(seed=seed)
    for player in players.values():
        player.reset(seed=seed)
    actions = []
    for agent in env.agent_iter(max_iter=2000):
        observation, _, termination, truncation, info = env.last()
        if termination or truncation:
            env.step(None)
            continue
        action = players[agent].act(observation, info)
        assert action in info["legal_actions"], (agent, action, info["legal_actions"])
        actions.append((agent, action))
        env.step(action)
    env.close()
    return actions, info


def test_holdem_baselines_play_their_turns_in_the_aec_env():
    actions, info = _aec_table(HOLDEM, seed=3)
    assert len(actions) > 20 and "net_chips" in info
    assert {a for a, _ in actions} == {"player_0", "player_1", "player_2"}
    # the calling station (player_1) never folds or raises
    assert {action for agent, action in actions if agent == "player_1"} == {1}
    assert actions == _aec_table(HOLDEM, seed=3)[0]
    assert actions != _aec_table(HOLDEM, seed=4)[0]


def test_holdem_baselines_play_the_built_in_opponents():
    # A calling station against calling stations checks or calls every time, as the env's
    # built-in one does; the classes map one-to-one onto the built-in opponents.
    assert {name: cls.opponent for name, cls in HOLDEM_AGENTS.items()} == {n: n for n in OPPONENTS}
    env = gym.make("palaestra/Holdem-v0", opponents="calling_station", hands=5)
    agent = CallingStationAgent(env)
    obs, info = env.reset(seed=0)
    while True:
        action = agent.act(obs, info)
        assert action == 1
        obs, _, terminated, _, info = env.step(action)
        if terminated:
            break
    with pytest.raises(ValueError, match=r"turn \(the episode is over\)"):
        agent.act(obs, info)
    env.close()


def test_holdem_random_agent_reseeds_in_reset():
    env = gym.make("palaestra/Holdem-v0", hands=50)
    agent = RandomHoldemAgent(env, seed=1)

    def play(seed):
        agent.reset(seed=seed)
        obs, info = env.reset(seed=0)
        actions = []
        for _ in range(30):
            actions.append(agent.act(obs, info))
            obs, _, terminated, _, info = env.step(actions[-1])
            if terminated:
                break
        return actions

    assert play(5) == play(5)
    assert len(set(play(5))) > 1
    env.close()


def test_holdem_baselines_refuse_a_wrong_env_or_seat(closing):
    aec = pettingzoo.make("aec", "palaestra/holdem-v0", num_players=3)
    with pytest.raises(ValueError, match=r"TagAgent: seat must name .*player_2.*'player_7'"):
        TagAgent(aec, seat="player_7")
    with pytest.raises(ValueError, match="seat must name"):
        TagAgent(aec)
    solo = gym.make("palaestra/Holdem-v0")
    with pytest.raises(ValueError, match="learner's seat"):
        TagAgent(solo, seat="player_0")
    with pytest.raises(ValueError, match="Holdem-v0 or palaestra/holdem-v0, not CraftEnv"):
        TagAgent(closing(gym.make("palaestra/Craft-v0")))
    agent = TagAgent(aec, seat="player_1")
    aec.reset(seed=0)
    assert aec.agent_selection == "player_0"
    with pytest.raises(ValueError, match="not player_1's turn"):
        agent.act(aec.observe("player_1"))
    with pytest.raises(gym.error.ResetNeeded):
        TagAgent(solo).act(None)


class _NoArguments:
    def act(self):
        return 0

    def reset(self, seed=None):
        pass


class _NoSeed:
    def act(self, observation, info=None):
        return 0

    def reset(self):
        pass


class _InfoRequired:
    def act(self, observation, info):
        return 0

    def reset(self, seed=None):
        pass


@pytest.mark.parametrize(
    ("cls", "pattern"),
    [
        (_NoArguments, r"_NoArguments\.act\(\) cannot be called as act\(observation, info=None\)"),
        (_NoSeed, r"_NoSeed\.reset\(\) cannot be called as reset\(seed=None\)"),
        (_InfoRequired, r"_InfoRequired\.act.*cannot be called"),
    ],
)
def test_wrong_signatures_fail_check_agent(closing, cls, pattern):
    env = closing(gym.make("palaestra/Craft-v0"))
    with pytest.raises(AgentInterfaceError, match=pattern):
        check_agent(cls(), env)


def test_an_illegal_action_fails_check_agent(closing):
    class Folder:
        def act(self, observation, info=None):
            return 0  # fold, illegal when checking is free

        def reset(self, seed=None):
            pass

    env = closing(gym.make("palaestra/Holdem-v0", task={"num_players": 2}, seat=1))
    obs = None
    for seed in range(20):  # find a deal where the learner may check
        obs, info = env.reset(seed=seed)
        if 0 not in info["legal_actions"]:
            break
    assert obs is not None and 0 not in info["legal_actions"]
    with pytest.raises(AgentInterfaceError, match="legal actions"):
        check_agent(Folder(), env, seed=seed)


def test_every_baseline_reset_takes_a_seed():
    for agent in (
        AdmittanceFollower(),
        PassiveCarrier(),
        RandomCraftAgent(),
        RandomGauntletAgent(),
        GreedyGauntletAgent(),
    ):
        agent.reset()
        agent.reset(seed=3)
    assert np.isfinite(AdmittanceFollower().act(np.zeros(19, np.float32), None)).all()
