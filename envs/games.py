"""What every palaestra game env shares: observation modes, text spaces and illegal actions.

Game envs (Craft, Hold'em) serve three kinds of player with one engine:

- vector policies (PPO with action masks) read ``obs_mode="vector"``: a ``Dict`` of numeric
  ``Box`` spaces plus an ``action_mask`` (``int8``, 1 = legal);
- language agents read ``obs_mode="text"``: a :func:`text_space` string, the env's text view;
- ``obs_mode="both"`` gives the vector ``Dict`` with one more key, ``"text"``.

In every mode ``info["legal_actions"]`` maps each legal action index to its text, for exactly
the actions the mask allows (:func:`legal_actions`).

Illegal (masked) actions follow ``illegal_action``: ``"raise"`` raises ``ValueError`` naming the
agent, the action and the legal ones; ``"penalize"`` takes the env's documented fallback action,
gives a penalty and sets ``info["invalid_action"] = True``. Gymnasium single-agent variants
default to ``"penalize"`` (so mask-unaware learners and Gymnasium's checker work); PettingZoo
envs default to ``"raise"``.

The argument and step checks every palaestra env shares (carry included) live here too:
:func:`check_render_mode`, :func:`check_agent_name` and :func:`check_parallel_step` (the
checks of a PettingZoo Parallel ``step``: the episode is running, the actions are a dict
holding exactly the live agents).
"""

from __future__ import annotations

import multiprocessing
import re
import string
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from gymnasium.error import CustomSpaceError, ResetNeeded
from gymnasium.vector.utils import create_shared_memory

__all__ = [
    "ILLEGAL_ACTION_MODES",
    "OBS_MODES",
    "TEXT_CHARSET",
    "IllegalAction",
    "ObsMode",
    "TextView",
    "check_agent_name",
    "check_illegal_action",
    "check_obs_mode",
    "check_parallel_step",
    "check_render_mode",
    "game_observation_space",
    "legal_actions",
    "resolve_action",
    "split_predicate",
    "text_space",
]

ObsMode = Literal["vector", "text", "both"]
IllegalAction = Literal["raise", "penalize"]
OBS_MODES: tuple[str, ...] = ("vector", "text", "both")
ILLEGAL_ACTION_MODES: tuple[str, ...] = ("raise", "penalize")
TEXT_CHARSET = string.printable
"""Characters a text view may use (Gymnasium's default ``Text`` charset rejects spaces)."""


def check_obs_mode(obs_mode: Any) -> str:
    """Return ``obs_mode`` if it is one of :data:`OBS_MODES`, else raise ``ValueError``."""
    if obs_mode not in OBS_MODES:
        raise ValueError(f"obs_mode must be one of {', '.join(OBS_MODES)}; got {obs_mode!r}")
    return str(obs_mode)


def check_illegal_action(illegal_action: Any) -> str:
    """Return ``illegal_action`` if it is ``"raise"`` or ``"penalize"``, else raise."""
    if illegal_action not in ILLEGAL_ACTION_MODES:
        raise ValueError(
            f"illegal_action must be one of {', '.join(ILLEGAL_ACTION_MODES)}; "
            f"got {illegal_action!r}"
        )
    return str(illegal_action)


def check_render_mode(render_mode: Any, allowed: Sequence[str]) -> None:
    """Raise ``ValueError`` for a render mode the env does not declare (None always passes).

    Args:
        render_mode: The ``render_mode`` argument given to the env.
        allowed: The env's ``metadata["render_modes"]``.
    """
    if render_mode is not None and render_mode not in allowed:
        raise ValueError(f"render_mode must be one of {allowed} or None, got {render_mode!r}")


def check_agent_name(agent: Any, possible_agents: Sequence[str]) -> None:
    """Raise ``ValueError`` naming ``agent`` if it is not one of ``possible_agents``."""
    if agent not in possible_agents:
        raise ValueError(f"unknown agent {agent!r}; agents are {possible_agents}")


def check_parallel_step(
    env_name: str, actions: Any, agents: Sequence[str], *, running: bool = True
) -> None:
    """The checks of a PettingZoo Parallel env's ``step(actions)``, before anything changes.

    Args:
        env_name: The env's name for messages (``"carry-v0"``).
        actions: What ``step`` was given.
        agents: The live agents (``env.agents``); empty once the episode has ended.
        running: Whether the episode is running (False after its end or before any reset).

    Raises:
        gymnasium.error.ResetNeeded: if the episode is not running or no agent is live.
        ValueError: if ``actions`` is not a mapping, names an agent that is not live, or
            misses a live one; the message names the agents.
    """
    if not running or not agents:
        raise ResetNeeded(
            f"{env_name}: the episode has ended (or never started); call reset() before step()"
        )
    if not isinstance(actions, Mapping):
        raise ValueError(f"actions must be a dict from agent name to action, got {actions!r}")
    for agent in actions:
        if agent not in agents:
            raise ValueError(f"unknown agent {agent!r} in actions; live agents: {agents}")
    missing = [a for a in agents if a not in actions]
    if missing:
        raise ValueError(f"actions are missing agent(s) {missing}; live agents: {agents}")


class TextView(spaces.Text):
    """The ``Text`` space of game text views (printable characters, empty allowed).

    Gymnasium's ``AsyncVectorEnv`` with ``shared_memory=True`` (its default) reads ``Text``
    observations out of shared memory only once, when it starts, so every later text would
    come back as that first buffer. This space refuses shared memory instead, which
    ``AsyncVectorEnv`` reports as an error telling to pass ``shared_memory=False``.
    """


@create_shared_memory.register(TextView)
def _refuse_shared_memory(space: TextView, n: int = 1, ctx: ModuleType = multiprocessing) -> None:
    raise CustomSpaceError(
        "text observations cannot travel through AsyncVectorEnv's shared memory (Gymnasium "
        "reads Text from it only once); make the vector env with "
        "vector_kwargs={'shared_memory': False}"
    )


def text_space(max_length: int) -> TextView:
    """A :class:`TextView` space for text views: printable characters, empty allowed."""
    return TextView(max_length=max_length, min_length=0, charset=TEXT_CHARSET)


def game_observation_space(
    vector: spaces.Dict, obs_mode: str, max_text_length: int
) -> spaces.Space[Any]:
    """The observation space of a game env in ``obs_mode``.

    Args:
        vector: The vector view: a ``Dict`` of numeric Boxes including ``action_mask``.
        obs_mode: One of :data:`OBS_MODES`.
        max_text_length: The longest text view the env can produce.
    """
    check_obs_mode(obs_mode)
    if obs_mode == "vector":
        return vector
    if obs_mode == "text":
        return text_space(max_text_length)
    if "text" in vector.spaces:
        raise ValueError("a vector view may not use the key 'text'")
    return spaces.Dict({**vector.spaces, "text": text_space(max_text_length)})


def legal_actions(mask: np.ndarray, names: Sequence[str]) -> dict[int, str]:
    """Map each legal action index (``mask[i] != 0``) to its text ``names[i]``."""
    return {i: names[i] for i, legal in enumerate(mask) if legal}


def resolve_action(
    action: Any,
    mask: np.ndarray,
    *,
    agent: str,
    names: Sequence[str],
    illegal_action: str,
    fallback: int,
) -> tuple[int, bool]:
    """Check a discrete action against the mask and decide what is taken.

    Args:
        action: The action as given (a Python or numpy integer; a 0-d array is accepted).
        mask: The current action mask of ``agent`` (1 = legal).
        agent: The agent's name, for messages.
        names: The text of every action index.
        illegal_action: ``"raise"`` or ``"penalize"``.
        fallback: The action taken instead of an illegal one under ``"penalize"``; it must be
            legal.

    Returns:
        ``(taken, invalid)``: the action index the env carries out, and whether the given
        action was illegal (and replaced by ``fallback``).

    Raises:
        ValueError: if ``action`` is not an integer index in range (always), or is masked out
            and ``illegal_action == "raise"``. The message names the agent, the action and
            the legal actions.
    """
    index = _as_index(action, len(names), agent)
    if mask[index]:
        return index, False
    if illegal_action == "raise":
        legal = ", ".join(f"{i} ({text})" for i, text in legal_actions(mask, names).items())
        raise ValueError(
            f"action {index} ({names[index]}) is not legal for {agent} now; legal: {legal}"
        )
    if not mask[fallback]:
        raise RuntimeError(f"fallback action {fallback} ({names[fallback]}) is not legal")
    return fallback, True


def _as_index(action: Any, n: int, agent: str) -> int:
    if isinstance(action, np.ndarray):
        if action.shape not in ((), (1,)):
            raise ValueError(f"action for {agent} must be one integer; got shape {action.shape}")
        action = action.reshape(()).item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        if isinstance(action, (float, np.floating)) and float(action).is_integer():
            action = int(action)
        else:
            raise ValueError(f"action for {agent} must be an integer in [0, {n}); got {action!r}")
    index = int(action)
    if not 0 <= index < n:
        raise ValueError(f"action for {agent} must be an integer in [0, {n}); got {index}")
    return index


_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$")


def split_predicate(predicate: Any, table: Mapping[str, Any]) -> tuple[str, list[Any], Any]:
    """A skill predicate's name, raw arguments and entry in a vocabulary's predicate table.

    Args:
        predicate: ``"name(a, b)"`` or a tuple ``(name, a, b)``.
        table: predicate name -> its spec (anything with a ``params`` tuple of names).

    Raises:
        ValueError: for a malformed call, an unknown name (listing the known ones) or a
            wrong number of arguments (naming the parameters).
    """
    raw: list[Any]
    if isinstance(predicate, str):
        match = _CALL.match(predicate)
        if match is None:
            raise ValueError(f"predicate {predicate!r} is not of the form name(args)")
        name = match.group(1)
        raw = [a.strip() for a in match.group(2).split(",")] if match.group(2).strip() else []
    elif isinstance(predicate, tuple) and predicate and isinstance(predicate[0], str):
        name, raw = predicate[0], list(predicate[1:])
    else:
        raise ValueError(f"predicate must be a string or a (name, *args) tuple; got {predicate!r}")
    spec = table.get(name)
    if spec is None:
        raise ValueError(f"unknown predicate {name!r}; predicates: {', '.join(table)}")
    if len(raw) != len(spec.params):
        raise ValueError(
            f"predicate {name} takes {len(spec.params)} argument(s) "
            f"({', '.join(spec.params)}); got {len(raw)}"
        )
    return name, raw, spec
