"""Skills: programs over an env family's primitives, their validator and runner, and the library.

The skill language (:mod:`palaestra.skills.language`, grammar in :data:`GRAMMAR`)::

    skill collect_wood(dir: direction)
    description: walk dir until next to a tree, then collect one wood
    postcondition: has(wood)
    until near(tree) max 12:
        do move {dir}
    do collect wood

- :func:`vocabulary` gives a family's primitives, predicates and parameter types, and renders
  them with the grammar for a language model's prompt (:meth:`Vocabulary.prompt_text`);
- :func:`compile_skill` parses and validates a source text into a :class:`Skill`, or raises
  :class:`SkillError` naming the line and the problem; :func:`render` writes it back;
- :meth:`Skill.run` yields action indices over a :class:`SkillView` the caller updates, and
  ends with an :class:`Outcome` (``done``, ``failed`` or ``budget``); :func:`execute` drives a
  Gymnasium env with it.
- Python skills are an opt-in tier (``pip install -e ".[sandbox]"``): :class:`PythonSandbox`
  runs them under RestrictedPython in a worker process with time, CPU and memory limits.
- :func:`record_trajectory` plays and records episodes; :func:`mine_skills` finds recurring,
  parameterised segments in the successful ones, with postconditions learned from where
  they ended (bottom-up discovery, no language model needed);
- :class:`SkillLibrary` stores skills in SQLite (shared by processes), promotes them only
  after runs the simulator verified, keeps Beta statistics, merges, retires, exports and
  imports them, and retrieves them by meaning with any :mod:`palaestra.llm` embedder.
"""

from __future__ import annotations

from palaestra.skills.families import (
    FAMILIES,
    DerivedPrimitive,
    ParamType,
    PredicateSpec,
    Vocabulary,
    vocabulary,
)
from palaestra.skills.language import (
    DEFAULT_BUDGET,
    GRAMMAR,
    MAX_CALL_DEPTH,
    MAX_NESTING,
    MAX_REPEAT,
    AllOf,
    AnyOf,
    Atom,
    Call,
    Condition,
    Do,
    If,
    Not,
    Param,
    Repeat,
    Skill,
    SkillError,
    Statement,
    Until,
    render,
    render_condition,
    skill_source,
)
from palaestra.skills.library import (
    EXPORT_FORMAT,
    ORIGINS,
    SKILL_STATUSES,
    LibraryConfig,
    PruneRule,
    Retrieved,
    RunRecord,
    SkillLibrary,
    SkillRecord,
    SkillSourceError,
    SkillStats,
)
from palaestra.skills.mining import MinedSkill, describe_with_llm, mine_skills
from palaestra.skills.parse import SkillResolver, compile_skill
from palaestra.skills.runner import (
    MAX_WORK,
    STATUSES,
    Execution,
    Outcome,
    SkillRun,
    SkillView,
    execute,
    unmet_postcondition,
)
from palaestra.skills.sandbox import (
    PythonSandbox,
    SandboxConfig,
    SandboxCrashed,
    SandboxError,
    SandboxMemoryError,
    SandboxOutputError,
    SandboxSkillError,
    SandboxTimeout,
    SandboxUnavailable,
    SandboxViolation,
    validate_actions,
)
from palaestra.skills.trajectories import (
    Occurrence,
    Trajectory,
    find_occurrences,
    load_trajectories,
    record_trajectory,
    save_trajectories,
)

__all__ = [
    "DEFAULT_BUDGET",
    "EXPORT_FORMAT",
    "FAMILIES",
    "GRAMMAR",
    "MAX_CALL_DEPTH",
    "MAX_NESTING",
    "MAX_REPEAT",
    "MAX_WORK",
    "ORIGINS",
    "SKILL_STATUSES",
    "STATUSES",
    "AllOf",
    "AnyOf",
    "Atom",
    "Call",
    "Condition",
    "DerivedPrimitive",
    "Do",
    "Execution",
    "If",
    "LibraryConfig",
    "MinedSkill",
    "Not",
    "Occurrence",
    "Outcome",
    "Param",
    "ParamType",
    "PredicateSpec",
    "PruneRule",
    "PythonSandbox",
    "Repeat",
    "Retrieved",
    "RunRecord",
    "SandboxConfig",
    "SandboxCrashed",
    "SandboxError",
    "SandboxMemoryError",
    "SandboxOutputError",
    "SandboxSkillError",
    "SandboxTimeout",
    "SandboxUnavailable",
    "SandboxViolation",
    "Skill",
    "SkillError",
    "SkillLibrary",
    "SkillRecord",
    "SkillResolver",
    "SkillRun",
    "SkillSourceError",
    "SkillStats",
    "SkillView",
    "Statement",
    "Trajectory",
    "Until",
    "Vocabulary",
    "compile_skill",
    "describe_with_llm",
    "execute",
    "find_occurrences",
    "load_trajectories",
    "mine_skills",
    "record_trajectory",
    "render",
    "render_condition",
    "save_trajectories",
    "skill_source",
    "unmet_postcondition",
    "validate_actions",
    "vocabulary",
]
