"""Numbered choices: the question a model is asked, and how its answer is read.

Glossary:
    numbered list: the candidates shown as ``1. text`` lines under the prompt, with a request
        to answer with a number only.
    number token: the one token a model answers with (``"2"``, or ``" 2"`` with a space);
        numbers 1 to :data:`MAX_CHOICES` are one token in every common tokenizer, so a list
        that long can be scored from one generated token's ``top_logprobs``.

Backends that cannot score candidates exactly use these (the OpenAI-compatible backend's
``choice`` and ``generation`` modes), and so can agents that parse a generated reply.
Needs only numpy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["MAX_CHOICES", "format_choices", "number_logprobs", "parse_choice"]

MAX_CHOICES = 9  # numbers 1-9 are one token in every tokenizer; longer lists need generation
_NUMBER = re.compile(r"\(?(\d+)(?:[.):]|\s|$)")
_LEAD = re.compile(r"^(?:[-*]\s+|(?:action|answer)\s*:\s*)+", re.IGNORECASE)


def format_choices(prompt: str, candidates: Sequence[str]) -> str:
    """The numbered-choice question of a prompt's candidates.

    The prompt, then the candidates as ``1. text`` lines (spaces around each text
    stripped), then a request for the number only.
    """
    listed = "\n".join(f"{k}. {c.strip()}" for k, c in enumerate(candidates, start=1))
    return (
        f"{prompt.rstrip()}\n\nChoose one of these actions:\n{listed}\n"
        "Answer with the number of your choice only."
    )


def parse_choice(reply: str, candidates: Sequence[str]) -> int | None:
    """The index of the candidate a generated reply names, or ``None``.

    The first non-empty line of the reply (stripped of spaces, quotes, a ``-`` bullet and a
    leading ``Action:`` or ``Answer:``) is matched to the
    candidates (stripped of spaces), in order: exactly to a candidate; as
    a number ``1..K`` at its start (``"2"``, ``"2."``, ``"(2) fold"``); to a candidate
    ignoring case; as a prefix, either way round, of exactly one candidate ignoring case
    (``"fold."`` names ``"fold"``, ``"coll"`` names ``"collect wood"``).

    Args:
        reply: the model's text.
        candidates: the legal actions, in the listed order.

    Returns:
        An index into ``candidates``, or ``None`` when nothing (or more than one) matches.
    """
    lines = [line.strip().strip("`\"'*").strip() for line in reply.splitlines()]
    text = next((line for line in lines if line), "")
    text = _LEAD.sub("", text).strip().strip("`\"'*").strip()
    if not text:
        return None
    stripped = [c.strip() for c in candidates]
    if text in stripped:
        return stripped.index(text)
    number = _NUMBER.match(text)
    if number and 1 <= int(number.group(1)) <= len(candidates):
        return int(number.group(1)) - 1
    low = text.lower()
    lows = [c.lower() for c in stripped]
    same = [k for k, c in enumerate(lows) if c == low]
    if len(same) == 1:
        return same[0]
    prefix = [k for k, c in enumerate(lows) if c.startswith(low) or low.startswith(c)]
    return prefix[0] if len(prefix) == 1 else None


def number_logprobs(top: Mapping[str, float | None], k: int) -> np.ndarray:
    """Each of ``k`` numbered candidates' log-probability, read from ``top_logprobs``.

    Tokens are matched after stripping spaces and a trailing ``.``, ``)`` or ``:``; several
    tokens for one number (``"2"`` and ``" 2"``) add up. A number missing from ``top`` gets
    ``-inf``: its true log-probability is below every listed one, and ``-inf`` keeps it out
    of a softmax without inventing a value.

    Args:
        top: token text to log-probability, as a server's ``top_logprobs`` give them.
        k: how many candidates were listed.

    Returns:
        float64 array ``(k,)``.
    """
    out = np.full(k, -np.inf)
    for token, value in top.items():
        label = str(token).strip().rstrip(".):")
        if value is None or not label.isdigit() or not 1 <= int(label) <= k:
            continue
        if math.isfinite(float(value)):
            out[int(label) - 1] = np.logaddexp(out[int(label) - 1], float(value))
    return out
