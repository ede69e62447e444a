"""The interface every palaestra agent shares, and a conformance check that calls it for real.

Glossary:
    agent: anything with ``act(observation, info=None) -> action`` and
        ``reset(seed=None)``; optionally ``stats() -> Mapping[str, float]``. Scripted
        baselines, trained policies (:class:`~palaestra.agents.policy_agent.PolicyAgent`)
        and language agents all implement it, so :func:`~palaestra.agents.play.play`,
        evaluation and the benchmarks treat them alike.
    observation: what the env gave this agent (for a multi-agent env, its own entry).
    info: this agent's ``info`` from the same reset or step (``legal_actions``, ``events``,
        ...), or None when the caller has none. Agents must work without it.

An agent that reads the simulator instead of (or besides) its observation says so in its
docstring and takes the env in its constructor (:class:`~palaestra.agents.CraftPlanner`).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["Agent", "AgentInterfaceError", "check_agent"]


@runtime_checkable
class Agent(Protocol):
    """Something that picks an action from an observation (and, optionally, its info).

    ``stats()`` is optional: agents that count things (tokens, invalid replies, latency)
    return them as a mapping of names to numbers; the episode runner copies them into each
    episode's record.
    """

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> Any:
        """Return the action for ``observation`` (``info`` is the same step's info, or None)."""
        ...

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode: forget per-episode state; reseed any randomness if given."""
        ...


class AgentInterfaceError(TypeError):
    """An object does not follow the agent interface; the message says how."""


def _check_signature(agent: Any, name: str, call: str) -> None:
    method = getattr(agent, name, None)
    where = f"{type(agent).__name__}.{name}"
    if not callable(method):
        raise AgentInterfaceError(f"{type(agent).__name__} has no callable {name}(): {call}")
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):  # builtins without a signature: the real call decides
        return
    try:
        if name == "act":
            signature.bind("observation")
            signature.bind("observation", None)
            signature.bind(observation="observation", info=None)
        else:
            signature.bind()
            signature.bind(seed=0)
    except TypeError as exc:
        raise AgentInterfaceError(f"{where}{signature} cannot be called as {call}: {exc}") from None


def check_agent(
    agent: Any,
    env: Any,
    *,
    seat: str | None = None,
    steps: int = 20,
    seed: int = 0,
) -> None:
    """Call ``agent`` as the episode runner does and check every answer; raise if one is wrong.

    It checks the signatures (``act(observation, info=None)`` by position and by keyword,
    ``reset()`` and ``reset(seed=...)``), then plays up to ``steps`` steps of ``env``:
    ``reset(seed=seed)``, and at each step ``act(obs, info)`` whose action must lie in the
    action space (and be legal where the env gives ``legal_actions``); ``act(obs)`` without
    info must also answer with an action in the space. ``stats()``, when present, must return
    a mapping of names to finite numbers.

    Args:
        agent: The object to check.
        env: A Gymnasium env, or a PettingZoo Parallel env with ``seat`` naming the agent's
            seat (the other seats take random legal actions from the env's spaces).
        seat: The agent's seat in a multi-agent env; None for a Gymnasium env.
        steps: How many steps to play at most.
        seed: The reset seed.

    Raises:
        AgentInterfaceError: naming the method and what was wrong.
    """
    _check_signature(agent, "act", "act(observation, info=None)")
    _check_signature(agent, "reset", "reset(seed=None)")
    agent.reset()
    agent.reset(seed=seed)
    name = type(agent).__name__
    if seat is None:
        obs, info = env.reset(seed=seed)
        space = env.action_space
    else:
        observations, infos = env.reset(seed=seed)
        if seat not in env.agents:
            raise ValueError(f"seat {seat!r} is not among the env's agents {env.agents}")
        obs, info, space = observations[seat], infos.get(seat, {}), env.action_space(seat)
    for step in range(steps):
        action = agent.act(obs, info)
        _check_action(name, action, space, info, step)
        _check_action(name, agent.act(obs), space, None, step)
        if seat is None:
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
            continue
        actions = {a: _random_legal(env, a, observations[a], infos.get(a, {})) for a in env.agents}
        actions[seat] = action
        observations, _, _, _, infos = env.step(actions)
        if seat not in env.agents:
            break
        obs, info = observations[seat], infos.get(seat, {})
    stats = getattr(agent, "stats", None)
    if stats is not None:
        numbers = stats()
        if not isinstance(numbers, Mapping):
            raise AgentInterfaceError(
                f"{name}.stats() returned {type(numbers).__name__}, not a mapping"
            )
        for key, value in numbers.items():
            if (
                not isinstance(key, str)
                or isinstance(value, bool)
                or not isinstance(value, (int, float))
            ):
                raise AgentInterfaceError(
                    f"{name}.stats() holds {key!r}: {value!r}; want str -> number"
                )
            if not math.isfinite(value):
                raise AgentInterfaceError(f"{name}.stats()[{key!r}] is {value}, not finite")


def _check_action(name: str, action: Any, space: Any, info: Any, step: int) -> None:
    import numpy as np

    candidate = action
    if hasattr(space, "n") and isinstance(action, (int, np.integer)):
        candidate = np.int64(action)
    if not space.contains(candidate):
        raise AgentInterfaceError(
            f"{name}.act returned {action!r} at step {step}, which is not in the action "
            f"space {space}"
        )
    legal = info.get("legal_actions") if isinstance(info, Mapping) else None
    if legal is not None and int(action) not in legal:
        raise AgentInterfaceError(
            f"{name}.act returned {int(action)} at step {step}; the legal actions are "
            f"{sorted(legal)}"
        )


def _random_legal(env: Any, agent: str, obs: Any, info: Mapping[str, Any]) -> Any:
    legal = info.get("legal_actions")
    if legal:
        return sorted(legal)[0]
    if isinstance(obs, Mapping) and "action_mask" in obs:
        import numpy as np

        return int(np.flatnonzero(obs["action_mask"])[0])
    return env.action_space(agent).sample()
