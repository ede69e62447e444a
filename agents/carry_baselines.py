"""Scripted carriers for the carry envs: an admittance follower and a passive carrier.

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

__all__ = ["AdmittanceFollower", "PassiveCarrier"]

# The layout module does not import pybullet, so neither does this one.
_FORCE_X, _FORCE_Y = OBS_INDEX["grip_force_x"], OBS_INDEX["grip_force_y"]
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


class PassiveCarrier:
    """A carrier that holds its handle and never moves (action zero)."""

    def reset(self, seed: int | None = None) -> None:
        """Nothing to forget (``seed`` unused)."""

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> np.ndarray:
        """Return the zero action."""
        return np.zeros(3, dtype=np.float32)
