"""How a language policy is configured and built (importable without torch).

``palaestra train ENV --policy minilm`` trains the encoder policy (frozen sentence embeddings
of the packaged all-MiniLM-L6-v2, a trainable similarity head: the default that trains on a
CPU); ``--policy llm --llm.model PATH_OR_ID`` fine-tunes a causal LM with LoRA. The knobs are
the fields of :class:`LanguagePolicyConfig` (``--llm.<field>`` on the command line); the run's
``policy.json`` records them, so :meth:`palaestra.agents.PolicyAgent.from_run` rebuilds the
same policy from the run folder and the same local model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["LANGUAGE_POLICIES", "LanguagePolicyConfig", "build_language_policy"]

LANGUAGE_POLICIES: tuple[str, ...] = ("minilm", "llm")


@dataclass(frozen=True)
class LanguagePolicyConfig:
    """Knobs of the language policies (``--llm.<name>``)."""

    model: str | None = None
    """--policy llm: a local folder or a hub id of a causal LM (loaded with local_files_only
    unless that is switched off)."""
    local_files_only: bool = True
    """Never download: load the model only from a local folder or the local hub cache."""
    normalization: Literal["token", "word", "sum"] = "token"
    """How candidate scores of different lengths are compared (llm): mean log-probability
    per token (TWOSOME's), per word, or the plain sum (favours short actions)."""
    lora_rank: int = 8
    """LoRA rank of the adapters (llm; 0 trains the whole model)."""
    lora_alpha: float = 16.0
    """LoRA scaling numerator (llm)."""
    lora_dropout: float = 0.0
    """Dropout on the adapters' input (llm)."""
    target_modules: tuple[str, ...] = ()
    """Module names to adapt (llm; empty: peft's default for the architecture)."""
    critic: Literal["shared", "frozen"] = "shared"
    """llm: the value head reads the hidden state of the scoring forward (shared), or the
    base model's with the adapters off (frozen, TWOSOME's critic)."""
    value_hidden: tuple[int, ...] = (64,)
    """Hidden widths of the value head."""
    head_lr_scale: float = 1.0
    """The value head's learning rate over the scorer's (its own optimiser group)."""
    embedder: Literal["minilm", "hashing"] = "minilm"
    """minilm policy: the sentence encoder (the packaged all-MiniLM-L6-v2), or the hashing
    embedder (no model files; a fast baseline)."""
    hashing_dim: int = 256
    """Width of the hashing embedder."""
    proj_dim: int = 64
    """Rank of the similarity head's adapters (minilm policy)."""
    dtype: str | None = None
    """llm weights: float32, bfloat16 or float16 (None: float32 on CPU, bfloat16 on CUDA)."""

    def validate(self, policy: str) -> None:
        """Raise ValueError for settings that cannot run, naming the knob."""
        if policy not in LANGUAGE_POLICIES:
            raise ValueError(f"unknown language policy {policy!r}; use one of {LANGUAGE_POLICIES}")
        if policy == "llm" and not self.model:
            raise ValueError("--policy llm needs --llm.model PATH_OR_ID (a causal LM)")
        checks = [
            (self.lora_rank >= 0, "llm.lora_rank must be >= 0"),
            (self.lora_alpha > 0, "llm.lora_alpha must be positive"),
            (0.0 <= self.lora_dropout < 1.0, "llm.lora_dropout must be in [0, 1)"),
            (self.head_lr_scale > 0, "llm.head_lr_scale must be positive"),
            (self.hashing_dim >= 8, "llm.hashing_dim must be at least 8"),
            (self.proj_dim >= 1, "llm.proj_dim must be at least 1"),
            (all(h >= 1 for h in self.value_hidden), "llm.value_hidden widths must be >= 1"),
            (
                self.critic == "shared" or self.lora_rank > 0,
                "llm.critic='frozen' needs LoRA adapters (llm.lora_rank > 0)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists)."""
        data = dataclasses.asdict(self)
        data["target_modules"] = list(self.target_modules)
        data["value_hidden"] = list(self.value_hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LanguagePolicyConfig:
        """Rebuild from :meth:`to_dict`'s output; unknown keys are refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown language policy keys {sorted(unknown)}")
        data = dict(data)
        for key in ("target_modules", "value_hidden"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def build_language_policy(policy: str, config: LanguagePolicyConfig, device: str = "cpu") -> Any:
    """A new :class:`~palaestra.agents.language_policy.LanguagePolicy` (on the CPU's RNG).

    Args:
        policy: ``"minilm"`` (encoder) or ``"llm"`` (causal LM with LoRA).
        config: its knobs.
        device: where the model runs.
    """
    config.validate(policy)
    from palaestra.agents.language_policy import CausalLMScorer, EncoderScorer, LanguagePolicy

    if policy == "minilm":
        from palaestra.llm.embedders import HashingEmbedder, MiniLMEmbedder
        from palaestra.llm.encoder import EncoderBackend

        embedder = (
            HashingEmbedder(dim=config.hashing_dim)
            if config.embedder == "hashing"
            else MiniLMEmbedder(device=device)
        )
        scorer: Any = EncoderScorer(
            EncoderBackend(embedder, proj_dim=config.proj_dim, device=device)
        )
    else:
        from palaestra.llm.transformers_backend import TransformersBackend

        backend = TransformersBackend.from_pretrained(
            config.model,  # type: ignore[arg-type]
            local_files_only=config.local_files_only,
            device=device,
            dtype=config.dtype,
        )
        scorer = CausalLMScorer(
            backend,
            lora_rank=config.lora_rank,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=config.target_modules or None,
            critic=config.critic,
        )
    return LanguagePolicy(
        scorer, normalization=config.normalization, value_hidden=config.value_hidden
    )
