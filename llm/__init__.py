"""Language-model backends and embedders, offline first.

One protocol (:class:`Backend`: ``score``, ``generate``, ``capabilities``) over local
``transformers`` models, OpenAI-compatible servers and the packaged MiniLM encoder, and one
:class:`Embedder` protocol for retrieval. This package imports nothing else of palaestra,
and ``import palaestra.llm`` imports neither torch nor transformers: each backend imports
what it needs when it is built (``pip install -e ".[llm]"``).
"""

from typing import Any

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

# Exports loaded on first use (module __getattr__, PEP 562), so that `import palaestra.llm`
# stays light: the encoder imports torch, and MiniLM imports transformers when it is built.
_LAZY = {
    "EncoderBackend": "palaestra.llm.encoder",
    "SimilarityHead": "palaestra.llm.encoder",
    "HashingEmbedder": "palaestra.llm.embedders",
    "MiniLMEmbedder": "palaestra.llm.embedders",
    "OpenAIBackend": "palaestra.llm.openai_backend",
    "OpenAIHTTPError": "palaestra.llm.openai_backend",
    "TensorScores": "palaestra.llm.transformers_backend",
    "TransformersBackend": "palaestra.llm.transformers_backend",
    "format_choices": "palaestra.llm.choices",
    "parse_choice": "palaestra.llm.choices",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'palaestra.llm' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


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
    *_LAZY,
]
