"""Language policies: PPO actor-critics whose actions are scored legal-action texts.

Glossary:
    scorer: the trainable part that reads text. :class:`EncoderScorer` wraps the encoder
        backend (frozen sentence embeddings, a trainable similarity head: trains on a CPU);
        :class:`CausalLMScorer` wraps a causal LM (optionally with LoRA adapters through
        ``peft``), whose candidate log-likelihoods are the scores (TWOSOME, GLAM).
    features: what the critic reads: the encoder's prompt embedding, or the LM's final
        hidden state at the prompt's last token.
    legal actions: a row's ``info["legal_actions"]``; their number changes from step to step.

The policy of a row is the softmax, over that row's legal actions only, of the normalised
candidate scores (``token``: summed log-probability over token count, TWOSOME's default;
``word``; ``sum``). The trainer gives each row's text view and legal actions as row extras
(``row_extras = ("text", "legal_actions")``); :meth:`LanguagePolicy.act` builds the prompt
with :func:`palaestra.agents.prompts.build_prompt` (an encoder reads the text view alone)
and keeps the prompt and candidate texts in
the row's extras, and :meth:`LanguagePolicy.evaluate_actions` re-scores exactly those texts
through the same scorer call, so the first minibatch's probability ratio is 1.

The numeric observation the trainer also passes is ignored. Only trainable tensors are in
``state_dict()`` (the head, the value head, LoRA adapters): checkpoints stay small and the
frozen base model is loaded from where it came from.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from palaestra.agents.policies import PolicyStep
from palaestra.agents.prompts import build_prompt, candidate_texts, sorted_legal
from palaestra.llm import NORMALIZATIONS, count_words

__all__ = ["CausalLMScorer", "EncoderScorer", "LanguagePolicy", "normalise_scores"]


def normalise_scores(
    logprob: torch.Tensor, n_tokens: torch.Tensor, candidates: Sequence[str], normalization: str
) -> torch.Tensor:
    """Torch twin of :func:`palaestra.llm.action_logits`: logits over one row's candidates."""
    if normalization == "token":
        return logprob / n_tokens.clamp(min=1).to(logprob.dtype)
    if normalization == "word":
        words = torch.tensor([count_words(c) for c in candidates], device=logprob.device)
        return logprob / words.to(logprob.dtype)
    if normalization == "sum":
        return logprob
    raise ValueError(f"unknown normalization {normalization!r}; use one of {NORMALIZATIONS}")


class EncoderScorer(nn.Module):
    """Scores with an :class:`~palaestra.llm.encoder.EncoderBackend` (its head is trained).

    Args:
        backend: the encoder backend; its embedder stays frozen.
    """

    reads = "view"
    """An encoder embeds the text view alone: the legal actions are its candidates, and the
    instruction and action list of a causal LM's prompt would only cost encoder time."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend  # not a module: its embedder's weights are not ours to save
        self.head = backend.head
        self.feature_dim = int(backend.dim)

    def forward(
        self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], normalization: str
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Logits of each prompt's candidates, and the prompts' features (no gradient)."""
        return self.backend.logits_tensors(prompts, candidates, return_embeddings=True)


class CausalLMScorer(nn.Module):
    """Scores with a :class:`~palaestra.llm.transformers_backend.TransformersBackend`.

    Args:
        backend: the backend; with ``lora_rank > 0`` its model is wrapped in LoRA
            adapters (``peft``) and only the adapters train, else the whole model trains.
        lora_rank: LoRA rank (0: no adapters).
        lora_alpha: LoRA scaling numerator.
        lora_dropout: dropout on the adapters' input (inactive while the LM stays in eval
            mode, as the trainer keeps it; see :meth:`train`).
        target_modules: module names to adapt (None: peft's default for the architecture).
        critic: ``"shared"`` (the value head reads the hidden state of the same forward,
            adapters on) or ``"frozen"`` (TWOSOME's critic: the base model's hidden state,
            adapters off, no gradient into the model).
    """

    def __init__(
        self,
        backend: Any,
        *,
        lora_rank: int = 8,
        lora_alpha: float = 16.0,
        lora_dropout: float = 0.0,
        target_modules: Sequence[str] | None = None,
        critic: str = "shared",
    ) -> None:
        super().__init__()
        if critic not in ("shared", "frozen"):
            raise ValueError(f"critic must be 'shared' or 'frozen', got {critic!r}")
        if critic == "frozen" and lora_rank <= 0:
            raise ValueError("critic='frozen' needs LoRA adapters (lora_rank > 0) to switch off")
        if lora_rank > 0:
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=lora_rank,
                lora_alpha=lora_alpha,
                lora_dropout=lora_dropout,
                target_modules=list(target_modules) if target_modules else None,
                bias="none",
            )
            # peft's new adapter modules start in training mode: back to eval (see train).
            backend.model = get_peft_model(backend.model, config).eval()
        self.backend = backend
        self.model = backend.model
        self.critic = critic
        self.lora = lora_rank > 0
        self.feature_dim = int(backend.model.config.hidden_size)

    def train(self, mode: bool = True) -> CausalLMScorer:
        """Set the mode; the LM itself stays in eval mode (dropout off) either way.

        The rollout scores with the model as the backend left it (eval mode), so the update
        must too: a ``policy.train()`` (``evaluate_policy`` restores the mode it found) that
        switched the LM's dropout on would make the re-scored log-probabilities differ from
        the rollout's (a first ratio that is not 1), and sampling depend on dropout noise.
        """
        super().train(mode)
        self.model.eval()
        return self

    def forward(
        self, prompts: Sequence[str], candidates: Sequence[Sequence[str]], normalization: str
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Normalised candidate scores per prompt, and the prompts' features."""
        shared = self.critic == "shared"
        scores = self.backend.score_tensors(prompts, candidates, return_hidden=shared)
        logits = [
            normalise_scores(lp.float(), n, c, normalization)
            for lp, n, c in zip(scores.logprob, scores.n_tokens, candidates, strict=True)
        ]
        if shared:
            return logits, scores.hidden.float()
        with torch.no_grad(), self.model.disable_adapter():
            first = [[c[0]] for c in candidates]
            hidden = self.backend.score_tensors(prompts, first, return_hidden=True).hidden
        return logits, hidden.float()


class LanguagePolicy(nn.Module):
    """An actor-critic over legal-action texts, trained by palaestra's PPO trainer.

    Args:
        scorer: an :class:`EncoderScorer` or :class:`CausalLMScorer`.
        normalization: ``"token"``, ``"word"`` or ``"sum"`` (causal LMs; an encoder's logits
            are used as they are).
        value_hidden: hidden widths of the value head over the scorer's features.
        instruction: the prompts' first paragraph (None: the default of
            :mod:`palaestra.agents.prompts`).
    """

    row_extras = ("text", "legal_actions")

    def __init__(
        self,
        scorer: nn.Module,
        *,
        normalization: str = "token",
        value_hidden: Sequence[int] = (64,),
        instruction: str | None = None,
    ) -> None:
        super().__init__()
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"unknown normalization {normalization!r}; use one of {list(NORMALIZATIONS)}"
            )
        self.scorer = scorer
        self.normalization = normalization
        self.instruction = instruction
        sizes = [int(scorer.feature_dim), *(int(h) for h in value_hidden)]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.Tanh()]
        last = nn.Linear(sizes[-1], 1)
        nn.init.orthogonal_(last.weight, 1.0)
        nn.init.zeros_(last.bias)
        self.value_head = nn.Sequential(*layers, last)

    # ----------------------------------------------------------------------- the texts
    def _texts(self, extras: Sequence[dict[str, Any]]) -> tuple[list[int], list[str], list]:
        """Rows with legal actions, their prompts and candidates (kept in each row's extras)."""
        rows, prompts, candidates = [], [], []
        for i, row in enumerate(extras):
            if "prompt" not in row:
                legal = sorted_legal(row.get("legal_actions"))
                text = row.get("text")
                if not legal or not isinstance(text, str):
                    row["prompt"], row["candidates"], row["indices"] = None, [], []
                else:
                    if getattr(self.scorer, "reads", "prompt") == "view":
                        row["prompt"] = text.strip()  # an encoder embeds the view itself
                    else:
                        kw = {} if self.instruction is None else {"instruction": self.instruction}
                        row["prompt"] = build_prompt(text, legal, **kw)
                    row["candidates"] = candidate_texts(legal)
                    row["indices"] = list(legal)
            if row["prompt"] is not None:
                rows.append(i)
                prompts.append(row["prompt"])
                candidates.append(row["candidates"])
        return rows, prompts, candidates

    def _forward(
        self, extras: Sequence[dict[str, Any]] | None, batch: int, device: torch.device
    ) -> tuple[list[int], list[torch.Tensor], torch.Tensor]:
        if extras is None or len(extras) != batch:
            raise ValueError(
                "a LanguagePolicy needs one row-extras dict per row (text and legal_actions); "
                "train it with palaestra's trainer, which passes extras= to every call"
            )
        rows, prompts, candidates = self._texts(extras)
        values = torch.zeros(batch, device=device)
        if not rows:
            return rows, [], values
        logits, features = self.scorer(prompts, candidates, self.normalization)
        values = values.index_put(
            (torch.tensor(rows, device=device),), self.value_head(features.to(device)).squeeze(-1)
        )
        return rows, logits, values

    # ------------------------------------------------------------------- the protocol
    def act(
        self,
        obs: torch.Tensor,
        action_mask: torch.Tensor | None = None,
        critic_obs: torch.Tensor | None = None,
        deterministic: bool = False,
        extras: Sequence[dict[str, Any]] | None = None,
        generator: torch.Generator | None = None,
    ) -> PolicyStep:
        """Sample (or take the most likely) legal action of each row.

        ``generator`` draws the samples (on the scorer's device; a
        :class:`~palaestra.agents.PolicyAgent` passes the one its ``reset(seed)`` seeds);
        None uses torch's global RNG, as the trainer's rollouts do.
        """
        batch, device = obs.shape[0], obs.device
        rows, logits, values = self._forward(extras, batch, device)
        actions = torch.zeros(batch, dtype=torch.int64, device=device)
        logprobs = torch.zeros(batch, device=device)
        for row, row_logits in zip(rows, logits, strict=True):
            dist = torch.distributions.Categorical(logits=row_logits.float())
            if deterministic:
                pick = row_logits.argmax()
            elif generator is not None:
                pick = torch.multinomial(dist.probs, 1, generator=generator)[0]
            else:
                pick = dist.sample()
            actions[row] = extras[row]["indices"][int(pick)]  # type: ignore[index]
            logprobs[row] = dist.log_prob(pick).to(device)
        return PolicyStep(actions, logprobs.detach(), values.detach())

    def evaluate_actions(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        action_mask: torch.Tensor | None = None,
        critic_obs: torch.Tensor | None = None,
        extras: Sequence[dict[str, Any]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of each row's action, and its value, with gradients."""
        batch, device = obs.shape[0], obs.device
        rows, logits, values = self._forward(extras, batch, device)
        logprob = torch.zeros(batch, device=device)
        entropy = torch.zeros(batch, device=device)
        out_lp, out_ent = [], []
        for row, row_logits in zip(rows, logits, strict=True):
            dist = torch.distributions.Categorical(logits=row_logits.float())
            indices = extras[row]["indices"]  # type: ignore[index]
            action = int(actions[row])
            if action not in indices:
                raise ValueError(
                    f"row {row}: action {action} is not among its legal actions {indices}"
                )
            pick = torch.tensor(indices.index(action), device=row_logits.device)
            out_lp.append(dist.log_prob(pick))
            out_ent.append(dist.entropy())
        if rows:
            index = (torch.tensor(rows, device=device),)
            logprob = logprob.index_put(index, torch.stack(out_lp).to(device))
            entropy = entropy.index_put(index, torch.stack(out_ent).to(device))
        return logprob, entropy, values

    def value(
        self,
        obs: torch.Tensor,
        critic_obs: torch.Tensor | None = None,
        extras: Sequence[dict[str, Any]] | None = None,
    ) -> torch.Tensor:
        """The critic's value of each row (0 for rows without a decision)."""
        return self._forward(extras, obs.shape[0], obs.device)[2]

    # ------------------------------------------------------------------- saving
    def _frozen_names(self) -> set[str]:
        """Tensors that do not train (a LoRA-wrapped model's base): left out of checkpoints."""
        if not getattr(self.scorer, "lora", False):
            return set()
        # Every name of a tensor, tied ones too (GPT-2's lm_head.weight is wte.weight): with
        # duplicates removed, a tied embedding would be saved under its second name.
        frozen = {
            n for n, p in self.named_parameters(remove_duplicate=False) if not p.requires_grad
        }
        buffers = self.named_buffers(remove_duplicate=False)
        return frozen | {n for n, _ in buffers if n.startswith("scorer.model.")}

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """The trainable tensors only (the heads, and the adapters of a LoRA model)."""
        full = super().state_dict(*args, **kwargs)
        frozen = self._frozen_names()
        prefix = kwargs.get("prefix", "")
        for key in [k for k in full if k[len(prefix) :] in frozen]:
            del full[key]
        return full

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ):  # type: ignore[override]
        """Load what :meth:`state_dict` saved; the frozen base model stays as it was built."""
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        frozen = self._frozen_names()
        missing = [k for k in result.missing_keys if k not in frozen]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(
                f"language policy weights do not fit: missing {missing[:5]}, unexpected "
                f"{list(result.unexpected_keys)[:5]}"
            )
        return result

    def param_groups(self, learning_rate: float, head_lr_scale: float = 1.0) -> list[dict]:
        """Disjoint parameter groups for one optimiser: the scorer's, and the value head's.

        Each group carries ``lr_scale`` (the trainer anneals ``learning_rate * lr_scale``).
        """
        scorer = [p for p in self.scorer.parameters() if p.requires_grad]
        head = list(self.value_head.parameters())
        return [
            {"params": scorer, "lr": learning_rate, "lr_scale": 1.0, "name": "scorer"},
            {
                "params": head,
                "lr": learning_rate * head_lr_scale,
                "lr_scale": head_lr_scale,
                "name": "value_head",
            },
        ]
