"""The grip forces add up: every step, the carriers' forces on the object equal m (g + a).

The object touches nothing but the two grips while it is carried, so Newton's second law
over one env step says the grips' mean vertical force is ``m * (g + a_z)`` and their
horizontal force ``m * a_xy``, where ``a`` is the object's velocity change over the step
divided by the step's duration. The forces are checked within 2% of the object's weight, on
every route and object, in both roles, while the learner's lift moves.
"""

import math

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents.carry_baselines import AdmittanceFollower
from palaestra.envs.carry.sim import CONTROL_DT, GRAVITY

TOLERANCE = 0.02  # of the object's weight


def _worst_imbalance(obj: str, route: str, role: str, lift: str, steps: int = 200):
    env = gym.make("palaestra/Carry-v0", task={"object": obj, "route": route, "role": role})
    obs, _ = env.reset(seed=3)
    sim = env.unwrapped._episode.sim
    weight = sim.spec.mass * sim.mass_scale * GRAVITY
    mass = weight / GRAVITY
    agent = AdmittanceFollower()
    before = np.array(sim.obj_vel)
    worst_z = worst_xy = 0.0
    checked = 0
    for t in range(steps):
        action = agent.act(obs)
        # The case that under-read the load: the learner's own lift moving.
        action[2] = 0.4 if lift == "raise" else math.sin(0.15 * t)
        obs, _, terminated, truncated, _ = env.step(action)
        after = np.array(sim.obj_vel)
        accel = (after - before) / CONTROL_DT
        before = after
        total = np.add(sim.grip_force[0], sim.grip_force[1])
        worst_z = max(worst_z, abs(total[2] - mass * (GRAVITY + accel[2])) / weight)
        worst_xy = max(worst_xy, float(np.hypot(*(total[:2] - mass * accel[:2]))) / weight)
        checked += 1
        if terminated or truncated:
            break
    env.close()
    return checked, worst_z, worst_xy


@pytest.mark.parametrize("route", ["straight", "turn", "slope"])
@pytest.mark.parametrize("obj", ["box", "table", "stretcher"])
def test_grip_forces_sum_to_mass_times_gravity_plus_acceleration(obj, route):
    for role, lift in (("follower", "raise"), ("leader", "wave")):
        checked, worst_z, worst_xy = _worst_imbalance(obj, route, role, lift)
        assert checked >= 150, f"{obj}/{route}/{role}: episode ended after {checked} steps"
        assert worst_z < TOLERANCE, f"{obj}/{route}/{role}: vertical off by {worst_z:.1%}"
        assert worst_xy < TOLERANCE, f"{obj}/{route}/{role}: horizontal off by {worst_xy:.1%}"


def test_a_level_object_shares_its_weight_by_statics():
    """Carried level, each pin carries half of the symmetric box's weight."""
    env = gym.make("palaestra/Carry-v0", task={"object": "box"})
    env.reset(seed=0)
    sim = env.unwrapped._episode.sim
    for _ in range(100):
        env.step(np.zeros(3, np.float32))
    weight = sim.spec.mass * GRAVITY
    shares = [sim.grip_force[seat][2] / weight for seat in (0, 1)]
    env.close()
    assert shares == pytest.approx([0.5, 0.5], abs=0.02)
