"""Scripted carriers for the carry envs: admittance followers and a passive carrier.

Both read only the observation vector of ``palaestra/Carry-v0`` (proprioception), laid out
as :mod:`palaestra.envs.carry.layout` says, so they play wherever a learned policy would and
give reference points for it. They follow the agent interface
(:mod:`palaestra.agents.base`): ``act(observation, info=None)`` and ``reset(seed=None)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from palaestra.envs.carry.layout import CONTROL_DT, FORCE_SCALE, MAX_WALK_SPEED, OBS_INDEX

__all__ = ["AdmittanceFollower", "LoadTakingFollower", "PassiveCarrier"]

# The layout module does not import pybullet, so neither does this one.
_FORCE_X, _FORCE_Y = OBS_INDEX["grip_force_x"], OBS_INDEX["grip_force_y"]
_FORCE_Z = OBS_INDEX["grip_force_z"]
_PITCH = OBS_INDEX["object_pitch"]
_PREV_X, _PREV_Y = OBS_INDEX["prev_action_x"], OBS_INDEX["prev_action_y"]
_ROLE = OBS_INDEX["role"]
_GOAL_X, _GOAL_Y = OBS_INDEX["goal_dir_x"], OBS_INDEX["goal_dir_y"]
_GOAL_DIST = OBS_INDEX["goal_distance"]


class AdmittanceFollower:
    """The classic compliant follower: a virtual mass-damper driven by the felt force.

    Admittance control: the walking velocity ``v`` obeys ``mass * dv/dt + damping * v = f``
    for the felt horizontal force ``f`` (less a small deadband), so it walks at
    ``f / damping`` in steady state: pulled, it goes along; pushed, it gives way. The
    velocity state is the previous action, which is part of the observation, so the agent
    itself keeps no memory. The lift moves to keep the object level (down when its own end
    is higher). In the leader role it walks straight towards the goal it is told about,
    slowing down within a metre of it, and leaves the compliance to its partner.

    Args:
        damping: Felt force per unit of steady walking speed, N/(m/s). Lower is more
            compliant.
        mass: Virtual mass, kg; with the control period it sets how fast the walking
            velocity follows the force (heavier is smoother, lighter is quicker).
        deadband: Felt force below which it is ignored, N.
        level_gain: Lift action per radian of pitch.
        lead_speed: Walking speed towards the goal when leading, m/s.
        max_speed: Fastest commanded walking speed, m/s (an action of 1 is 1 m/s).
    """

    def __init__(
        self,
        damping: float = 40.0,
        mass: float = 20.0,
        deadband: float = 3.0,
        level_gain: float = 4.0,
        lead_speed: float = 0.5,
        max_speed: float = 1.0,
    ) -> None:
        if damping <= 0 or mass <= 0:
            raise ValueError(f"damping and mass must be positive, got {damping} and {mass}")
        self.damping = damping
        self.mass = mass
        self.deadband = deadband
        self.level_gain = level_gain
        self.lead_speed = lead_speed
        self.max_speed = max_speed

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget: the follower is memoryless and deterministic (``seed`` unused)."""

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Return the action for a ``Carry-v0`` observation (``info`` is not needed)."""
        obs = np.asarray(observation, dtype=np.float64)
        fx = obs[_FORCE_X] * FORCE_SCALE
        fy = obs[_FORCE_Y] * FORCE_SCALE
        magnitude = math.hypot(fx, fy)
        if magnitude > self.deadband:
            scale = (magnitude - self.deadband) / magnitude
            fx, fy = fx * scale, fy * scale
        else:
            fx = fy = 0.0
        # The previous action is the walking velocity of the last step (1 = MAX_WALK_SPEED m/s).
        vx, vy = obs[_PREV_X] * MAX_WALK_SPEED, obs[_PREV_Y] * MAX_WALK_SPEED
        if obs[_ROLE] > 0:
            # Leading: walk towards the goal, slowing down within a metre of it.
            speed = min(self.lead_speed, self.lead_speed * obs[_GOAL_DIST])
            vx, vy = speed * obs[_GOAL_X], speed * obs[_GOAL_Y]
        else:
            step = CONTROL_DT / self.mass
            vx += step * (fx - self.damping * vx)
            vy += step * (fy - self.damping * vy)
        speed = math.hypot(vx, vy)
        if speed > self.max_speed:
            vx, vy = vx * self.max_speed / speed, vy * self.max_speed / speed
        lift = -self.level_gain * obs[_PITCH]
        return np.clip(
            np.array([vx / MAX_WALK_SPEED, vy / MAX_WALK_SPEED, lift], np.float32), -1.0, 1.0
        )


class LoadTakingFollower(AdmittanceFollower):
    """An admittance follower that also takes a chosen share of the object's weight.

    The classical reference for the ``partner_load="compliant"`` task, where the partner holds
    its handle through a vertical spring and the learner's grip passes pitch torque: holding
    its end higher takes load off the partner. It walks as :class:`AdmittanceFollower` does
    (or leads the same way), and drives its lift by a proportional force loop on the
    vertical force it carries, ``lift = force_gain * (share * W - F_z)`` (in lift actions, 1
    = 0.3 m/s; ``F_z`` low-pass filtered over ``force_filter_s``), so that it carries
    ``share`` of the weight ``W`` and its partner the rest,
    within the grip's torque limit (beyond it the shortfall stays with the partner). ``W``
    is given, or estimated at the first step of each episode as twice the vertical force
    then felt (the reset observation reads no force yet; the first step's does): the object
    starts level and at rest, so each pin carries half of it.

    On the default ``rigid`` task statics fix each carrier's share at one half, so a share
    other than 0.5 only tilts the object: use :class:`AdmittanceFollower` there.

    Args:
        share: Share of the weight to carry, in [0, 1] (0.5 is the static split).
        force_gain: Lift action per newton of shortfall, at least 0.
        force_filter_s: Time constant of the low-pass filter on the carried force, s.
        weight: The object's weight, N; ``None`` estimates it at each episode's start.
        **admittance: The walking parameters of :class:`AdmittanceFollower` (``damping``,
            ``mass``, ``deadband``, ``lead_speed``, ``max_speed``); its ``level_gain`` is
            not used (the force loop sets the lift).

    Raises:
        ValueError: for a share outside [0, 1], a negative or non-finite gain, or a weight
            that is not a positive finite number.
    """

    def __init__(
        self,
        share: float = 0.75,
        force_gain: float = 0.04,
        force_filter_s: float = 0.2,
        weight: float | None = None,
        **admittance: float,
    ) -> None:
        super().__init__(**admittance)
        if isinstance(share, bool) or not (0.0 <= float(share) <= 1.0):
            raise ValueError(f"share must be a number in [0, 1], got {share!r}")
        if not (math.isfinite(float(force_gain)) and force_gain >= 0.0):
            raise ValueError(f"force_gain must be a finite number >= 0, got {force_gain!r}")
        if weight is not None and not (math.isfinite(float(weight)) and weight > 0.0):
            raise ValueError(f"weight must be a positive finite number of N, got {weight!r}")
        if not (math.isfinite(float(force_filter_s)) and force_filter_s >= 0.0):
            raise ValueError(
                f"force_filter_s must be a finite number of s >= 0, got {force_filter_s!r}"
            )
        self.share = float(share)
        self.force_filter_s = float(force_filter_s)
        self._alpha = CONTROL_DT / (CONTROL_DT + self.force_filter_s)
        self._filtered: float | None = None
        self.force_gain = float(force_gain)
        self.weight = weight
        self._weight = weight

    def reset(self, seed: int | None = None) -> None:
        """Forget the weight estimate of the last episode (``seed`` unused)."""
        self._weight = self.weight
        self._filtered = None

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Return the action for a ``Carry-v0`` observation (``info`` is not needed)."""
        action = super().act(observation, info)
        # The hand feels the opposite of what it applies: the carried force is -felt.
        carried = -float(observation[_FORCE_Z]) * FORCE_SCALE
        if self._weight is None:
            # The reset observation reads no grip force yet (no physics step has run); the
            # first step's reading, from rest, is half the weight.
            if carried <= 0.0:
                action[2] = np.float32(0.0)
                return action
            self._weight = 2.0 * carried
        if self._filtered is None:
            self._filtered = carried
        # Filtered: moving the hand accelerates the object at once, and a loop on the raw
        # force would chase that inertial part from step to step.
        self._filtered += self._alpha * (carried - self._filtered)
        error = self.share * self._weight - self._filtered
        action[2] = np.float32(max(-1.0, min(1.0, self.force_gain * error)))
        return action


class PassiveCarrier:
    """A carrier that holds its handle and never moves (action zero)."""

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget (``seed`` unused)."""

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Return the zero action."""
        return np.zeros(3, dtype=np.float32)
