"""Language policies in the PPO trainer: the encoder policy and a causal LM with LoRA.

Models are built from configs with a tokenizer trained here on Craft's own text views (the
tokenizers library); nothing is downloaded. The trainer runs for real on Craft-v0.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import PolicyAgent, play
from palaestra.agents.language_policy import CausalLMScorer, LanguagePolicy, normalise_scores
from palaestra.agents.language_spec import LanguagePolicyConfig
from palaestra.llm import ScoreResult, action_logits
from palaestra.llm.testing import train_tokenizer
from palaestra.train.config import PPOConfig, TrainConfig
from palaestra.train.evaluate import evaluation_seeds
from palaestra.train.ppo import collect_rollout, compute_advantages, train, update_policy
from palaestra.train.session import open_session

TASK = {"goal": "collect wood", "size": 6}
ENV_KWARGS = {"task": TASK, "max_steps": 20}


# ------------------------------------------------------------------------ normalisation
def test_normalisations_on_hand_computed_scores():
    result = ScoreResult(
        logprob=np.array([-6.0, -2.0, -3.0]),
        n_tokens=np.array([3, 1, 2]),
        n_words=np.array([2, 1, 1]),
    )
    assert action_logits(result, "token").tolist() == [-2.0, -2.0, -1.5]
    assert action_logits(result, "word").tolist() == [-3.0, -2.0, -3.0]
    assert action_logits(result, "sum").tolist() == [-6.0, -2.0, -3.0]
    with pytest.raises(ValueError, match="normalization"):
        action_logits(result, "mean")
    # The torch twin that trains gives the same numbers.
    lp, n = torch.tensor([-6.0, -2.0, -3.0]), torch.tensor([3, 1, 2])
    cands = [" move north", " noop", " collect"]
    for norm in ("token", "word", "sum"):
        expected = action_logits(
            ScoreResult(lp.numpy(), n.numpy(), np.array([2, 1, 1])), norm
        ).astype(np.float32)
        assert np.array_equal(normalise_scores(lp, n, cands, norm).numpy(), expected)


# ------------------------------------------------------------------------ a tiny causal LM
def _corpus() -> list[str]:
    env = gym.make("palaestra/Craft-v0", obs_mode="text", **ENV_KWARGS)
    texts = []
    for seed in range(12):
        obs, info = env.reset(seed=seed)
        texts += [obs, *info["legal_actions"].values()]
    env.close()
    from palaestra.agents.prompts import build_prompt

    texts.append(build_prompt("view", {0: "noop"}))
    return texts


def _tiny_lm(tmp: Path) -> Path:
    """A 2-layer Llama from a config and a BPE trained on Craft's texts, saved to ``tmp``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(_corpus(), vocab_size=600)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    return tmp


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    return _tiny_lm(tmp_path_factory.mktemp("tiny_llama"))


def _config(tmp_path: Path, policy: str, lm: Path | None = None, **kwargs) -> TrainConfig:
    llm = LanguagePolicyConfig(
        model=None if lm is None else str(lm), embedder="hashing", lora_rank=4, **kwargs
    )
    return TrainConfig(
        env_id="palaestra/Craft-v0", total_timesteps=64, num_envs=2, seed=3, policy=policy,
        llm=llm, env_kwargs=dict(ENV_KWARGS), run_dir=tmp_path / "run", eval_episodes=2,
        video=False, quiet=True,
        ppo=PPOConfig(num_steps=16, minibatch_size=16, update_epochs=1, learning_rate=1e-3),
    )  # fmt: skip


# ---------------------------------------------------------------- the first ratio is 1
@pytest.mark.parametrize("policy", ["minilm", "llm"])
def test_the_first_minibatch_ratio_is_one(tmp_path, lm_dir, policy):
    s = open_session(_config(tmp_path, policy, lm_dir), [], None, resume=False)
    try:
        assert isinstance(s.policy, LanguagePolicy)
        s.reset_envs()
        collect_rollout(s)
        compute_advantages(s)
        extras = s.flat_extras()
        batch = next(s.storage.minibatches(2, s.generator))
        rows = [extras[i] for i in batch.index.tolist()]
        with torch.no_grad():
            new_logprob, entropy, value = s.policy.evaluate_actions(
                batch.obs, batch.actions, batch.action_masks, batch.critic_obs, extras=rows
            )
        ratio = (new_logprob - batch.logprobs).exp()
        assert torch.allclose(ratio, torch.ones_like(ratio), atol=1e-5)
        assert torch.allclose(value, batch.values, atol=1e-5)
        # Each action was legal, and the entropy is at most log(#legal) of its row.
        for row, action, ent in zip(rows, batch.actions.tolist(), entropy.tolist(), strict=True):
            assert action in row["legal_actions"]
            assert 0.0 <= ent <= np.log(len(row["legal_actions"])) + 1e-5
    finally:
        s.envs.close()


# ------------------------------------------------------------------------------- LoRA
def _probe(scorer: CausalLMScorer, prompts, candidates, adapters: bool) -> list[np.ndarray]:
    with torch.no_grad():
        if adapters:
            scores = scorer.backend.score_tensors(prompts, candidates)
        else:
            with scorer.model.disable_adapter():
                scores = scorer.backend.score_tensors(prompts, candidates)
    return [t.numpy().copy() for t in scores.logprob]


def test_lora_adapters_off_give_the_base_and_a_ppo_step_changes_only_adapters_on(tmp_path, lm_dir):
    from palaestra.llm.transformers_backend import TransformersBackend

    prompts = ["## Observation\nyou are at (0, 2)\n\nAction:", "## Observation\ntree\n\nAction:"]
    candidates = [[" noop", " move north", " collect wood"], [" move east", " noop"]]
    base = TransformersBackend.from_pretrained(str(lm_dir))
    base_scores = [r.logprob for r in base.score(prompts, candidates)]

    s = open_session(_config(tmp_path, "llm", lm_dir), [], None, resume=False)
    try:
        scorer = s.policy.scorer
        off = _probe(scorer, prompts, candidates, adapters=False)
        on = _probe(scorer, prompts, candidates, adapters=True)
        for a, b, c in zip(base_scores, off, on, strict=True):
            assert np.array_equal(a.astype(np.float32), b)  # adapters off: the base exactly
            assert np.allclose(b, c, atol=1e-6)  # LoRA starts as the identity (B = 0)
        frozen = {n: p.detach().clone() for n, p in scorer.model.named_parameters()
                  if not p.requires_grad}  # fmt: skip
        s.reset_envs()
        collect_rollout(s)
        compute_advantages(s)
        update_policy(s.policy, s.optimizer, s.storage, s.config.ppo, s.generator, s.flat_extras())
        after_off = _probe(scorer, prompts, candidates, adapters=False)
        after_on = _probe(scorer, prompts, candidates, adapters=True)
        for b, b2, c2 in zip(off, after_off, after_on, strict=True):
            assert np.array_equal(b, b2)  # the base did not move
            assert not np.allclose(b2, c2, atol=1e-6)  # the adapters did
        for name, p in scorer.model.named_parameters():
            if name in frozen:
                assert torch.equal(frozen[name], p.detach()), name
    finally:
        s.envs.close()


# ------------------------------------------------------------------ run folders, resuming
@pytest.mark.parametrize("policy", ["minilm", "llm"])
def test_a_language_run_leaves_a_run_folder_that_plays_back(tmp_path, lm_dir, policy):
    result = train(_config(tmp_path, policy, lm_dir))
    spec = json.loads((result.run_dir / "policy.json").read_text())
    assert spec["language"]["policy"] == policy and spec["row_extras"] == ["text", "legal_actions"]
    from safetensors import safe_open

    with safe_open(str(result.checkpoint), framework="pt") as f:
        names = [k for k in f.keys() if k.startswith("policy.")]  # noqa: SIM118
    assert any("value_head" in k for k in names)
    if policy == "llm":  # the adapters and heads only, never the frozen base
        assert names and all("lora_" in k or "value_head" in k for k in names), names
    agent = PolicyAgent.from_run(result.run_dir)
    config = json.loads((result.run_dir / "config.json").read_text())
    env = gym.make("palaestra/Craft-v0", **config["env_kwargs"])
    replay = play(env, agent, seeds=evaluation_seeds(3, 2))
    env.close()
    saved = json.loads((result.run_dir / "eval.json").read_text())
    assert [r.returns["agent"] for r in replay] == [e["return"] for e in saved["records"]]


def test_a_resumed_language_run_continues_as_an_uninterrupted_one(tmp_path, lm_dir):
    whole = _config(tmp_path / "whole", "llm", lm_dir)
    whole = dataclasses.replace(whole, total_timesteps=96, checkpoint_interval=32)
    train(whole)
    first = dataclasses.replace(whole, run_dir=tmp_path / "parts" / "run", total_timesteps=32)
    train(first)
    train(dataclasses.replace(first, total_timesteps=96), resume=True)
    from safetensors.torch import load_file

    a = load_file(str(sorted((whole.run_dir / "checkpoints").glob("*.safetensors"))[-1]))
    b = load_file(str(sorted((first.run_dir / "checkpoints").glob("*.safetensors"))[-1]))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------- minibatches by size, accum
def test_gradient_accumulation_gives_the_same_update(tmp_path):
    finals = []
    for accum in (1, 4):
        config = TrainConfig(
            env_id="CartPole-v1", total_timesteps=256, num_envs=2, seed=0, eval_episodes=0,
            run_dir=tmp_path / f"a{accum}", video=False, quiet=True,
            ppo=PPOConfig(num_steps=64, minibatch_size=64, grad_accum_steps=accum),
        )  # fmt: skip
        result = train(config)
        from safetensors.torch import load_file

        finals.append(load_file(str(result.checkpoint)))
    for key in finals[0]:
        assert torch.allclose(finals[0][key], finals[1][key], atol=1e-5), key


# --------------------------------------------------------------------------- bad input
def test_bad_language_settings_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"--llm\.model"):
        _config(tmp_path, "llm").validate()
    frozen_without_adapters = LanguagePolicyConfig(model="x", lora_rank=0, critic="frozen")
    with pytest.raises(ValueError, match="lora_rank"):
        TrainConfig(policy="llm", llm=frozen_without_adapters).validate()
    carry = dataclasses.replace(_config(tmp_path, "minilm"), env_id="palaestra/Carry-v0",
                                env_kwargs={})  # fmt: skip
    with pytest.raises(ValueError, match="text view"):
        train(carry)
    missing = _config(tmp_path, "llm", tmp_path / "no-such-model")
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        train(missing)


# ------------------------------------------------------------------- review regressions
class _Backend:
    """Just what CausalLMScorer reads of a TransformersBackend: its model."""

    def __init__(self, model):
        self.model = model


def _gpt2(dropout: float = 0.0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=1, n_embd=16, n_head=2, vocab_size=64, n_positions=64,
        resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout,
    )  # fmt: skip
    return GPT2LMHeadModel(config).eval()  # tied: lm_head.weight is transformer.wte.weight


def test_lora_checkpoints_leave_out_a_tied_embedding():
    policy = LanguagePolicy(CausalLMScorer(_Backend(_gpt2()), lora_rank=2))
    saved = policy.state_dict()
    assert saved and all("lora_" in k or "value_head" in k for k in saved), list(saved)
    moved = {k: v + 1.0 for k, v in saved.items()}
    fresh = LanguagePolicy(CausalLMScorer(_Backend(_gpt2()), lora_rank=2))
    fresh.load_state_dict(moved)  # strict: the frozen base (both names of wte) may be missing
    assert fresh.state_dict().keys() == moved.keys()
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, moved[key]), key


def test_the_lm_stays_in_eval_mode_so_rollout_and_update_score_alike():
    # peft's adapter dropout starts in training mode, and evaluate_policy's policy.train()
    # would switch the LM's own dropout on: either makes re-scoring differ from the rollout.
    policy = LanguagePolicy(CausalLMScorer(_Backend(_gpt2(0.5)), lora_rank=2, lora_dropout=0.5))
    for mode in (None, True, False, True):
        if mode is not None:
            policy.train(mode)
        training = [n for n, m in policy.scorer.model.named_modules() if m.training]
        assert not training, training[:5]
    assert policy.training and policy.value_head.training  # the policy's own mode is kept


def test_a_stochastic_policy_agent_samples_from_its_seeded_generator():
    from palaestra.agents.language_policy import EncoderScorer
    from palaestra.agents.policy_agent import encoder_for
    from palaestra.llm.embedders import HashingEmbedder
    from palaestra.llm.encoder import EncoderBackend

    torch.manual_seed(0)
    scorer = EncoderScorer(EncoderBackend(HashingEmbedder(dim=64), scale=1.0))
    policy = LanguagePolicy(scorer)
    kwargs = {"obs_mode": "both", **ENV_KWARGS}
    encoder, action = encoder_for("palaestra/Craft-v0", kwargs)
    env = gym.make("palaestra/Craft-v0", **kwargs)

    def actions(global_seed: int) -> list[int]:
        agent = PolicyAgent(policy, encoder, action, deterministic=False)
        taken = []

        class Recorder:
            def reset(self, seed=None):
                agent.reset(seed)

            def act(self, observation, info=None):
                taken.append(agent.act(observation, info))
                return taken[-1]

        torch.manual_seed(global_seed)  # play's reset(seed) alone must fix the samples
        play(env, Recorder(), seeds=[1, 2])
        return taken

    first = actions(0)
    assert first == actions(1)
    assert len(set(first)) > 1  # it did sample
    env.close()


def test_a_language_policy_refuses_an_obs_mode_without_text_and_numbers(tmp_path):
    for mode in ("vector", "text"):
        config = _config(tmp_path, "minilm")
        config = dataclasses.replace(config, env_kwargs={**ENV_KWARGS, "obs_mode": mode})
        with pytest.raises(ValueError, match="obs_mode='both'"):
            train(config)
