"""Task spaces, the carry task space and route geometry."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from palaestra.envs.carry import CARRY_TASK_SPACE
from palaestra.envs.carry.objects import OBJECTS, ObjectSpec, Part
from palaestra.envs.carry.route import RAMP_START, Route
from palaestra.envs.tasks import Knob, TaskSpace


def _space():
    return TaskSpace(
        "toy",
        [
            Knob("colour", "red", "a colour", choices=("red", "blue")),
            Knob("size", 1.0, "a size", low=0.5, high=2.0),
        ],
        difficulty=lambda t: (t["size"] - 0.5) / 1.5,
    )


def test_validate_fills_defaults_and_canonicalises():
    space = _space()
    assert space.validate(None) == {"colour": "red", "size": 1.0}
    task = space.validate({"size": np.int64(2)})
    assert task == {"colour": "red", "size": 2.0} and isinstance(task["size"], float)


@pytest.mark.parametrize(
    ("task", "pattern"),
    [
        ({"shape": "round"}, r"unknown toy task key 'shape'.*colour .*size"),
        ({"size": 3.0}, r"'size'.*\[0\.5, 2\]"),
        ({"size": float("nan")}, r"'size'"),
        ({"size": "big"}, r"'size'"),
        ({"size": True}, r"'size'"),
        ({"colour": "green"}, r"'colour'.*'red', 'blue'"),
        ("red", r"must be a dict"),
    ],
)
def test_bad_tasks_name_the_key_and_range(task, pattern):
    with pytest.raises(ValueError, match=pattern):
        _space().validate(task)
    assert not _space().contains(task) if isinstance(task, dict) else True


def test_knob_rejects_inconsistent_definitions():
    with pytest.raises(ValueError, match="choices, a low/high range or parse"):
        Knob("x", 1.0, "doc")
    with pytest.raises(ValueError, match="default"):
        Knob("x", 5.0, "doc", low=0.0, high=1.0)


def _seats_space():
    def parse_stacks(value):
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and v > 0 for v in value
        ):
            raise ValueError(f"got {value!r}, expected a list of positive integers")
        return [int(v) for v in value]

    def finalize(task):
        if task["stacks"] is None:
            task["stacks"] = [100] * task["seats"]
        elif len(task["stacks"]) != task["seats"]:
            count = len(task["stacks"])
            raise ValueError(f"'stacks' has {count} entries for {task['seats']} seats")
        return task

    return TaskSpace(
        "seats",
        [
            Knob("seats", 2, "players", low=2, high=9, integer=True),
            Knob("stacks", None, "chips", parse=parse_stacks, allowed="a list of chips per seat"),
        ],
        difficulty=lambda t: (t["seats"] - 2) / 7,
        finalize=finalize,
    )


def test_integer_and_structured_knobs_with_cross_knob_checks():
    space = _seats_space()
    assert space.validate(None) == {"seats": 2, "stacks": [100, 100]}
    task = space.validate({"seats": 3.0, "stacks": (5, 6, 7)})
    assert task == {"seats": 3, "stacks": [5, 6, 7]} and isinstance(task["seats"], int)
    with pytest.raises(ValueError, match=r"'seats'.*an integer in \[2, 9\]"):
        space.validate({"seats": 2.5})
    with pytest.raises(ValueError, match=r"'stacks': got \[0\]"):
        space.validate({"stacks": [0]})
    with pytest.raises(ValueError, match="'stacks' has 2 entries for 4 seats"):
        space.validate({"seats": 4, "stacks": [1, 2]})
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(200):
        sample = space.sample(rng)
        assert isinstance(sample["seats"], int) and sample["stacks"] == [100] * sample["seats"]
        seen.add(sample["seats"])
    assert seen == set(range(2, 10))
    assert "a list of chips per seat" in space.table()


def test_sampling_uses_only_the_given_generator():
    space = CARRY_TASK_SPACE
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    np.random.seed(0)
    b = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b
    tasks = [space.sample(np.random.default_rng(i)) for i in range(200)]
    assert all(space.contains(t) for t in tasks)
    assert {t["object"] for t in tasks} == {"box", "table", "stretcher"}
    lengths = [t["route_length"] for t in tasks]
    assert 2.0 <= min(lengths) < 3.0 and 7.0 < max(lengths) <= 8.0


def test_carry_difficulty_orders_tasks():
    space = CARRY_TASK_SPACE
    easiest = {
        "object": "box", "route": "straight", "route_length": 2.0, "mass_scale": 0.5,
        "partner_speed": 0.3, "partner_noise": 0.0, "intention_change_rate": 0.0,
        "role": "leader",
    }  # fmt: skip
    hardest = {
        "object": "stretcher", "route": "turn", "turn_angle_deg": -90.0, "route_length": 8.0,
        "mass_scale": 2.0, "partner_speed": 1.0, "partner_noise": 1.0,
        "intention_change_rate": 1.0, "role": "follower",
    }  # fmt: skip
    assert space.difficulty(easiest) == pytest.approx(0.0)
    assert space.difficulty(hardest) == pytest.approx(1.0)
    assert space.difficulty({"route": "turn", "turn_angle_deg": 90.0}) == pytest.approx(
        space.difficulty({"route": "turn", "turn_angle_deg": -90.0})
    )
    assert space.difficulty({"route": "slope", "slope_deg": 10.0}) > space.difficulty(
        {"route": "slope", "slope_deg": 2.0}
    )
    # A turn angle only matters on the turn route.
    assert space.difficulty({"turn_angle_deg": 90.0}) == space.difficulty({})
    assert "| `object` |" in space.table()


def test_object_inertia_follows_the_parts():
    solid = ObjectSpec(
        "slab", (Part((1.0, 0.5, 0.1), (0.0, 0.0, 0.0), 12.0, (1, 1, 1, 1)),), 1, 0, 0.1
    )
    ixx, iyy, izz = solid.inertia
    assert ixx == pytest.approx(12.0 * (1.0**2 + 0.2**2) / 12)
    assert iyy == pytest.approx(12.0 * (2.0**2 + 0.2**2) / 12)
    assert izz == pytest.approx(12.0 * (2.0**2 + 1.0**2) / 12)
    two = ObjectSpec(
        "dumbbell",
        (
            Part((0.01, 0.01, 0.01), (-1.0, 0.0, 0.0), 1.0, (1, 1, 1, 1)),
            Part((0.01, 0.01, 0.01), (1.0, 0.0, 0.0), 3.0, (1, 1, 1, 1)),
        ),
        1, 0, 0.1,
    )  # fmt: skip
    assert two.centre_of_mass[0] == pytest.approx(0.5)
    # Point masses at distances 1.5 and 0.5 from the centre of mass.
    assert two.inertia[2] == pytest.approx(1.0 * 1.5**2 + 3.0 * 0.5**2, rel=1e-3)


def test_objects_are_centred_on_their_centre_of_mass():
    for spec in OBJECTS.values():
        assert np.allclose(spec.centre_of_mass, 0.0, atol=1e-9)
        assert spec.lowest_point > 0
    masses = {name: spec.mass for name, spec in OBJECTS.items()}
    assert masses["box"] < masses["table"] < masses["stretcher"]


def test_straight_and_slope_routes():
    route = Route("slope", 4.0, 0.0, 10.0)
    assert route.goal == (4.0, 0.0)
    assert route.height(RAMP_START) == 0.0
    assert route.height(RAMP_START + 1.0) == pytest.approx(math.tan(math.radians(10)))
    assert route.progress(2.5, 0.3) == 2.5
    flat = Route("straight", 4.0, 45.0, 10.0)
    assert flat.height(3.0) == 0.0 and flat.grade == 0.0


@pytest.mark.parametrize("angle", [90.0, -45.0])
def test_turn_route_geometry(angle):
    route = Route("turn", 4.0, angle, 0.0)
    # Straight for half the length, then an arc of radius (L/2)/angle.
    radius = 2.0 / math.radians(abs(angle))
    side = math.copysign(1.0, angle)
    a = math.radians(abs(angle))
    expected = (2.0 + radius * math.sin(a), side * radius * (1 - math.cos(a)))
    assert route.goal == pytest.approx(expected, abs=1e-3)
    assert math.degrees(route.heading_at(3.99)) == pytest.approx(angle, abs=0.5)
    assert route.heading_at(1.0) == 0.0
    # Consecutive points are spaced by their arc-length difference (a unit-speed path).
    points = [route.point_at(s) for s in np.arange(0.0, 7.0, 0.01)]
    steps = [math.dist(a, b) for a, b in itertools.pairwise(points)]
    assert min(steps) == pytest.approx(0.01, abs=1e-4) and max(steps) <= 0.01 + 1e-9
    # Progress of points on the path is their arc length, and walking along increases it.
    s_values = [route.progress(*route.point_at(s)) for s in np.arange(0.0, 6.0, 0.1)]
    assert s_values == pytest.approx(list(np.arange(0.0, 6.0, 0.1)), abs=0.01)
    # Points off the path project to the nearest path point, on each of its three parts.
    for s in (1.0, 3.0, 5.0):
        x, y = route.point_at(s)
        h = route.heading_at(s)
        nx, ny = -math.sin(h), math.cos(h)
        assert route.progress(x + 0.2 * nx, y + 0.2 * ny) == pytest.approx(s, abs=1e-6)


def test_restricted_space_narrows_knobs_and_keeps_difficulty():
    space = _space()
    sub = space.restricted(colour=["blue"], size=(1.5, 2.0))
    assert sub.default() == {"colour": "blue", "size": 1.5}
    rng = np.random.default_rng(0)
    for _ in range(100):
        task = sub.sample(rng)
        assert task["colour"] == "blue" and 1.5 <= task["size"] <= 2.0
        assert space.contains(task)
        assert sub.difficulty(task) == space.difficulty(task)
    with pytest.raises(ValueError, match=r"'size'.*got 1\.0"):
        sub.validate({"size": 1.0})
    seats = _seats_space().restricted(seats=(4, 6))
    assert seats.validate(None) == {"seats": 4, "stacks": [100] * 4}  # finalize still runs


@pytest.mark.parametrize(
    ("ranges", "pattern"),
    [
        ({"shape": ["round"]}, "unknown toy knob 'shape'"),
        ({"colour": ["green"]}, "non-empty subset"),
        ({"colour": []}, "non-empty subset"),
        ({"size": (0.1, 1.0)}, r"outside \[0.5, 2\]"),
        ({"size": (1.5, 1.0)}, "empty or outside"),
        ({"size": "big"}, "a \\(low, high\\) pair"),
    ],
)
def test_bad_restrictions_name_the_knob(ranges, pattern):
    with pytest.raises(ValueError, match=pattern):
        _space().restricted(**ranges)


def test_structured_knobs_cannot_be_narrowed():
    with pytest.raises(ValueError, match="structured"):
        _seats_space().restricted(stacks=(1, 2))
    with pytest.raises(ValueError, match=r"'seats' takes integers; got \(2\.5, 4\)"):
        _seats_space().restricted(seats=(2.5, 4))
