"""The collaborative-carry family: ``palaestra/Carry-v0`` and ``palaestra/carry-v0``.

Importing this package does not import pybullet; making an env does.
"""

from palaestra.envs.carry.task import CARRY_TASK_SPACE, carry_difficulty

__all__ = ["CARRY_TASK_SPACE", "OBS_NAMES", "CarryEnv", "CarryParallelEnv", "carry_difficulty"]


def __getattr__(name: str) -> object:
    if name == "CarryEnv":
        from palaestra.envs.carry.carry_env import CarryEnv

        return CarryEnv
    if name == "CarryParallelEnv":
        from palaestra.envs.carry.carry_parallel import CarryParallelEnv

        return CarryParallelEnv
    if name == "OBS_NAMES":
        from palaestra.envs.carry.core import OBS_NAMES

        return OBS_NAMES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
