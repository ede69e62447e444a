"""LLMAgent plays whole game episodes with real backends and always takes a legal action.

Backends: the encoder on the hashing embedder (in-process, no download) and the
OpenAI-compatible backend against a scripted server on 127.0.0.1 (palaestra.llm.testing),
whose replies include malformed, empty and illegal ones and a server error. The envs run
with ``illegal_action="raise"``, so a single illegal action fails the test.
"""

from __future__ import annotations

import logging

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import check_agent, play
from palaestra.agents.llm_agent import LLMAgent
from palaestra.agents.prompts import build_prompt, fallback_action, parse_reply
from palaestra.llm import BackendUnavailableError, CapabilityError
from palaestra.llm.embedders import HashingEmbedder
from palaestra.llm.encoder import EncoderBackend
from palaestra.llm.openai_backend import OpenAIBackend
from palaestra.llm.testing import Scripted, ScriptedServer

KEY = "sk-test-5b0c1e0f9d2a4c7e"
CRAFT = {"goal": "collect wood", "size": 6}


def _craft(**kwargs):
    return gym.make(
        "palaestra/Craft-v0",
        obs_mode="text",
        illegal_action="raise",
        max_steps=kwargs.pop("max_steps", 25),
        task=CRAFT,
        **kwargs,
    )


def _holdem(**kwargs):
    return gym.make("palaestra/Holdem-v0", obs_mode="both", illegal_action="raise", **kwargs)


def _encoder_agent(**kwargs) -> LLMAgent:
    import torch

    torch.manual_seed(0)
    return LLMAgent(EncoderBackend(HashingEmbedder(dim=128)), **kwargs)


# --------------------------------------------------------------------------- the encoder
def test_encoder_agent_plays_whole_craft_episodes_legally():
    env = _craft()
    agent = _encoder_agent()
    results = play(env, agent, episodes=3, seed=10)
    for r in results:
        assert r.ended and r.invalid_actions["agent"] == 0
        stats = r.agent_stats["agent"]
        assert stats["steps"] == r.length
        assert stats["invalid"] == stats["fallbacks"] == 0
        assert stats["latency_s"] > 0
    env.close()


@pytest.mark.parametrize("env_id", ["palaestra/Craft-v0", "palaestra/Holdem-v0"])
def test_encoder_agent_passes_the_interface_check(env_id):
    # check_agent also calls act(observation) without info: the agent then reads the legal
    # actions from the observation's mask over the env's action texts.
    from palaestra.envs.craft.vocabulary import PRIMITIVE_ACTIONS
    from palaestra.envs.holdem.engine import ACTIONS

    actions = PRIMITIVE_ACTIONS if "Craft" in env_id else ACTIONS
    env = gym.make(env_id, obs_mode="both", illegal_action="raise")
    check_agent(_encoder_agent(actions=actions), env, steps=15)
    env.close()


def test_sampling_is_reproducible_under_a_seed():
    env = _craft()

    def run(seed):
        agent = _encoder_agent(temperature=1.0, seed=seed)
        return [r.returns["agent"] for r in play(env, agent, episodes=2, seed=3)], agent

    first, _ = run(5)
    second, _ = run(5)
    assert first == second
    env.close()


def test_the_prompt_holds_the_view_the_legal_actions_and_the_blocks():
    calls = []

    class Notes:
        name = "Notes"

        def render(self, observation, info):
            return "the chest is empty" if info.get("legal_actions") else None

        def reset(self, seed=None):
            calls.append(("reset", seed))

        def on_action(self, action, text):
            calls.append(("act", action, text))

    class Silent:
        name = "Silent"

        def render(self, observation, info):
            return None

    env = _craft()
    agent = _encoder_agent(blocks=[Notes(), Silent()])
    agent.reset(seed=4)
    obs, info = env.reset(seed=0)
    action = agent.act(obs, info)
    prompt = agent.last_prompt
    assert "## Notes\nthe chest is empty" in prompt and "## Silent" not in prompt
    assert obs.strip() in prompt
    for text in info["legal_actions"].values():
        assert f"\n- {text}" in prompt
    assert prompt.index("## Notes") < prompt.index("## Observation") < prompt.index("## Legal")
    assert calls == [("reset", 4), ("act", action, info["legal_actions"][action])]
    env.close()


# ---------------------------------------------------------------- an OpenAI-compatible server
@pytest.fixture
def no_key_in_logs(caplog):
    caplog.set_level(logging.DEBUG)
    yield caplog
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in str(record.args)


@pytest.mark.usefixtures("no_key_in_logs")
@pytest.mark.parametrize("kind", ["echo", "top_logprobs", "generation"])
def test_scoring_agent_plays_craft_and_holdem_against_each_server_kind(kind):
    with ScriptedServer(kind, table={"wood": -0.1, "call": -0.2}, api_key=KEY) as server:
        backend = OpenAIBackend(server.url, model="scripted", api_key=KEY, backoff=0.01)
        agent = LLMAgent(backend)
        for env in (_craft(max_steps=12), _holdem()):
            results = play(env, agent, episodes=2, seed=1)
            for r in results:
                assert r.ended and r.invalid_actions["agent"] == 0
                stats = r.agent_stats["agent"]
                assert stats["steps"] == r.length and stats["invalid"] == 0
                assert stats["prompt_tokens"] > 0
            env.close()
        assert all(req.headers["authorization"] == f"Bearer {KEY}" for req in server.requests)
        assert KEY not in repr(backend) and KEY not in str(backend.stats())


@pytest.mark.usefixtures("no_key_in_logs")
def test_unusable_replies_fall_back_and_are_counted():
    with ScriptedServer("generation", default_reply="1", api_key=KEY) as server:
        backend = OpenAIBackend(server.url, model="scripted", api_key=KEY, backoff=0.01)
        agent = LLMAgent(backend, choose="generate")
        env = _holdem(hands=50)
        obs, info = env.reset(seed=2)
        agent.reset()
        # A server error (retried), then malformed, empty and illegal replies, then two good.
        server.push(
            Scripted(status=500),
            Scripted(text="{{{"),
            Scripted(text=""),
            Scripted(text="fly to the moon"),
            Scripted(text="Action: 1"),
        )
        taken = []
        for _ in range(6):
            legal = dict(info["legal_actions"])
            action = agent.act(obs, info)
            assert action in legal
            taken.append((action, legal))
            obs, _, terminated, _, info = env.step(action)
            if terminated:
                obs, info = env.reset()
        stats = agent.stats()
        assert stats["steps"] == 6 and stats["invalid"] == 3 and stats["fallbacks"] == 3
        for action, legal in taken[:3]:
            assert action == fallback_action(legal)
        for action, legal in taken[3:]:
            assert action == min(legal)  # "1": the first listed legal action
        assert backend.stats()["retries"] >= 1
        assert stats["completion_tokens"] > 0
        env.close()


@pytest.mark.usefixtures("no_key_in_logs")
def test_generating_agent_plays_whole_episodes_with_every_action_legal():
    with ScriptedServer("generation", default_reply="2", api_key=KEY) as server:
        backend = OpenAIBackend(server.url, model="scripted", api_key=KEY, backoff=0.01)
        agent = LLMAgent(backend, choose="generate")
        for env in (_craft(max_steps=10), _holdem()):
            for r in play(env, agent, episodes=2, seed=5):
                assert r.ended and r.invalid_actions["agent"] == 0
            env.close()


# ------------------------------------------------------------------------------- bad input
def test_bad_input_gets_clear_errors():
    agent = _encoder_agent()
    env = gym.make("palaestra/Craft-v0")  # vector observations
    obs, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="obs_mode='text' or 'both'"):
        agent.act(obs, info)
    with pytest.raises(ValueError, match="legal_actions"):
        agent.act("a text view", None)
    with pytest.raises(ValueError, match="legal_actions"):
        agent.act("a text view", {"legal_actions": {}})
    with_texts = _encoder_agent(actions=["noop", "move north"])
    assert with_texts.act("a text view") in (0, 1)
    masked = {"text": "a view", "action_mask": np.array([0, 1], dtype=np.int8)}
    assert with_texts.act(masked) == 1
    env.close()
    backend = EncoderBackend(HashingEmbedder(dim=32))
    with pytest.raises(CapabilityError, match="generate"):
        LLMAgent(backend, choose="generate")
    with pytest.raises(ValueError, match="normalization"):
        LLMAgent(backend, normalization="mean")
    with pytest.raises(ValueError, match="choose"):
        LLMAgent(backend, choose="vote")
    with pytest.raises(ValueError, match="temperature"):
        LLMAgent(backend, temperature=-1.0)
    with pytest.raises(ValueError, match="render"):
        LLMAgent(backend, blocks=[object()])


def test_an_unreachable_server_is_an_error_not_a_fallback():
    backend = OpenAIBackend(
        "http://127.0.0.1:9/v1", model="m", mode="generation", max_retries=1, backoff=0.01,
        timeout=0.5,
    )  # fmt: skip
    agent = LLMAgent(backend, choose="generate")
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1:9"):
        agent.act("view", {"legal_actions": {0: "noop"}})


# ------------------------------------------------------------------------ prompt helpers
def test_parse_reply_maps_list_positions_to_action_indices():
    legal = {0: "noop", 5: "collect wood", 13: "place table north"}
    assert parse_reply("collect wood", legal) == 5
    assert parse_reply("2", legal) == 5  # the second listed action
    assert parse_reply("- Action: place table north.", legal) == 13
    assert parse_reply("4", legal) is None
    assert parse_reply("mine stone", legal) is None
    assert parse_reply("", legal) is None


def test_fallback_prefers_noop_then_check_then_fold():
    assert fallback_action({2: "raise to 6", 1: "check", 0: "fold"}) == 1
    assert fallback_action({0: "fold", 1: "call 2"}) == 0
    assert fallback_action({3: "move south", 0: "noop"}) == 0
    assert fallback_action({4: "move west", 3: "move south"}) == 3


def test_build_prompt_is_deterministic_and_ends_with_the_action_cue():
    legal = {0: "noop", 1: "move north"}
    a = build_prompt("view", legal, [("Memory", "saw a tree")])
    assert a == build_prompt("view", legal, [("Memory", "saw a tree")])
    assert a.endswith("\n\nAction:") and np.char.count(a, "## ").item() == 3


# ------------------------------------------------------------------- review regressions
class _FixedScores:
    """A scoring backend that answers every prompt with the same logprobs (no stats)."""

    capabilities = frozenset({"score"})

    def __init__(self, logprob):
        self.logprob = np.asarray(logprob, dtype=np.float64)

    def score(self, prompts, candidates):
        from palaestra.llm import ScoreResult

        k = len(candidates[0])
        return [ScoreResult(self.logprob[:k], np.ones(k, np.int64), np.ones(k, np.int64))]


def test_a_nan_score_never_wins_over_real_scores():
    # np.argmax picks the first NaN; a broken server reply must not choose the action.
    legal = {0: "noop", 3: "move north", 7: "collect wood"}
    agent = LLMAgent(_FixedScores([np.nan, -2.0, -1.0]))
    assert agent.act("view", {"legal_actions": legal}) == 7
    sampler = LLMAgent(_FixedScores([np.nan, -2.0, -1.0]), temperature=1.0, seed=0)
    assert all(sampler.act("view", {"legal_actions": legal}) in (3, 7) for _ in range(20))
    nothing = LLMAgent(_FixedScores([np.nan, np.nan, -np.inf]))
    assert nothing.act("view", {"legal_actions": legal}) == 0  # the fallback, counted
    assert nothing.stats()["fallbacks"] == 1


class _LocalModel:
    """A local backend as TransformersBackend is: a tokenizer, no usage counters."""

    capabilities = frozenset({"score", "generate"})

    def __init__(self):
        self.tokenizer = lambda text, add_special_tokens=True: {"input_ids": text.split()}

    def score(self, prompts, candidates):
        return _FixedScores([-1.0] * len(candidates[0])).score(prompts, candidates)

    def generate(self, prompts, *, max_new_tokens, temperature=0.0, stop=None):
        return ["collect wood please"]


def test_a_local_model_counts_prompt_and_completion_tokens_with_its_tokenizer():
    legal = {0: "noop", 5: "collect wood"}
    for choose in ("score", "generate"):
        agent = LLMAgent(_LocalModel(), choose=choose)
        agent.act("a tree to the north", {"legal_actions": legal})
        stats = agent.stats()
        assert stats["prompt_tokens"] == len(agent.last_prompt.split())
        assert stats["completion_tokens"] == (3 if choose == "generate" else 0)
