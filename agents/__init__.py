"""Agents that act in palaestra's environments, and the one runner that plays them.

Every agent shares one small interface, :class:`~palaestra.agents.base.Agent`:
``act(observation, info=None) -> action``, ``reset(seed=None)`` and, optionally,
``stats()``; :func:`~palaestra.agents.base.check_agent` checks it with real calls.
:func:`~palaestra.agents.play.play` plays any mix of agents in Gymnasium, PettingZoo
Parallel and AEC envs, with seeds, tasks or a curriculum. :class:`PolicyAgent` (a trained
run as an agent; ``PolicyAgent.from_run(run_dir)``) needs torch and is imported on first use.
:class:`LLMAgent` plays from the env's text view with any :mod:`palaestra.llm` backend.
"""

from typing import Any

from palaestra.agents.base import Agent, AgentInterfaceError, check_agent
from palaestra.agents.carry_baselines import (
    AdmittanceFollower,
    LoadTakingFollower,
    PassiveCarrier,
)
from palaestra.agents.craft_baselines import CooperativeCrafter, CraftPlanner, RandomCraftAgent
from palaestra.agents.gauntlet_baselines import (
    GreedyGauntletAgent,
    LookaheadGauntletAgent,
    RandomGauntletAgent,
)
from palaestra.agents.holdem_baselines import CallingStationAgent, RandomHoldemAgent, TagAgent
from palaestra.agents.holdem_tom import AdaptiveConfig, AdaptiveTagAgent
from palaestra.agents.llm_agent import LLMAgent
from palaestra.agents.play import EpisodeResult, play
from palaestra.agents.tom_crafter import ToMCrafter

__all__ = [
    "AdaptiveConfig",
    "AdaptiveTagAgent",
    "AdmittanceFollower",
    "Agent",
    "AgentInterfaceError",
    "CallingStationAgent",
    "CooperativeCrafter",
    "CraftPlanner",
    "EpisodeResult",
    "GreedyGauntletAgent",
    "LLMAgent",
    "LoadTakingFollower",
    "LookaheadGauntletAgent",
    "PassiveCarrier",
    "PolicyAgent",
    "RandomCraftAgent",
    "RandomGauntletAgent",
    "RandomHoldemAgent",
    "TagAgent",
    "ToMCrafter",
    "agents_from_run",
    "check_agent",
    "play",
]

_LAZY = {"PolicyAgent", "agents_from_run"}  # they import torch


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from palaestra.agents import policy_agent

        return getattr(policy_agent, name)
    raise AttributeError(f"module 'palaestra.agents' has no attribute {name!r}")
