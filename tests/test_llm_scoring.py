"""TransformersBackend: exact candidate scoring by three methods, generation, loading.

Tiny models are built from configs (a Llama-style one with a BOS token and a GPT-2-style one
with absolute positions and no BOS) over a byte-level BPE trained here on game sentences;
nothing is downloaded. Scores are checked against log-softmax of one plain forward pass
over the joined text, computed in this file.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

from palaestra.llm import CapabilityError, ContextLengthError, require, testing
from palaestra.llm.transformers_backend import TransformersBackend

CORPUS = [
    "You see a door to the north and a key on the table.",
    "Go north, then take the key. Open the door.",
    "You have 12 coins and 3 gems; buy 2 swords for 10 coins.",
    "The partner lifts the box. Wait for the partner, then carry the box east.",
    "Look around! A goblin attacks: play the card Strike, then Defend.",
    "Raise 20 chips, call, fold or check. The pot is 45 chips.",
    "Craft a plank from 1 log; craft a table from 4 planks.",
] * 4

PROMPTS = [
    "You see a door to the north. You",
    "Turn 3. The pot is 45 chips and you hold a pair. Your move:",
    "Go",
]
CANDIDATES = [
    [" open the door", " go north", " wait", " take the key and go north"],
    [" fold", " call", " raise 20 chips", " check", " raise 10", " fold now", " call 45"],
    [" north"],
]


def train_tokenizer(bos: bool):
    """A byte-level BPE trained on CORPUS (pad id 0, BOS 1, EOS 2)."""
    return testing.train_tokenizer(CORPUS, vocab_size=400, bos=bos)


def tiny_llama(vocab_size: int, seed: int = 0):
    """A 2-layer Llama (hidden 64, rotary positions, grouped KV heads), random weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        initializer_range=0.2,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


def tiny_gpt2(vocab_size: int, seed: int = 0):
    """A 2-layer GPT-2 (hidden 64, learned absolute positions), random weights."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_embd=64,
        n_layer=2,
        n_head=4,
        n_positions=128,
        initializer_range=0.2,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=2,
    )
    return GPT2LMHeadModel(config).eval()


def make_backend(style: str, **kwargs) -> TransformersBackend:
    tokenizer = train_tokenizer(bos=style == "llama")
    build = tiny_llama if style == "llama" else tiny_gpt2
    return TransformersBackend(build(len(tokenizer)), tokenizer, **kwargs)


@pytest.fixture(scope="module", params=["llama", "gpt2"])
def backend(request) -> TransformersBackend:
    return make_backend(request.param)


def reference_scores(backend: TransformersBackend, prompt: str, cands: list[str]) -> np.ndarray:
    """Log-softmax of one plain forward over each joined text, summed over its scored tokens.

    The scored tokens follow the longest common token prefix of the joined text and the
    prompt, both tokenised with the tokenizer's own special tokens.
    """
    tok, out = backend.tokenizer, []
    prompt_ids = tok(prompt)["input_ids"]
    for cand in cands:
        ids = tok(prompt + cand)["input_ids"]
        start = 0
        while start < len(prompt_ids) and ids[start] == prompt_ids[start]:
            start += 1
        with torch.no_grad():
            logits = backend.model(torch.tensor([ids])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        out.append(sum(float(logp[t - 1, ids[t]]) for t in range(start, len(ids))))
    return np.array(out)


def logprobs(backend, prompts, candidates, method="auto") -> list[np.ndarray]:
    return [r.logprob for r in backend.score(prompts, candidates, method=method)]


# ---------------------------------------------------------------- exactness


@pytest.mark.parametrize("method", ["naive", "batched", "prefix", "auto"])
def test_every_method_equals_a_plain_forward(backend, method):
    results = backend.score(PROMPTS, CANDIDATES, method=method)
    for prompt, cands, result in zip(PROMPTS, CANDIDATES, results, strict=True):
        np.testing.assert_allclose(
            result.logprob, reference_scores(backend, prompt, cands), atol=1e-4
        )
        assert result.n_words.tolist() == [len(c.split()) for c in cands]
        assert (result.n_tokens >= 1).all()


def test_methods_agree_and_batching_prompts_changes_nothing(backend):
    together = {
        m: logprobs(backend, PROMPTS, CANDIDATES, m) for m in ("naive", "batched", "prefix")
    }
    for method, scores in together.items():
        for i, (prompt, cands) in enumerate(zip(PROMPTS, CANDIDATES, strict=True)):
            alone = logprobs(backend, [prompt], [cands], method)[0]
            np.testing.assert_allclose(scores[i], alone, atol=1e-5)
            np.testing.assert_allclose(scores[i], together["naive"][i], atol=1e-4)
    # candidates really differ, so agreement is not agreement on a constant
    assert np.ptp(together["naive"][1]) > 0.5


def test_tiny_gpt2_depends_on_positions():
    # Without explicit position ids a padded prefix pass would shift GPT-2's positions;
    # this model is sensitive enough for the agreement tests to notice.
    backend = make_backend("gpt2")
    ids = torch.tensor([backend.tokenizer(PROMPTS[1])["input_ids"]])
    with torch.no_grad():
        plain = backend.model(ids).logits
        shifted = backend.model(ids, position_ids=torch.arange(ids.shape[1])[None] + 7).logits
    assert (plain - shifted).abs().max() > 1e-2


def test_boundary_cases_match_the_joined_text(backend):
    prompts = ["You see a ", "You have 1", "Go north", "Open the door", "Raise "]
    candidates = [
        ["door", "key on the table", " key"],  # the prompt's trailing space merges
        ["2 coins", " gem", "0"],  # a digit after a digit
        [", then take the key.", ".", "!"],  # punctuation
        [" now", "."],
        ["20 chips", "10"],  # a digit after a space
    ]
    results = backend.score(prompts, candidates, method="prefix")
    for prompt, cands, result in zip(prompts, candidates, results, strict=True):
        np.testing.assert_allclose(
            result.logprob, reference_scores(backend, prompt, cands), atol=1e-4
        )
    items = backend.encode(prompts[:1], candidates[:1])
    prompt_len = len(backend.tokenizer(prompts[0])["input_ids"])
    assert items[0].starts[0] == prompt_len - 1  # "Ġ" + "door" became one scored token "Ġdoor"


def test_bos_is_kept_for_the_prompt_and_never_given_to_candidates():
    backend = make_backend("llama")
    item = backend.encode(["Go"], [[" north", " east"]])[0]
    tok = backend.tokenizer
    assert item.rows[0][0] == tok.bos_token_id
    assert all(row.count(tok.bos_token_id) == 1 for row in item.rows)
    assert item.rows[0] == tuple(tok("Go north")["input_ids"])
    no_bos = make_backend("gpt2").encode(["Go"], [[" north"]])[0]
    assert no_bos.rows[0] == tuple(tok("Go north", add_special_tokens=False)["input_ids"])


def test_padding_side_does_not_matter(backend):
    saved = backend.tokenizer.padding_side
    try:
        backend.tokenizer.padding_side = "left"
        left = logprobs(backend, PROMPTS, CANDIDATES, "prefix")
        backend.tokenizer.padding_side = "right"
        right = logprobs(backend, PROMPTS, CANDIDATES, "prefix")
    finally:
        backend.tokenizer.padding_side = saved
    for a, b in zip(left, right, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("method", ["batched", "prefix"])
def test_chunked_equals_unchunked(backend, method):
    words = ["north", "east", "the key", "the door", "20 chips", "wait", "look around"]
    cands = [[f" {a} then {b}" for a in words for b in words[:5]], [" fold", " call"]]
    prompts = [PROMPTS[0], PROMPTS[1]]
    whole = logprobs(backend, prompts, cands, method)
    small = TransformersBackend(backend.model, backend.tokenizer, token_budget=40)
    chunked = logprobs(small, prompts, cands, method)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_auto_uses_prefix_reuse_from_the_threshold_on():
    backend = make_backend("llama", prefix_min_candidates=3)
    many = logprobs(backend, PROMPTS, CANDIDATES, "auto")
    for a, b in zip(many, logprobs(backend, PROMPTS, CANDIDATES, "naive"), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)


# ---------------------------------------------------------------- gradients


def test_score_tensors_backpropagates_through_lora():
    peft = pytest.importorskip("peft")
    backend = make_backend("llama")
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    backend.model = peft.get_peft_model(backend.model, config)
    grads = {}
    for method in ("batched", "prefix"):
        backend.model.zero_grad()
        out = backend.score_tensors(PROMPTS[:2], CANDIDATES[:2], method=method, return_hidden=True)
        assert out.hidden is not None and out.hidden.shape == (2, 64)
        loss = sum(lp.sum() for lp in out.logprob) + out.hidden.sum()
        loss.backward()
        grads[method] = {
            n: p.grad.clone() for n, p in backend.model.named_parameters() if p.requires_grad
        }
    assert grads["prefix"] and any(g.abs().sum() > 0 for g in grads["prefix"].values())
    for name, g in grads["prefix"].items():
        torch.testing.assert_close(g, grads["batched"][name], atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------- errors


def test_errors_are_clear():
    backend = make_backend("gpt2", max_length=24)
    with pytest.raises(ValueError, match="prompt 0 has an empty candidate list"):
        backend.score(["Go"], [[]])
    long = "Look around! " * 20
    with pytest.raises(ContextLengthError, match=r"prompt 1 is \d+ tokens long") as err:
        backend.score(["Go", long], [[" north"], [" wait"]])
    assert err.value.index == 1 and err.value.length > 24 and err.value.limit == 24
    with pytest.raises(CapabilityError, match="cannot embed"):
        require(backend, "embed")
    with pytest.raises(ValueError, match="unknown scoring method"):
        backend.score(["Go"], [[" north"]], method="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nothing to condition on"):
        backend.score([""], [["Go north"]])  # no BOS and an empty prompt


def test_from_pretrained_missing_path_names_it(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match=r"no-such-model.*local_files_only=False"):
        TransformersBackend.from_pretrained(missing)
    with pytest.raises(FileNotFoundError, match="local_files_only=False"):
        TransformersBackend.from_pretrained("palaestra-test/not-a-cached-model")


def test_from_pretrained_round_trip(tmp_path, backend):
    backend.model.save_pretrained(tmp_path)
    backend.tokenizer.save_pretrained(tmp_path)
    loaded = TransformersBackend.from_pretrained(tmp_path)
    for a, b in zip(
        logprobs(backend, PROMPTS, CANDIDATES), logprobs(loaded, PROMPTS, CANDIDATES), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-6)


# ---------------------------------------------------------------- generation


def manual_greedy(backend: TransformersBackend, prompt: str, n: int) -> str:
    tok = backend.tokenizer
    ids = tok(prompt)["input_ids"]
    start = len(ids)
    for _ in range(n):
        with torch.no_grad():
            nxt = int(backend.model(torch.tensor([ids])).logits[0, -1].argmax())
        if nxt == tok.eos_token_id:
            break
        ids.append(nxt)
    return tok.decode(ids[start:], skip_special_tokens=True)


def test_greedy_generation_is_a_deterministic_argmax_loop(backend):
    prompts = ["You see a door. You", "Go north, then"]
    first = backend.generate(prompts, max_new_tokens=6)
    assert first == backend.generate(prompts, max_new_tokens=6)
    assert first == [manual_greedy(backend, p, 6) for p in prompts]
    assert first[1] == backend.generate(prompts[1:], max_new_tokens=6)[0]  # batching is exact


def test_stop_strings_cut_the_text(backend):
    full = backend.generate(["The pot is"], max_new_tokens=10)[0]
    assert len(full) >= 4
    stop = full[2:4]
    cut = backend.generate(["The pot is"], max_new_tokens=10, stop=[stop])[0]
    assert cut == full[: full.find(stop)]


def test_sampling_is_seeded(backend):
    a = backend.generate(["Go"], max_new_tokens=8, temperature=1.5, seed=3)
    b = backend.generate(["Go"], max_new_tokens=8, temperature=1.5, seed=3)
    assert a == b
    with pytest.raises(ContextLengthError, match="generation for prompt 0"):
        backend.generate(["Go"], max_new_tokens=500)


@pytest.mark.gpu
def test_cuda_bfloat16_scores_close_to_float32():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = make_backend("llama")
    gpu = TransformersBackend(tiny_llama(len(cpu.tokenizer)), cpu.tokenizer, device="cuda")
    assert next(gpu.model.parameters()).dtype == torch.bfloat16
    for method in ("batched", "prefix"):
        for a, b in zip(
            logprobs(cpu, PROMPTS, CANDIDATES, method),
            logprobs(gpu, PROMPTS, CANDIDATES, method),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, atol=0.15, rtol=0.02)
