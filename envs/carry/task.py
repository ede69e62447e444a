"""The carry task space: objects, routes, partner behaviour and role, with difficulty."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from palaestra.envs.tasks import Knob, TaskSpace

__all__ = ["CARRY_TASK_SPACE", "DEFAULT_TORQUE_LIMIT", "PARTNER_LOADS", "carry_difficulty"]

PARTNER_LOADS = ("rigid", "compliant")
"""The values of the ``partner_load`` knob (see :mod:`palaestra.envs.carry.compliance`)."""
DEFAULT_TORQUE_LIMIT = 87.0
"""Default largest pitch torque of a learner's grip on the compliant task, N m."""

_OBJECT_DIFFICULTY = {"box": 0.0, "table": 0.5, "stretcher": 1.0}

CARRY_TASK_SPACE = TaskSpace(
    "carry",
    [
        Knob(
            "object",
            "box",
            "the carried object: its size, mass, inertia and handles",
            choices=("box", "table", "stretcher"),
        ),
        Knob(
            "route",
            "straight",
            "the path to the goal: straight, a turn, or up a ramp",
            choices=("straight", "turn", "slope"),
        ),
        Knob("route_length", 3.0, "arc length from the start to the goal, m", low=2.0, high=8.0),
        Knob(
            "turn_angle_deg",
            45.0,
            "heading change of the `turn` route, degrees (positive turns left)",
            low=-90.0,
            high=90.0,
        ),
        Knob(
            "slope_deg",
            5.0,
            "incline of the ramp on the `slope` route, degrees",
            low=0.0,
            high=10.0,
        ),
        Knob("mass_scale", 1.0, "multiplies the object's mass and inertia", low=0.5, high=2.0),
        Knob(
            "partner_speed",
            0.5,
            "the scripted partner's walking speed when it leads, m/s",
            low=0.3,
            high=1.0,
        ),
        Knob(
            "partner_noise",
            0.1,
            "relative size of the partner's speed and heading noise (0 = exact)",
            low=0.0,
            high=1.0,
        ),
        Knob(
            "intention_change_rate",
            0.0,
            "pauses and speed changes of the leading partner, events per second",
            low=0.0,
            high=1.0,
        ),
        Knob(
            "role",
            "follower",
            "the learner's role: `leader` knows the goal, `follower` must infer it",
            choices=("leader", "follower"),
        ),
        Knob(
            "partner_load",
            "rigid",
            "how the carriers bear the load: `rigid` pins fix each one's share of the weight; "
            "`compliant`, the partner holds by a vertical spring and the learner's grip passes "
            "pitch torque, so the learner can take load off the partner",
            choices=PARTNER_LOADS,
        ),
        Knob(
            "grip_torque_limit",
            DEFAULT_TORQUE_LIMIT,
            "largest pitch torque of the learner's grip on the `compliant` task, N m",
            low=0.0,
            high=500.0,
        ),
    ],
    difficulty=lambda task: carry_difficulty(task),
)


def carry_difficulty(task: Mapping[str, Any]) -> float:
    """Score a complete carry task in [0, 1].

    A weighted mean of normalised features: the object (box < table < stretcher), the route
    (a turn by its angle, a slope by its incline), route length, mass, partner speed, noise
    and intention changes, and the role (following, which must infer the goal from forces, is
    harder than leading). The straight default box task scores near 0.1; the hardest
    combination scores 1.
    """
    space = CARRY_TASK_SPACE.knobs
    if task["route"] == "turn":
        route = abs(task["turn_angle_deg"]) / 90.0
    elif task["route"] == "slope":
        route = task["slope_deg"] / 10.0
    else:
        route = 0.0
    features = [
        (2.0, _OBJECT_DIFFICULTY[task["object"]]),
        (2.0, route),
        (1.0, space["route_length"].normalized(task["route_length"])),
        (1.0, space["mass_scale"].normalized(task["mass_scale"])),
        (1.0, space["partner_speed"].normalized(task["partner_speed"])),
        (1.0, space["partner_noise"].normalized(task["partner_noise"])),
        (1.5, space["intention_change_rate"].normalized(task["intention_change_rate"])),
        (0.5, 1.0 if task["role"] == "follower" else 0.0),
    ]
    total = sum(weight for weight, _ in features)
    return sum(weight * value for weight, value in features) / total
