"""The shared protocol of every scheduler: registry, determinism, state round trips, bad input."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from palaestra.curriculum import (
    BoxTaskSpace,
    Curriculum,
    DiscreteTaskSpace,
    ToyLearner,
    make,
    mean_abs_gae,
    names,
    positive_value_loss,
    train_toy,
)
from palaestra.envs.carry import CARRY_TASK_SPACE

NAMES = [
    "uniform",
    "sequential",
    "anti",
    "cyclical",
    "adcl",
    "plr",
    "learning_progress",
    "medium",
]
# Small knob values so that every scheduler changes state within a short run.
KNOBS = {
    "sequential": {"window": 5, "replay": 0.2},
    "anti": {"window": 5},
    "cyclical": {"phase_length": 16},
    "adcl": {"interval": 10, "batch_size": 3},
}


def _space():
    difficulties = np.linspace(0.0, 1.0, 12)
    return DiscreteTaskSpace([{"level": i} for i in range(12)], difficulties.tolist())


def _learner(seed=7):
    return ToyLearner(np.linspace(0.0, 1.0, 12), seed=seed, need_easy=5, need_hard=60, width=5)


def test_registry_holds_every_scheduler():
    assert sorted(NAMES) == names()
    for name in NAMES:
        scheduler = make(name, _space(), seed=0)
        assert isinstance(scheduler, Curriculum)
        assert scheduler.requires_step_updates is False
        assert scheduler.requires_score_updates is (name == "plr")


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_and_updates_give_same_samples_and_other_seeds_differ(name):
    runs = [
        train_toy(make(name, _space(), seed=seed, **KNOBS.get(name, {})), _learner(), 150, batch=4)
        for seed in (3, 3, 4)
    ]
    assert runs[0] == runs[1]
    assert [i for i, _, _ in runs[0]] != [i for i, _, _ in runs[2]]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trips_through_json(name):
    scheduler = make(name, _space(), seed=11, **KNOBS.get(name, {}))
    learner = _learner()
    train_toy(scheduler, learner, 97, batch=4)
    state = json.loads(json.dumps(scheduler.state_dict()))
    twin_learner = copy.deepcopy(learner)
    ahead = train_toy(scheduler, learner, 120, batch=4)
    fresh = make(name, _space(), seed=0, **KNOBS.get(name, {}))
    fresh.load_state_dict(state)
    assert train_toy(fresh, twin_learner, 120, batch=4) == ahead
    assert json.dumps(fresh.state_dict()) == json.dumps(scheduler.state_dict())


@pytest.mark.parametrize("name", NAMES)
def test_schedulers_run_on_the_carry_task_space_through_a_pool(name):
    scheduler = make(name, CARRY_TASK_SPACE, seed=2, pool_size=24, **KNOBS.get(name, {}))
    for _ in range(40):
        for task in scheduler.sample(2):
            assert CARRY_TASK_SPACE.validate(task) == task
            scheduler.update_on_episode(task, success=0.5, episode_return=1.0, length=10)
            scheduler.update_on_score(task, 0.3)
    assert len(scheduler.task_space) == 24
    json.dumps(scheduler.state_dict())
    assert all(isinstance(v, float) for v in scheduler.metrics().values())


def test_uniform_samples_a_knob_space_directly_and_deterministically():
    box = BoxTaskSpace({"x": (0.0, 1.0), "y": (-1.0, 1.0)})
    a, b = make("uniform", box, seed=5), make("uniform", box, seed=5)
    first = a.sample(10)
    assert first == b.sample(10) and len({t["x"] for t in first}) == 10
    state = json.loads(json.dumps(a.state_dict()))
    c = make("uniform", box, seed=0)
    c.load_state_dict(state)
    assert c.sample(5) == a.sample(5)
    with pytest.raises(ValueError, match="'x'"):
        a.update_on_episode({"x": 3.0}, success=1.0, episode_return=0.0, length=1)
    carry = make("uniform", CARRY_TASK_SPACE, seed=1)
    assert all(CARRY_TASK_SPACE.contains(t) for t in carry.sample(5))


def test_plr_score_helpers():
    advantages = [1.0, -3.0, 0.5, 0.0]
    assert mean_abs_gae(advantages) == pytest.approx(4.5 / 4)
    assert positive_value_loss(advantages) == pytest.approx(1.5 / 4)
    with pytest.raises(ValueError, match="advantages"):
        mean_abs_gae([])
    with pytest.raises(ValueError, match="advantages"):
        positive_value_loss([1.0, float("nan")])


def test_unknown_names_and_knobs_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown curriculum 'easy'.*adcl, anti, cyclical"):
        make("easy", _space())
    with pytest.raises(ValueError, match=r"unknown knob 'beta' for curriculum 'plr'.*temperature"):
        make("plr", _space(), beta=0.1)


@pytest.mark.parametrize(
    ("name", "knob", "value"),
    [
        ("sequential", "threshold", 1.5),
        ("sequential", "threshold", float("nan")),
        ("sequential", "num_bands", 0),
        ("sequential", "window", 0),
        ("anti", "replay", 1.0),
        ("cyclical", "start_share", 0.0),
        ("cyclical", "end_share", 0.1),
        ("cyclical", "multiplier", 1.0),
        ("cyclical", "phase_length", 0),
        ("adcl", "interval", 0),
        ("adcl", "batch_size", 2.5),
        ("adcl", "explore", -0.1),
        ("adcl", "prior", 0.0),
        ("adcl", "lookahead", 0),
        ("adcl", "probe", "not callable"),
        ("plr", "temperature", 0.0),
        ("plr", "temperature", -1.0),
        ("plr", "rho", 1.5),
        ("plr", "replay_prob", -0.5),
        ("plr", "score_alpha", 0.0),
        ("learning_progress", "fast_rate", 0.0),
        ("learning_progress", "slow_rate", 2.0),
        ("learning_progress", "epsilon", 1.1),
        ("medium", "temperature", 0.0),
        ("medium", "prior", -1.0),
        ("medium", "window", True),
        ("medium", "epsilon", "high"),
    ],
)
def test_bad_knob_values_name_the_knob(name, knob, value):
    with pytest.raises(ValueError, match=knob):
        make(name, _space(), **{knob: value})


@pytest.mark.parametrize("name", NAMES)
def test_bad_updates_are_refused(name):
    scheduler = make(name, _space(), seed=0)
    task = scheduler.sample(1)[0]
    good = {"success": 1.0, "episode_return": 0.0, "length": 1}
    with pytest.raises(ValueError, match="not in"):
        scheduler.update_on_episode({"level": 99}, **good)
    with pytest.raises(ValueError, match="not in"):
        scheduler.update_on_score({"level": -1}, 1.0)
    for key, value in [
        ("success", float("nan")),
        ("success", 1.5),
        ("success", -0.1),
        ("success", "yes"),
        ("episode_return", float("inf")),
        ("length", -1),
        ("length", 2.5),
    ]:
        with pytest.raises(ValueError, match=key):
            scheduler.update_on_episode(task, **{**good, key: value})
    with pytest.raises(ValueError, match="score"):
        scheduler.update_on_score(task, float("nan"))
    with pytest.raises(ValueError, match="k must"):
        scheduler.sample(-1)
    with pytest.raises(ValueError, match="seed"):
        make(name, _space(), seed=-1)
    scheduler.update_on_episode(task, success=True, episode_return=2, length=np.int64(3))


def test_state_from_another_scheduler_or_space_is_refused():
    state = make("medium", _space(), seed=0).state_dict()
    with pytest.raises(ValueError, match="not a 'plr' scheduler state"):
        make("plr", _space()).load_state_dict(state)
    smaller = DiscreteTaskSpace([{"level": i} for i in range(5)])
    with pytest.raises(ValueError, match="different task space"):
        make("medium", smaller).load_state_dict(state)
    same_tasks_other_difficulty = DiscreteTaskSpace([{"level": i} for i in range(12)], [0.5] * 12)
    with pytest.raises(ValueError, match="different task space"):
        make("medium", same_tasks_other_difficulty).load_state_dict(state)
    broken = {**state, "state": {"recent": [[0.5]]}}
    with pytest.raises(ValueError, match="malformed"):
        make("medium", _space()).load_state_dict(broken)


def test_adcl_rejects_bad_probe_results():
    adcl = make("adcl", _space(), interval=1, probe=lambda tasks: [0.5])
    with pytest.raises(ValueError, match="probe returned 1 values"):
        adcl.update_on_episode({"level": 0}, success=1.0, episode_return=0.0, length=1)
    adcl = make("adcl", _space(), interval=1, probe=lambda tasks: [2.0] * len(tasks))
    with pytest.raises(ValueError, match="probe success"):
        adcl.reestimate()


def test_package_docstring_example_runs():
    import doctest

    import palaestra.curriculum as curriculum

    result = doctest.testmod(curriculum)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.parametrize("name", NAMES)
def test_a_refused_state_leaves_the_scheduler_as_it_was(name):
    scheduler = make(name, _space(), seed=4, **KNOBS.get(name, {}))
    start = scheduler.state_dict()
    train_toy(scheduler, _learner(), 30, batch=3)
    before = json.dumps(scheduler.state_dict())
    twin = copy.deepcopy(scheduler)
    # The generator and the first entries load; then the scheduler's own state is refused.
    broken = {**start, "state": {key: "garbage" for key in start["state"]}}
    broken["state"].update({"stage": 99} if "stage" in broken["state"] else {})
    if not broken["state"]:  # uniform keeps nothing but its generator
        broken["rng"] = {"bit_generator": "MT19937", "state": "garbage"}
    with pytest.raises(ValueError, match=f"{name}: malformed state"):
        scheduler.load_state_dict(broken)
    assert json.dumps(scheduler.state_dict()) == before
    assert scheduler.sample(20) == twin.sample(20)
