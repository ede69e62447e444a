"""The bodies of the carry world: ground and ramp, route markers, the object, the carriers.

Functions that add one part of the scene to a pybullet client (``cid``); :class:`CarrySim`
(:mod:`palaestra.envs.carry.sim`) builds an episode's world from them and documents the
carrier's joints. The carriers' physical parameters live here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from palaestra.envs.carry.objects import ObjectSpec
from palaestra.envs.carry.route import RAMP_START, Route

__all__ = [
    "ARM_X",
    "ARM_Y",
    "HUMAN",
    "LEGS_X",
    "LEGS_Y",
    "LIFT",
    "NOMINAL_HEIGHT",
    "ROBOT",
    "WRIST",
    "CarrierParams",
    "build_carrier",
    "build_ground",
    "build_markers",
    "build_object",
]

NOMINAL_HEIGHT = 0.9
"""Height of the hands above the ground at the start, m."""
_LINK_MASSES = (10.0, 10.0, 5.0, 8.0, 5.0)  # legs x, legs y, arm x, (torso), lift, hand
LEGS_X, LEGS_Y, ARM_X, ARM_Y, LIFT, WRIST = range(6)
"""The joints of a carrier, by index (see :func:`build_carrier`)."""
_SHAPES_PER_ARRAY = 8


@dataclass(frozen=True)
class CarrierParams:
    """Physical parameters of one carrier.

    Attributes:
        body_mass: Mass of the torso, kg.
        strength: Largest horizontal force the legs exert to keep the commanded velocity, N.
        lift_force: Largest vertical force of the lift, N.
        arm_damping: Damping of the compliant arms, N s/m.
        reach: How far the hands may move from the body in x and in y, m.
        rgba: Colour of the carrier in renders.
    """

    body_mass: float
    strength: float
    lift_force: float
    arm_damping: float
    reach: float
    rgba: tuple[float, float, float, float]


ROBOT = CarrierParams(60.0, 400.0, 700.0, 300.0, 0.2, (0.25, 0.45, 0.85, 1.0))
"""The learning carrier (a humanoid or mobile manipulator)."""
HUMAN = CarrierParams(70.0, 200.0, 700.0, 300.0, 0.2, (0.90, 0.55, 0.25, 1.0))
"""The scripted human proxy: half the robot's horizontal strength."""


def build_markers(cid: int, route: Route) -> None:
    """Visual-only marks (no collision, no cost in physics): the route and the goal."""
    goal = route.goal
    marker = pb.createVisualShape(
        pb.GEOM_CYLINDER,
        radius=0.25,
        length=0.01,
        rgbaColor=(0.2, 0.8, 0.3, 1.0),
        physicsClientId=cid,
    )
    pb.createMultiBody(
        0, -1, marker, (goal[0], goal[1], route.height(goal[0]) + 0.006), physicsClientId=cid
    )
    dashes = [route.point_at(s) for s in np.arange(0.0, route.length, 0.4)]
    # pybullet's shape arrays hold at most 16 shapes (more crash the client): chunk them.
    for start in range(0, len(dashes), _SHAPES_PER_ARRAY):
        chunk = dashes[start : start + _SHAPES_PER_ARRAY]
        n = len(chunk)
        shapes = pb.createVisualShapeArray(
            shapeTypes=[pb.GEOM_BOX] * n,
            halfExtents=[(0.06, 0.06, 0.004)] * n,
            visualFramePositions=[(x, y, route.height(x) + 0.004) for x, y in chunk],
            rgbaColors=[(0.35, 0.35, 0.35, 1)] * n,
            physicsClientId=cid,
        )
        pb.createMultiBody(0, -1, shapes, (0, 0, 0), physicsClientId=cid)


def build_ground(cid: int, route: Route) -> None:
    """The floor, and the ramp of a ``slope`` route."""
    half = (40.0, 40.0, 0.05)
    col = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, physicsClientId=cid)
    vis = pb.createVisualShape(
        pb.GEOM_BOX, halfExtents=half, rgbaColor=(0.82, 0.82, 0.78, 1), physicsClientId=cid
    )
    pb.createMultiBody(0, col, vis, (0, 0, -0.05), physicsClientId=cid)
    if route.grade > 0.0:
        angle = math.atan(route.grade)
        # The ramp runs 5 m past the goal, so a leader can walk beyond it.
        length = (route.goal[0] + 5.0 - RAMP_START) / math.cos(angle)
        thick = 0.1
        half = (length / 2, 3.0, thick / 2)
        mid_x = RAMP_START + math.cos(angle) * length / 2
        mid_z = math.sin(angle) * length / 2
        centre = (mid_x + math.sin(angle) * thick / 2, 0.0, mid_z - math.cos(angle) * thick / 2)
        col = pb.createCollisionShape(pb.GEOM_BOX, halfExtents=half, physicsClientId=cid)
        vis = pb.createVisualShape(
            pb.GEOM_BOX, halfExtents=half, rgbaColor=(0.7, 0.7, 0.66, 1), physicsClientId=cid
        )
        orn = pb.getQuaternionFromEuler((0.0, -angle, 0.0))
        pb.createMultiBody(0, col, vis, centre, orn, physicsClientId=cid)


def build_object(cid: int, spec: ObjectSpec, mass_scale: float) -> int:
    """The carried object, level at the nominal height; returns its body id."""
    n = len(spec.parts)
    shapes = [pb.GEOM_BOX] * n
    halves = [p.half_extents for p in spec.parts]
    centres = [p.centre for p in spec.parts]
    col = pb.createCollisionShapeArray(
        shapeTypes=shapes,
        halfExtents=halves,
        collisionFramePositions=centres,
        physicsClientId=cid,
    )
    vis = pb.createVisualShapeArray(
        shapeTypes=shapes,
        halfExtents=halves,
        visualFramePositions=centres,
        rgbaColors=[p.rgba for p in spec.parts],
        physicsClientId=cid,
    )
    z = NOMINAL_HEIGHT - spec.handle_z
    body = pb.createMultiBody(spec.mass * mass_scale, col, vis, (0, 0, z), physicsClientId=cid)
    inertia = [mass_scale * i for i in spec.inertia]
    pb.changeDynamics(
        body,
        -1,
        localInertiaDiagonal=inertia,
        linearDamping=0.0,
        angularDamping=0.0,
        physicsClientId=cid,
    )
    return body


def build_carrier(cid: int, hand: tuple[float, float], params: CarrierParams) -> int:
    """A carrier whose hand starts at ``hand`` (x, y); returns its body id.

    Joints, in order: legs x and y (velocity-servoed), arms x and y (passive dampers within
    the reach), lift (velocity-servoed), wrist (free yaw).
    """
    torso_half = (0.16, 0.22, (NOMINAL_HEIGHT - 0.1) / 2)
    torso = pb.createVisualShape(
        pb.GEOM_BOX,
        halfExtents=torso_half,
        rgbaColor=params.rgba,
        visualFramePosition=(0, 0, -torso_half[2] - 0.1),
        physicsClientId=cid,
    )
    # The hand's shape only gives it a sensible inertia (it never collides): a light hand
    # with a tiny inertia makes the closed grip loop converge poorly.
    hand_shape = pb.createCollisionShape(pb.GEOM_SPHERE, radius=0.25, physicsClientId=cid)
    hand_visual = pb.createVisualShape(
        pb.GEOM_SPHERE, radius=0.06, rgbaColor=(0.15, 0.15, 0.15, 1), physicsClientId=cid
    )
    n = 6
    body = pb.createMultiBody(
        0,
        -1,
        -1,
        (0, 0, 0),
        linkMasses=[*_LINK_MASSES[:3], params.body_mass, *_LINK_MASSES[3:]],
        linkCollisionShapeIndices=[-1, -1, -1, -1, -1, hand_shape],
        linkVisualShapeIndices=[-1, -1, -1, -1, torso, hand_visual],
        linkPositions=[
            (hand[0], hand[1], 0),
            (0, 0, 0),
            (0, 0, 0),
            (0, 0, 0),
            (0, 0, NOMINAL_HEIGHT),
            (0, 0, 0),
        ],
        linkOrientations=[(0, 0, 0, 1)] * n,
        linkInertialFramePositions=[(0, 0, 0)] * n,
        linkInertialFrameOrientations=[(0, 0, 0, 1)] * n,
        linkParentIndices=[0, 1, 2, 3, 4, 5],
        linkJointTypes=[pb.JOINT_PRISMATIC] * 5 + [pb.JOINT_REVOLUTE],
        linkJointAxis=[(1, 0, 0), (0, 1, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1)],
        physicsClientId=cid,
    )
    pb.setCollisionFilterGroupMask(body, WRIST, 0, 0, physicsClientId=cid)
    for joint in (ARM_X, ARM_Y):
        pb.changeDynamics(
            body,
            joint,
            jointDamping=params.arm_damping,
            jointLowerLimit=-params.reach,
            jointUpperLimit=params.reach,
            jointLimitForce=1e5,
            physicsClientId=cid,
        )
    pb.changeDynamics(body, WRIST, jointDamping=0.5, physicsClientId=cid)
    pb.setJointMotorControlArray(
        body,
        [ARM_X, ARM_Y, WRIST],
        pb.VELOCITY_CONTROL,
        forces=[0.0, 0.0, 0.0],
        physicsClientId=cid,
    )
    pb.setJointMotorControlArray(
        body,
        [LEGS_X, LEGS_Y, LIFT],
        pb.VELOCITY_CONTROL,
        targetVelocities=[0.0] * 3,
        forces=[params.strength, params.strength, params.lift_force],
        physicsClientId=cid,
    )
    return body
