"""Prompts for language agents and policies: the text view, legal actions and extra blocks.

Glossary:
    text view: the env's own description of what an agent sees (``obs_mode="text"`` or
        ``"both"``; the string, or the ``"text"`` key of the observation dict).
    legal actions: ``info["legal_actions"]``, action index -> text, in index order.
    block: an extra section of the prompt (memory, skills, a rulebook), given by a
        :class:`PromptBlock` provider; a block that has nothing to say returns None and
        leaves no trace in the prompt.
    reply: what a language model generated; :func:`parse_reply` matches it to a legal action.

The layout is fixed and documented so that scores are comparable across runs::

    <instruction>

    ## <block name>
    <block text>            (one section per block with something to say)

    ## Observation
    <text view>

    ## Legal actions
    - <action text>         (one line per legal action, in index order)

    Action:

A candidate is scored as the continuation ``" " + action text`` of that prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from palaestra.llm.choices import parse_choice

__all__ = [
    "DEFAULT_INSTRUCTION",
    "FALLBACK_TEXTS",
    "PromptBlock",
    "build_prompt",
    "candidate_texts",
    "fallback_action",
    "legal_actions_of",
    "parse_reply",
    "sorted_legal",
    "text_view_of",
]

DEFAULT_INSTRUCTION = (
    "You are an agent in a game. Read the observation and choose one of the legal actions."
)
GENERATE_INSTRUCTION = "Reply with one legal action, written exactly as listed, and nothing else."
FALLBACK_TEXTS: tuple[str, ...] = ("noop", "check", "fold")
"""Texts of the conservative actions a fallback prefers, in this order."""


@runtime_checkable
class PromptBlock(Protocol):
    """A provider of one prompt section (memory, skills, ...).

    ``render`` is called once per step with the agent's observation and info, before the
    prompt is built; it returns the section's text, or None for no section. Optional hooks,
    called when present: ``reset(seed=None)`` at each episode start and
    ``on_action(action, text)`` after the agent chose (its index and text).
    """

    name: str

    def render(self, observation: Any, info: Mapping[str, Any]) -> str | None:
        """The section's text for this step, or None."""
        ...


def text_view_of(observation: Any) -> str:
    """The text view inside an observation (a string, or a dict's ``"text"`` entry).

    Raises:
        ValueError: the observation carries no text view (the env's ``obs_mode`` is
            ``"vector"``).
    """
    if isinstance(observation, str):
        return observation
    if isinstance(observation, Mapping) and isinstance(observation.get("text"), str):
        return observation["text"]
    raise ValueError(
        "a language agent needs the env's text view, but the observation has none "
        f"(a {type(observation).__name__}); make the env with obs_mode='text' or 'both'"
    )


def legal_actions_of(
    info: Mapping[str, Any] | None,
    observation: Any = None,
    actions: Sequence[str] | None = None,
) -> dict[int, str]:
    """The legal actions of one decision, index -> text, in index order.

    From ``info["legal_actions"]`` when the caller passed it; otherwise, for an agent given
    the env's action texts (``actions``), from the observation's ``action_mask`` (a
    ``"both"`` observation), or every action when there is no mask.

    Raises:
        ValueError: none of these is available (the message says what to pass).
    """
    legal = sorted_legal(None if info is None else info.get("legal_actions"))
    if legal:
        return legal
    if actions is not None:
        mask = observation.get("action_mask") if isinstance(observation, Mapping) else None
        if mask is None:
            return dict(enumerate(actions))
        picked = {i: actions[i] for i in range(len(actions)) if mask[i]}
        if picked:
            return picked
    raise ValueError(
        "a language agent needs the legal actions: pass the step's info to "
        "act(observation, info) (info['legal_actions']; palaestra.agents.play does), or give "
        "the agent the env's action texts (actions=...) and an observation with an "
        f"action_mask; {'no info was given' if info is None else 'the info has none'}"
    )


def sorted_legal(legal: Any) -> dict[int, str] | None:
    """A ``legal_actions`` mapping as int index -> text in index order; None if empty or absent."""
    if not isinstance(legal, Mapping) or not legal:
        return None
    return {int(k): str(legal[k]) for k in sorted(legal, key=int)}


def candidate_texts(legal: Mapping[int, str]) -> list[str]:
    """Each legal action as the continuation scored after the prompt (``" " + text``)."""
    return [" " + text for text in legal.values()]


def build_prompt(
    text_view: str,
    legal: Mapping[int, str],
    blocks: Sequence[tuple[str, str]] = (),
    *,
    instruction: str = DEFAULT_INSTRUCTION,
) -> str:
    """The prompt of one decision, in the layout of this module's docstring.

    Args:
        text_view: the env's text view of the agent.
        legal: action index -> text, in index order.
        blocks: ``(name, text)`` sections placed before the observation.
        instruction: the first paragraph.
    """
    parts = [instruction.strip()]
    parts += [f"## {name}\n{body.strip()}" for name, body in blocks if body and body.strip()]
    parts.append(f"## Observation\n{text_view.strip()}")
    parts.append("## Legal actions\n" + "\n".join(f"- {t}" for t in legal.values()))
    return "\n\n".join(parts) + "\n\nAction:"


def parse_reply(reply: str, legal: Mapping[int, str]) -> int | None:
    """The legal action index a generated reply names, or None when it names none.

    The rules of :func:`palaestra.llm.choices.parse_choice` over the legal actions in index
    order: the exact text, a number ``k`` (the ``k``-th listed action, from 1), the text
    ignoring case, a prefix of exactly one action. Empty, malformed and illegal replies
    give None.
    """
    position = parse_choice(reply, list(legal.values()))
    return None if position is None else list(legal)[position]


def fallback_action(legal: Mapping[int, str]) -> int:
    """The conservative legal action taken in place of an unusable reply.

    The first of :data:`FALLBACK_TEXTS` (``noop``, then ``check``, then ``fold``) that is a
    legal action's text, else the legal action with the lowest index. It never depends on
    the reply, so a malformed reply cannot win by luck.
    """
    for wanted in FALLBACK_TEXTS:
        for index, text in legal.items():
            if text.lower() == wanted:
                return index
    return min(legal)
