"""Belief features: a fixed-size encoding of a Craft belief tracker, for vector policies.

:func:`belief_features` turns what a :class:`~palaestra.memory.tracker.BeliefTracker`
holds into one float32 vector of :data:`BELIEF_FEATURES_SIZE` entries, the same size for
every map, episode and team, so a PPO policy can read it beside the observation
(:class:`BeliefObservation` adds it as a ``"beliefs"`` key). The layout, in order:

1. **First order, items** (``8 x 10``): for each item of ``ITEMS`` (wood, dirt, stone,
   planks, sticks, table, wooden_pickaxe, stone_pickaxe) a one-hot over where the holder
   believes it is: ``unknown``, ``chest 0`` .. ``chest 3``, ``agent_0`` .. ``agent_3``,
   ``used`` (:data:`PLACES`), scaled by the belief's confidence.
2. **Second order, items** (``3 x 8 x 10``): the same for what the holder believes each
   other agent believes, one block per other agent in name order skipping the holder
   (``agent_0`` .. ``agent_3`` without the holder); blocks of agents not in the episode are
   zeros.
3. **Recipes** (``4 x 5``): for each agent ``agent_0`` .. ``agent_3``, 1 for each recipe
   (``RECIPES`` order) the holder believes that agent knows.
4. **Where the others are** (``4 x 3``): for each agent, the x and y where the holder last
   saw it, each divided by 16 (the largest map side), and how long ago, ``1 / (1 + age)``
   in steps (all 0 if never seen; the holder's own row is its position, age 0).

Tile beliefs are not encoded (the tiles that matter change with the map); a language
agent gets them in the tracker's :meth:`~palaestra.memory.tracker.BeliefTracker.render`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from palaestra.envs.craft.task import MAX_AGENTS, MAX_CHESTS, MAX_SIZE
from palaestra.envs.craft.vocabulary import ITEMS, RECIPES

__all__ = ["BELIEF_FEATURES_SIZE", "PLACES", "BeliefObservation", "belief_features"]

AGENTS = tuple(f"agent_{k}" for k in range(MAX_AGENTS))
PLACES = ("unknown", *(f"chest {c}" for c in range(MAX_CHESTS)), *AGENTS, "used")
"""The place classes of an item-location belief, in encoding order."""
_PLACE = {place: k for k, place in enumerate(PLACES)}
_ITEMS_BLOCK = len(ITEMS) * len(PLACES)
BELIEF_FEATURES_SIZE = _ITEMS_BLOCK * MAX_AGENTS + MAX_AGENTS * len(RECIPES) + MAX_AGENTS * 3
"""Length of :func:`belief_features`' vector (352)."""


def _items(tracker: Any, about: tuple[str, ...], out: np.ndarray) -> None:
    for i, item in enumerate(ITEMS):
        belief = tracker.belief(item, about)
        k = _PLACE.get(belief.value, 0)
        out[i * len(PLACES) + k] = belief.confidence if k else 1.0


def belief_features(tracker: Any) -> np.ndarray:
    """The tracker's beliefs as a float32 vector of :data:`BELIEF_FEATURES_SIZE` (see module).

    Args:
        tracker: A :class:`~palaestra.memory.tracker.BeliefTracker` after at least one
            ``observe``.
    """
    out = np.zeros(BELIEF_FEATURES_SIZE, dtype=np.float32)
    me = tracker.agent
    _items(tracker, (), out[:_ITEMS_BLOCK])
    others = [a for a in AGENTS if a != me]
    present = set(tracker.agents)
    for slot, other in enumerate(others):
        if other in present and tracker.max_order >= 2:
            start = _ITEMS_BLOCK * (slot + 1)
            _items(tracker, (other,), out[start : start + _ITEMS_BLOCK])
    base = _ITEMS_BLOCK * MAX_AGENTS
    recipe_names = [r.output for r in RECIPES]
    step = tracker.step
    for a, name in enumerate(AGENTS):
        known = tracker.known_recipes(name)
        for r, recipe in enumerate(recipe_names):
            out[base + a * len(RECIPES) + r] = recipe in known
        seen = tracker.last_seen(name)
        if seen is not None:
            x, y, when = seen
            row = base + MAX_AGENTS * len(RECIPES) + a * 3
            out[row : row + 3] = (x / MAX_SIZE, y / MAX_SIZE, 1.0 / (1 + max(0, step - when)))
    return out


class BeliefObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Adds ``"beliefs"`` (:func:`belief_features`) to ``palaestra/Craft-v0``'s observation.

    The wrapper feeds its own :class:`~palaestra.memory.tracker.BeliefTracker` with each
    observation and info (perception only, as any tracker) and appends the encoding, so a
    vector policy sees what the agent remembers beyond its view window. The env's
    ``obs_mode`` must be ``"vector"`` or ``"both"``.
    """

    def __init__(self, env: gym.Env, *, max_order: int = 2) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, max_order=max_order)
        gym.ObservationWrapper.__init__(self, env)
        from palaestra.memory.tracker import BeliefTracker

        if not isinstance(env.observation_space, spaces.Dict):
            raise ValueError(
                "BeliefObservation needs a Dict observation: make the env with "
                "obs_mode='vector' or 'both'"
            )
        self.tracker = BeliefTracker("agent_0", max_order=max_order)
        box = spaces.Box(0.0, 1.0, (BELIEF_FEATURES_SIZE,), dtype=np.float32)
        self.observation_space = spaces.Dict({**env.observation_space.spaces, "beliefs": box})
        self._info: dict[str, Any] = {}

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env and the tracker."""
        self.tracker.reset()
        obs, info = self.env.reset(**kwargs)
        self._info = info
        return self.observation(obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Step the env; the tracker reads the new observation and info."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._info = info
        return self.observation(obs), float(reward), terminated, truncated, info

    def observation(self, observation: Any) -> dict[str, Any]:
        """The observation with ``"beliefs"`` added."""
        self.tracker.observe(observation, self._info)
        return {**observation, "beliefs": belief_features(self.tracker)}
