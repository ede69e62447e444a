"""Task spaces, pools, band_of and CurriculumStats of palaestra.curriculum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from palaestra.curriculum import (
    DEFAULT_POOL_SIZE,
    BoxTaskSpace,
    CurriculumStats,
    DiscreteTaskSpace,
    band_of,
    split_pools,
    task_key,
    task_pool,
)
from palaestra.curriculum.spaces import as_discrete
from palaestra.envs.carry import CARRY_TASK_SPACE
from palaestra.envs.tasks import Knob, TaskSpace


def test_task_key_ignores_key_order_and_container_type():
    assert task_key({"a": 1, "b": [1, 2]}) == task_key({"b": (1, 2), "a": np.int64(1)})
    assert task_key({"a": 1}) != task_key({"a": 2})
    with pytest.raises(ValueError, match="JSON"):
        task_key({"a": float("nan")})
    with pytest.raises(ValueError, match="JSON"):
        task_key({"a": object()})
    with pytest.raises(ValueError, match="dict"):
        task_key(["a"])


def test_discrete_space_indexes_tasks_and_reads_the_list_easy_to_hard():
    space = DiscreteTaskSpace([{"level": i} for i in range(5)])
    assert np.allclose(space.difficulties, [0.0, 0.25, 0.5, 0.75, 1.0])
    assert space.index({"level": 3}) == 3
    assert space.difficulty({"level": 1}) == 0.25
    assert space.contains({"level": 4}) and not space.contains({"level": 5})
    with pytest.raises(ValueError, match="not in"):
        space.index({"level": 7})
    copy = space.task(2)
    copy["level"] = 99
    assert space.task(2) == {"level": 2}
    assert DiscreteTaskSpace([{"x": 0}]).difficulties.tolist() == [0.0]


@pytest.mark.parametrize(
    ("tasks", "difficulty", "pattern"),
    [
        ([], None, "at least one"),
        ([{"a": 1}, {"a": 1}], None, "repeats task 0"),
        ([{"a": 1}, {"a": 2}], [0.5], "2 tasks"),
        ([{"a": 1}, {"a": 2}], [0.5, 1.5], r"task 1 must be in \[0, 1\]"),
        ([{"a": 1}, {"a": 2}], [0.5, float("nan")], r"task 1 must be in \[0, 1\]"),
        ([{"a": float("inf")}], None, "JSON"),
    ],
)
def test_discrete_space_rejects_bad_definitions(tasks, difficulty, pattern):
    with pytest.raises(ValueError, match=pattern):
        DiscreteTaskSpace(tasks, difficulty)


def test_discrete_space_over_a_knob_space_canonicalises_tasks():
    tasks = [{"route": "turn"}, {"route": "slope", "mass_scale": 2}]
    space = DiscreteTaskSpace(tasks, space=CARRY_TASK_SPACE)
    full = CARRY_TASK_SPACE.validate({"route": "turn"})
    assert space.index(full) == 0
    assert space.index({"route": "slope", "mass_scale": 2.0}) == 1
    assert space.difficulty({"route": "turn"}) == CARRY_TASK_SPACE.difficulty(full)
    with pytest.raises(ValueError, match="unknown carry task key"):
        DiscreteTaskSpace([{"colour": "red"}], space=CARRY_TASK_SPACE)


def test_box_space_samples_inside_and_scores_mean_normalised_value():
    box = BoxTaskSpace({"speed": (0.0, 2.0), "noise": (1.0, 3.0)})
    assert isinstance(box, TaskSpace)
    assert box.difficulty({"speed": 0.0, "noise": 1.0}) == 0.0
    assert box.difficulty({"speed": 2.0, "noise": 3.0}) == 1.0
    assert box.difficulty({"speed": 1.0, "noise": 1.0}) == pytest.approx(0.25)
    rng = np.random.default_rng(0)
    for _ in range(20):
        task = box.sample(rng)
        assert 0.0 <= task["speed"] <= 2.0 and 1.0 <= task["noise"] <= 3.0
    with pytest.raises(ValueError, match="'speed'"):
        box.validate({"speed": 2.5})
    with pytest.raises(ValueError, match="'speed'"):
        BoxTaskSpace({"speed": (1.0, 0.0)})
    with pytest.raises(ValueError, match="at least one"):
        BoxTaskSpace({})


def test_pools_are_seeded_distinct_and_held_out_pools_are_disjoint():
    train, held_out = split_pools(CARRY_TASK_SPACE, [40, 10], seed=3)
    keys = [train.key(i) for i in range(len(train))]
    held = {held_out.key(i) for i in range(len(held_out))}
    assert len(set(keys)) == 40 and len(held) == 10 and not held & set(keys)
    again = task_pool(CARRY_TASK_SPACE, 40, seed=3)
    assert [again.key(i) for i in range(40)] == keys
    other = task_pool(CARRY_TASK_SPACE, 40, seed=4)
    assert [other.key(i) for i in range(40)] != keys
    assert all(CARRY_TASK_SPACE.contains(t) for t in train.tasks)
    expected = [CARRY_TASK_SPACE.difficulty(t) for t in train.tasks]
    assert np.allclose(train.difficulties, expected)
    extra = task_pool(CARRY_TASK_SPACE, 10, seed=3, exclude=train.tasks)
    assert not {extra.key(i) for i in range(10)} & set(keys)


def _choice_space() -> TaskSpace:
    knobs = [Knob("colour", "red", "a colour", choices=("red", "blue", "green"))]
    return TaskSpace("colours", knobs, difficulty=lambda t: 0.5)


def test_small_spaces_give_every_task_or_say_how_many_there_are():
    with pytest.raises(ValueError, match="only 3 distinct tasks"):
        task_pool(_choice_space(), 4)
    pool = as_discrete(_choice_space(), seed=0)
    assert sorted(t["colour"] for t in pool.tasks) == ["blue", "green", "red"]
    assert len(as_discrete(CARRY_TASK_SPACE, seed=0)) == DEFAULT_POOL_SIZE
    with pytest.raises(ValueError, match="pool sizes"):
        split_pools(CARRY_TASK_SPACE, [0])


@pytest.mark.parametrize(
    ("difficulty", "bands", "expected"),
    [(0.0, 5, 0), (0.1999, 5, 0), (0.2, 5, 1), (0.99, 5, 4), (1.0, 5, 4), (0.5, 2, 1), (1.0, 1, 0)],
)
def test_band_of_cuts_equal_width_bands(difficulty, bands, expected):
    assert band_of(difficulty, bands) == expected


@pytest.mark.parametrize(
    ("difficulty", "bands", "pattern"),
    [(1.2, 5, "difficulty"), (float("nan"), 5, "difficulty"), (0.5, 0, "num_bands")],
)
def test_band_of_rejects_bad_input(difficulty, bands, pattern):
    with pytest.raises(ValueError, match=pattern):
        band_of(difficulty, bands)


def test_stats_over_a_finite_space_use_task_entropy_and_bands():
    space = DiscreteTaskSpace([{"t": i} for i in range(4)], [0.1, 0.3, 0.6, 0.9])
    stats = CurriculumStats(space, num_bands=2)
    stats.record_samples([{"t": 0}, {"t": 0}, {"t": 1}])
    stats.record_sample({"t": 3})
    stats.record_episode({"t": 0}, success=1.0)
    stats.record_episode({"t": 1}, success=0.0)
    stats.record_episode({"t": 3}, 0.5)
    out = stats.summary()
    assert out["curriculum/entropy"] == pytest.approx(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))
    assert out["curriculum/band_share/0"] == 0.75 and out["curriculum/band_share/1"] == 0.25
    assert out["curriculum/band_success/0"] == 0.5 and out["curriculum/band_success/1"] == 0.5
    assert out["curriculum/mean_difficulty"] == pytest.approx((0.1 + 0.1 + 0.3 + 0.9) / 4)
    assert out["curriculum/success"] == 0.5
    assert out["curriculum/sampled"] == 4 and out["curriculum/episodes"] == 3
    empty = stats.summary()
    assert empty["curriculum/entropy"] == 0.0 and empty["curriculum/band_share/1"] == 0.0
    assert "curriculum/mean_difficulty" not in empty and "curriculum/band_success/0" not in empty


def test_stats_over_a_knob_space_use_band_entropy():
    box = BoxTaskSpace({"x": (0.0, 1.0)})
    stats = CurriculumStats(box, num_bands=4, prefix="cur")
    stats.record_samples([{"x": 0.1}, {"x": 0.15}, {"x": 0.9}, {"x": 0.6}])
    out = stats.summary(reset=False)
    assert out["cur/entropy"] == pytest.approx(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))
    assert [out[f"cur/band_share/{b}"] for b in range(4)] == [0.5, 0.0, 0.25, 0.25]
    assert stats.summary()["cur/sampled"] == 4


def test_stats_reject_bad_input():
    space = DiscreteTaskSpace([{"t": 0}])
    stats = CurriculumStats(space)
    with pytest.raises(ValueError, match="not in"):
        stats.record_samples([{"t": 5}])
    with pytest.raises(ValueError, match="success"):
        stats.record_episode({"t": 0}, success=float("nan"))
    with pytest.raises(ValueError, match="success"):
        stats.record_episode({"t": 0}, success=1.5)
    with pytest.raises(ValueError, match="num_bands"):
        CurriculumStats(space, num_bands=0)
