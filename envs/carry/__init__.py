"""The collaborative-carry family: ``palaestra/Carry-v0`` and ``palaestra/carry-v0``.

Importing this package does not import pybullet; making an env does. The observation
layout and its scales (:mod:`palaestra.envs.carry.layout`) and the episode snapshot
(:mod:`palaestra.envs.carry.state`) are importable without it.
"""

from palaestra.envs.carry.layout import OBS_INDEX, OBS_NAMES
from palaestra.envs.carry.state import CarrierState, CarryState
from palaestra.envs.carry.task import CARRY_TASK_SPACE, carry_difficulty

__all__ = [
    "CARRY_TASK_SPACE",
    "OBS_INDEX",
    "OBS_NAMES",
    "CarrierState",
    "CarryEnv",
    "CarryParallelEnv",
    "CarryState",
    "carry_difficulty",
]


def __getattr__(name: str) -> object:
    if name == "CarryEnv":
        from palaestra.envs.carry.carry_env import CarryEnv

        return CarryEnv
    if name == "CarryParallelEnv":
        from palaestra.envs.carry.carry_parallel import CarryParallelEnv

        return CarryParallelEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
