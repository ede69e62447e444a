"""The no-limit hold'em family: ``palaestra/Holdem-v0`` and ``palaestra/holdem-v0``.

Importing this package loads the evaluator, the built-in opponents and the task spaces
only (no Gymnasium or PettingZoo); the envs load when first used.
"""

from palaestra.envs.holdem.evaluator import CATEGORIES, evaluate
from palaestra.envs.holdem.task import (
    HOLDEM_SOLO_TASK_SPACE,
    HOLDEM_TASK_SPACE,
    holdem_difficulty,
)

__all__ = [
    "CATEGORIES",
    "HOLDEM_SOLO_TASK_SPACE",
    "HOLDEM_TASK_SPACE",
    "HoldemAECEnv",
    "HoldemEnv",
    "evaluate",
    "holdem_difficulty",
]


def __getattr__(name: str) -> object:
    if name == "HoldemEnv":
        from palaestra.envs.holdem.holdem_gym import HoldemEnv

        return HoldemEnv
    if name == "HoldemAECEnv":
        from palaestra.envs.holdem.holdem_aec import HoldemAECEnv

        return HoldemAECEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
