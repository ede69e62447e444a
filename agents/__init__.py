"""Agents that act in palaestra's environments.

Every agent shares one small interface, :class:`~palaestra.agents.base.Agent`:
``act(observation) -> action`` and ``reset()``.
"""

from palaestra.agents.base import Agent
from palaestra.agents.carry_baselines import AdmittanceFollower, PassiveCarrier
from palaestra.agents.craft_baselines import CooperativeCrafter, CraftPlanner, RandomCraftAgent

__all__ = [
    "AdmittanceFollower",
    "Agent",
    "CooperativeCrafter",
    "CraftPlanner",
    "PassiveCarrier",
    "RandomCraftAgent",
]
