"""Every agent class the package ships is covered by a real-call interface check.

The checks themselves live beside each family (tests/test_baselines_interface.py for the
scripted baselines, tests/test_policy_agent.py for trained runs); this test finds every
class in ``palaestra.agents`` that acts like an agent, so a new one cannot ship unchecked.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import palaestra.agents

CHECKED = {
    # AdmittanceFollower is the base of LoadTakingFollower, checked through it (and by name in
    # tests/test_baselines_interface.py).
    "palaestra.agents.carry_baselines.LoadTakingFollower",
    "palaestra.agents.carry_baselines.PassiveCarrier",
    "palaestra.agents.craft_baselines.CooperativeCrafter",
    "palaestra.agents.craft_baselines.CraftPlanner",
    "palaestra.agents.craft_baselines.RandomCraftAgent",
    "palaestra.agents.gauntlet_baselines.GreedyGauntletAgent",
    "palaestra.agents.gauntlet_baselines.LookaheadGauntletAgent",
    "palaestra.agents.gauntlet_baselines.RandomGauntletAgent",
    "palaestra.agents.holdem_baselines.CallingStationAgent",
    "palaestra.agents.holdem_baselines.RandomHoldemAgent",
    "palaestra.agents.holdem_baselines.TagAgent",
    "palaestra.agents.holdem_tom.AdaptiveTagAgent",  # tests/test_holdem_tom.py
    "palaestra.agents.tom_crafter.ToMCrafter",  # tests/test_memory_agents.py
    "palaestra.agents.llm_agent.LLMAgent",  # tests/test_llm_agent.py
    "palaestra.agents.policy_agent.PolicyAgent",
}
"""Agent classes whose interface tests call them for real (see the module docstring)."""


def _agent_classes() -> set[str]:
    import torch

    found = set()
    for info in pkgutil.iter_modules(palaestra.agents.__path__):
        module = importlib.import_module(f"palaestra.agents.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or issubclass(cls, torch.nn.Module):
                continue
            if inspect.isabstract(cls) or cls.__name__.startswith("_"):
                continue
            if getattr(cls, "_is_protocol", False):  # the Agent protocol itself
                continue
            act = inspect.getattr_static(cls, "act", None)
            reset = inspect.getattr_static(cls, "reset", None)
            if act is None or reset is None:  # numpy twins and helpers act without reset
                continue
            found.add(cls)
    # A base class shared by agent classes is checked through them.
    bases = {b for cls in found for b in cls.__mro__[1:]}
    return {f"{cls.__module__}.{cls.__name__}" for cls in found - bases}


def test_every_agent_class_is_checked():
    found = _agent_classes()
    assert found - CHECKED == set(), "agent classes without an interface test"
    assert CHECKED - found == set(), "checked classes that no longer exist"


def test_importing_the_agents_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, palaestra.agents; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
