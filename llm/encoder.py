"""The encoder backend: legal actions scored by embedding similarity, trainable on a CPU.

Glossary:
    observation embedding: the embedder's vector of a prompt (the env's text view).
    action embedding: the embedder's vector of one candidate's text; cached, since the same
        actions come back step after step.
    head: :class:`SimilarityHead`, the only trainable part: it adapts both embeddings and
        turns their cosine similarity into logits with a learnable temperature.

The default language policy's backend: frozen sentence embeddings (MiniLM by default, any
:class:`~palaestra.llm.base.Embedder` accepted) under a small torch head, so PPO can train
it on a laptop. ``score`` gives the head's log-softmax over each prompt's candidates
(method ``"similarity"``); :meth:`EncoderBackend.logits_tensors` is the differentiable path
a trainer uses. torch is imported when this module is imported, never by ``palaestra.llm``.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from palaestra.llm.base import (
    EMBED,
    GENERATE,
    SCORE,
    TRAIN,
    Embedder,
    ScoreResult,
    check_score_inputs,
    count_words,
    require,
)

log = logging.getLogger(__name__)

__all__ = ["EncoderBackend", "SimilarityHead"]

MAX_LOGIT_SCALE = 100.0  # CLIP's cap on a learnable temperature, which keeps softmax finite


class _Adapter(nn.Module):
    """``x + up(down(x))``: a low-rank residual map that starts as the identity.

    ``down`` is initialised at random and ``up`` at zero (as in LoRA), so the map is the
    identity at first while gradients still reach ``up`` from the first step.
    """

    def __init__(self, dim: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, rank, bias=False)
        self.up = nn.Linear(rank, dim, bias=False)
        nn.init.normal_(self.down.weight, std=1.0 / math.sqrt(dim))
        nn.init.zeros_(self.up.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(..., dim)`` to ``(..., dim)``."""
        return x + self.up(self.down(x))


class SimilarityHead(nn.Module):
    """Logits of (observation, action) pairs: scaled cosine of adapted embeddings.

    ``logit = exp(log_scale) * cos(A_obs(o), A_act(a))`` where each adapter is
    ``x + U V x`` of rank ``proj_dim`` with ``U`` initialised to zero. Untrained, the logits
    are therefore exactly ``scale * cos(o, a)``, the plain embedding similarity; training
    learns which directions of the embedding space matter for the task and how sharp the
    policy should be (the temperature is capped at :data:`MAX_LOGIT_SCALE`).

    Args:
        dim: the embedder's dimension.
        proj_dim: rank of each adapter (its trainable parameters are ``4 * dim * proj_dim``
            in all); larger fits more, trains slower.
        scale: the initial logit scale (inverse temperature); 10 makes a 0.1 cosine gap a
            factor of e in probability.
    """

    def __init__(self, dim: int, proj_dim: int = 64, *, scale: float = 10.0) -> None:
        super().__init__()
        if dim < 1 or proj_dim < 1:
            raise ValueError(f"dim and proj_dim must be positive, got {dim} and {proj_dim}")
        if not 0 < scale <= MAX_LOGIT_SCALE:
            raise ValueError(f"scale must be in (0, {MAX_LOGIT_SCALE}], got {scale}")
        self.dim = dim
        self.proj_dim = proj_dim
        self.obs_adapter = _Adapter(dim, proj_dim)
        self.action_adapter = _Adapter(dim, proj_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Logits of paired rows.

        Args:
            observations: ``(N, dim)`` observation embeddings.
            actions: ``(N, dim)`` action embeddings, row ``i`` paired with observation ``i``.

        Returns:
            ``(N,)`` logits.
        """
        obs = nn.functional.normalize(self.obs_adapter(observations), dim=-1)
        act = nn.functional.normalize(self.action_adapter(actions), dim=-1)
        scale = self.log_scale.clamp(max=math.log(MAX_LOGIT_SCALE)).exp()
        return scale * (obs * act).sum(dim=-1)


class EncoderBackend:
    """Scores legal actions by the similarity of their embeddings to the observation's.

    Args:
        embedder: turns texts into vectors; ``None`` builds a
            :class:`~palaestra.llm.embedders.MiniLMEmbedder` on ``device`` (needs the
            ``[llm]`` extra). Its vectors are treated as constants (no gradient).
        head: the trainable head; ``None`` builds ``SimilarityHead(embedder.dim, proj_dim,
            scale=scale)`` from torch's global RNG (so ``torch.manual_seed`` fixes it).
        proj_dim: adapter rank of a new head.
        scale: initial logit scale of a new head.
        device: where the head runs and the embeddings are moved to (cached action
            embeddings stay there: build a new backend to change devices).
        cache_size: how many distinct action texts' embeddings to keep (least recently used
            evicted first); observations are not cached here (an embedder may cache them).

    Attributes:
        capabilities: ``score``, ``train`` and ``embed``; never ``generate``.
        head: the :class:`SimilarityHead`, public so a trainer can optimise and save it.
        embedder: the embedder in use.
    """

    capabilities: frozenset[str] = frozenset({SCORE, TRAIN, EMBED})

    def __init__(
        self,
        embedder: Embedder | None = None,
        *,
        head: SimilarityHead | None = None,
        proj_dim: int = 64,
        scale: float = 10.0,
        device: str | torch.device = "cpu",
        cache_size: int = 4096,
    ) -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        self.device = torch.device(device)
        if embedder is None:
            from palaestra.llm.embedders import MiniLMEmbedder

            embedder = MiniLMEmbedder(device=str(self.device))
        if not isinstance(embedder, Embedder):
            raise TypeError(f"embedder {embedder!r} has no dim or embed(); see llm.base.Embedder")
        self.embedder = embedder
        if head is None:
            head = SimilarityHead(embedder.dim, proj_dim, scale=scale)
        elif head.dim != embedder.dim:
            raise ValueError(f"head is for dim {head.dim}, the embedder gives {embedder.dim}")
        self.head = head.to(self.device)
        self.cache_size = cache_size
        self._actions: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.action_embeddings_computed = 0

    def __repr__(self) -> str:
        return (
            f"EncoderBackend(embedder={self.embedder!r}, dim={self.embedder.dim}, "
            f"proj_dim={self.head.proj_dim}, device={str(self.device)!r})"
        )

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array, dtype=np.float32), device=self.device)

    def _action_rows(self, texts: list[str]) -> torch.Tensor:
        """Embeddings ``(len(texts), dim)`` of action texts, computing each new one once."""
        new = [t for t in dict.fromkeys(texts) if t not in self._actions]
        fresh = {}
        if new:
            rows = self._tensor(self.embedder.embed(new))
            fresh = dict(zip(new, rows, strict=True))
            self.action_embeddings_computed += len(new)
        out = torch.stack([fresh[t] if t in fresh else self._actions[t] for t in texts])
        if self.cache_size:
            for text in dict.fromkeys(texts):
                if text in fresh:
                    self._actions[text] = fresh[text]
                else:  # cached before this call: now the most recently used
                    self._actions.move_to_end(text)
            while len(self._actions) > self.cache_size:
                self._actions.popitem(last=False)
        return out

    def logits_tensors(
        self,
        prompts: Sequence[str],
        candidates: Sequence[Sequence[str]],
        *,
        return_embeddings: bool = False,
    ) -> Any:
        """The head's logits of each prompt's candidates, differentiable in the head.

        Embeddings are computed without gradients; the head runs once over all pairs.

        Args:
            prompts: one observation text per row.
            candidates: each prompt's legal action texts.
            return_embeddings: also return the prompts' embeddings (a critic's input).

        Returns:
            One ``(K_i,)`` float32 tensor per prompt, on :attr:`device`, with a graph back to
            :attr:`head`'s parameters; with ``return_embeddings``, the pair
            ``(logits, embeddings)``, embeddings float32 ``(P, dim)`` without gradient.
        """
        check_score_inputs(prompts, candidates)
        if not prompts:
            empty = torch.zeros((0, self.dim), device=self.device)
            return ([], empty) if return_embeddings else []
        with torch.no_grad():
            obs = self._tensor(self.embedder.embed(list(prompts)))
            flat = [c for cands in candidates for c in cands]
            acts = self._action_rows(flat)
        counts = [len(c) for c in candidates]
        owner = torch.repeat_interleave(
            torch.arange(len(prompts), device=self.device),
            torch.tensor(counts, device=self.device),
        )
        logits = list(torch.split(self.head(obs[owner], acts), counts))
        return (logits, obs) if return_embeddings else logits

    def score(
        self, prompts: Sequence[str], candidates: Sequence[Sequence[str]]
    ) -> list[ScoreResult]:
        """Log-probabilities of each prompt's candidates under the head (no gradient).

        Returns:
            One :class:`ScoreResult` per prompt: ``logprob`` is the log-softmax of the
            head's logits over that prompt's candidates (its exponentials sum to 1),
            ``n_tokens`` is 1 for each candidate (so every normalisation gives the same
            ranking) and ``method`` is ``"similarity"``.
        """
        with torch.no_grad():
            tensors = self.logits_tensors(prompts, candidates)
        results = []
        for logits, cands in zip(tensors, candidates, strict=True):
            logprob = torch.log_softmax(logits.double(), dim=0).cpu().numpy()
            results.append(
                ScoreResult(
                    logprob=logprob,
                    n_tokens=np.ones(len(cands), dtype=np.int64),
                    n_words=np.array([count_words(c) for c in cands], dtype=np.int64),
                    method="similarity",
                )
            )
        return results

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> list[str]:
        """Not offered: an encoder scores text, it cannot write any.

        Raises:
            CapabilityError: always.
        """
        require(self, GENERATE)
        return []  # pragma: no cover  (require raised)

    @property
    def dim(self) -> int:
        """The embedder's dimension (so the backend is an :class:`Embedder` too)."""
        return self.embedder.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The embedder's vectors of ``texts`` (float32 ``(len(texts), dim)``)."""
        return self.embedder.embed(texts)

    def parameters(self) -> Iterator[nn.Parameter]:
        """The head's trainable parameters, for an optimiser."""
        return self.head.parameters()

    def clear_cache(self) -> None:
        """Forget the cached action embeddings (after swapping the embedder's weights)."""
        self._actions.clear()
