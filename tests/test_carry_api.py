"""The environment contract of ``palaestra/Carry-v0`` (Gymnasium) and ``palaestra/carry-v0``
(PettingZoo Parallel): API checkers, determinism, resource release, task plumbing,
episode-end metrics and fresh arrays (bad input and clipping: test_carry_input.py).

Expected values come from the documented contract (the env docstrings and DESIGN.md), never
from running the code: the observation layout (19 entries, previous action at 12:15, role
flag at 15, goal direction and distance at 16:19), the 50 Hz control step (0.02 s), the
[-1, 1] action box, the 0.25 m goal radius and the task knobs' ranges.
"""

from __future__ import annotations

import itertools
import math
import warnings

import gymnasium as gym
import numpy as np
import pettingzoo
import pybullet as pb
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import palaestra  # registers the envs
from palaestra.envs.carry.carry_env import CarryEnv
from palaestra.envs.carry.carry_parallel import CarryParallelEnv

GYM_ID = "palaestra/Carry-v0"
PZ_ID = "palaestra/carry-v0"
AGENTS = ["carrier_0", "carrier_1"]
OBS_DIM = 19
PREV_ACTION = slice(12, 15)
ROLE = 15
GOAL = slice(16, 19)
STEP_S = 0.02  # 50 Hz controller
GOAL_RADIUS = 0.25
KNOBS = {
    "object",
    "route",
    "route_length",
    "turn_angle_deg",
    "slope_deg",
    "mass_scale",
    "partner_speed",
    "partner_noise",
    "intention_change_rate",
    "role",
    "partner_load",
    "grip_torque_limit",
}
METRIC_KEYS = {
    "success",
    "partner_effort",
    "peak_force",
    "mean_tilt_deg",
    "max_tilt_deg",
    "displacement",
    "idle_fraction",
    "episode_time_s",
}
# Task used where the partner's noise must matter and the episode must last 300 steps.
NOISY = {"partner_noise": 0.5}


# ------------------------------------------------------------------------------ helpers


def _client(env) -> int:
    return env.unwrapped.physics_client


def _small_actions(n: int, seed: int, agents: int = 0) -> np.ndarray:
    """Small random actions (keep the object level and the episode alive)."""
    shape = (n, 3) if agents == 0 else (n, agents, 3)
    return np.random.default_rng(seed).uniform(-0.25, 0.25, size=shape).astype(np.float32)


def _gym_episode(env, seed, options, actions):
    """Reset, then step through ``actions`` until the episode ends; return every result."""
    obs, info = env.reset(seed=seed, options=options)
    traj = [(obs, None, None, None, info)]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        traj.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return traj


def _par_episode(env, seed, options, actions):
    """As :func:`_gym_episode` for the Parallel env; ``actions[t, i]`` is agent i's action."""
    obs, infos = env.reset(seed=seed, options=options)
    traj = [(obs, None, None, None, infos)]
    for step_actions in actions:
        acts = {agent: step_actions[i] for i, agent in enumerate(env.agents)}
        obs, rewards, terms, truncs, infos = env.step(acts)
        traj.append((obs, rewards, terms, truncs, infos))
        if any(terms.values()) or any(truncs.values()):
            break
    return traj


def _assert_obs_equal(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_obs_equal(a[key], b[key])
        return
    assert a.dtype == b.dtype
    assert np.array_equal(a, b)


def _assert_same_trajectory(t1, t2):
    assert len(t1) == len(t2)
    for i, ((o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2)) in enumerate(zip(t1, t2, strict=True)):
        _assert_obs_equal(o1, o2)
        assert r1 == r2, f"reward differs at step {i}"
        assert te1 == te2, f"terminated differs at step {i}"
        assert tr1 == tr2, f"truncated differs at step {i}"
        assert i1 == i2, f"info differs at step {i}"


def _trajectories_differ(t1, t2) -> bool:
    """Whether two trajectories differ in length or in any observation."""

    def flat(obs):
        return np.concatenate([obs[k] for k in sorted(obs)]) if isinstance(obs, dict) else obs

    if len(t1) != len(t2):
        return True
    return any(not np.array_equal(flat(a[0]), flat(b[0])) for a, b in zip(t1, t2, strict=True))


# ------------------------------------------------------------------ 1. API checkers
def test_gymnasium_check_env_passes(closing):
    env = closing(gym.make(GYM_ID))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    # The observation Box is unbounded by design (documented); anything else is a problem
    # the checker found (it reports, e.g., observations outside the space as warnings).
    other = [str(w.message) for w in caught if "infinity" not in str(w.message)]
    assert other == []


@pytest.mark.parametrize("scripted_partner", [None, "carrier_1"])
def test_pettingzoo_parallel_api_test_passes(closing, scripted_partner):
    # max_cycles < num_cycles, so the API test also sees the episode end and agents leave.
    env = closing(CarryParallelEnv(scripted_partner=scripted_partner, max_cycles=40))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel_api_test(env, num_cycles=50)
    assert [str(w.message) for w in caught] == []
    assert env.agents == []  # the episode did end within the test


def test_pettingzoo_make_builds_a_working_env(closing):
    env = closing(pettingzoo.make("parallel", PZ_ID))
    assert isinstance(env.unwrapped, CarryParallelEnv)
    assert env.possible_agents == AGENTS
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == set(AGENTS) == set(env.agents)
    for agent in AGENTS:
        assert obs[agent] in env.observation_space(agent)
        assert obs[agent].shape == (OBS_DIM,)
    obs, rewards, terms, truncs, _ = env.step({a: env.action_space(a).sample() for a in env.agents})
    assert all(math.isfinite(r) for r in rewards.values())
    assert not any(terms.values()) and not any(truncs.values())

    short = closing(pettingzoo.make("parallel", PZ_ID, max_cycles=3, scripted_partner="carrier_1"))
    assert short.possible_agents == ["carrier_0"]
    short.reset(seed=0)
    for _ in range(3):
        _, _, terms, truncs, _ = short.step({"carrier_0": np.zeros(3, np.float32)})
    assert truncs == {"carrier_0": True} and terms == {"carrier_0": False}
    assert short.agents == []


# -------------------------------------------------------------------- 2. determinism
def test_gym_determinism_over_consecutive_resets(closing):
    env1 = closing(gym.make(GYM_ID, max_steps=300, task=NOISY))
    env2 = closing(gym.make(GYM_ID, max_steps=300, task=NOISY))
    schedule = [
        (0, None),
        (1, {"task": {**NOISY, "intention_change_rate": 0.5, "route": "turn"}}),
        (None, None),  # unseeded reset continues the seeded generator on both sides
    ]
    for k, (seed, options) in enumerate(schedule):
        actions = _small_actions(300, seed=100 + k)
        t1 = _gym_episode(env1, seed, options, actions)
        t2 = _gym_episode(env2, seed, options, actions)
        # The episode really lasted 300 steps and ended by truncation only.
        assert len(t1) == 301
        assert t1[-1][3] is True and t1[-1][2] is False
        assert not any(step[2] or step[3] for step in t1[1:-1])
        assert t1[-1][4].keys() >= METRIC_KEYS
        _assert_same_trajectory(t1, t2)


def test_gym_seed_drives_partner_noise(closing):
    actions = _small_actions(300, seed=5)
    env1 = closing(gym.make(GYM_ID, task=NOISY))
    env2 = closing(gym.make(GYM_ID, task=NOISY))
    assert _trajectories_differ(
        _gym_episode(env1, 0, None, actions), _gym_episode(env2, 1, None, actions)
    )
    # Without noise or intention changes the partner is exact: the seed has nothing to drive.
    exact = {"task": {"partner_noise": 0.0, "intention_change_rate": 0.0}}
    _assert_same_trajectory(
        _gym_episode(env1, 0, exact, actions), _gym_episode(env2, 1, exact, actions)
    )


@pytest.mark.parametrize("scripted_partner", [None, "carrier_1"])
def test_parallel_determinism_over_consecutive_resets(closing, scripted_partner):
    kwargs = {"max_cycles": 300, "task": NOISY, "scripted_partner": scripted_partner}
    env1 = closing(CarryParallelEnv(**kwargs))
    env2 = closing(CarryParallelEnv(**kwargs))
    n_agents = len(env1.possible_agents)
    schedule = [(0, None), (1, {"task": {**NOISY, "route": "slope"}}), (None, None)]
    for k, (seed, options) in enumerate(schedule):
        actions = _small_actions(300, seed=200 + k, agents=n_agents)
        t1 = _par_episode(env1, seed, options, actions)
        t2 = _par_episode(env2, seed, options, actions)
        assert len(t1) == 301
        assert all(t1[-1][3].values()) and not any(t1[-1][2].values())
        assert all(info.keys() >= METRIC_KEYS for info in t1[-1][4].values())
        _assert_same_trajectory(t1, t2)


def test_parallel_seed_drives_scripted_partner_noise(closing):
    env1 = closing(CarryParallelEnv(task=NOISY, scripted_partner="carrier_1"))
    env2 = closing(CarryParallelEnv(task=NOISY, scripted_partner="carrier_1"))
    actions = _small_actions(300, seed=6, agents=1)
    assert _trajectories_differ(
        _par_episode(env1, 0, None, actions), _par_episode(env2, 1, None, actions)
    )


# ------------------------------------------------------------------ 3. resources
def test_make_close_cycles_release_physics_clients():
    clients = []
    for i in range(100):
        env = gym.make(GYM_ID)
        cid = _client(env)
        assert pb.isConnected(physicsClientId=cid)
        env.reset(seed=i)
        env.step(np.zeros(3, np.float32))
        env.close()
        assert not pb.isConnected(physicsClientId=cid)
        clients.append(cid)
    for i in range(10):
        par = CarryParallelEnv(scripted_partner="carrier_1" if i % 2 else None)
        par.reset(seed=i)
        clients.append(_client(par))
        par.close()
    assert not any(pb.isConnected(physicsClientId=cid) for cid in set(clients))


def test_close_twice_is_safe():
    for env in (CarryEnv(), CarryParallelEnv()):
        env.reset(seed=0)
        cid = _client(env)
        env.close()
        env.close()
        assert not pb.isConnected(physicsClientId=cid)


def test_live_envs_in_one_process_do_not_interfere(closing):
    task = {**NOISY, "route": "turn", "turn_angle_deg": 30.0}
    actions = _small_actions(200, seed=7)
    solo = closing(gym.make(GYM_ID, task=task))
    reference = _gym_episode(solo, 3, None, actions)
    solo.close()

    a = closing(gym.make(GYM_ID, task=task))
    b = closing(gym.make(GYM_ID))
    par = closing(CarryParallelEnv(scripted_partner="carrier_1"))
    assert len({_client(a), _client(b), _client(par)}) == 3
    b.reset(seed=99, options={"task": {"object": "stretcher", "route": "slope"}})
    obs, info = a.reset(seed=3)
    par.reset(seed=5)
    rng = np.random.default_rng(0)
    trajectory = [(obs, None, None, None, info)]
    for t, action in enumerate(actions):
        _, _, b_term, b_trunc, _ = b.step(rng.uniform(-1.0, 1.0, 3))
        if b_term or b_trunc or t == 100:  # rebuild another world mid-episode, too
            b.reset(seed=t)
        _, _, p_term, p_trunc, _ = par.step({"carrier_0": rng.uniform(-1.0, 1.0, 3)})
        if any(p_term.values()) or any(p_trunc.values()):
            par.reset(seed=t)
        obs, reward, terminated, truncated, info = a.step(action)
        trajectory.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    _assert_same_trajectory(reference, trajectory)
    # An env with a history replays a seed exactly like a fresh one.
    _assert_same_trajectory(reference, _gym_episode(a, 3, None, actions))


# ---------------------------------------------------------------- 4. task plumbing
def test_task_space_lists_the_knobs(closing):
    env = closing(gym.make(GYM_ID))
    space = env.unwrapped.task_space
    assert set(space.knobs) == KNOBS
    assert set(CarryParallelEnv.task_space.knobs) == KNOBS
    assert env.unwrapped.task == space.default()
    assert space.default()["role"] == "follower"  # documented default


def test_difficulty_is_in_unit_interval_for_sampled_tasks():
    space = CarryEnv.task_space
    tasks = [space.sample(np.random.default_rng(i)) for i in range(300)]
    for task in tasks:
        assert space.contains(task)
        assert 0.0 <= space.difficulty(task) <= 1.0
    # Sampling draws from the generator only.
    assert space.sample(np.random.default_rng(7)) == tasks[7]
    assert len({tuple(sorted(t.items())) for t in tasks}) == len(tasks)


def test_difficulty_orders_tasks():
    space = CarryEnv.task_space
    default = space.difficulty({})
    hard = {"object": "stretcher", "route": "turn", "turn_angle_deg": 90.0, "partner_noise": 1.0}
    assert space.difficulty(hard) > default
    assert space.difficulty({**hard, "turn_angle_deg": -90.0}) > default
    bases = [{}, hard] + [space.sample(np.random.default_rng(i)) for i in range(20)]
    for base in bases:
        scores = [space.difficulty({**base, "route_length": x}) for x in np.linspace(2, 8, 7)]
        assert all(a < b for a, b in itertools.pairwise(scores)), base


def test_reset_info_reports_difficulty(closing):
    task = {"object": "table", "route": "slope", "slope_deg": 8.0}
    env = closing(gym.make(GYM_ID))
    _, info = env.reset(seed=0, options={"task": task})
    assert info["difficulty"] == env.unwrapped.task_space.difficulty(task)
    par = closing(CarryParallelEnv())
    _, infos = par.reset(seed=0, options={"task": task})
    assert all(i["difficulty"] == par.task_space.difficulty(task) for i in infos.values())


def test_gym_set_task_applies_at_next_reset(closing):
    env = closing(gym.make(GYM_ID))
    obs, _ = env.reset(seed=0)
    assert obs[ROLE] == -1.0 and np.array_equal(obs[GOAL], np.zeros(3, np.float32))

    env.unwrapped.set_task({"role": "leader", "route_length": 4.0})
    assert env.unwrapped.task["role"] == "leader"
    assert env.unwrapped.task["route_length"] == 4.0
    obs, *_ = env.step(np.zeros(3, np.float32))
    assert obs[ROLE] == -1.0  # the running episode keeps its task

    obs, _ = env.reset(seed=0)
    assert obs[ROLE] == 1.0
    # A leader is told the goal: straight ahead of the object, route_length away. Its x axis
    # points from it towards the object, and it holds the front handle, so the goal lies
    # along its -x.
    assert obs[GOAL.stop - 1] == pytest.approx(4.0, abs=1e-3)
    assert obs[16:18] == pytest.approx([-1.0, 0.0], abs=1e-3)

    obs, _ = env.reset(seed=1)  # the task persists across resets
    assert obs[ROLE] == 1.0
    obs, _ = env.reset(seed=1, options={"task": {"role": "follower"}})
    assert obs[ROLE] == -1.0 and env.unwrapped.task["route_length"] == 3.0


def test_assigning_task_through_wrappers_sets_the_next_task(closing):
    """Vector envs give workers tasks with set_attr("task", ...): the property's setter."""
    env = closing(gym.make(GYM_ID))
    env.reset(seed=0)
    env.set_wrapper_attr("task", {"object": "table", "route_length": 4.0})
    assert env.unwrapped.task["object"] == "table"
    _, info = env.reset(seed=0)
    assert env.unwrapped.task["route_length"] == 4.0
    assert info["difficulty"] == env.unwrapped.task_space.difficulty(
        {"object": "table", "route_length": 4.0}
    )
    with pytest.raises(ValueError, match="'object'"):
        env.set_wrapper_attr("task", {"object": "sofa"})


def test_parallel_set_task_applies_at_next_reset(closing):
    env = closing(CarryParallelEnv())
    obs, _ = env.reset(seed=0)
    # role is carrier_0's role; the default is follower, so carrier_1 leads.
    assert obs["carrier_0"][ROLE] == -1.0 and obs["carrier_1"][ROLE] == 1.0
    env.set_task({"role": "leader"})
    assert env.task["role"] == "leader"
    obs, *_ = env.step({a: np.zeros(3, np.float32) for a in AGENTS})
    assert obs["carrier_0"][ROLE] == -1.0
    obs, _ = env.reset(seed=0)
    assert obs["carrier_0"][ROLE] == 1.0 and obs["carrier_1"][ROLE] == -1.0
    assert obs["carrier_0"][GOAL.stop - 1] > 0.0
    assert np.array_equal(obs["carrier_1"][GOAL], np.zeros(3, np.float32))


@pytest.mark.parametrize("env_class", [CarryEnv, CarryParallelEnv])
def test_rgb_array_render(closing, env_class):
    env = closing(env_class(render_mode="rgb_array", render_width=80, render_height=60))
    env.reset(seed=0)
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    assert frame.dtype == np.uint8 and frame.shape == (60, 80, 3)
    assert frame.min() < frame.max()  # not a blank image
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 3
    second = env.render()
    assert second is not frame and np.array_equal(second, frame)

    plain = closing(env_class())
    plain.reset(seed=0)
    assert plain.render() is None


# --------------------------------------------------------------- 5. episode metrics
def _check_metrics(info, steps):
    assert info.keys() >= METRIC_KEYS
    assert isinstance(info["success"], bool)
    for key in METRIC_KEYS - {"success"}:
        assert isinstance(info[key], float) and math.isfinite(info[key]), key
    assert 0.0 <= info["idle_fraction"] <= 1.0
    assert info["episode_time_s"] == steps * STEP_S
    assert info["max_tilt_deg"] >= info["mean_tilt_deg"] >= 0.0
    assert info["peak_force"] >= 0.0
    assert info["partner_effort"] >= 0.0


def test_gym_episode_end_info_on_truncation(closing):
    env = closing(gym.make(GYM_ID, max_steps=50, task=NOISY))
    traj = _gym_episode(env, 0, None, _small_actions(60, seed=9))
    assert len(traj) == 51
    info = traj[-1][4]
    _check_metrics(info, 50)
    assert info["success"] is False
    assert info["partner_effort"] > 0.0  # the partner holds up its end of the object
    assert all(METRIC_KEYS.isdisjoint(step[4]) for step in traj[:-1])


def test_gym_success_is_measured_from_the_world(closing):
    # The follower pushes the object towards the leading partner, along a 2 m route.
    env = closing(gym.make(GYM_ID, task={"route_length": 2.0}))
    traj = _gym_episode(env, 0, None, [np.array([1.0, 0.0, 0.0], np.float32)] * 1000)
    _, reward, terminated, truncated, info = traj[-1]
    assert terminated and not truncated
    steps = len(traj) - 1
    _check_metrics(info, steps)
    assert info["success"] is True
    x, y, _ = env.unwrapped.episode_state.object_position
    remaining = math.hypot(2.0 - x, y)
    assert remaining < GOAL_RADIUS
    assert info["displacement"] == pytest.approx(2.0 - remaining, abs=1e-6)
    assert reward > 5.0  # the success bonus
    with pytest.raises(ResetNeeded):
        env.step(np.zeros(3, np.float32))


@pytest.mark.parametrize("scripted_partner", [None, "carrier_1"])
def test_parallel_episode_end_info(closing, scripted_partner):
    env = closing(CarryParallelEnv(max_cycles=50, task=NOISY, scripted_partner=scripted_partner))
    n = len(env.possible_agents)
    traj = _par_episode(env, 0, None, _small_actions(60, seed=10, agents=n))
    assert len(traj) == 51
    infos = traj[-1][4]
    assert set(infos) == set(env.possible_agents)
    for info in infos.values():
        _check_metrics(info, 50)
        assert info["success"] is False
        assert info["partner_effort"] > 0.0
    if scripted_partner is None:
        a, b = infos["carrier_0"], infos["carrier_1"]
        # partner_effort is the effort of the *other* carrier.
        assert a["partner_effort"] == b["own_effort"]
        assert b["partner_effort"] == a["own_effort"]
        for key in METRIC_KEYS - {"partner_effort"}:
            assert a[key] == b[key], key


# ----------------------------------------------------------------- 6. fresh arrays
def test_gym_returns_fresh_observation_arrays(closing):
    mutated = closing(gym.make(GYM_ID, task=NOISY))
    pristine = closing(gym.make(GYM_ID, task=NOISY))
    obs_m, _ = mutated.reset(seed=0)
    obs_p, _ = pristine.reset(seed=0)
    previous = obs_m
    previous[:] = 12345.0
    for action in _small_actions(30, seed=11):
        obs_m, *_ = mutated.step(action)
        obs_p, *_ = pristine.step(action)
        assert obs_m is not previous and not np.shares_memory(obs_m, previous)
        assert np.array_equal(obs_m, obs_p)
        obs_m[:] = 12345.0  # scribbling on a returned array changes nothing later
        previous = obs_m


def test_parallel_returns_fresh_observation_arrays(closing):
    mutated = closing(CarryParallelEnv(task=NOISY))
    pristine = closing(CarryParallelEnv(task=NOISY))
    obs_m, _ = mutated.reset(seed=0)
    obs_p, _ = pristine.reset(seed=0)
    previous = list(obs_m.values())
    for action in _small_actions(30, seed=12, agents=2):
        for arr in obs_m.values():
            arr[:] = -777.0
        acts = dict(zip(AGENTS, action, strict=True))
        obs_m, *_ = mutated.step(acts)
        obs_p, *_ = pristine.step(acts)
        _assert_obs_equal(obs_m, obs_p)
        current = list(obs_m.values())
        assert not np.shares_memory(current[0], current[1])
        for new in current:
            assert all(new is not old and not np.shares_memory(new, old) for old in previous)
        previous = current


def test_palaestra_registered_the_envs():
    assert GYM_ID in gym.registry
    assert PZ_ID in pettingzoo.parallel_registry
    assert palaestra.__name__ == "palaestra"


@pytest.mark.parametrize("env_class", [CarryEnv, CarryParallelEnv])
def test_closed_env_refuses_clearly(env_class):
    env = env_class()
    env.reset(seed=0)
    env.close()
    step = (
        (lambda: env.step(np.zeros(3, np.float32)))
        if env_class is CarryEnv
        else (lambda: env.step({a: np.zeros(3, np.float32) for a in env.possible_agents}))
    )
    with pytest.raises(ResetNeeded):
        step()
    with pytest.raises(RuntimeError, match="closed"):
        env.reset(seed=0)


# ------------------------------------------------------------------ state view and layout
def test_state_is_a_read_only_snapshot_of_the_episode(closing):
    import dataclasses

    env = closing(gym.make(GYM_ID, task={"route_length": 2.0}))
    with pytest.raises(ResetNeeded, match=r"reset\(\)"):
        _ = env.unwrapped.episode_state
    env.reset(seed=0)
    start = env.unwrapped.episode_state
    assert (start.steps, start.time_s, start.done, start.end_reason) == (0, 0.0, False, "")
    assert [c.name for c in start.carriers] == ["learner", "partner"]
    learner, partner = start.carriers
    assert (learner.role, learner.scripted, partner.role, partner.scripted) == (
        "follower", False, "leader", True,
    )  # fmt: skip
    assert learner.lift_height == pytest.approx(0.9, abs=0.01)
    assert start.goal == pytest.approx((2.0, 0.0)) and start.tilt_deg < 1.0
    assert start.goal_distance == pytest.approx(math.hypot(2.0 - start.object_position[0],
                                                           start.object_position[1]))  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.steps = 5  # type: ignore[misc]
    for _ in range(10):
        env.step(np.array([1.0, 0.0, 0.0], np.float32))
    now = env.unwrapped.episode_state
    assert start.steps == 0 and now.steps == 10  # the snapshot does not change
    assert now.time_s == pytest.approx(10 * 0.02)
    assert now.progress > start.progress and now.object_position != start.object_position
    while True:
        *_, terminated, truncated, info = env.step(np.array([1.0, 0.0, 0.0], np.float32))
        if terminated or truncated:
            break
    end = env.unwrapped.episode_state
    assert end.done and end.end_reason == info["end_reason"] == "success"
    assert end.goal_distance < GOAL_RADIUS
    assert end.time_s == pytest.approx(info["episode_time_s"])
    with pytest.raises(ValueError, match=r"unknown carrier 'carrier_0'.*learner"):
        end.carrier("carrier_0")


def test_parallel_state_names_both_carriers(closing):
    env = closing(CarryParallelEnv(scripted_partner="carrier_1"))
    env.reset(seed=0, options={"task": {"role": "leader"}})
    state = env.episode_state
    assert [c.name for c in state.carriers] == ["carrier_0", "carrier_1"]
    assert state.carrier("carrier_0").role == "leader"
    assert state.carrier("carrier_1").scripted and not state.carrier("carrier_0").scripted
    assert env.physics_client == _client(env)
    with pytest.raises(NotImplementedError):  # PettingZoo's global state() is not shadowed
        env.state()


def test_layout_and_state_import_without_pybullet():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from palaestra.envs.carry.layout import OBS_NAMES, OBS_INDEX, FORCE_SCALE\n"
        "from palaestra.envs.carry.state import CarryState\n"
        "from palaestra.envs.carry import OBS_NAMES as names\n"
        "import palaestra.agents.carry_baselines\n"
        "assert names is OBS_NAMES and len(OBS_NAMES) == 19\n"
        "print(sorted(m for m in ('pybullet', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr


def test_layout_names_the_documented_entries():
    from palaestra.envs.carry import layout

    # The documented table: previous action at 12:15, role at 15, goal at 16:19.
    assert layout.OBS_DIM == 19 and layout.OBS_INDEX["prev_action_x"] == 12
    assert layout.OBS_INDEX["role"] == 15 and layout.OBS_INDEX["goal_distance"] == 18
    assert layout.CONTROL_DT == 0.02 and layout.FORCE_SCALE == 100.0
    env = CarryEnv()
    try:
        assert env.observation_space.shape == (layout.OBS_DIM,)
    finally:
        env.close()
