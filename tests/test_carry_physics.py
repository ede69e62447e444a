"""Physics sanity of the carry world: statics, and the sign of forces and tilt under motion.

Uses the PettingZoo env with both carriers learning, so each carrier is driven directly.
Observation entries (carrier frame: x towards the object): 4-6 felt force / 100 N,
11 pitch (far end lower > 0), 15 role.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from palaestra.envs.carry import CarryParallelEnv
from palaestra.envs.carry.objects import OBJECTS

FORCE_X, FORCE_Y, FORCE_Z, PITCH = 4, 5, 6, 11
G = 9.81


def _run(env, actions, steps):
    obs = None
    for _ in range(steps):
        obs, *_ = env.step(actions)
    return obs


@pytest.fixture
def pz():
    env = CarryParallelEnv()
    yield env
    env.close()


def _hold():
    return {a: np.zeros(3, np.float32) for a in ("carrier_0", "carrier_1")}


@pytest.mark.parametrize("kind", ["box", "table", "stretcher"])
@pytest.mark.parametrize("mass_scale", [1.0, 2.0])
def test_object_stays_level_and_weight_is_shared_while_holding_still(pz, kind, mass_scale):
    pz.reset(seed=0, options={"task": {"object": kind, "mass_scale": mass_scale}})
    start_z = pz.episode_state.object_position[2]
    max_tilt = 0.0
    for _ in range(500):  # 10 s
        obs, *_ = pz.step(_hold())
        max_tilt = max(max_tilt, pz.episode_state.tilt_deg)
    assert max_tilt < 2.0
    assert abs(pz.episode_state.object_position[2] - start_z) < 0.02
    # The hands carry the whole weight between them (felt force points down).
    felt_z = [obs[a][FORCE_Z] * 100.0 for a in obs]
    weight = OBJECTS[kind].mass * mass_scale * G
    assert all(f < 0 for f in felt_z)
    assert sum(felt_z) == pytest.approx(-weight, rel=0.05)
    # and each carrier roughly half of it (handles symmetric about the centre of mass).
    assert felt_z[0] == pytest.approx(felt_z[1], rel=0.15)


def test_pushing_compresses_and_pulling_stretches_the_object(pz):
    for direction, sign in ((1.0, -1.0), (-1.0, 1.0)):
        pz.reset(seed=0)
        actions = _hold()
        actions["carrier_0"] = np.array([direction, 0.0, 0.0], np.float32)
        obs = _run(pz, actions, 10)
        # Walking towards the object (x > 0) squeezes it: both hands are pushed away from
        # the object (felt x < 0); walking away stretches it: both are pulled (felt x > 0).
        for agent in ("carrier_0", "carrier_1"):
            assert sign * obs[agent][FORCE_X] * 100.0 > 20.0, (direction, agent)


def test_force_grows_with_the_speed_of_the_push(pz):
    felt = []
    for speed in (0.2, 0.6):
        pz.reset(seed=0)
        actions = _hold()
        actions["carrier_0"] = np.array([speed, 0.0, 0.0], np.float32)
        obs = _run(pz, actions, 5)
        felt.append(-obs["carrier_1"][FORCE_X])
    assert felt[1] > felt[0] > 0


def test_sideways_push_is_felt_sideways_and_turns_the_object(pz):
    pz.reset(seed=0)
    actions = _hold()
    actions["carrier_0"] = np.array([0.0, 1.0, 0.0], np.float32)  # to its left
    obs = _run(pz, actions, 10)
    # The object holds the hand back: the felt force points to the carrier's right.
    # (little force: the partner's free wrist lets the object swing about its grip)
    assert obs["carrier_0"][FORCE_Y] * 100.0 < -2.0
    # carrier_0 holds the back handle facing +x; moving its end to +y turns the object
    # clockwise seen from above (negative yaw).
    qx, qy, qz, qw = pz.episode_state.object_orientation
    yaw = math.atan2(2 * (qw * qz + qx * qy), 1 - 2 * (qy * qy + qz * qz))
    assert yaw < -math.radians(2)


def test_lifting_one_end_tilts_the_object_the_right_way(pz):
    pz.reset(seed=0)
    actions = _hold()
    actions["carrier_1"] = np.array([0.0, 0.0, 1.0], np.float32)  # carrier_1 lifts
    before = pz.episode_state.carrier("carrier_1").lift_height
    obs = _run(pz, actions, 25)  # 0.5 s at 0.3 m/s: about 0.15 m
    after = pz.episode_state.carrier("carrier_1").lift_height
    assert after - before == pytest.approx(0.15, abs=0.03)
    # The lifter's far end is now lower than its own end: positive pitch for it, negative
    # for the other carrier, and the tilt matches the height difference over the handles.
    assert obs["carrier_1"][PITCH] > 0.05
    assert obs["carrier_0"][PITCH] < -0.05
    span = 2 * OBJECTS["box"].handle_x
    expected = math.degrees(math.asin((after - before) / span))
    assert pz.episode_state.tilt_deg == pytest.approx(expected, abs=1.5)
    # Lowering it back levels the object again.
    actions["carrier_1"] = np.array([0.0, 0.0, -1.0], np.float32)
    _run(pz, actions, 25)
    assert pz.episode_state.tilt_deg < 1.0


def test_tilting_too_far_drops_the_object(pz):
    pz.reset(seed=0, options={"task": {"object": "box"}})
    actions = _hold()
    actions["carrier_1"] = np.array([0.0, 0.0, 1.0], np.float32)
    actions["carrier_0"] = np.array([0.0, 0.0, -1.0], np.float32)
    for _ in range(200):
        _, _, terminated, truncated, infos = pz.step(actions)
        if terminated["carrier_0"]:
            break
    assert terminated["carrier_0"] and not truncated["carrier_0"]
    assert infos["carrier_0"]["end_reason"] in ("drop_tilt", "drop_height")
    assert infos["carrier_0"]["success"] is False
    assert infos["carrier_0"]["max_tilt_deg"] > 20.0


def test_lift_follows_the_ground_on_a_slope():
    env = CarryParallelEnv(scripted_partner="carrier_1")
    try:
        env.reset(seed=0, options={"task": {"route": "slope", "slope_deg": 8.0}})
        obs = None
        for _ in range(400):
            obs, _, terminated, truncated, _ = env.step(
                {"carrier_0": np.array([0.5, 0.0, 0.0], np.float32)}
            )
            if terminated["carrier_0"] or truncated["carrier_0"]:
                break
        carrier = env.episode_state.carrier("carrier_0")
        ground = carrier.hand_height - carrier.lift_height
        assert ground > 0.1  # the carrier has walked up the ramp
        assert carrier.lift_height == pytest.approx(0.9, abs=0.05)
        assert obs is not None
    finally:
        env.close()


def test_worlds_in_one_process_do_not_interfere():
    a, b = CarryParallelEnv(), CarryParallelEnv()
    try:
        a.reset(seed=3)
        b.reset(seed=3)
        push = _hold()
        push["carrier_0"] = np.array([1.0, 0.5, 0.3], np.float32)
        for _ in range(50):
            a.step(push)
            b.step(_hold())
        assert a.physics_client != b.physics_client
        assert b.episode_state.object_position[0] == pytest.approx(0.0, abs=1e-3)
        assert abs(a.episode_state.object_position[0]) > 0.05
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("route", ["straight", "turn", "slope"])
@pytest.mark.parametrize("kind", ["box", "table", "stretcher"])
def test_longest_routes_build_and_step(route, kind):
    # Long routes have many route marks; pybullet crashes on shape arrays of over 16.
    env = CarryParallelEnv()
    try:
        task = {"object": kind, "route": route, "route_length": 8.0, "slope_deg": 10.0}
        env.reset(seed=0, options={"task": {**task, "turn_angle_deg": -90.0}})
        obs = _run(env, _hold(), 5)
        assert all(np.isfinite(o).all() for o in obs.values())
        assert math.hypot(*env.episode_state.goal) > 4.0
    finally:
        env.close()


def test_violent_random_actions_keep_the_world_finite():
    env = CarryParallelEnv()
    rng = np.random.default_rng(0)
    try:
        for episode in range(12):
            task = env.task_space.sample(np.random.default_rng(episode))
            env.reset(seed=episode, options={"task": task})
            for _ in range(150):
                actions = {a: rng.choice([-1.0, 1.0], 3).astype(np.float32) for a in env.agents}
                obs, rewards, terminated, truncated, infos = env.step(actions)
                for agent, o in obs.items():
                    assert np.isfinite(o).all() and math.isfinite(rewards[agent])
                if any(terminated.values()) or any(truncated.values()):
                    assert all(infos[a]["end_reason"] for a in infos)
                    break
    finally:
        env.close()
