"""Theory-of-mind memory: beliefs about the world and other minds, semantic and episodic stores.

Everything here is built from what one agent perceived (its observations and its ``info``:
events, heard messages), never from the simulator's state. ``memory`` imports only ``envs``
(vocabularies, event and probe types) and ``llm`` (embedders, passed in as arguments).

- :class:`BeliefTracker` (Craft): first- and second-order beliefs from one agent's own
  perception and the messages it heard; answers the env's probes; renders a prompt block.
- :class:`MemoryStore`: semantic (facts, counters, insights) and episodic memory in one
  SQLite store per memory directory, shared safely by agents and processes.
- :class:`OpponentModel` (hold'em): other players' tendencies and shown hands from what
  one seat saw, persisted in a store across hands and sessions.
- :class:`MemoryBlock`: the prompt block for :class:`~palaestra.agents.LLMAgent`;
  :func:`belief_features` and :class:`BeliefObservation`: a fixed-size encoding for
  vector policies.
- Typed records (:class:`Percept`, :class:`Message`, :class:`Belief`, :class:`Desire`,
  :class:`Intention`, :class:`Action`) with a versioned JSON round trip.

Names are loaded on first use, so ``import palaestra.memory`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BeliefTracker": "palaestra.memory.tracker",
    "Discrepancy": "palaestra.memory.tracker",
    "MemoryStore": "palaestra.memory.store",
    "Episode": "palaestra.memory.store",
    "Fact": "palaestra.memory.store",
    "Insight": "palaestra.memory.store",
    "StoreError": "palaestra.llm.sqlite",
    "StoreVersionError": "palaestra.llm.sqlite",
    "CorruptStoreError": "palaestra.llm.sqlite",
    "MissingRecordError": "palaestra.llm.sqlite",
    "OpponentModel": "palaestra.memory.holdem",
    "OpponentBlock": "palaestra.memory.holdem",
    "MemoryBlock": "palaestra.memory.blocks",
    "belief_features": "palaestra.memory.features",
    "BeliefObservation": "palaestra.memory.features",
    "BELIEF_FEATURES_SIZE": "palaestra.memory.features",
    "Percept": "palaestra.memory.records",
    "Message": "palaestra.memory.records",
    "Belief": "palaestra.memory.records",
    "Desire": "palaestra.memory.records",
    "Intention": "palaestra.memory.records",
    "Action": "palaestra.memory.records",
    "to_json": "palaestra.memory.records",
    "from_json": "palaestra.memory.records",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'palaestra.memory' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
