"""palaestra's environments, registered with Gymnasium and PettingZoo.

This module is the table of contents: each entry names an env id, its API, where it lives
and what it is. Env modules are imported only when an env is made.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENV_IDS", "EnvEntry", "register_envs"]


@dataclass(frozen=True)
class EnvEntry:
    """A registered environment."""

    id: str
    api: str  # "gymnasium", "pettingzoo-parallel" or "pettingzoo-aec"
    entry_point: str
    description: str


ENV_IDS: tuple[EnvEntry, ...] = (
    EnvEntry(
        "palaestra/Carry-v0",
        "gymnasium",
        "palaestra.envs.carry.carry_env:CarryEnv",
        "carry an object with a scripted human partner, feeling their intention (pybullet)",
    ),
    EnvEntry(
        "palaestra/carry-v0",
        "pettingzoo-parallel",
        "palaestra.envs.carry.carry_parallel:CarryParallelEnv",
        "two learning carriers move an object together (pybullet, PettingZoo Parallel)",
    ),
    EnvEntry(
        "palaestra/Craft-v0",
        "gymnasium",
        "palaestra.envs.craft.craft_env:CraftEnv",
        "gather and craft along a tech tree in a gridworld with a partial view",
    ),
    EnvEntry(
        "palaestra/craft-v0",
        "pettingzoo-parallel",
        "palaestra.envs.craft.craft_parallel:CraftParallelEnv",
        "1-4 agents with uneven recipe knowledge craft together, talk and hold beliefs",
    ),
    EnvEntry(
        "palaestra/Holdem-v0",
        "gymnasium",
        "palaestra.envs.holdem.holdem_gym:HoldemEnv",
        "one seat of no-limit hold'em against built-in opponents, rewards in big blinds",
    ),
    EnvEntry(
        "palaestra/holdem-v0",
        "pettingzoo-aec",
        "palaestra.envs.holdem.holdem_aec:HoldemAECEnv",
        "rules-correct 2-9 player no-limit hold'em (PettingZoo AEC)",
    ),
    EnvEntry(
        "palaestra/Gauntlet-v0",
        "gymnasium",
        "palaestra.envs.gauntlet.gauntlet_env:GauntletEnv",
        "a seeded deck-building card-combat run: fights with telegraphed intents, rewards, rests",
    ),
)
"""Every environment palaestra registers."""


def register_envs() -> None:
    """Register every env in :data:`ENV_IDS` (safe to call more than once)."""
    import gymnasium

    for entry in ENV_IDS:
        if entry.api == "gymnasium":
            if entry.id not in gymnasium.registry:
                gymnasium.register(id=entry.id, entry_point=entry.entry_point)
        else:
            import pettingzoo

            kind = "parallel" if entry.api == "pettingzoo-parallel" else "aec"
            registry = pettingzoo.aec_registry if kind == "aec" else pettingzoo.parallel_registry
            if entry.id not in registry:
                pettingzoo.register(kind, entry.id, entry.entry_point)
