"""The pybullet world of the carry task: floor, ramp, carried object and two carriers.

Each :class:`CarrySim` owns one pybullet physics client in ``DIRECT`` mode (or ``GUI`` when
asked for a window), and passes ``physicsClientId`` on every call, so any number of worlds
live side by side in one process without interfering.

Timing:
    The controller acts at :data:`CONTROL_HZ` (50 Hz, one env step = 0.02 s). Each env step
    runs :data:`SUBSTEPS` (3) physics steps of :data:`PHYSICS_DT` (6.7 ms, 150 Hz).

A carrier is a mobile base with a vertical lift, modelled as one articulated body:

* ``legs_x``, ``legs_y`` (prismatic, velocity-controlled): where the carrier walks. The
  commanded planar velocity is tracked with at most ``strength`` newtons, so a carrier that
  stands still resists a push up to that force and then gives way.
* ``arm_x``, ``arm_y`` (prismatic, passive): the compliant arms between legs and hands, a
  damper of ``arm_damping`` N s/m over a reach of +-``reach`` m. The force the arms pass on
  is therefore ``arm_damping`` times the mismatch between the walking velocity and the
  hands' velocity, until the reach is used up.
* ``lift`` (prismatic, velocity-controlled, at most ``lift_force`` N): the hands' height.
  It follows the ground under the carrier, so "lift height" is measured above the ground.
* ``wrist`` (revolute about the vertical, free): lets the carried object turn.

The hands hold the object's handle at two points ``grip_half_width`` either side of its long
axis (two point-to-point constraints), so the grip passes forces and the rolling torque and
leaves pitch and yaw free. The constraint forces are the grip's force/torque sensor.

Copies:
    ``copy.deepcopy`` and pickling give a world of its own: the copy connects a new
    ``DIRECT`` client, rebuilds the same scene and restores the bodies' positions and
    velocities from a ``saveBullet`` snapshot, so it steps independently of the original
    (a copy of a ``gui=True`` world is headless). Closing or collecting one never touches
    the other's client.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from typing import Any

import numpy as np
import pybullet as pb

from palaestra.envs.carry.compliance import CompliantLoad
from palaestra.envs.carry.layout import CONTROL_DT, CONTROL_HZ
from palaestra.envs.carry.objects import ObjectSpec
from palaestra.envs.carry.route import Route
from palaestra.envs.carry.scene import (
    HUMAN,
    LEGS_X,
    LEGS_Y,
    LIFT,
    NOMINAL_HEIGHT,
    ROBOT,
    WRIST,
    CarrierParams,
    build_carrier,
    build_ground,
    build_markers,
    build_object,
)

__all__ = [
    "CONTROL_DT",
    "CONTROL_HZ",
    "HUMAN",
    "LIFT_RANGE",
    "NOMINAL_HEIGHT",
    "PHYSICS_DT",
    "ROBOT",
    "SUBSTEPS",
    "CarrierParams",
    "CarrySim",
]

SUBSTEPS = 3
"""Physics steps per env step."""
PHYSICS_DT = CONTROL_DT / SUBSTEPS
LIFT_RANGE = (0.6, 1.25)
"""Lowest and highest hand height above the ground, m."""
GRAVITY = 9.81
_SOLVER_ITERATIONS = 10
_WINDUP = 0.05
_POSITION_GAINS = (0.2, 0.2, 0.2)
_VELOCITY_GAINS = (1.0, 1.0, 1.0)
_ALL_JOINTS = (0, 1, 2, 3, 4, 5)
_SERVO_JOINTS = (LEGS_X, LEGS_Y, LIFT)


class CarrySim:
    """One physics world. Seat 0 holds the back handle, seat 1 the front handle.

    Args:
        gui: Open pybullet's window instead of running headless (needs a display).

    After :meth:`step`, the state of the world is available as plain attributes (lists
    indexed by seat, world frame, SI units): ``body_xy``, ``body_vel``, ``hand_z``,
    ``lift_height``, ``lift_vel``, ``wrist_yaw``, ``grip_force`` (force each carrier applies
    to the object), ``grip_torque`` (torque each carrier applies about its grip centre),
    ``obj_pos``, ``obj_quat`` (x, y, z, w), ``obj_vel``.
    """

    def __init__(self, gui: bool = False) -> None:
        self.client = _connect(gui)
        self.gui = gui
        self.route: Route | None = None
        self.spec: ObjectSpec | None = None
        self.mass_scale = 1.0
        self.load: CompliantLoad | None = None
        self.params: tuple[CarrierParams, CarrierParams] = (ROBOT, HUMAN)
        self._closed = False

    # ----------------------------------------------------------------------------- building
    def build(
        self,
        spec: ObjectSpec,
        mass_scale: float,
        route: Route,
        params: tuple[CarrierParams, CarrierParams],
        load: CompliantLoad | None = None,
    ) -> None:
        """Clear the world and build the scene of one episode, at rest.

        ``load`` is the ``compliant`` load model (:mod:`palaestra.envs.carry.compliance`);
        ``None`` is the ``rigid`` one.
        """
        cid = self.client
        pb.resetSimulation(physicsClientId=cid)
        pb.setGravity(0, 0, -GRAVITY, physicsClientId=cid)
        pb.setPhysicsEngineParameter(
            fixedTimeStep=PHYSICS_DT,
            numSubSteps=0,
            numSolverIterations=_SOLVER_ITERATIONS,
            deterministicOverlappingPairs=1,
            physicsClientId=cid,
        )
        self.route, self.spec, self.params = route, spec, params
        self.mass_scale = mass_scale
        self.load = load
        build_ground(cid, route)
        self.obj = build_object(cid, spec, mass_scale)
        self.carriers = []
        self._constraints: list[tuple[int, int]] = []
        for seat, sign in enumerate((-1.0, 1.0)):
            hand = (sign * spec.handle_x, 0.0)
            body = build_carrier(cid, hand, params[seat])
            pair = tuple(
                pb.createConstraint(
                    body,
                    WRIST,
                    self.obj,
                    -1,
                    pb.JOINT_POINT2POINT,
                    (0, 0, 0),
                    (0, dy, 0),
                    (sign * spec.handle_x, dy, spec.handle_z),
                    physicsClientId=cid,
                )
                for dy in (-spec.grip_half_width, spec.grip_half_width)
            )
            self.carriers.append(body)
            self._constraints.append(pair)  # type: ignore[arg-type]
        self._origin = [(-spec.handle_x, 0.0), (spec.handle_x, 0.0)]
        self._targets = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        self._setpoints = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        self._actuated = [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
        self._motor_forces = [[p.strength, p.strength, p.lift_force] for p in params]
        build_markers(cid, route)
        self._lift_servo = [load is None or seat not in load.springs for seat in (0, 1)]
        if load is not None:
            load.attach(self, LIFT)
        self.read()

    # ----------------------------------------------------------------------------- stepping
    def command(self, seat: int, vx: float, vy: float, lift: float) -> None:
        """Set a carrier's walking velocity (world frame, m/s) and lift velocity (m/s).

        The lift velocity is relative to the ground: the lift also follows the ground under
        the carrier, and stops at the ends of :data:`LIFT_RANGE`.
        """
        target = self._targets[seat]
        target[0] = vx
        target[1] = vy
        height = self.lift_height[seat]
        if (height >= LIFT_RANGE[1] and lift > 0.0) or (height <= LIFT_RANGE[0] and lift < 0.0):
            lift = 0.0
        route = self.route
        if route.grade:  # type: ignore[union-attr]
            lift += route.height_slope(self.body_xy[seat][0]) * self.body_vel[seat][0]  # type: ignore[union-attr]
        target[2] = lift

    def step(self) -> None:
        """Advance one env step (:data:`SUBSTEPS` physics steps) and read the new state."""
        cid = self.client
        control = pb.setJointMotorControlArray
        for seat, body in enumerate(self.carriers):
            # Position servo on a set-point that integrates the commanded velocity; the
            # set-point stays within _WINDUP of the joint, so a carrier overpowered by a
            # push gives way instead of springing back later.
            velocity = self._targets[seat]
            setpoint = self._setpoints[seat]
            actual = self._actuated[seat]
            for i in range(3):
                value = setpoint[i] + velocity[i] * CONTROL_DT
                setpoint[i] = min(actual[i] + _WINDUP, max(actual[i] - _WINDUP, value))
            # A compliant partner's lift is a spring (applied every substep), not a servo.
            n = 3 if self._lift_servo[seat] else 2
            control(
                body,
                _SERVO_JOINTS[:n],
                pb.POSITION_CONTROL,
                targetPositions=setpoint[:n],
                targetVelocities=velocity[:n],
                forces=self._motor_forces[seat][:n],
                positionGains=_POSITION_GAINS[:n],
                velocityGains=_VELOCITY_GAINS[:n],
                physicsClientId=cid,
            )
        # The grip forces are the mean of the constraint forces over the substeps: the force
        # after the last substep alone is one sample of a force that changes within the
        # step (while a lift moves it under-reports the load by up to 15%), whereas the mean
        # is what moved the object: it sums to m * (g + a) over the step.
        step = pb.stepSimulation
        constraint_state = pb.getConstraintState
        constraints = [c for pair in self._constraints for c in pair]
        total = [[0.0, 0.0, 0.0] for _ in constraints]
        load = self.load
        torque = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        if load is not None:
            load.before_step(self)
        for _ in range(SUBSTEPS):
            if load is not None:
                load.before_substep(self)
                for seat in load.holders:
                    applied, acc = load.pitch_torque[seat], torque[seat]
                    acc[0] += applied[0]
                    acc[1] += applied[1]
            step(physicsClientId=cid)
            for acc, c in zip(total, constraints, strict=True):
                f = constraint_state(c, physicsClientId=cid)
                acc[0] += f[0]
                acc[1] += f[1]
                acc[2] += f[2]
        scale = 1.0 / SUBSTEPS
        self.read([(a * scale, b * scale, c * scale) for a, b, c in total])
        if load is not None:
            # The pitch torque a holder's grip passed is part of what its sensor reads.
            for seat in load.holders:
                tx, ty, tz = self.grip_torque[seat]
                self.grip_torque[seat] = (
                    tx + torque[seat][0] * scale,
                    ty + torque[seat][1] * scale,
                    tz,
                )

    def read(self, constraint_forces: list[tuple[float, float, float]] | None = None) -> None:
        """Read the world's state into this object's attributes.

        Args:
            constraint_forces: The force of each grip constraint (seat 0's two, then seat
                1's), averaged over the last env step's substeps; ``None`` reads the
                constraint forces of the last physics step (after a reset).
        """
        cid = self.client
        height = self.route.height  # type: ignore[union-attr]
        joint_states = pb.getJointStates
        constraint_state = pb.getConstraintState
        w = self.spec.grip_half_width  # type: ignore[union-attr]
        body_xy, body_vel, hand_z, lift_height = [], [], [], []
        lift_vel, wrist_yaw, grip_force, grip_torque = [], [], [], []
        for seat, body in enumerate(self.carriers):
            legs_x, legs_y, arm_x, arm_y, lift, wrist = joint_states(
                body, _ALL_JOINTS, physicsClientId=cid
            )
            self._actuated[seat] = (legs_x[0], legs_y[0], lift[0])
            ox, oy = self._origin[seat]
            x = ox + legs_x[0] + arm_x[0]
            y = oy + legs_y[0] + arm_y[0]
            z = NOMINAL_HEIGHT + lift[0]
            body_xy.append((x, y))
            body_vel.append((legs_x[1] + arm_x[1], legs_y[1] + arm_y[1]))
            hand_z.append(z)
            lift_height.append(z - height(x))
            lift_vel.append(lift[1])
            yaw = wrist[0]
            wrist_yaw.append(yaw)
            if constraint_forces is None:
                a, b = self._constraints[seat]
                fa = constraint_state(a, physicsClientId=cid)
                fb = constraint_state(b, physicsClientId=cid)
            else:
                fa, fb = constraint_forces[2 * seat], constraint_forces[2 * seat + 1]
            grip_force.append((fa[0] + fb[0], fa[1] + fb[1], fa[2] + fb[2]))
            # Torque about the grip centre: r x (fb - fa), r = w * (the hand's y axis).
            rx, ry = -w * math.sin(yaw), w * math.cos(yaw)
            dx, dy, dz = fb[0] - fa[0], fb[1] - fa[1], fb[2] - fa[2]
            grip_torque.append((ry * dz, -rx * dz, rx * dy - ry * dx))
        self.body_xy, self.body_vel, self.hand_z, self.lift_height = (
            body_xy,
            body_vel,
            hand_z,
            lift_height,
        )
        self.lift_vel, self.wrist_yaw, self.grip_force, self.grip_torque = (
            lift_vel,
            wrist_yaw,
            grip_force,
            grip_torque,
        )
        self.obj_pos, self.obj_quat = pb.getBasePositionAndOrientation(
            self.obj, physicsClientId=cid
        )
        self.obj_vel = pb.getBaseVelocity(self.obj, physicsClientId=cid)[0]

    # ---------------------------------------------------------------------------- rendering
    def follow_camera(self) -> None:
        """Point the window's camera (``gui=True``) at the carried object."""
        x, y, z = self.obj_pos
        pb.resetDebugVisualizerCamera(
            cameraDistance=3.2,
            cameraYaw=35.0,
            cameraPitch=-30.0,
            cameraTargetPosition=(x, y, max(z - 0.4, 0.3)),
            physicsClientId=self.client,
        )

    def render(self, width: int, height: int) -> np.ndarray:
        """Render the scene with pybullet's software renderer; returns uint8 (H, W, 3)."""
        cid = self.client
        target = self.obj_pos
        view = pb.computeViewMatrixFromYawPitchRoll(
            cameraTargetPosition=(target[0], target[1], max(target[2] - 0.4, 0.3)),
            distance=3.2,
            yaw=35.0,
            pitch=-30.0,
            roll=0.0,
            upAxisIndex=2,
            physicsClientId=cid,
        )
        proj = pb.computeProjectionMatrixFOV(
            fov=55.0, aspect=width / height, nearVal=0.05, farVal=40.0, physicsClientId=cid
        )
        _, _, rgba, _, _ = pb.getCameraImage(
            width,
            height,
            view,
            proj,
            renderer=pb.ER_TINY_RENDERER,
            shadow=0,
            physicsClientId=cid,
        )
        frame = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)
        return np.ascontiguousarray(frame[:, :, :3])

    # ------------------------------------------------------------------------------ closing
    @property
    def connected(self) -> bool:
        """Whether the physics client is still open."""
        return not self._closed and pb.isConnected(physicsClientId=self.client)

    def close(self) -> None:
        """Disconnect the physics client (safe to call twice)."""
        if not self._closed:
            self._closed = True
            if pb.isConnected(physicsClientId=self.client):
                pb.disconnect(physicsClientId=self.client)

    # ------------------------------------------------------------------------------ copying
    def __getstate__(self) -> dict[str, Any]:
        """Everything but the client id, plus a snapshot of the bodies' state when built."""
        state = self.__dict__.copy()
        del state["client"]
        if self.connected and self.spec is not None:
            state["_snapshot"] = self._save_bullet()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Connect a client of this copy's own and rebuild the saved world in it."""
        snapshot = state.pop("_snapshot", None)
        self.__dict__.update(state)
        if self._closed:
            self.client = -1
            return
        self.gui = False
        self.client = _connect(False)
        if snapshot is None or self.spec is None or self.route is None:
            return
        # Rebuild the scene in the same order (so body and constraint ids match), restore
        # positions and velocities, then the controller's memory and the last readings.
        keep = {k: state[k] for k in _CONTROLLER_STATE + _READINGS if k in state}
        self.build(self.spec, self.mass_scale, self.route, self.params, self.load)
        self._restore_bullet(snapshot)
        self.__dict__.update({k: _copy_nested(v) for k, v in keep.items()})

    def _save_bullet(self) -> bytes:
        fd, path = tempfile.mkstemp(suffix=".bullet", prefix="palaestra-carry-")
        os.close(fd)
        try:
            pb.saveBullet(path, physicsClientId=self.client)
            with open(path, "rb") as f:
                return f.read()
        finally:
            os.unlink(path)

    def _restore_bullet(self, snapshot: bytes) -> None:
        fd, path = tempfile.mkstemp(suffix=".bullet", prefix="palaestra-carry-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(snapshot)
            pb.restoreState(fileName=path, physicsClientId=self.client)
        finally:
            os.unlink(path)

    def __del__(self) -> None:
        # At interpreter shutdown pybullet may already be gone; nothing is left to release.
        with contextlib.suppress(Exception):
            self.close()


_CONTROLLER_STATE = ("_targets", "_setpoints", "_actuated", "_motor_forces")
_READINGS = (
    "body_xy",
    "body_vel",
    "hand_z",
    "lift_height",
    "lift_vel",
    "wrist_yaw",
    "grip_force",
    "grip_torque",
    "obj_pos",
    "obj_quat",
    "obj_vel",
)


def _copy_nested(value: Any) -> Any:
    """A copy of nested lists (tuples are immutable and shared as they are)."""
    return [_copy_nested(v) for v in value] if isinstance(value, list) else value


def _connect(gui: bool) -> int:
    client = pb.connect(pb.GUI if gui else pb.DIRECT)
    if client < 0:
        raise RuntimeError("pybullet could not open a physics client")
    return client
