"""The scripted carriers against the scripted human partner on Carry-v0."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import AdmittanceFollower, Agent, PassiveCarrier

EASY = {"object": "box", "route": "straight", "route_length": 3.0, "role": "follower"}


def _episode(agent, seed, task):
    env = gym.make("palaestra/Carry-v0")
    try:
        obs, _ = env.reset(seed=seed, options={"task": task})
        agent.reset()
        while True:
            obs, _, terminated, truncated, info = env.step(agent.act(obs))
            if terminated or truncated:
                return info
    finally:
        env.close()


def test_agents_share_the_interface():
    assert isinstance(AdmittanceFollower(), Agent)
    assert isinstance(PassiveCarrier(), Agent)


def test_admittance_follower_succeeds_and_spares_the_partner():
    seeds = range(10)
    follower = [_episode(AdmittanceFollower(), s, EASY) for s in seeds]
    passive = [_episode(PassiveCarrier(), s, EASY) for s in seeds]
    assert sum(info["success"] for info in follower) >= 8
    for f, p in zip(follower, passive, strict=True):
        assert f["partner_effort"] < p["partner_effort"]
    # The human partner alone cannot bring the object to the goal.
    assert not any(info["success"] for info in passive)
    assert all(info["displacement"] < 0.5 for info in passive)


@pytest.mark.parametrize(
    "task",
    [
        {"object": "table", "route": "turn", "turn_angle_deg": 60.0},
        {"object": "stretcher", "route": "slope", "slope_deg": 6.0},
        {"object": "box", "role": "leader"},
    ],
)
def test_admittance_follower_handles_other_tasks(task):
    info = _episode(AdmittanceFollower(), 0, task)
    assert info["success"], info
    passive = _episode(PassiveCarrier(), 0, task)
    assert not passive["success"]


def test_admittance_levels_the_object_on_a_slope():
    # The partner keeps its hands at its own height above the ramp; the follower's lift
    # compensates, so the object stays nearly level, unlike with a passive carrier.
    task = {"object": "box", "route": "slope", "slope_deg": 8.0, "route_length": 5.0}
    follower = _episode(AdmittanceFollower(), 0, task)
    no_levelling = _episode(AdmittanceFollower(level_gain=0.0), 0, task)
    assert follower["success"]
    assert follower["max_tilt_deg"] < 0.5 * no_levelling["max_tilt_deg"]


def test_passive_carrier_never_moves():
    agent = PassiveCarrier()
    obs = np.ones(19, np.float32)
    assert np.array_equal(agent.act(obs), np.zeros(3, np.float32))


def test_admittance_follower_walks_along_the_felt_force():
    agent = AdmittanceFollower()
    obs = np.zeros(19, np.float32)
    obs[15] = -1.0  # follower
    obs[4], obs[5] = 0.3, -0.2  # felt force (units of 100 N) forward and to the right
    action = agent.act(obs)
    assert action[0] > 0 and action[1] < 0
    assert abs(action[0]) > abs(action[1])
    obs[11] = 0.1  # the far end is lower: lower own end
    assert agent.act(obs)[2] < 0
    with pytest.raises(ValueError, match="positive"):
        AdmittanceFollower(damping=0.0)


def test_partner_effort_has_a_floor_at_half_the_weight():
    # Level carrying puts half the weight on each pair of hands: the partner's mean force
    # cannot fall much below it, whatever the follower does; the horizontal part can.
    from palaestra.envs.carry.objects import OBJECTS

    half_weight = OBJECTS["box"].mass * 9.81 / 2
    follower = _episode(AdmittanceFollower(), 0, EASY)
    passive = _episode(PassiveCarrier(), 0, EASY)
    assert follower["partner_effort"] >= 0.95 * half_weight
    assert follower["partner_horizontal_force"] < 0.5 * half_weight
    assert passive["partner_horizontal_force"] > 2 * half_weight
    assert follower["partner_effort"] ** 2 >= follower["partner_horizontal_force"] ** 2
