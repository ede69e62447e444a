"""Language-model backends and embedders, offline first.

One protocol (:class:`Backend`: ``score``, ``generate``, ``capabilities``) over local
``transformers`` models, OpenAI-compatible servers and the packaged MiniLM encoder, and one
:class:`Embedder` protocol for retrieval. This package imports nothing else of palaestra,
and ``import palaestra.llm`` imports neither torch nor transformers: each backend imports
what it needs when it is built (``pip install -e ".[llm]"``).
"""

from palaestra.llm.base import (
    CAPABILITIES,
    EMBED,
    GENERATE,
    NORMALIZATIONS,
    SCORE,
    TRAIN,
    Backend,
    BackendUnavailableError,
    CapabilityError,
    ContextLengthError,
    Embedder,
    LLMError,
    ScoreResult,
    action_logits,
    check_score_inputs,
    count_words,
    require,
)

__all__ = [
    "CAPABILITIES",
    "EMBED",
    "GENERATE",
    "NORMALIZATIONS",
    "SCORE",
    "TRAIN",
    "Backend",
    "BackendUnavailableError",
    "CapabilityError",
    "ContextLengthError",
    "Embedder",
    "LLMError",
    "ScoreResult",
    "action_logits",
    "check_score_inputs",
    "count_words",
    "require",
]
