"""The Gauntlet family: a seeded deck-building card-combat game (the rules engine).

A run is a sequence of fights against enemies with telegraphed intents; between fights the
player takes a card reward and sometimes rests. The engine (:class:`Run`) is pure Python
and numpy, seeded only by the generator it is given; the Gymnasium env, its text view and
baselines build on it. Modules, from the bottom up:

- :mod:`~palaestra.envs.gauntlet.rules`: sizes, the status table and the formulas;
- :mod:`~palaestra.envs.gauntlet.cards`: the card table (data) and card resolution order;
- :mod:`~palaestra.envs.gauntlet.enemies`: the enemy table, intent patterns, phases, sets;
- :mod:`~palaestra.envs.gauntlet.task`: the task space and its difficulty;
- :mod:`~palaestra.envs.gauntlet.vocabulary`: the action encoding, the state vector's
  layout and the predicates skills test;
- :mod:`~palaestra.envs.gauntlet.combat`: one fight;
- :mod:`~palaestra.envs.gauntlet.engine`: the run;
- :mod:`~palaestra.envs.gauntlet.text`: the text view (``gauntlet-v0 text/1``);
- :mod:`~palaestra.envs.gauntlet.gauntlet_env`: ``palaestra/Gauntlet-v0`` (Gymnasium).

The engine's modules import neither Gymnasium nor PettingZoo (the env module does).
"""

from palaestra.envs.gauntlet.engine import Run, RunOverError
from palaestra.envs.gauntlet.task import GAUNTLET_TASK_SPACE, gauntlet_difficulty
from palaestra.envs.gauntlet.vocabulary import (
    N_ACTIONS,
    PREDICATES,
    PRIMITIVE_ACTIONS,
    VECTOR_SIZE,
    evaluate_predicate,
)

__all__ = [
    "GAUNTLET_TASK_SPACE",
    "N_ACTIONS",
    "PREDICATES",
    "PRIMITIVE_ACTIONS",
    "VECTOR_SIZE",
    "Run",
    "RunOverError",
    "evaluate_predicate",
    "gauntlet_difficulty",
]
