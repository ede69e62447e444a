"""The encoder backend: similarity logits, its action cache and its trainable head."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from palaestra.llm import Backend, CapabilityError, action_logits, require
from palaestra.llm.embedders import HashingEmbedder
from palaestra.llm.encoder import EncoderBackend, SimilarityHead

PROMPTS = ["You see a tree. You need wood.", "A table stands by the door."]
CANDS = [["collect wood", "fold the hand", "walk north"], ["lift the table", "sit down"]]


class CountingEmbedder:
    """A hashing embedder that remembers every text it was asked to embed."""

    def __init__(self, dim=64):
        self.inner = HashingEmbedder(dim=dim)
        self.dim = dim
        self.seen = []

    def embed(self, texts):
        self.seen.extend(texts)
        return self.inner.embed(texts)


def make(seed=0, **kwargs):
    torch.manual_seed(seed)
    return EncoderBackend(CountingEmbedder(), **kwargs)


def test_scores_are_a_log_softmax_over_each_prompts_candidates():
    backend = make()
    assert isinstance(backend, Backend)
    results = backend.score(PROMPTS, CANDS)
    assert [len(r) for r in results] == [3, 2]
    for result, cands in zip(results, CANDS, strict=True):
        assert result.method == "similarity"
        assert np.exp(result.logprob).sum() == pytest.approx(1.0)
        assert result.n_tokens.tolist() == [1] * len(cands)
        assert result.n_words.tolist() == [len(c.split()) for c in cands]
        np.testing.assert_allclose(action_logits(result, "token"), result.logprob)
    assert backend.score([], []) == []


def test_untrained_logits_are_the_scaled_cosine():
    backend = make(scale=7.0)
    embedder = backend.embedder.inner
    obs = embedder.embed(PROMPTS[:1])[0]
    acts = embedder.embed(CANDS[0])
    (logits,) = backend.logits_tensors(PROMPTS[:1], CANDS[:1])
    np.testing.assert_allclose(logits.detach().numpy(), 7.0 * acts @ obs, atol=1e-5)


def test_action_embeddings_are_computed_once():
    backend = make()
    backend.score(PROMPTS, CANDS)
    backend.score(PROMPTS[:1], [["walk north", "collect wood", "jump"]])
    seen = backend.embedder.seen
    for text in [*CANDS[0], *CANDS[1], "jump"]:
        assert seen.count(text) == 1, text
    assert seen.count(PROMPTS[0]) == 2  # observations are embedded every time
    assert backend.action_embeddings_computed == 6


def test_the_action_cache_is_bounded():
    backend = make(cache_size=2)
    backend.score(PROMPTS[:1], [["a", "b", "c"]])
    backend.score(PROMPTS[:1], [["c", "a"]])  # "a" was evicted, "c" kept
    assert backend.embedder.seen.count("a") == 2 and backend.embedder.seen.count("c") == 1


def test_gradients_reach_the_head_and_not_the_embeddings():
    backend = make()
    logits = backend.logits_tensors(PROMPTS, CANDS)
    assert [t.shape for t in logits] == [(3,), (2,)]
    loss = -sum(torch.log_softmax(t, dim=0)[0] for t in logits)
    loss.backward()
    head = backend.head
    for param in (head.obs_adapter.up.weight, head.action_adapter.up.weight, head.log_scale):
        assert param.grad is not None and param.grad.abs().sum() > 0
    assert all(not v.requires_grad for v in backend._actions.values())


def test_a_few_steps_raise_the_chosen_candidates_probability():
    backend = make()
    target = 2  # "walk north", not the most similar text to the prompt
    before = math.exp(backend.score(PROMPTS[:1], CANDS[:1])[0].logprob[target])
    optimizer = torch.optim.Adam(backend.parameters(), lr=0.05)
    for _ in range(10):
        (logits,) = backend.logits_tensors(PROMPTS[:1], CANDS[:1])
        loss = -torch.log_softmax(logits, dim=0)[target]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = math.exp(backend.score(PROMPTS[:1], CANDS[:1])[0].logprob[target])
    assert after > before + 0.2, (before, after)


def test_the_head_is_deterministic_under_a_seed():
    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    for x, y in zip(a.head.state_dict().values(), b.head.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(a.head.obs_adapter.down.weight, c.head.obs_adapter.down.weight)
    np.testing.assert_array_equal(
        a.score(PROMPTS, CANDS)[0].logprob, b.score(PROMPTS, CANDS)[0].logprob
    )


def test_capabilities_and_refusals():
    backend = make()
    assert backend.capabilities == frozenset({"score", "train", "embed"})
    require(backend, "train")
    with pytest.raises(CapabilityError, match="cannot generate"):
        backend.generate(PROMPTS, max_new_tokens=4)
    assert backend.embed(["collect wood"]).shape == (1, 64)
    with pytest.raises(ValueError, match="empty candidate list"):
        backend.score(PROMPTS[:1], [[]])
    with pytest.raises(ValueError, match="dim 32"):
        EncoderBackend(CountingEmbedder(), head=SimilarityHead(32))
    with pytest.raises(TypeError, match="embed"):
        EncoderBackend(object())
    with pytest.raises(ValueError, match="scale"):
        SimilarityHead(8, scale=0.0)


def test_the_default_embedder_is_minilm():
    torch.manual_seed(0)
    backend = EncoderBackend()
    assert backend.embedder.dim == 384
    (result,) = backend.score(
        ["You are in a forest and need wood for a fire."],
        [["gather wood", "fold the hand", "raise the bet"]],
    )
    assert int(np.argmax(result.logprob)) == 0
