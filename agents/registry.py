"""Which API an env id belongs to, and how to make one env from it.

Gymnasium ids make :class:`gymnasium.Env` objects; PettingZoo ids (PettingZoo 1.27 keeps a
registry per API) make Parallel or AEC envs. Everything that starts from an id (the episode
runner, :class:`~palaestra.agents.policy_agent.PolicyAgent`, the trainer) asks here.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

__all__ = ["EnvApi", "entry_class", "env_api", "make_env"]

EnvApi = Literal["gymnasium", "parallel", "aec"]


def _registries() -> dict[EnvApi, list[str]]:
    import gymnasium as gym
    import pettingzoo

    import palaestra  # noqa: F401  (registers palaestra's envs)

    return {
        "gymnasium": sorted(gym.registry),
        "parallel": sorted(pettingzoo.parallel_registry),
        "aec": sorted(pettingzoo.aec_registry),
    }


def env_api(env_id: str) -> EnvApi:
    """The API ``env_id`` is registered under (Parallel before AEC for ids in both).

    Raises:
        ValueError: for an unregistered id, listing the closest registered ids.
    """
    registries = _registries()
    for api in ("gymnasium", "parallel", "aec"):
        if env_id in registries[api]:
            return api  # type: ignore[return-value]
    every = [i for ids in registries.values() for i in ids]
    close = difflib.get_close_matches(env_id, every, n=5, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"unknown env id {env_id!r} (not registered with Gymnasium, nor with PettingZoo as a "
        f"Parallel or AEC env){hint}"
    )


def make_env(env_id: str, **kwargs: Any) -> Any:
    """One env of ``env_id``, made through its own registry with ``kwargs``."""
    api = env_api(env_id)
    if api == "gymnasium":
        import gymnasium as gym

        return gym.make(env_id, **kwargs)
    import pettingzoo

    return pettingzoo.make(api, env_id, **kwargs)


def entry_class(env_id: str) -> Any:
    """The class (or factory) that ``env_id``'s entry point names, loaded in this process.

    Lets a caller read an env's constructor arguments or class attributes (``task_space``)
    without making one.
    """
    api = env_api(env_id)
    if api == "gymnasium":
        import gymnasium as gym

        entry = gym.spec(env_id).entry_point
    else:
        import pettingzoo

        entry = pettingzoo.spec(api, env_id).entry_point
    if callable(entry):
        return entry
    import importlib

    module, _, name = str(entry).partition(":")
    return getattr(importlib.import_module(module), name)
