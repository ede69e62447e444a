"""A local ``transformers`` causal LM as a :class:`~palaestra.llm.base.Backend`.

Glossary:
    joined text: a prompt followed directly by one of its candidates (no separator is
        added; put the space into the candidate or the prompt).
    scored tokens: the tokens of the joined text after its longest common token prefix with
        the prompt's own tokens. Usually that is exactly the candidate's tokens; when the
        prompt's last characters merge with the candidate's first ones into one token (a
        prompt ending in a space before a word, under a byte-level BPE), the merged token is
        scored, since it covers candidate characters. Each score is what a single forward
        pass over the joined text gives for those tokens, so it never depends on where the
        tokenizer would have split the prompt on its own.
    BOS: a beginning-of-sequence token the tokenizer adds at the start of a text; the
        prompt keeps it and candidates never get one. End-of-sequence tokens a tokenizer
        might append are never added.

Scoring runs in :mod:`palaestra.llm.scoring` (three exact methods; ``auto`` picks prefix
reuse from two candidates per prompt on). :meth:`TransformersBackend.score_tensors` returns
differentiable scores for a trainer (``.model`` may be wrapped with LoRA by peft);
:meth:`~TransformersBackend.score` is its no-grad numpy face. Weights are float32 on CPU and
bfloat16 on CUDA unless ``dtype`` says otherwise; log-softmax is always float32.

Example:
    >>> backend = TransformersBackend.from_pretrained("path/to/model")  # doctest: +SKIP
    >>> backend.score(["You see a door. You"], [[" open the door", " wait"]])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from palaestra.llm.base import (
    GENERATE,
    SCORE,
    TRAIN,
    ContextLengthError,
    ScoreResult,
    check_score_inputs,
    count_words,
)
from palaestra.llm.scoring import (
    Method,
    ModelParts,
    ScoringSettings,
    TokenizedPrompt,
    forward_body,
    head_logits,
    new_cache,
    plain_cache,
    score_items,
)

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class TensorScores:
    """Differentiable scores of several prompts' candidates.

    Attributes:
        logprob: per prompt, float32 ``(K_i,)`` summed log-probabilities (with gradients
            when computed with gradients enabled).
        n_tokens: per prompt, int64 ``(K_i,)`` scored token counts.
        hidden: float32 ``(P, H)``, each prompt's final hidden state at the last token
            before its candidates (for a value head), or None unless asked for.
    """

    logprob: list[torch.Tensor]
    n_tokens: list[torch.Tensor]
    hidden: torch.Tensor | None = None


def _resolve_dtype(dtype: torch.dtype | str | None, device: torch.device) -> torch.dtype:
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}")
        return _DTYPES[dtype]
    return dtype


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    if tuple(a[:n]) == tuple(b[:n]):
        return n
    i = 0
    while a[i] == b[i]:
        i += 1
    return i


class TransformersBackend:
    """A causal LM and its tokenizer, scoring and generating locally.

    Args:
        model: a causal LM (``transformers.AutoModelForCausalLM``); moved to ``device`` and
            cast to ``dtype``, and put in eval mode (dropout off). A trainer may wrap
            :attr:`model` with LoRA afterwards; scoring reads the current :attr:`model`.
        tokenizer: its tokenizer.
        device: where the model runs; None keeps the model where it is.
        dtype: the weights' dtype (``torch.dtype`` or ``"float32"``, ``"bfloat16"``,
            ``"float16"``); None is float32 on CPU and bfloat16 on CUDA.
        token_budget: most ``rows x tokens`` one forward pass holds; larger inputs are
            split into several passes with identical results.
        max_length: the context limit in tokens; None reads
            ``model.config.max_position_embeddings`` (no limit if it has none).
        prefix_min_candidates: ``method="auto"`` reuses a prompt's cache from this many
            candidates on.

    Attributes:
        model: the causal LM (public: trainers fine-tune it).
        tokenizer: the tokenizer.
        settings: how scoring splits its work.
        capabilities: ``score``, ``generate`` and ``train``.
    """

    capabilities: frozenset[str] = frozenset({SCORE, GENERATE, TRAIN})

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        token_budget: int = ScoringSettings.token_budget,
        max_length: int | None = None,
        prefix_min_candidates: int = ScoringSettings.prefix_min_candidates,
    ) -> None:
        target = torch.device(device) if device is not None else next(model.parameters()).device
        self.model = model.to(device=target, dtype=_resolve_dtype(dtype, target)).eval()
        self.tokenizer = tokenizer
        self.settings = ScoringSettings(
            token_budget=token_budget, prefix_min_candidates=prefix_min_candidates
        )
        ModelParts.of(self.model)  # fail now, not at the first score, on a model without a head
        if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
            raise ValueError(f"max_length must be an int of at least 2, got {max_length!r}")
        self._max_length = max_length
        self._bos = self._leading_special_ids()

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str | Path,
        *,
        local_files_only: bool = True,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        token_budget: int = ScoringSettings.token_budget,
        max_length: int | None = None,
        **model_kwargs: Any,
    ) -> TransformersBackend:
        """Load a model and its tokenizer from a folder or the local Hugging Face cache.

        Args:
            path_or_id: a folder written by ``save_pretrained`` or a hub id.
            local_files_only: never touch the network (the default); set it to False to
                download a hub id that is not cached yet.
            device: where the model runs; None is CPU.
            dtype: as in the constructor.
            token_budget: as in the constructor.
            max_length: as in the constructor.
            **model_kwargs: passed on to ``AutoModelForCausalLM.from_pretrained``.

        Raises:
            FileNotFoundError: ``path_or_id`` is neither a folder nor a cached model.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        name = str(path_or_id)
        path = Path(name).expanduser()
        looks_like_path = isinstance(path_or_id, Path) or name.startswith((".", "/", "~"))
        missing = (
            f"{name!r} is neither a local model folder nor a model in the local Hugging Face "
            "cache; check the path, or set local_files_only=False to download it"
        )
        if looks_like_path and not path.exists():
            raise FileNotFoundError(missing)
        source = str(path) if path.exists() else name
        target = torch.device(device) if device is not None else torch.device("cpu")
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
            model = AutoModelForCausalLM.from_pretrained(
                source,
                local_files_only=local_files_only,
                dtype=_resolve_dtype(dtype, target),
                **model_kwargs,
            )
        except (OSError, ValueError) as err:
            if path.exists():
                raise
            raise FileNotFoundError(missing) from err
        return cls(
            model,
            tokenizer,
            device=target,
            dtype=dtype,
            token_budget=token_budget,
            max_length=max_length,
        )

    # ------------------------------------------------------------------ tokenisation

    @property
    def context_length(self) -> int | None:
        """The most tokens a prompt and its longest candidate may have together."""
        if self._max_length is not None:
            return self._max_length
        return ModelParts.of(self.model).max_positions

    @property
    def device(self) -> torch.device:
        """Where the model's LM head lives."""
        return ModelParts.of(self.model).device

    def _leading_special_ids(self) -> list[int]:
        """The special tokens (a BOS) the tokenizer puts before a text, if any."""
        with_special = list(self.tokenizer("x", add_special_tokens=True)["input_ids"])
        plain = list(self.tokenizer("x", add_special_tokens=False)["input_ids"])
        for i in range(len(with_special) - len(plain) + 1):
            if with_special[i : i + len(plain)] == plain:
                return with_special[:i]
        return []

    def _encode(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [self._bos + list(row) for row in ids]

    def encode(
        self, prompts: Sequence[str], candidates: Sequence[Sequence[str]]
    ) -> list[TokenizedPrompt]:
        """Tokenise prompts and candidates at the boundary the joined text has.

        Raises:
            TypeError, ValueError: malformed input (see ``check_score_inputs``), or a
                candidate whose first token has nothing to condition on (an empty prompt
                under a tokenizer without BOS).
            ContextLengthError: a prompt with its longest candidate exceeds the context.
        """
        check_score_inputs(prompts, candidates)
        prompt_ids = self._encode(prompts)
        joined = self._encode(
            [p + c for p, cands in zip(prompts, candidates, strict=True) for c in cands]
        )
        limit = self.context_length
        items, at = [], 0
        for i, cands in enumerate(candidates):
            rows = [tuple(r) for r in joined[at : at + len(cands)]]
            at += len(cands)
            starts = tuple(_common_prefix(row, prompt_ids[i]) for row in rows)
            for k, (row, start) in enumerate(zip(rows, starts, strict=True)):
                if start >= len(row):
                    raise ValueError(f"candidate {k} of prompt {i} ({cands[k]!r}) adds no token")
                if start == 0:
                    raise ValueError(
                        f"candidate {k} of prompt {i}: its first token has nothing to condition "
                        "on (an empty prompt, or one merged into the candidate's first token, "
                        "under a tokenizer that adds no BOS); give the prompt some text"
                    )
            longest = max(len(r) for r in rows)
            if limit is not None and longest > limit:
                raise ContextLengthError(i, longest, limit)
            items.append(TokenizedPrompt(tuple(rows), starts))
        return items

    # ------------------------------------------------------------------ scoring

    def score_tensors(
        self,
        prompts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        *,
        method: Method = "auto",
        return_hidden: bool = False,
    ) -> TensorScores:
        """Summed log-probabilities of each candidate as tensors, under the caller's grad mode.

        Args:
            prompts: P prompts.
            candidates: for each prompt, its K_i candidates.
            method: ``"auto"``, ``"naive"``, ``"batched"`` or ``"prefix"`` (same scores).
            return_hidden: also return each prompt's last final hidden state.

        Returns:
            :class:`TensorScores`; backpropagate through ``logprob`` to train the model.
        """
        items = self.encode(prompts, candidates)
        parts = ModelParts.of(self.model)
        scored = score_items(
            parts, items, self.settings, method=method, return_hidden=return_hidden
        )
        hidden = torch.stack([s.hidden for s in scored]) if return_hidden else None  # type: ignore[misc]
        return TensorScores(
            logprob=[s.logprob for s in scored],
            n_tokens=[s.n_tokens for s in scored],
            hidden=hidden,
        )

    def score(
        self,
        prompts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        *,
        method: Method = "auto",
    ) -> list[ScoreResult]:
        """Score each prompt's candidates exactly, without gradients.

        Args:
            prompts: P prompts.
            candidates: for each prompt, its candidates (each a continuation of it).
            method: as in :meth:`score_tensors`.

        Returns:
            one :class:`ScoreResult` per prompt, candidates in the order given.
        """
        with torch.no_grad():
            scores = self.score_tensors(prompts, candidates, method=method)
        return [
            ScoreResult(
                logprob=lp.detach().to("cpu", torch.float64).numpy(),
                n_tokens=nt.numpy(),
                n_words=np.array([count_words(c) for c in cands], dtype=np.int64),
            )
            for lp, nt, cands in zip(scores.logprob, scores.n_tokens, candidates, strict=True)
        ]

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> list[str]:
        """Continue each prompt; return only the new text.

        Args:
            prompts: the texts to continue.
            max_new_tokens: most tokens generated per prompt.
            temperature: 0 picks the most likely token every step (deterministic); above 0
                samples from the softmax of logits divided by it.
            stop: strings that end a continuation; the text is cut before the first one.
            seed: seeds sampling (a ``torch.Generator``); None uses torch's global RNG.

        Returns:
            one continuation per prompt, without the prompt, special tokens or stop string.

        Raises:
            ContextLengthError: a prompt plus ``max_new_tokens`` exceeds the context.
        """
        if isinstance(prompts, str):
            raise TypeError("generate() takes a list of prompts")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        if not (math.isfinite(temperature) and temperature >= 0):
            raise ValueError(f"temperature must be finite and >= 0, got {temperature!r}")
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        if any(not isinstance(s, str) or not s for s in stops):
            raise ValueError(f"stop strings must be non-empty strings, got {stop!r}")
        ids = self._encode(prompts)
        limit = self.context_length
        for i, row in enumerate(ids):
            if not row:
                raise ValueError(f"prompt {i} is empty and the tokenizer adds no BOS")
            if limit is not None and len(row) + max_new_tokens > limit:
                raise ContextLengthError(
                    i, len(row) + max_new_tokens, limit, "generation for prompt"
                )
        parts = ModelParts.of(self.model)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=parts.device).manual_seed(seed)
        batch = self.settings.token_budget if plain_cache(parts) else 1
        out: list[str] = []
        with torch.no_grad():
            at = 0
            while at < len(ids):
                n = 1
                width = len(ids[at]) + max_new_tokens
                while at + n < len(ids):
                    wider = max(width, len(ids[at + n]) + max_new_tokens)
                    if (n + 1) * wider > batch:
                        break
                    n, width = n + 1, wider
                chunk = ids[at : at + n]
                out += self._generate_chunk(
                    parts, chunk, max_new_tokens, temperature, stops, generator
                )
                at += n
        return out

    def _eos_ids(self) -> set[int]:
        found = {self.tokenizer.eos_token_id, getattr(self.model.config, "eos_token_id", None)}
        flat: set[int] = set()
        for e in found:
            flat.update(e if isinstance(e, (list, tuple)) else [e] if e is not None else [])
        return flat

    def _continuation(self, prompt: list[int], new: list[int], stops: list[str]) -> str:
        """The text ``new`` adds to ``prompt``, cut before the first stop string."""
        decode = self.tokenizer.decode
        head = decode(prompt, skip_special_tokens=True)
        full = decode(prompt + new, skip_special_tokens=True)
        text = full[len(head) :] if full.startswith(head) else decode(new, skip_special_tokens=True)
        cuts = [text.find(s) for s in stops if s in text]
        return text[: min(cuts)] if cuts else text

    def _generate_chunk(
        self,
        parts: ModelParts,
        prompts: list[list[int]],
        max_new_tokens: int,
        temperature: float,
        stops: list[str],
        generator: torch.Generator | None,
    ) -> list[str]:
        """Generate for right-padded prompts over one cache (positions given explicitly)."""
        device = parts.device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), parts.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for b, p in enumerate(prompts):
            ids[b, : len(p)] = torch.as_tensor(p)
            mask[b, : len(p)] = 1
        ids, mask = ids.to(device), mask.to(device)
        lens = torch.as_tensor([len(p) for p in prompts], device=device)
        cache = new_cache(parts)
        positions = torch.arange(width, device=device)[None].expand_as(ids)
        hidden = forward_body(parts, ids, mask, positions, cache)
        last = hidden[torch.arange(len(prompts), device=device), lens - 1]
        eos = self._eos_ids()
        new: list[list[int]] = [[] for _ in prompts]
        done = [False] * len(prompts)
        for step in range(max_new_tokens):
            logits = head_logits(parts, last)
            if temperature == 0:
                token = logits.argmax(dim=-1)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator)[:, 0]
            for b, t in enumerate(token.tolist()):
                if done[b]:
                    continue
                if t in eos:
                    done[b] = True
                    continue
                new[b].append(t)
                if stops:
                    text = self._continuation(prompts[b][len(self._bos) :], new[b], [])
                    done[b] = any(s in text for s in stops)
            if all(done) or step == max_new_tokens - 1:
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            hidden = forward_body(parts, token[:, None], mask, (lens + step)[:, None], cache)
            last = hidden[:, 0]
        return [
            self._continuation(p[len(self._bos) :], n, stops)
            for p, n in zip(prompts, new, strict=True)
        ]
