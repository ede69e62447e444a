"""Agents that use theory-of-mind memory: ToMCrafter, belief features, the memory prompt block.

All with the real Craft envs, a real SQLite store in a temporary folder and, for the prompt
block, a real LLMAgent on the in-process encoder backend.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import CooperativeCrafter, ToMCrafter, check_agent
from palaestra.agents.tom_crafter import remembered_recipes
from palaestra.envs.craft.teams import EXPERT, NOVICE, mixed_expertise_tasks
from palaestra.envs.craft.vocabulary import ITEMS, RECIPES
from palaestra.memory import BeliefTracker, MemoryStore
from palaestra.memory.blocks import MemoryBlock
from palaestra.memory.features import BELIEF_FEATURES_SIZE, PLACES, BeliefObservation

ALL_RECIPES = [r.output for r in RECIPES]


def _env():
    return pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=2, max_cycles=150)


def _play(env, team, task, seed=0):
    obs, infos = env.reset(seed=seed, options={"task": task})
    for agent in team.values():
        agent.reset()
    said = []
    last_obs, last_infos = obs, infos
    while env.agents:
        actions = {a: team[a].act(obs[a], infos[a]) for a in env.agents}
        said += [(a, infos[a]["legal_actions"][act]) for a, act in actions.items() if act >= 41]
        obs, _, _, _, infos = env.step(actions)
        if obs:
            last_obs, last_infos = obs, infos
    for name, agent in team.items():
        if hasattr(agent, "end_episode"):
            agent.end_episode(last_obs[name], last_infos[name])
    return last_infos[NOVICE], said


def test_tom_team_succeeds_where_the_plain_team_does_and_more():
    env = _env()
    tasks = mixed_expertise_tasks(30, 11, events=True)
    tom = cooperative = 0
    tom_steps, coop_steps = [], []
    for k, task in enumerate(tasks):
        info, _ = _play(env, {a: ToMCrafter(env, a) for a in (NOVICE, EXPERT)}, task, k)
        tom += info["success"]
        tom_steps.append(info["steps"])
        info, _ = _play(env, {a: CooperativeCrafter(env, a) for a in (NOVICE, EXPERT)}, task, k)
        cooperative += info["success"]
        coop_steps.append(info["steps"])
    assert tom >= cooperative
    assert tom == len(tasks)  # perspective taking on hearing leaves no novice stranded
    assert sum(tom_steps) < sum(coop_steps)


def test_the_expert_teaches_the_whole_path_after_the_first_request():
    env = _env()
    task = mixed_expertise_tasks(1, 2, goals=("craft wooden_pickaxe",))[0]
    team = {a: ToMCrafter(env, a) for a in (NOVICE, EXPERT)}
    info, said = _play(env, team, task)
    assert info["success"]
    taught = [text.split()[-1] for who, text in said if who == EXPERT and "recipe" in text]
    assert sorted(taught) == sorted(["planks", "sticks", "table", "wooden_pickaxe"])
    assert len(taught) == len(set(taught))  # nothing taught twice
    assert team[EXPERT].stats()["teaches"] == 4


def test_recipes_learned_by_message_are_remembered_at_the_next_episode(tmp_path):
    env = _env()
    first, second = mixed_expertise_tasks(2, 5, goals=("craft table",))
    with MemoryStore(tmp_path / "memory") as store:
        team = {a: ToMCrafter(env, a, store=store) for a in (NOVICE, EXPERT)}
        info, _ = _play(env, team, first)
        assert info["success"]
        known = remembered_recipes(store, NOVICE)
        assert known == ["planks", "table"]
        assert store.recent(1, agent=NOVICE)[0].outcome["success"]
    with MemoryStore(tmp_path / "memory") as store:  # a new process would see the same
        second = {**second, "knowledge": [remembered_recipes(store, NOVICE), ALL_RECIPES]}
        team = {a: ToMCrafter(env, a, store=store) for a in (NOVICE, EXPERT)}
        info, said = _play(env, team, second)
    assert info["success"]
    assert not [text for who, text in said if "need" in text or "recipe" in text]
    assert team[NOVICE].stats()["asks"] == 0


def test_tom_crafter_follows_the_agent_interface_and_names_bad_arguments():
    task = mixed_expertise_tasks(1, 0, goals=("craft sticks",))[0]
    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=2, task=task)
    check_agent(ToMCrafter(env, NOVICE), env, seat=NOVICE, steps=40)
    with pytest.raises(ValueError, match="ask_every"):
        ToMCrafter(env, NOVICE, ask_every=0)
    with pytest.raises(TypeError, match="MemoryStore"):
        ToMCrafter(env, NOVICE, store={"not": "a store"})
    with pytest.raises(ValueError, match="tracker is for"):
        ToMCrafter(env, NOVICE, tracker=BeliefTracker(EXPERT))


# --------------------------------------------------------------------------- features
TASK = {
    "goal": "collect dirt",
    "talk": "off",
    "layout": ["0C....", "......", "..d..."],
    "chests": [["wooden_pickaxe"]],
}


def test_belief_features_encode_what_the_agent_saw():
    env = BeliefObservation(gym.make("palaestra/Craft-v0", task=TASK, obs_mode="both"))
    obs, _ = env.reset(seed=0)
    beliefs = obs["beliefs"]
    assert beliefs.shape == (BELIEF_FEATURES_SIZE,) and beliefs.dtype == np.float32
    items = beliefs[: len(ITEMS) * len(PLACES)].reshape(len(ITEMS), len(PLACES))
    assert np.allclose(items.sum(axis=1), 1.0)  # one place per item
    # Standing next to chest 0: the pickaxe is believed there, everything else unknown.
    assert items[ITEMS.index("wooden_pickaxe"), PLACES.index("chest 0")] > 0
    assert items[ITEMS.index("wood"), PLACES.index("unknown")] == 1
    recipes = beliefs[len(ITEMS) * len(PLACES) * 4 :][: 4 * len(RECIPES)].reshape(4, -1)
    assert recipes[0].tolist() == [1.0] * len(RECIPES)  # Craft-v0's agent knows them all
    obs, *_ = env.step(2)  # east: away from the chest, which still is where it was
    after = obs["beliefs"][: len(ITEMS) * len(PLACES)].reshape(len(ITEMS), len(PLACES))
    assert after[ITEMS.index("wooden_pickaxe"), PLACES.index("chest 0")] > 0
    check_env(BeliefObservation(gym.make("palaestra/Craft-v0", obs_mode="vector")))


def test_belief_features_need_a_dict_observation():
    with pytest.raises(ValueError, match="obs_mode"):
        BeliefObservation(gym.make("palaestra/Craft-v0", obs_mode="text"))


# --------------------------------------------------------------------------- prompt block
def test_memory_block_renders_beliefs_facts_and_past_episodes(tmp_path):
    import torch

    from palaestra.agents.llm_agent import LLMAgent
    from palaestra.llm.embedders import HashingEmbedder
    from palaestra.llm.encoder import EncoderBackend
    from palaestra.memory.store import Episode

    embedder = HashingEmbedder(dim=128)
    with MemoryStore(tmp_path / "memory", embedder=embedder) as store:
        store.learn("agent_0", "recipe", "planks")
        store.commit_episode(Episode("agent_0", "collect dirt: success in 9 steps", {}, ()))
        store.commit_episode(Episode("agent_0", "craft sticks: failure in 300 steps", {}, ()))
        block = MemoryBlock(BeliefTracker("agent_0"), store, recall=1)
        torch.manual_seed(0)
        agent = LLMAgent(EncoderBackend(embedder), blocks=[block])
        env = gym.make("palaestra/Craft-v0", task=TASK, obs_mode="both", illegal_action="raise")
        obs, info = env.reset(seed=0)
        agent.reset(seed=0)
        action = agent.act(obs, info)
        assert action in info["legal_actions"]
        prompt = agent.last_prompt
        assert "## memory" in prompt
        assert "known recipes: planks" in prompt
        assert "collect dirt: success in 9 steps" in prompt  # the goal is collect dirt
        assert "craft sticks" not in prompt
        assert "wooden_pickaxe" in block.tracker.render()
    with pytest.raises(ValueError, match="tracker, a store"):
        MemoryBlock()


def test_play_hands_the_last_observation_to_a_memory_agent(tmp_path):
    from palaestra.agents import play

    env = pettingzoo.make("parallel", "palaestra/craft-v0", max_agents=2, max_cycles=150)
    tasks = mixed_expertise_tasks(2, 9, goals=("craft planks",))
    with MemoryStore(tmp_path / "memory") as store:
        team = {a: ToMCrafter(env, a, store=store) for a in (NOVICE, EXPERT)}
        results = play(env, team, tasks=tasks, episodes=2, seed=0)
        assert all(r.ended for r in results)
        stored = store.episodes(NOVICE)
        assert len(stored) == 2 and all(e.outcome["success"] for e in stored)
        assert remembered_recipes(store, NOVICE) == ["planks"]
