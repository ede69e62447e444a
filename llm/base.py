"""The one protocol every language backend and embedder follows, with its errors.

Glossary:
    prompt: the text a model reads before it acts (the env's text view plus blocks).
    candidate: one legal action's text; a candidate is scored as a continuation of its prompt.
    score: the summed log-probability of a candidate's tokens given its prompt.
    normalisation: how scores of candidates of different lengths are made comparable
        (``token``: mean per token, TWOSOME's default; ``word``: per word; ``sum``: raw).
    capability: a name for what a backend can do (``score``, ``generate``, ``train``).

This module needs only numpy: ``palaestra.llm`` imports without torch or transformers, and
the backends that need them import them when they are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

SCORE = "score"
GENERATE = "generate"
TRAIN = "train"
EMBED = "embed"
CAPABILITIES = frozenset({SCORE, GENERATE, TRAIN, EMBED})

Normalization = Literal["token", "word", "sum"]
NORMALIZATIONS: tuple[str, ...] = ("token", "word", "sum")


class LLMError(RuntimeError):
    """Base class of the errors a language backend raises on purpose."""


class CapabilityError(LLMError):
    """A backend was asked for something it cannot do."""


class ContextLengthError(LLMError, ValueError):
    """A prompt (with its longest candidate) does not fit the model's context window."""

    def __init__(self, index: int, length: int, limit: int, what: str = "prompt") -> None:
        self.index = index
        self.length = length
        self.limit = limit
        super().__init__(
            f"{what} {index} is {length} tokens long, more than the model's context of "
            f"{limit} tokens; shorten it (fewer prompt blocks, a shorter history) or use a "
            "model with a longer context"
        )


class BackendUnavailableError(LLMError, ConnectionError):
    """A server could not be reached, or kept failing after the allowed retries."""


@dataclass(frozen=True)
class ScoreResult:
    """The scores of one prompt's candidates, in the order they were given.

    Attributes:
        logprob: float64 array ``(K,)``, the summed log-probability of each candidate's
            tokens given the prompt.
        n_tokens: int64 array ``(K,)``, how many tokens each candidate has.
        n_words: int64 array ``(K,)``, how many whitespace-separated words each has (at least 1).
        method: how the scores were obtained: ``"exact"`` (token likelihoods),
            ``"choice"`` (one numbered-choice token's log-probability; ``n_tokens`` is 1) or
            ``"generation"`` (a generated reply matched to a candidate: 0 for the match,
            ``-inf`` for the rest) or ``"similarity"`` (an encoder's log-softmax over the
            candidates; ``n_tokens`` is 1).
        extras: backend-specific numbers (``parsed``: 1.0 when a reply was read, ...).
    """

    logprob: np.ndarray
    n_tokens: np.ndarray
    n_words: np.ndarray
    method: str = "exact"
    extras: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lp = np.asarray(self.logprob, dtype=np.float64)
        nt = np.asarray(self.n_tokens, dtype=np.int64)
        nw = np.asarray(self.n_words, dtype=np.int64)
        if not (lp.ndim == nt.ndim == nw.ndim == 1) or not (len(lp) == len(nt) == len(nw)):
            raise ValueError(
                "ScoreResult needs three 1-D arrays of one length; got shapes "
                f"{lp.shape}, {nt.shape}, {nw.shape}"
            )
        object.__setattr__(self, "logprob", lp)
        object.__setattr__(self, "n_tokens", nt)
        object.__setattr__(self, "n_words", nw)

    def __len__(self) -> int:
        return len(self.logprob)


@runtime_checkable
class Backend(Protocol):
    """What every language backend offers (``capabilities`` says which parts work)."""

    capabilities: frozenset[str]

    def score(
        self, prompts: Sequence[str], candidates: Sequence[Sequence[str]]
    ) -> list[ScoreResult]:
        """Score each prompt's candidates; one :class:`ScoreResult` per prompt."""
        ...

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> list[str]:
        """Continue each prompt; greedy when ``temperature`` is 0."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Texts to fixed-size float32 vectors, for retrieval by meaning."""

    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array ``(len(texts), dim)``."""
        ...


def require(backend: object, capability: str) -> None:
    """Raise :class:`CapabilityError` unless ``backend`` declares ``capability``.

    Args:
        backend: any object with a ``capabilities`` frozenset.
        capability: one of :data:`CAPABILITIES`.
    """
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {sorted(CAPABILITIES)}")
    have = frozenset(getattr(backend, "capabilities", frozenset()))
    if capability not in have:
        raise CapabilityError(
            f"{type(backend).__name__} cannot {capability}; it can: "
            f"{', '.join(sorted(have)) or 'nothing'}"
        )


def count_words(text: str) -> int:
    """Whitespace-separated words in ``text``, at least 1 (the ``word`` normaliser's divisor)."""
    return max(1, len(text.split()))


def check_score_inputs(prompts: Sequence[str], candidates: Sequence[Sequence[str]]) -> None:
    """Refuse malformed scoring input with an error that names the prompt at fault.

    Raises:
        TypeError: a prompt or candidate is not a string, or a bare string was passed
            where a list was expected.
        ValueError: the two lists differ in length, a prompt has no candidates, or a
            candidate is empty.
    """
    if isinstance(prompts, str) or isinstance(candidates, str):
        raise TypeError("score() takes a list of prompts and a list of candidate lists")
    if len(prompts) != len(candidates):
        raise ValueError(
            f"score() got {len(prompts)} prompts but {len(candidates)} candidate lists"
        )
    for i, (prompt, cands) in enumerate(zip(prompts, candidates, strict=True)):
        if not isinstance(prompt, str):
            raise TypeError(f"prompt {i} is {type(prompt).__name__}, not str")
        if isinstance(cands, str):
            raise TypeError(f"candidates of prompt {i} is a str; pass a list of strings")
        if len(cands) == 0:
            raise ValueError(f"prompt {i} has an empty candidate list; give at least one")
        for k, cand in enumerate(cands):
            if not isinstance(cand, str):
                raise TypeError(f"candidate {k} of prompt {i} is {type(cand).__name__}, not str")
            if cand == "":
                raise ValueError(f"candidate {k} of prompt {i} is the empty string")


def action_logits(result: ScoreResult, normalization: Normalization = "token") -> np.ndarray:
    """Turn one prompt's scores into logits over its candidates.

    ``token`` divides each summed log-probability by the candidate's token count (the
    mean per-token log-likelihood of TWOSOME's normalisation), ``word`` by its word count,
    and ``sum`` keeps the summed log-probability, which favours short candidates.

    Args:
        result: the scores of one prompt's candidates.
        normalization: ``"token"`` (default), ``"word"`` or ``"sum"``.

    Returns:
        float64 array ``(K,)``.
    """
    if normalization == "token":
        return result.logprob / np.maximum(result.n_tokens, 1)
    if normalization == "word":
        return result.logprob / np.maximum(result.n_words, 1)
    if normalization == "sum":
        return result.logprob.copy()
    raise ValueError(f"unknown normalization {normalization!r}; use one of {NORMALIZATIONS}")
