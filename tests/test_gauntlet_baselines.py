"""Gauntlet's baselines: greedy beats random, the look-ahead beats greedy, and their rules.

The 200-run comparison with 95% intervals is ``benchmarks/gauntlet_baselines.py``; here a
few dozen seeded runs keep the file fast.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import GreedyGauntletAgent, LookaheadGauntletAgent, RandomGauntletAgent
from palaestra.envs.gauntlet.vocabulary import END_TURN, REST_HEAL, SKIP, UPGRADE_AT

ID = "palaestra/Gauntlet-v0"
TASK = {"fights": 3}
"""The default run (3 fights of the standard set, the last an elite or boss): random play
never gets through it, a greedy player sometimes does."""


def _wins(env: gym.Env, agent, seeds: range, task=TASK) -> int:
    wins = 0
    for seed in seeds:
        agent.reset(seed=seed)
        obs, info = env.reset(seed=seed, options={"task": task})
        while True:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
            if terminated or truncated:
                break
        assert info["invalid_actions"] == 0
        wins += info["success"]
    return wins


def test_greedy_wins_more_than_random_over_60_runs():
    env = gym.make(ID, illegal_action="raise")
    random_wins = _wins(env, RandomGauntletAgent(0), range(60))
    greedy_wins = _wins(env, GreedyGauntletAgent(), range(60))
    assert greedy_wins > random_wins + 3, (greedy_wins, random_wins)


def test_the_lookahead_wins_more_than_greedy():
    env = gym.make(ID, illegal_action="raise")
    look_wins = _wins(env, LookaheadGauntletAgent(env), range(12))
    greedy_wins = _wins(env, GreedyGauntletAgent(), range(12))
    assert look_wins > greedy_wins, (look_wins, greedy_wins)


def test_greedy_blocks_what_is_coming_then_attacks():
    env = gym.make(ID, task={"fights": 1, "encounters": ["cultist"]})
    obs, info = env.reset(seed=0)
    agent = GreedyGauntletAgent()
    run = env.unwrapped.run
    # The cultist opens with a buff: nothing is coming, so greedy attacks.
    assert obs["state"][0] == 1.0 and run.incoming(run.enemies[0]) == (0, 0)
    action = agent.act(obs, info)
    assert "play" in info["legal_actions"][action]
    assert info["legal_actions"][action].split()[1] in ("Strike", "Bash")
    while run.fight.turn == 1:
        obs, _, _, _, info = env.step(agent.act(obs, info))
    # From turn 2 it attacks: the first card played each turn is a Defend while HP is at stake.
    assert run.incoming(run.enemies[0])[0] > 0
    assert info["legal_actions"][agent.act(obs, info)].startswith("play Defend")


def test_greedy_rules_at_rewards_and_rests_and_its_refusals():
    agent = GreedyGauntletAgent()
    with pytest.raises(ValueError, match="state vector"):
        agent.act("gauntlet-v0 text/1", {"legal_actions": {END_TURN: "end turn"}})
    env = gym.make(ID, task={"fights": 3, "rest_every": 1, "max_hp": 999})
    obs, info = env.reset(seed=2)
    seen = set()
    run = env.unwrapped.run
    while not run.over and len(seen) < 2:
        action = agent.act(obs, info)
        if run.phase_name == "rest":
            seen.add("rest")
            # HP is above half: it upgrades rather than heals.
            assert action >= UPGRADE_AT or action in (SKIP, REST_HEAL)
            assert action != REST_HEAL or not any(a >= UPGRADE_AT for a in info["legal_actions"])
        elif run.phase_name == "reward":
            seen.add("reward")
        obs, _, _, _, info = env.step(action)
    assert seen == {"rest", "reward"}
    with pytest.raises(ValueError, match="Gauntlet-v0, not CraftEnv"):
        LookaheadGauntletAgent(gym.make("palaestra/Craft-v0"))
    with pytest.raises(ValueError, match="depth"):
        LookaheadGauntletAgent(env, depth=0)


def test_the_random_agent_reseeds_and_reads_the_mask_without_info():
    env = gym.make(ID)
    obs, info = env.reset(seed=0)
    agent = RandomGauntletAgent(3)
    first = [agent.act(obs, info) for _ in range(20)]
    agent.reset(seed=3)
    assert [agent.act(obs, info) for _ in range(20)] == first
    assert all(obs["action_mask"][agent.act(obs)] for _ in range(20))
    assert len(set(first)) > 1 and all(a in info["legal_actions"] for a in first)
    assert np.all(np.isin(first, list(info["legal_actions"])))
