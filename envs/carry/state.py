"""A read-only snapshot of a carry episode, importable without pybullet.

``env.unwrapped.episode_state`` (both carry envs) returns a :class:`CarryState`: what the simulator
knows about the running episode, for tools that need more than the observations (demos
that record every other frame, evaluation scripts, tests). Learners and scripted carriers
should read their observations; the snapshot holds what no carrier can feel (the object's
pose in the world, the goal, the partner's hands).

World frame: x along the route's start, y to its left, z up, metres; the start of the
route is the origin.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CarrierState", "CarryState"]

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class CarrierState:
    """One carrier at the moment of the snapshot.

    Attributes:
        name: The carrier's name in the env: ``"learner"`` or ``"partner"`` in
            ``Carry-v0``; ``"carrier_0"`` or ``"carrier_1"`` in ``carry-v0`` (a scripted seat
            included).
        role: ``"leader"`` (front handle, knows the goal) or ``"follower"`` (back handle).
        scripted: Whether the scripted human proxy drives it.
        hand_position: Where its hands hold the handle, horizontally (x, y), m.
        hand_height: The height of its hands in the world, m.
        lift_height: The height of its hands above the ground under them, m (0.9 at the
            start); ``hand_height - lift_height`` is the ground's height there.
        applied_force: The force its hands apply to the object (world frame), N; its
            observation's grip force is the opposite, in its own frame and units.
    """

    name: str
    role: str
    scripted: bool
    hand_position: Vec2
    hand_height: float
    lift_height: float
    applied_force: Vec3


@dataclass(frozen=True)
class CarryState:
    """The state of a carry episode after its last reset or step (a copy: it never changes).

    Attributes:
        steps: Env steps taken in this episode.
        time_s: Simulated seconds since the reset (``steps`` times 0.02 s).
        done: Whether the episode has ended (a further step raises ``ResetNeeded``).
        end_reason: ``""`` while running, then as in the last info: ``success``,
            ``drop_tilt``, ``drop_height``, ``grip_overload`` or ``time_limit``.
        object_position: The object's centre of mass (x, y, z), m.
        object_orientation: The object's orientation as a quaternion (x, y, z, w).
        object_velocity: The object's linear velocity (x, y, z), m/s.
        tilt_deg: The angle between the object's up axis and the vertical, degrees (more
            than 30 drops it).
        progress: How far the object's centre has come along the route, m.
        goal: The goal (x, y): the object's centre must come within 0.25 m of it.
        goal_distance: The horizontal distance from the object's centre to the goal, m.
        carriers: Both carriers, in the order of their names (learner first in
            ``Carry-v0``, ``carrier_0`` first in ``carry-v0``).
    """

    steps: int
    time_s: float
    done: bool
    end_reason: str
    object_position: Vec3
    object_orientation: tuple[float, float, float, float]
    object_velocity: Vec3
    tilt_deg: float
    progress: float
    goal: Vec2
    goal_distance: float
    carriers: tuple[CarrierState, ...]

    def carrier(self, name: str) -> CarrierState:
        """The carrier called ``name``; ``ValueError`` naming the carriers if none is."""
        for carrier in self.carriers:
            if carrier.name == name:
                return carrier
        names = [c.name for c in self.carriers]
        raise ValueError(f"unknown carrier {name!r}; carriers are {names}")
