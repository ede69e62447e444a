"""What a carrier sees and commands, importable without pybullet.

The observation layout and the scales that give its entries and the actions their units,
for agents and tools that read ``palaestra/Carry-v0`` observations without making an env
(scripted baselines, plotting, analysis). The env modules import these names from here.

Glossary:
    carrier frame: x points from the carrier towards the object, y to its left, z up.
    observation: a flat ``float32`` vector of the entries :data:`OBS_NAMES` names, in order;
        :data:`OBS_INDEX` maps each name to its index.
    action: ``(walk x, walk y, lift)`` in [-1, 1], in the carrier frame; a walking action
        of 1 commands :data:`MAX_WALK_SPEED`, a lift action of 1 :data:`MAX_LIFT_SPEED`.
"""

from __future__ import annotations

__all__ = [
    "CONTROL_DT",
    "CONTROL_HZ",
    "FORCE_SCALE",
    "MAX_LIFT_SPEED",
    "MAX_WALK_SPEED",
    "OBS_DIM",
    "OBS_INDEX",
    "OBS_NAMES",
    "TORQUE_SCALE",
]

CONTROL_HZ = 50
"""Env steps per simulated second."""
CONTROL_DT = 1.0 / CONTROL_HZ
"""Simulated seconds per env step."""
MAX_WALK_SPEED = 1.0
"""Walking speed commanded by a planar action of 1, m/s."""
MAX_LIFT_SPEED = 0.3
"""Lift speed commanded by a lift action of 1, m/s."""
FORCE_SCALE = 100.0
"""Grip forces are observed in units of this many newtons."""
TORQUE_SCALE = 10.0
"""Grip torques are observed in units of this many newton-metres."""

OBS_NAMES: tuple[str, ...] = (
    "base_vel_x", "base_vel_y", "lift_height", "lift_vel",
    "grip_force_x", "grip_force_y", "grip_force_z",
    "grip_torque_x", "grip_torque_y", "grip_torque_z",
    "object_roll", "object_pitch",
    "prev_action_x", "prev_action_y", "prev_action_lift",
    "role", "goal_dir_x", "goal_dir_y", "goal_distance",
)  # fmt: skip
"""The entries of a carrier's observation vector, in order (see the env's documentation
for their units: forces in :data:`FORCE_SCALE`, torques in :data:`TORQUE_SCALE`)."""
OBS_INDEX: dict[str, int] = {name: i for i, name in enumerate(OBS_NAMES)}
"""The index of each observation entry by name."""
OBS_DIM = len(OBS_NAMES)
"""The length of a carrier's observation vector."""
