"""The skill library's schema, migrations, records, configuration and Beta statistics.

:mod:`palaestra.skills.library` holds the :class:`~palaestra.skills.library.SkillLibrary`
class; this module holds what it is built from (see that module's docstring for the rules).

Schema version 2 (``PRAGMA user_version``; application id ``pskl``):

- ``clock``: one row; ``seq`` orders writes (``created``/``updated`` of skills and runs) and
  ``index_gen`` counts the writes that change what retrieval sees (a skill added, a status
  changed, a vector stored); every process's in-memory index is rebuilt when it differs.
- ``skills``: one row per version of a skill: family, name, version, the SHA-256 ``digest``
  of the rendered source and its callees' ids (unique per family), the source, the
  description and parameters (what is embedded and full-text indexed), ``origin``,
  ``status``, the run counters (``runs``, ``successes``, ``failures``, ``unverified``,
  ``steps``, ``reward``), ``created``, ``updated``, ``superseded_by`` (the merge result that
  replaced it) and ``note``.
- ``lineage``: ``(child, parent, relation)``, relation ``derived`` or ``merged``.
- ``calls``: ``(caller, callee)``: the exact callee versions a skill was compiled with.
- ``runs``: one row per recorded run (bounded by ``max_runs``, oldest evicted; the counters
  in ``skills`` stay exact).
- ``embeddings``: ``(skill, model)`` -> float32 BLOB of ``dim`` values.
- ``skills_fts`` (version 2, where SQLite has FTS5): an external-content FTS5 index of name,
  description and parameters, filled by an ``AFTER INSERT`` trigger (skill rows never change
  those columns) and rebuilt from ``skills`` by the migration.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from palaestra.llm.sqlite import application_id
from palaestra.skills.language import Skill

log = logging.getLogger(__name__)

APPLICATION_ID = application_id("pskl")
"""``PRAGMA application_id`` of skill libraries: another kind of store's file is refused."""
FILENAME = "skills.sqlite"
"""The database's name when :class:`SkillLibrary` is given a folder."""
SKILL_STATUSES: tuple[str, ...] = ("candidate", "active", "retired")
ORIGINS: tuple[str, ...] = ("mined", "llm", "human", "import", "merge")
RELATIONS: tuple[str, ...] = ("derived", "merged")

_V1 = """
CREATE TABLE IF NOT EXISTS clock (
    id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL, index_gen INTEGER NOT NULL);
INSERT OR IGNORE INTO clock VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS skills (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    family TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL CHECK (version >= 1),
    digest TEXT NOT NULL, source TEXT NOT NULL, description TEXT NOT NULL, params TEXT NOT NULL,
    origin TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('candidate', 'active', 'retired')),
    runs INTEGER NOT NULL DEFAULT 0, successes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0, unverified INTEGER NOT NULL DEFAULT 0,
    steps INTEGER NOT NULL DEFAULT 0, reward REAL NOT NULL DEFAULT 0.0,
    created INTEGER NOT NULL, updated INTEGER NOT NULL,
    superseded_by INTEGER REFERENCES skills (id), note TEXT NOT NULL DEFAULT '',
    UNIQUE (family, digest), UNIQUE (family, name, version));
CREATE INDEX IF NOT EXISTS skills_status ON skills (status, family);
CREATE TABLE IF NOT EXISTS lineage (
    child INTEGER NOT NULL REFERENCES skills (id), parent INTEGER NOT NULL REFERENCES skills (id),
    relation TEXT NOT NULL, PRIMARY KEY (child, parent)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS lineage_parent ON lineage (parent);
CREATE TABLE IF NOT EXISTS calls (
    caller INTEGER NOT NULL REFERENCES skills (id), callee INTEGER NOT NULL REFERENCES skills (id),
    PRIMARY KEY (caller, callee)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, skill INTEGER NOT NULL REFERENCES skills (id),
    status TEXT NOT NULL, verified INTEGER, success INTEGER NOT NULL, steps INTEGER NOT NULL,
    reward REAL, agent TEXT, episode INTEGER, reason TEXT NOT NULL, created INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS runs_skill ON runs (skill, id);
CREATE TABLE IF NOT EXISTS embeddings (
    skill INTEGER NOT NULL REFERENCES skills (id), model TEXT NOT NULL,
    dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (skill, model)) WITHOUT ROWID;
"""


def has_fts5(conn: sqlite3.Connection) -> bool:
    """Whether this SQLite can create FTS5 tables (built in or loaded)."""
    try:
        conn.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp._fts5_probe USING fts5(x)")
        conn.execute("DROP TABLE IF EXISTS temp._fts5_probe")
    except sqlite3.OperationalError:
        return False
    return True


def _v2(conn: sqlite3.Connection) -> None:
    """Version 2: the FTS5 index of name, description and parameters (where FTS5 exists)."""
    if not has_fts5(conn):
        log.info("this SQLite has no FTS5; the skill library's full-text search is off")
        return
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS skills_fts USING fts5("
        "name, description, params, content='skills', content_rowid='id')"
    )
    conn.execute(
        "CREATE TRIGGER IF NOT EXISTS skills_fts_insert AFTER INSERT ON skills BEGIN "
        "INSERT INTO skills_fts (rowid, name, description, params) "
        "VALUES (new.id, new.name, new.description, new.params); END"
    )
    conn.execute("INSERT INTO skills_fts (skills_fts) VALUES ('rebuild')")


MIGRATIONS = (_V1, _v2)
"""``MIGRATIONS[n - 1]`` brings a file to version ``n`` (see :mod:`palaestra.llm.sqlite`)."""
SCHEMA_VERSION = len(MIGRATIONS)


# ---------------------------------------------------------------------- Beta statistics
def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-14
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function ``I_x(a, b)``: P(X <= x), X ~ Beta(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_quantile(p: float, a: float, b: float) -> float:
    """The ``p`` quantile of Beta(a, b), by bisection on :func:`beta_cdf` (to about 1e-12)."""
    low, high = 0.0, 1.0
    for _ in range(42):
        mid = 0.5 * (low + high)
        if beta_cdf(mid, a, b) < p:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


# ---------------------------------------------------------------------- records
@dataclass(frozen=True)
class LibraryConfig:
    """The promotion, demotion, exploration and bound settings of one process's library.

    They are settings of the opening process, not stored in the file: processes sharing a
    library should pass the same ones.

    Attributes:
        min_successes: A candidate needs at least this many verified successes to be promoted.
        promote_at: ... and the lower ``confidence`` bound of its success rate under the
            Beta(1 + successes, 1 + failures) posterior at least this. With the defaults the
            fourth verified success in a row promotes (Beta(5, 1)'s 5% quantile is 0.549).
        confidence: The one-sided confidence of the bounds (0.95: the 5% and 95% quantiles).
        demote_after: An active skill with at least this many verified outcomes ...
        demote_below: ... whose upper bound falls below this goes back to candidate.
        explore_runs: A candidate with fewer verified outcomes than this may fill explore
            slots of :meth:`~palaestra.skills.library.SkillLibrary.retrieve`.
        max_runs: Most run rows kept in the run log (oldest evicted first; the per-skill
            counters, and so promotion, stay exact).
    """

    min_successes: int = 3
    promote_at: float = 0.5
    confidence: float = 0.95
    demote_after: int = 10
    demote_below: float = 0.25
    explore_runs: int = 10
    max_runs: int = 1_000_000

    def __post_init__(self) -> None:
        for name in ("min_successes", "demote_after", "explore_runs", "max_runs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LibraryConfig.{name} must be an int >= 1; got {value!r}")
        for name in ("promote_at", "demote_below"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"LibraryConfig.{name} must be in [0, 1]; got {value!r}")
        if not isinstance(self.confidence, float) or not 0.5 < self.confidence < 1.0:
            raise ValueError(
                f"LibraryConfig.confidence must be in (0.5, 1); got {self.confidence!r}"
            )


@dataclass(frozen=True)
class SkillStats:
    """A skill's run counters (exact totals over every recorded run).

    Attributes:
        runs: Runs recorded.
        successes: Runs that ended ``done`` and whose postcondition the simulator verified.
        failures: Runs that ended ``failed`` or ``budget``, or whose postcondition the
            simulator found false.
        unverified: Runs that ended ``done`` with no verification (no evidence either way).
        steps: Primitive actions over all runs.
        reward: Env reward over the runs that reported one.
    """

    runs: int = 0
    successes: int = 0
    failures: int = 0
    unverified: int = 0
    steps: int = 0
    reward: float = 0.0

    @property
    def evidence(self) -> int:
        """Verified outcomes: successes + failures."""
        return self.successes + self.failures

    @property
    def mean(self) -> float:
        """The Beta(1 + successes, 1 + failures) posterior mean of the success rate."""
        return (1 + self.successes) / (2 + self.evidence)

    def lower(self, confidence: float = 0.95) -> float:
        """The lower one-sided ``confidence`` bound of the success rate (posterior quantile)."""
        return beta_quantile(1.0 - confidence, 1 + self.successes, 1 + self.failures)

    def upper(self, confidence: float = 0.95) -> float:
        """The upper one-sided ``confidence`` bound of the success rate."""
        return beta_quantile(confidence, 1 + self.successes, 1 + self.failures)

    def as_dict(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        return {
            "runs": self.runs,
            "successes": self.successes,
            "failures": self.failures,
            "unverified": self.unverified,
            "steps": self.steps,
            "reward": self.reward,
        }


@dataclass(frozen=True)
class SkillRecord:
    """One stored version of a skill.

    Attributes:
        id: The library's id (ids grow in insertion order and are never reused).
        family: The env family.
        name: The skill's name.
        version: 1 for the first skill of this name in the family, then 2, 3...
        status: ``candidate``, ``active`` or ``retired``.
        origin: Who proposed it: ``mined``, ``llm``, ``human``, ``import`` or ``merge``.
        source: The rendered source text (:func:`~palaestra.skills.render`).
        skill: The skill compiled from ``source`` (callees resolved from the library).
        stats: The run counters.
        parents: Ids it was derived or merged from.
        calls: Ids of the callee versions it was compiled with.
        created: The sequence number of its insertion.
        updated: The sequence number of its last change (a run, a status).
        superseded_by: The merge result that replaced it, or None.
        note: Why its status last changed, in words.
    """

    id: int
    family: str
    name: str
    version: int
    status: str
    origin: str
    source: str
    skill: Skill = field(repr=False)
    stats: SkillStats
    parents: tuple[int, ...] = ()
    calls: tuple[int, ...] = ()
    created: int = 0
    updated: int = 0
    superseded_by: int | None = None
    note: str = ""

    @property
    def description(self) -> str:
        """The skill's one-line description."""
        return self.skill.description


@dataclass(frozen=True)
class Retrieved:
    """One result of a retrieval.

    Attributes:
        record: The skill version.
        similarity: Cosine similarity of its embedding text with the query
            (:meth:`~palaestra.skills.library.SkillLibrary.retrieve`), or the BM25 relevance
            (``-bm25``, higher is better) for :meth:`~palaestra.skills.library.SkillLibrary.search`.
        explored: Whether it fills an explore slot (a candidate let in to be tried).
    """

    record: SkillRecord
    similarity: float
    explored: bool = False


@dataclass(frozen=True)
class RunRecord:
    """One recorded run.

    Attributes:
        id: The run's id.
        skill_id: The skill version that ran.
        status: The runner's outcome status (``done``, ``failed``, ``budget``).
        verified: The simulator's postcondition check (None: not checked).
        success: Whether it counts as a success (``done`` and verified).
        steps: Primitive actions taken.
        reward: Env reward, or None.
        agent: Who ran it, or None.
        episode: The episode, or None.
        reason: The outcome's reason.
        created: The sequence number of the commit.
        skill_status: The skill's status after this run (a promotion shows here).
    """

    id: int
    skill_id: int
    status: str
    verified: bool | None
    success: bool
    steps: int
    reward: float | None
    agent: str | None
    episode: int | None
    reason: str
    created: int
    skill_status: str = ""


@dataclass(frozen=True)
class PruneRule:
    """Which skills :meth:`~palaestra.skills.library.SkillLibrary.prune` retires.

    A skill of one of ``statuses`` is retired when it has at least ``min_evidence``
    verified outcomes and the upper ``confidence`` bound of its success rate is below
    ``below`` (it very probably works less often than that), or, with ``stale_after``
    set, when it is a candidate with no verified outcome whose insertion is more than
    ``stale_after`` library writes old.

    Attributes:
        below: Retire when the upper bound is below this.
        min_evidence: Verified outcomes needed before the bound is trusted.
        confidence: One-sided confidence of the bound.
        statuses: The statuses considered (never ``retired``).
        stale_after: Writes after which an untried candidate is retired; None: never.
    """

    below: float = 0.3
    min_evidence: int = 10
    confidence: float = 0.95
    statuses: tuple[str, ...] = ("candidate", "active")
    stale_after: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.below, int | float) or not 0.0 <= self.below <= 1.0:
            raise ValueError(f"PruneRule.below must be in [0, 1]; got {self.below!r}")
        if isinstance(self.min_evidence, bool) or not isinstance(self.min_evidence, int):
            raise ValueError(f"PruneRule.min_evidence must be an int; got {self.min_evidence!r}")
        if not isinstance(self.confidence, float) or not 0.5 < self.confidence < 1.0:
            raise ValueError(f"PruneRule.confidence must be in (0.5, 1); got {self.confidence!r}")
        bad = [s for s in self.statuses if s not in ("candidate", "active")]
        if bad or not self.statuses:
            raise ValueError(
                f"PruneRule.statuses must be candidate and/or active; got {self.statuses!r}"
            )
        if self.stale_after is not None and (
            isinstance(self.stale_after, bool)
            or not isinstance(self.stale_after, int)
            or self.stale_after < 1
        ):
            raise ValueError(
                f"PruneRule.stale_after must be None or >= 1; got {self.stale_after!r}"
            )

    def retires(self, record: SkillRecord, seq: int) -> bool:
        """Whether ``record`` is to be retired now (``seq``: the library's write counter)."""
        if record.status not in self.statuses:
            return False
        stats = record.stats
        if stats.evidence >= self.min_evidence and stats.upper(self.confidence) < self.below:
            return True
        return (
            self.stale_after is not None
            and record.status == "candidate"
            and stats.evidence == 0
            and seq - record.created > self.stale_after
        )


def embedding_text(family: str, name: str, description: str, params: str) -> str:
    """The text a skill is embedded by: its name (underscores as spaces), description, params.

    ``collect_wood(dir: direction)`` described "walk dir until next to a tree" embeds
    ``"collect wood: walk dir until next to a tree (dir: direction)"``; the family is not in
    the text (retrieval filters by family instead).
    """
    del family
    text = f"{name.replace('_', ' ')}: {description}"
    return f"{text} ({params})" if params else text


def params_text(skill: Skill) -> str:
    """The declared parameters as one text: ``dir: direction, n: int = 3``."""
    return ", ".join(p.render() for p in skill.params)


def stats_from_row(row: Mapping[str, Any] | tuple) -> SkillStats:
    """SkillStats from ``(runs, successes, failures, unverified, steps, reward)``."""
    runs, successes, failures, unverified, steps, reward = row
    return SkillStats(int(runs), int(successes), int(failures), int(unverified), int(steps), reward)
