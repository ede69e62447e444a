"""A language model as an agent: it reads the env's text view and picks a legal action.

:class:`LLMAgent` works with any :class:`palaestra.llm.Backend` (a local ``transformers``
model, an OpenAI-compatible server, the MiniLM encoder) and any game env with a text view
and ``info["legal_actions"]``. It always returns a legal action index: a reply that is
malformed, empty or names an illegal action becomes the documented fallback
(:func:`~palaestra.agents.prompts.fallback_action`: ``noop``, else ``check``, else ``fold``,
else the lowest legal index), is counted in ``stats()["invalid"]`` and
``stats()["fallbacks"]``, and never picks a move by luck.

Choosing:
    ``choose="score"`` (default): every legal action is scored as the prompt's continuation
    (``backend.score``), normalised by ``normalization`` (``token``: mean log-probability
    per token, TWOSOME's), and the best one taken; with ``temperature > 0`` one is drawn
    from the softmax of the normalised scores divided by the temperature.
    ``choose="generate"``: the backend writes a reply (``max_new_tokens``, ``temperature``),
    which :func:`~palaestra.agents.prompts.parse_reply` matches to a legal action.

Prompt blocks (memory, skills, rules) are providers given as ``blocks``: objects with a
``name`` and ``render(observation, info) -> str | None``
(:class:`~palaestra.agents.prompts.PromptBlock`), rendered before each decision in the
order given; their optional ``reset(seed)`` and ``on_action(action, text)`` hooks are called.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from palaestra.agents.prompts import (
    DEFAULT_INSTRUCTION,
    GENERATE_INSTRUCTION,
    PromptBlock,
    build_prompt,
    candidate_texts,
    fallback_action,
    legal_actions_of,
    parse_reply,
    text_view_of,
)
from palaestra.llm import GENERATE, NORMALIZATIONS, SCORE, action_logits, require

__all__ = ["LLMAgent"]

_USAGE_KEYS = ("prompt_tokens", "completion_tokens")


class LLMAgent:
    """Pick legal actions with a language backend, by scoring (default) or by generation.

    Args:
        backend: any :class:`palaestra.llm.Backend`; it must offer ``score`` or
            ``generate``, whichever ``choose`` asks for.
        choose: ``"score"`` or ``"generate"``.
        normalization: how candidate scores of different lengths are compared
            (``"token"``, ``"word"`` or ``"sum"``; see :func:`palaestra.llm.action_logits`).
        temperature: 0 picks the best action (or greedy generation); above 0 samples, with
            the agent's seeded generator (scoring) or the backend's sampler (generation).
        max_new_tokens: the reply's length limit under ``choose="generate"``.
        blocks: prompt-block providers (:class:`~palaestra.agents.prompts.PromptBlock`).
        instruction: the prompt's first paragraph.
        actions: the env's action texts by index (for instance
            ``palaestra.envs.craft.vocabulary.PRIMITIVE_ACTIONS``), used when ``act`` gets no
            ``info["legal_actions"]``: the observation's ``action_mask`` then picks the
            legal ones (see :func:`~palaestra.agents.prompts.legal_actions_of`).
        seed: seeds the sampler (``reset(seed)`` reseeds it).

    Raises:
        palaestra.llm.CapabilityError: the backend cannot do what ``choose`` needs.
        ValueError: an unknown ``choose`` or ``normalization``, a negative temperature, a
            block without ``name`` and ``render``.
    """

    def __init__(
        self,
        backend: Any,
        *,
        choose: Literal["score", "generate"] = "score",
        normalization: str = "token",
        temperature: float = 0.0,
        max_new_tokens: int = 16,
        blocks: Sequence[PromptBlock] = (),
        instruction: str = DEFAULT_INSTRUCTION,
        actions: Sequence[str] | None = None,
        seed: int | None = None,
    ) -> None:
        if choose not in ("score", "generate"):
            raise ValueError(f"choose must be 'score' or 'generate', got {choose!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"unknown normalization {normalization!r}; use one of {list(NORMALIZATIONS)}"
            )
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature)) or (
            temperature < 0
        ):
            raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        for block in blocks:
            if not isinstance(getattr(block, "name", None), str) or not callable(
                getattr(block, "render", None)
            ):
                raise ValueError(
                    f"prompt block {block!r} needs a str `name` and a "
                    "`render(observation, info)` method (see palaestra.agents.prompts)"
                )
        require(backend, SCORE if choose == "score" else GENERATE)
        self.backend = backend
        self.choose = choose
        self.normalization = normalization
        self.temperature = float(temperature)
        self.max_new_tokens = max_new_tokens
        self.blocks = tuple(blocks)
        self.instruction = instruction
        self.actions = None if actions is None else [str(a) for a in actions]
        self._rng = np.random.default_rng(seed)
        self._counts = dict.fromkeys(_COUNTERS, 0.0)
        self.last_prompt: str | None = None
        self.last_reply: str | None = None
        self._reply_tokens = 0.0

    # ---------------------------------------------------------------------- the interface
    def reset(self, seed: int | None = None) -> None:
        """Start an episode: zero the per-episode counters, reset the blocks, reseed."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._counts = dict.fromkeys(_COUNTERS, 0.0)
        for block in self.blocks:
            hook = getattr(block, "reset", None)
            if callable(hook):
                hook(seed)

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> int:
        """The index of a legal action for this text view (see the class docstring).

        Raises:
            ValueError: no text view in ``observation``, or no way to know the legal actions
                (no ``info["legal_actions"]`` and no ``actions`` given).
            palaestra.llm.LLMError: the backend failed for good (a server unreachable
                after its retries); an unusable *reply* never raises.
        """
        legal = legal_actions_of(info, observation, self.actions)
        text = text_view_of(observation)
        sections = []
        for block in self.blocks:
            body = block.render(observation, info or {})
            if body:
                sections.append((block.name, body))
        instruction = self.instruction
        if self.choose == "generate":
            instruction = f"{instruction.strip()} {GENERATE_INSTRUCTION}"
        prompt = build_prompt(text, legal, sections, instruction=instruction)
        self.last_prompt = prompt
        before = _usage(self.backend)
        self._reply_tokens = 0.0
        start = time.perf_counter()
        if self.choose == "score":
            choice = self._by_score(prompt, legal)
        else:
            choice = self._by_generation(prompt, legal)
        self._counts["latency_s"] += time.perf_counter() - start
        after = _usage(self.backend)
        for key in _USAGE_KEYS:
            self._counts[key] += max(0.0, after[key] - before[key])
        # A backend that keeps no usage counters (a local model): count with its tokenizer.
        if after["prompt_tokens"] == before["prompt_tokens"]:
            self._counts["prompt_tokens"] += _count_tokens(self.backend, prompt)
        if after["completion_tokens"] == before["completion_tokens"]:
            self._counts["completion_tokens"] += self._reply_tokens
        self._counts["steps"] += 1
        if choice is None:
            self._counts["invalid"] += 1
            self._counts["fallbacks"] += 1
            choice = fallback_action(legal)
        for block in self.blocks:
            hook = getattr(block, "on_action", None)
            if callable(hook):
                hook(choice, legal[choice])
        return choice

    def stats(self) -> dict[str, float]:
        """This episode's counters.

        ``steps``, ``invalid`` (unusable replies), ``fallbacks`` (fallback actions taken),
        ``prompt_tokens``, ``completion_tokens`` and ``latency_s`` (seconds in the backend).
        """
        return dict(self._counts)

    # ------------------------------------------------------------------------ choosing
    def _by_score(self, prompt: str, legal: dict[int, str]) -> int | None:
        result = self.backend.score([prompt], [candidate_texts(legal)])[0]
        logits = action_logits(result, self.normalization)
        finite = np.isfinite(logits)
        if not finite.any():  # e.g. a reply that matched no candidate
            return None
        # Non-finite scores (-inf: not named; NaN or inf: a broken reply) never win: argmax
        # would pick a NaN, the first one, over every real score.
        logits = np.where(finite, logits, -np.inf)
        indices = list(legal)
        if self.temperature == 0.0:
            return indices[int(np.argmax(logits))]
        z = logits / self.temperature
        p = np.exp(z - z.max())
        return indices[int(self._rng.choice(len(indices), p=p / p.sum()))]

    def _by_generation(self, prompt: str, legal: dict[int, str]) -> int | None:
        reply = self.backend.generate(
            [prompt], max_new_tokens=self.max_new_tokens, temperature=self.temperature
        )[0]
        self.last_reply = reply
        self._reply_tokens = _count_tokens(self.backend, reply)
        return parse_reply(reply, legal)


_COUNTERS = ("steps", "invalid", "fallbacks", "prompt_tokens", "completion_tokens", "latency_s")


def _usage(backend: Any) -> dict[str, float]:
    """The backend's running token counters (zeros when it keeps none)."""
    stats = getattr(backend, "stats", None)
    counts = stats() if callable(stats) else {}
    return {key: float(counts.get(key, 0.0)) for key in _USAGE_KEYS}


def _count_tokens(backend: Any, text: str) -> float:
    """Tokens of ``text`` by the backend's ``count_tokens``, or its tokenizer, else 0.

    A tokenizer is a ``transformers`` one, as :class:`~palaestra.llm.TransformersBackend` has.
    """
    count = getattr(backend, "count_tokens", None)
    if callable(count):
        return float(count(text))
    tokenizer = getattr(backend, "tokenizer", None)
    if callable(tokenizer) and text:
        return float(len(tokenizer(text, add_special_tokens=False)["input_ids"]))
    return 0.0
