"""Exact likelihood scoring of candidate continuations on token ids, in plain torch.

Glossary:
    row: one candidate's full token ids, its prompt's tokens followed by its own.
    start: the index in a row of the first scored token; every token from there on is
        scored, each given all the tokens before it in the row.
    stem: the tokens every row of a prompt shares (``rows[k][:min(starts)]``); prefix reuse
        runs the stem once and reuses its key/value cache for all the prompt's candidates.
    continuation: a row's tokens after the stem.
    token budget: the most ``rows x tokens`` one forward pass may hold (for a pass over a
        cache, the tokens are the cached ones plus the new ones), so a thousand candidates
        are scored in several passes instead of exhausting memory.

Three methods compute the same numbers (up to float rounding):

* ``naive``: one forward pass per row;
* ``batched``: rows (of all prompts, sorted by length) in padded passes, each as large as the
  token budget allows;
* ``prefix``: the stems of several prompts in one right-padded pass with a cache, then each
  prompt's continuations in right-padded passes over that cache, expanded to one cache row
  per candidate, with explicit position ids (the stem's padding lies between a stem and its
  continuation, so positions cannot be read off the sequence index; absolute-position
  models such as GPT-2 would be wrong without them) and an attention mask that hides it.

Every method applies the LM head only to the hidden states that predict scored tokens
(gather first, then the head), and takes the log-softmax in float32 even when the model
runs in bfloat16. ``auto`` uses ``prefix`` for prompts with at least
``ScoringSettings.prefix_min_candidates`` candidates and ``batched`` for the rest. All of it
runs under whatever gradient mode the caller chose, so a trainer can backpropagate through
the scores (a LoRA-wrapped model included).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

Method = Literal["auto", "naive", "batched", "prefix"]
METHODS: tuple[str, ...] = ("auto", "naive", "batched", "prefix")


@dataclass(frozen=True)
class ScoringSettings:
    """How scoring splits its work; none of it changes the scores."""

    token_budget: int = 8192
    """Most ``rows x tokens`` one forward pass may hold (one row always fits)."""
    prefix_min_candidates: int = 2
    """``auto`` reuses the prompt's cache from this many candidates on (measured with
    ``benchmarks/llm_scoring.py``: on one CPU thread prefix reuse is already faster at two)."""
    head_elements: int = 1 << 24
    """Most ``positions x vocabulary`` logits one LM-head call may produce."""

    def __post_init__(self) -> None:
        for name in ("token_budget", "prefix_min_candidates", "head_elements"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"ScoringSettings.{name} must be a positive int, got {value!r}")


@dataclass(frozen=True)
class TokenizedPrompt:
    """One prompt's candidates as token ids.

    Attributes:
        rows: each candidate's full token ids (prompt tokens, then the candidate's).
        starts: for each row, the index of its first scored token (at least 1, so that
            the first scored token has something to condition on).
    """

    rows: tuple[tuple[int, ...], ...]
    starts: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.rows or len(self.rows) != len(self.starts):
            raise ValueError(
                f"TokenizedPrompt needs one start per row and at least one row; got "
                f"{len(self.rows)} rows and {len(self.starts)} starts"
            )
        for k, (row, start) in enumerate(zip(self.rows, self.starts, strict=True)):
            if not 1 <= start < len(row):
                raise ValueError(
                    f"row {k} has {len(row)} tokens and start {start}; need 1 <= start < length"
                )
        stem = self.rows[0][: self.stem_len]
        for k, row in enumerate(self.rows):
            if row[: self.stem_len] != stem:
                raise ValueError(f"row {k} does not begin with the stem the other rows share")

    @property
    def stem_len(self) -> int:
        """How many leading tokens all rows share and none scores."""
        return min(self.starts)

    @property
    def n_tokens(self) -> list[int]:
        """How many tokens each row scores."""
        return [len(row) - start for row, start in zip(self.rows, self.starts, strict=True)]


@dataclass(frozen=True)
class ItemScores:
    """The scores of one prompt's candidates as tensors.

    Attributes:
        logprob: float32 ``(K,)``, each candidate's summed log-probability; carries
            gradients when computed with gradients enabled.
        n_tokens: int64 ``(K,)``, how many tokens each candidate scored.
        hidden: float32 ``(H,)``, the final hidden state (after the final norm) at the
            stem's last token, the state that predicts the first candidate token (for a
            value head), or None when not asked for.
    """

    logprob: torch.Tensor
    n_tokens: torch.Tensor
    hidden: torch.Tensor | None = None


@dataclass(frozen=True)
class ModelParts:
    """The pieces of a causal LM that scoring calls: its decoder stack and its LM head.

    Attributes:
        body: the decoder (``model.base_model``); returns ``last_hidden_state`` after the
            final norm.
        head: the LM head (``model.get_output_embeddings()``).
        config: the model's config.
        cache_kwarg: the name of the forward argument that takes a cache (``cache`` from
            transformers 5.x, ``past_key_values`` before).
        pad_id: a token id used for padding (masked out, never scored).
        max_positions: the largest position the model embeds plus one, or None.
        softcap: ``final_logit_softcapping`` of models that cap their logits, or None.
        logit_scale: ``logit_scale`` of models that scale their logits, or None.
    """

    body: torch.nn.Module
    head: torch.nn.Module
    config: Any
    cache_kwarg: str
    pad_id: int
    max_positions: int | None
    softcap: float | None
    logit_scale: float | None

    @classmethod
    def of(cls, model: torch.nn.Module) -> ModelParts:
        """Split ``model`` (a causal LM, possibly wrapped by peft) into its parts.

        Raises:
            TypeError: the model has no separate decoder and LM head.
        """
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        body = getattr(inner, "base_model", None)
        getter = getattr(inner, "get_output_embeddings", None)
        head = getter() if callable(getter) else None
        if body is None or body is inner or head is None:
            raise TypeError(
                f"{type(inner).__name__} is not a causal LM with a decoder and an LM head; "
                "load it with transformers.AutoModelForCausalLM"
            )
        params = inspect.signature(body.forward).parameters
        config = inner.config
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        pad = getattr(text, "pad_token_id", None)
        if pad is None:
            pad = getattr(text, "eos_token_id", None)
        if isinstance(pad, (list, tuple)):
            pad = pad[0] if pad else None
        return cls(
            body=body,
            head=head,
            config=config,
            cache_kwarg="cache" if "cache" in params else "past_key_values",
            pad_id=int(pad) if pad is not None else 0,
            max_positions=getattr(text, "max_position_embeddings", None),
            softcap=getattr(text, "final_logit_softcapping", None),
            logit_scale=getattr(text, "logit_scale", None),
        )

    @property
    def device(self) -> torch.device:
        """Where the head's weights live (inputs go there)."""
        return next(self.head.parameters()).device


def new_cache(parts: ModelParts, data: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None):
    """A fresh ``DynamicCache`` laid out for the model, optionally filled with ``data``."""
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=data, config=parts.config)


def expanded_cache(
    parts: ModelParts, kv: Sequence[tuple[torch.Tensor, torch.Tensor]], rows: Sequence[int]
):
    """A cache with row ``r`` holding row ``rows[r]`` of the stems' cache tensors ``kv``.

    The layers take the tensors as they are (a broadcast view when all rows share one
    stem), so that the only copy is the one the next forward pass makes when it appends
    its keys and values. Needs a :func:`plain_cache` model.
    """
    index = torch.as_tensor(rows, dtype=torch.long, device=kv[0][0].device)
    cache = new_cache(parts)
    if len(cache.layers) != len(kv):  # layers made lazily: let the cache copy them in
        cache = new_cache(parts, kv)
        cache.batch_select_indices(index)
        return cache
    first = rows[0]
    shared = all(r == first for r in rows)
    for layer, (keys, values) in zip(cache.layers, kv, strict=True):
        if shared:
            keys = keys[first : first + 1].expand(len(rows), -1, -1, -1)
            values = values[first : first + 1].expand(len(rows), -1, -1, -1)
        else:
            keys, values = keys[index], values[index]
        layer.lazy_initialization(keys, values)
        layer.keys, layer.values = keys, values
    return cache


def plain_cache(parts: ModelParts) -> bool:
    """Whether every cache layer is a plain growing one (no sliding window, no recurrence).

    Prefix reuse and batched generation leave padding between a prompt and what follows
    it; a sliding window would count that padding, so such models take the slower exact
    paths instead.
    """
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in new_cache(parts).layers)


def forward_body(
    parts: ModelParts,
    ids: torch.Tensor,
    mask: torch.Tensor,
    positions: torch.Tensor,
    cache: Any = None,
) -> torch.Tensor:
    """Run the decoder; return its final hidden states ``(B, T, H)`` (``cache`` grows)."""
    kwargs: dict[str, Any] = {
        "input_ids": ids,
        "attention_mask": mask,
        "position_ids": positions,
        "use_cache": cache is not None,
    }
    if cache is not None:
        kwargs[parts.cache_kwarg] = cache
    return parts.body(**kwargs).last_hidden_state


def head_logits(parts: ModelParts, hidden: torch.Tensor) -> torch.Tensor:
    """Float32 logits of ``hidden`` (``(..., H)``), capped or scaled as the model does."""
    logits = parts.head(hidden).float()
    if parts.logit_scale is not None:
        logits = logits * parts.logit_scale
    if parts.softcap is not None:
        logits = torch.tanh(logits / parts.softcap) * parts.softcap
    return logits


def _vocab(parts: ModelParts) -> int:
    weight = getattr(parts.head, "weight", None)
    return int(weight.shape[0]) if weight is not None else int(parts.config.vocab_size)


def gathered_logprobs(
    parts: ModelParts,
    sources: Sequence[tuple[torch.Tensor, torch.Tensor]],
    targets: torch.Tensor,
    settings: ScoringSettings,
    *,
    full_logits: bool = False,
) -> torch.Tensor:
    """Log-probabilities of ``targets`` predicted by rows picked from hidden matrices.

    Args:
        parts: the model.
        sources: pairs ``(hidden (N, H), index (n,))``; their picked rows, concatenated in
            order, are the predicting states of ``targets``.
        targets: int64 ``(sum of n,)``, the tokens to score.
        settings: ``head_elements`` bounds each LM-head call.
        full_logits: apply the head to every row of each source first, as a plain
            ``model(...).logits`` would (for the benchmark's comparison); same numbers.

    Returns:
        float32 ``(sum of n,)``.
    """
    if full_logits:
        picked = []
        for hidden, index in sources:
            logp = torch.log_softmax(head_logits(parts, hidden), dim=-1)
            picked.append(logp[index])
        logp = torch.cat(picked)
        return logp.gather(1, targets[:, None])[:, 0]
    hidden = torch.cat([h[index] for h, index in sources])
    step = max(1, settings.head_elements // _vocab(parts))
    out = []
    for a in range(0, len(targets), step):
        logits = head_logits(parts, hidden[a : a + step])
        out.append(-F.cross_entropy(logits, targets[a : a + step], reduction="none"))
    return torch.cat(out)


def _pad(seqs: Sequence[Sequence[int]], pad_id: int, device: torch.device):
    """Right-pad ``seqs``; return ids ``(B, T)`` and a 0/1 mask ``(B, T)``, both int64."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for b, seq in enumerate(seqs):
        ids[b, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[b, : len(seq)] = 1
    return ids.to(device), mask.to(device)


def _chunks(costs: Sequence[tuple[int, int]], budget: int) -> list[list[int]]:
    """Greedy runs of consecutive entries ``(rows, tokens)`` whose ``rows x max tokens`` fits."""
    chunks: list[list[int]] = []
    width = 0
    for i, (_, tokens) in enumerate(costs):
        if chunks and (len(chunks[-1]) + 1) * max(width, tokens) <= budget:
            chunks[-1].append(i)
            width = max(width, tokens)
        else:
            chunks.append([i])
            width = tokens
    return chunks


def _assemble(
    items: Sequence[TokenizedPrompt],
    order: Sequence[tuple[int, int]],
    sums: list[torch.Tensor],
    hidden: dict[int, torch.Tensor] | None,
    device: torch.device,
) -> list[ItemScores]:
    """Put per-row sums computed in ``order`` (pairs ``(item, candidate)``) back in place."""
    flat = torch.cat(sums)
    offsets = [0]
    for it in items:
        offsets.append(offsets[-1] + len(it.rows))
    where = torch.empty(len(order), dtype=torch.long)
    where[torch.as_tensor([offsets[i] + k for i, k in order], dtype=torch.long)] = torch.arange(
        len(order)
    )
    flat = flat[where.to(device)]
    return [
        ItemScores(
            logprob=flat[offsets[i] : offsets[i + 1]],
            n_tokens=torch.as_tensor(it.n_tokens, dtype=torch.long),
            hidden=None if hidden is None else hidden[i],
        )
        for i, it in enumerate(items)
    ]


def score_rows(
    parts: ModelParts,
    items: Sequence[TokenizedPrompt],
    settings: ScoringSettings,
    *,
    one_row: bool = False,
    full_logits: bool = False,
    return_hidden: bool = False,
) -> list[ItemScores]:
    """Score full rows: one row per pass (``one_row``, naive) or as many as the budget allows.

    Rows of all prompts are sorted by length so that a pass pads little.
    """
    device = parts.device
    order = sorted(
        ((i, k) for i, it in enumerate(items) for k in range(len(it.rows))),
        key=lambda ik: len(items[ik[0]].rows[ik[1]]),
    )
    lengths = [len(items[i].rows[k]) for i, k in order]
    if one_row:
        chunks = [[j] for j in range(len(order))]
    else:
        chunks = _chunks([(1, n) for n in lengths], settings.token_budget)
    sums: list[torch.Tensor] = []
    hidden: dict[int, torch.Tensor] | None = {} if return_hidden else None
    for chunk in chunks:
        rows = [items[order[j][0]].rows[order[j][1]] for j in chunk]
        ids, mask = _pad(rows, parts.pad_id, device)
        width = ids.shape[1]
        positions = torch.arange(width, device=device)[None].expand(len(rows), width)
        h = forward_body(parts, ids, mask, positions).reshape(len(rows) * width, -1)
        index, targets, segment = [], [], []
        for r, j in enumerate(chunk):
            i, k = order[j]
            row, start = items[i].rows[k], items[i].starts[k]
            index += range(r * width + start - 1, r * width + len(row) - 1)
            targets += row[start:]
            segment += [r] * (len(row) - start)
            if hidden is not None and k == 0:
                hidden[i] = h[r * width + items[i].stem_len - 1].float()
        as_long = lambda xs: torch.as_tensor(xs, dtype=torch.long, device=device)  # noqa: E731
        logp = gathered_logprobs(
            parts, [(h, as_long(index))], as_long(targets), settings, full_logits=full_logits
        )
        zeros = torch.zeros(len(rows), dtype=torch.float32, device=device)
        sums.append(zeros.index_add(0, as_long(segment), logp))
    return _assemble(items, order, sums, hidden, device)


@dataclass(frozen=True)
class _Stems:
    """A group of stems after their pass: cache tensors, mask ``(G, M)``, lengths, last states."""

    kv: list[tuple[torch.Tensor, torch.Tensor]]
    mask: torch.Tensor
    lens: torch.Tensor
    last: torch.Tensor


def score_prefix(
    parts: ModelParts,
    items: Sequence[TokenizedPrompt],
    settings: ScoringSettings,
    *,
    full_logits: bool = False,
    return_hidden: bool = False,
) -> list[ItemScores]:
    """Score by prefix reuse: stems once, continuations over their expanded cache.

    Prompts are grouped (sorted by stem length) so that ``prompts x longest stem`` fits the
    budget; a group's continuations go in passes of ``rows x (longest stem + longest
    continuation)`` within the budget, each over a fresh copy of the group's cache with one
    row per candidate.
    """
    device = parts.device
    by_stem = sorted(range(len(items)), key=lambda i: items[i].stem_len)
    groups = _chunks([(1, items[i].stem_len) for i in by_stem], settings.token_budget)
    order: list[tuple[int, int]] = []
    sums: list[torch.Tensor] = []
    hidden: dict[int, torch.Tensor] | None = {} if return_hidden else None
    for group in groups:
        members = [by_stem[g] for g in group]
        stem_tokens = [items[i].rows[0][: items[i].stem_len] for i in members]
        ids, mask = _pad(stem_tokens, parts.pad_id, device)
        cache = new_cache(parts)
        positions = torch.arange(ids.shape[1], device=device)[None].expand_as(ids)
        h = forward_body(parts, ids, mask, positions, cache)
        lens = torch.as_tensor([len(s) for s in stem_tokens], device=device)
        last = h[torch.arange(len(members), device=device), lens - 1]  # (G, H)
        stems = _Stems([(layer.keys, layer.values) for layer in cache.layers], mask, lens, last)
        if hidden is not None:
            hidden.update({i: last[g].float() for g, i in enumerate(members)})
        # (group index, candidate, continuation, index of its first scored token)
        rows = [
            (g, k, row[it.stem_len :], start - it.stem_len)
            for g, it in ((g, items[i]) for g, i in enumerate(members))
            for k, (row, start) in enumerate(zip(it.rows, it.starts, strict=True))
        ]
        rows.sort(key=lambda row: len(row[2]))
        width = ids.shape[1]
        for chunk in _chunks([(1, width + len(r[2])) for r in rows], settings.token_budget):
            picked = [rows[j] for j in chunk]
            sums.append(_continuation_pass(parts, settings, stems, picked, full_logits))
            order += [(members[g], k) for g, k, _, _ in picked]
    return _assemble(items, order, sums, hidden, device)


def _continuation_pass(
    parts: ModelParts,
    settings: ScoringSettings,
    stems: _Stems,
    rows: list[tuple[int, int, tuple[int, ...], int]],
    full_logits: bool,
) -> torch.Tensor:
    """One pass of continuations over their stems' cache; return their summed log-probs."""
    device = parts.device
    group_of = torch.as_tensor([g for g, _, _, _ in rows], dtype=torch.long, device=device)
    cache = expanded_cache(parts, stems.kv, [g for g, _, _, _ in rows])  # a row per candidate
    ids, mask = _pad([cont for _, _, cont, _ in rows], parts.pad_id, device)
    width = ids.shape[1]
    positions = stems.lens[group_of][:, None] + torch.arange(width, device=device)[None]
    if parts.max_positions is not None:  # only padding can reach past the context
        positions = positions.clamp(max=parts.max_positions - 1)
    attention = torch.cat([stems.mask[group_of], mask], dim=1)  # the stems' padding stays hidden
    h = forward_body(parts, ids, attention, positions, cache).reshape(len(rows) * width, -1)
    # cont[t] is predicted by the state of cont[t - 1], or by the stem's last state for t = 0
    from_last, from_cont, targets_last, targets_cont, seg_last, seg_cont = [], [], [], [], [], []
    for r, (g, _, cont, skip) in enumerate(rows):
        if skip == 0:
            from_last.append(g)
            targets_last.append(cont[0])
            seg_last.append(r)
        first = max(skip, 1)
        from_cont += range(r * width + first - 1, r * width + len(cont) - 1)
        targets_cont += cont[first:]
        seg_cont += [r] * (len(cont) - first)
    as_long = lambda xs: torch.as_tensor(xs, dtype=torch.long, device=device)  # noqa: E731
    logp = gathered_logprobs(
        parts,
        [(stems.last, as_long(from_last)), (h, as_long(from_cont))],
        as_long(targets_last + targets_cont),
        settings,
        full_logits=full_logits,
    )
    zeros = torch.zeros(len(rows), dtype=torch.float32, device=device)
    return zeros.index_add(0, as_long(seg_last + seg_cont), logp)


def score_items(
    parts: ModelParts,
    items: Sequence[TokenizedPrompt],
    settings: ScoringSettings,
    *,
    method: Method = "auto",
    return_hidden: bool = False,
) -> list[ItemScores]:
    """Score tokenised prompts by ``method``; one :class:`ItemScores` per prompt, in order.

    Raises:
        ValueError: an unknown method, or ``prefix`` on a model whose cache has sliding
            windows or recurrent layers (use ``batched``).
    """
    if method not in METHODS:
        raise ValueError(f"unknown scoring method {method!r}; use one of {METHODS}")
    if not items:
        return []
    if method == "naive":
        return score_rows(parts, items, settings, one_row=True, return_hidden=return_hidden)
    if method == "batched":
        return score_rows(parts, items, settings, return_hidden=return_hidden)
    plain = plain_cache(parts)
    if method == "prefix":
        if not plain:
            raise ValueError(
                f"prefix reuse needs plain attention caches; {type(parts.body).__name__} has "
                "sliding-window or recurrent layers, so score it with method='batched'"
            )
        return score_prefix(parts, items, settings, return_hidden=return_hidden)
    threshold = settings.prefix_min_candidates
    many = [i for i, it in enumerate(items) if plain and len(it.rows) >= threshold]
    few = sorted(set(range(len(items))) - set(many))
    out: list[ItemScores | None] = [None] * len(items)
    for picked, run in ((many, score_prefix), (few, score_rows)):
        if picked:
            scored = run(parts, [items[i] for i in picked], settings, return_hidden=return_hidden)
            for i, s in zip(picked, scored, strict=True):
                out[i] = s
    return out  # type: ignore[return-value]
