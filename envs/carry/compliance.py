"""How the carriers bear the load: pins on a rigid lift, or a compliant partner.

The task's ``partner_load`` knob chooses between two load models:

``rigid`` (the default)
    Every carrier's lift is a position servo (up to its ``lift_force``) and both grips are
    pins: they pass forces and the rolling torque and leave pitch free. Statics then fix each
    carrier's vertical share while the object is level (half the weight for palaestra's
    objects, whose handles lie symmetrically about the centre of mass): no carrier can take
    load off the other.

``compliant``
    After the scripted human of COLA's released code. Every scripted partner holds its
    handle through a vertical spring-damper about a comfortable height (the nominal 0.9 m
    above the ground under its feet) plus a feed-forward of its static share of the weight:

    ``F_z = clip(share * W + SPRING_STIFFNESS * (z_ref - z) + SPRING_DAMPING * (v_ref - v),
    0, SPRING_FORCE_LIMIT)``

    so a person who feels the load rise lets it go, and one who feels it sink holds harder.
    Its grip stays a pin (no pitch torque). Every learning carrier's grip also passes pitch
    torque, up to the task's ``grip_torque_limit``: a stiff rotational spring-damper
    (:data:`PITCH_STIFFNESS`, :data:`PITCH_DAMPING`) holds the object level relative to the
    hand, clipped at the limit. The split of the weight is then the learner's to choose
    within physical limits: by holding its end a little higher it takes load off the
    partner (8 cm takes 64 N, about the box's whole half-share), at the price of the torque
    that holding the object level then needs, ``W * D * (s - 1/2)`` for a share ``s`` of the
    weight ``W`` and a grip spacing ``D``; beyond the limit the far end sinks onto the
    partner's spring.

Constants and their reasons:
    :data:`SPRING_STIFFNESS` (800 N/m) and :data:`SPRING_FORCE_LIMIT` (300 N) are COLA's.
    :data:`SPRING_DAMPING` is 170 N s/m, not COLA's 35: with a carrier's 13 kg lift and hand
    plus half a box on the spring, 35 N s/m leaves the hands bouncing (damping ratio 0.15);
    170 gives a damping ratio of about 0.7, an arm that settles in one swing.
    :data:`DEFAULT_TORQUE_LIMIT` (87 N m) is the largest joint torque of a Franka Emika Panda
    arm (its joints 1 to 4), a common collaborative manipulator: enough for the learner to
    carry the whole box (44 N m), 90% of the table (87 N m), and 69% of the stretcher.
    :data:`PITCH_STIFFNESS` (3,000 N m/rad) keeps the object within 2 degrees of level at the
    limit torque; :data:`PITCH_DAMPING` (60 N m s/rad) damps its pitch swing without making
    the explicit torque unstable at the 6.7 ms physics step.

Both elements act as forces applied before every physics substep, so the grip readings
(the mean constraint force over the substeps, plus the pitch torque) stay exact.
Observations stay proprioceptive: the learner feels the partner only through its own grip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pybullet as pb

from palaestra.envs.carry.scene import NOMINAL_HEIGHT
from palaestra.envs.carry.task import DEFAULT_TORQUE_LIMIT, PARTNER_LOADS

if TYPE_CHECKING:
    from palaestra.envs.carry.sim import CarrySim

__all__ = [
    "DEFAULT_TORQUE_LIMIT",
    "PARTNER_LOADS",
    "PITCH_DAMPING",
    "PITCH_STIFFNESS",
    "SPRING_DAMPING",
    "SPRING_FORCE_LIMIT",
    "SPRING_STIFFNESS",
    "CompliantLoad",
]

SPRING_STIFFNESS = 800.0
"""Stiffness of the compliant partner's vertical hold, N/m (COLA's)."""
SPRING_DAMPING = 170.0
"""Damping of the compliant partner's vertical hold, N s/m."""
SPRING_FORCE_LIMIT = 300.0
"""Largest vertical force the compliant partner applies, N (COLA's clamp)."""
PITCH_STIFFNESS = 3000.0
"""Stiffness of the learner's pitch hold on the compliant task, N m/rad."""
PITCH_DAMPING = 60.0
"""Damping of the learner's pitch hold on the compliant task, N m s/rad."""
_GRAVITY = 9.81
_LIFTED_MASS = 13.0  # the lift and hand links a carrier's lift joint holds up, kg (sim.py)


class CompliantLoad:
    """The ``compliant`` load model of one episode (see the module docstring).

    Args:
        springs: Seats whose carrier holds its handle through the vertical spring-damper
            (the scripted partners).
        holders: Seats whose grip passes pitch torque up to ``torque_limit`` (the learners).
        torque_limit: Largest pitch torque of a holder's grip, N m (finite, at least 0).
    """

    def __init__(self, springs: Sequence[int], holders: Sequence[int], torque_limit: float) -> None:
        limit = float(torque_limit)
        if not math.isfinite(limit) or limit < 0.0:
            raise ValueError(
                "grip_torque_limit must be a finite number of N m, at least 0; "
                f"got {torque_limit!r}"
            )
        self.springs = tuple(springs)
        self.holders = tuple(holders)
        self.torque_limit = limit
        self.feedforward = 0.0
        self.pitch_torque = [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
        self._spring_forces: list[float] = []
        self._axes: list[tuple[float, float]] = []

    def attach(self, sim: CarrySim, lift_joint: int) -> None:
        """Set up a freshly built world: free the springs' lifts from their servos."""
        self._lift = lift_joint
        weight = sim.spec.mass * sim.mass_scale * _GRAVITY  # type: ignore[union-attr]
        # Palaestra's handles lie symmetrically about the centre of mass: half the weight.
        self.feedforward = 0.5 * weight
        self.pitch_torque = [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
        for seat in self.springs:
            pb.setJointMotorControl2(
                sim.carriers[seat],
                lift_joint,
                pb.VELOCITY_CONTROL,
                force=0.0,
                physicsClientId=sim.client,
            )

    def before_step(self, sim: CarrySim) -> None:
        """Work out this env step's spring forces and grip axes from the last readings.

        The springs' force is held over the step's substeps (at 50 Hz, with the 13 kg lift
        and hand, far inside the explicit update's stability limit).
        """
        route = sim.route
        lifted = _LIFTED_MASS * _GRAVITY
        forces = []
        for seat in self.springs:
            x = sim.body_xy[seat][0]
            # The lift joint's coordinate is the hand's height above the nominal 0.9 m; the
            # comfortable height follows the ground under the partner's feet.
            z = sim.hand_z[seat] - NOMINAL_HEIGHT
            z_ref = route.height(x)  # type: ignore[union-attr]
            v_ref = route.height_slope(x) * sim.body_vel[seat][0]  # type: ignore[union-attr]
            force = self.feedforward + SPRING_STIFFNESS * (z_ref - z)
            force += SPRING_DAMPING * (v_ref - sim.lift_vel[seat])
            forces.append(min(SPRING_FORCE_LIMIT, max(0.0, force)) + lifted)
        self._spring_forces = forces
        self._axes = [
            (math.cos(sim.wrist_yaw[seat]), math.sin(sim.wrist_yaw[seat])) for seat in self.holders
        ]

    def before_substep(self, sim: CarrySim) -> None:
        """Apply this substep's spring forces and pitch torques (pybullet clears them)."""
        cid = sim.client
        for seat, force in zip(self.springs, self._spring_forces, strict=True):
            pb.setJointMotorControl2(
                sim.carriers[seat], self._lift, pb.TORQUE_CONTROL, force=force, physicsClientId=cid
            )
        if not self.holders:
            return
        obj = sim.obj
        _, (qx, qy, qz, qw) = pb.getBasePositionAndOrientation(obj, physicsClientId=cid)
        wx, wy, _ = pb.getBaseVelocity(obj, physicsClientId=cid)[1]
        # The object's up axis, and its pitch about each hand's grip axis (the line through
        # its two pins, horizontal, at the wrist's yaw: (-sin, cos, 0)).
        ux = 2 * (qx * qz + qw * qy)
        uy = 2 * (qy * qz - qw * qx)
        uz = 1 - 2 * (qx * qx + qy * qy)
        limit = self.torque_limit
        for seat, (c, s) in zip(self.holders, self._axes, strict=True):
            pitch = math.atan2(ux * c + uy * s, uz)
            torque = -(PITCH_STIFFNESS * pitch + PITCH_DAMPING * (wy * c - wx * s))
            torque = min(limit, max(-limit, torque))
            applied = (-torque * s, torque * c, 0.0)
            self.pitch_torque[seat] = applied
            # The reaction goes to the carrier, whose joints cannot turn about this axis: its
            # fixed base takes it, so it needs no force of its own in the simulation.
            pb.applyExternalTorque(obj, -1, applied, pb.WORLD_FRAME, physicsClientId=cid)
