"""The cooperative crafting family: ``palaestra/Craft-v0`` and ``palaestra/craft-v0``.

Modules: :mod:`~palaestra.envs.craft.vocabulary` (tiles, items, recipes, primitive actions
and predicates), :mod:`~palaestra.envs.craft.task` (task space and difficulty),
:mod:`~palaestra.envs.craft.mapgen` (solvable maps), :mod:`~palaestra.envs.craft.world`
(rules), :mod:`~palaestra.envs.craft.beliefs` (beliefs and probes),
:mod:`~palaestra.envs.craft.text` (text view), :mod:`~palaestra.envs.craft.core` (one
episode) and the two envs.
"""

from palaestra.envs.craft.beliefs import Probe
from palaestra.envs.craft.task import (
    CRAFT_SOLO_TASK_SPACE,
    CRAFT_TASK_SPACE,
    craft_difficulty,
    craft_task_space,
    requirements,
)
from palaestra.envs.craft.vocabulary import (
    PREDICATES,
    PRIMITIVE_ACTIONS,
    evaluate_predicate,
    parse_predicate,
)

__all__ = [
    "CRAFT_SOLO_TASK_SPACE",
    "CRAFT_TASK_SPACE",
    "PREDICATES",
    "PRIMITIVE_ACTIONS",
    "CraftEnv",
    "CraftParallelEnv",
    "Probe",
    "craft_difficulty",
    "craft_task_space",
    "evaluate_predicate",
    "parse_predicate",
    "requirements",
]


def __getattr__(name: str) -> object:
    if name == "CraftEnv":
        from palaestra.envs.craft.craft_env import CraftEnv

        return CraftEnv
    if name == "CraftParallelEnv":
        from palaestra.envs.craft.craft_parallel import CraftParallelEnv

        return CraftParallelEnv
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
