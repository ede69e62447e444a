"""Bad input to ``palaestra/Carry-v0`` and ``palaestra/carry-v0``: malformed actions and tasks,
steps out of turn, undeclared render modes, clipping of finite out-of-range actions, and
arbitrary arrays (hypothesis).

Expected behaviour comes from DESIGN.md's bad-input list and the env docstrings: a clear
``ValueError`` (or ``ResetNeeded``) naming the agent and the problem, the [-1, 1] action box.
"""

from __future__ import annotations

import logging
import math
import warnings

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
from gymnasium.error import ResetNeeded
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from palaestra.envs.carry.carry_env import CarryEnv
from palaestra.envs.carry.carry_parallel import CarryParallelEnv

GYM_ID = "palaestra/Carry-v0"
PZ_ID = "palaestra/carry-v0"
AGENTS = ["carrier_0", "carrier_1"]
OBS_DIM = 19
PREV_ACTION = slice(12, 15)
# Task where the partner's noise must matter.
NOISY = {"partner_noise": 0.5}


def _small_actions(n: int, seed: int) -> np.ndarray:
    """Small random actions (keep the object level and the episode alive)."""
    return np.random.default_rng(seed).uniform(-0.25, 0.25, size=(n, 3)).astype(np.float32)


def _assert_obs_equal(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_obs_equal(a[key], b[key])
        return
    assert a.dtype == b.dtype
    assert np.array_equal(a, b)


# ------------------------------------------------------------------- 1. bad input
BAD_ACTIONS = [
    pytest.param(np.array([np.nan, 0.0, 0.0], np.float32), r"NaN or inf", id="nan"),
    pytest.param(np.array([0.0, np.inf, 0.0], np.float32), r"NaN or inf", id="inf"),
    pytest.param(np.array([0.0, 0.0, -np.inf]), r"NaN or inf", id="-inf-float64"),
    pytest.param([0.1, float("nan"), 0.1], r"NaN or inf", id="nan-in-list"),
    pytest.param(np.array([0.0, 0.0, np.nan], np.float16), r"NaN or inf", id="nan-float16"),
    pytest.param(np.zeros(2, np.float32), r"shape \(3,\).*\(2,\)", id="shape-2"),
    pytest.param(np.zeros(4, np.float32), r"shape \(3,\).*\(4,\)", id="shape-4"),
    pytest.param(np.zeros((1, 3), np.float32), r"shape \(3,\).*\(1, 3\)", id="shape-1x3"),
    pytest.param(np.float32(0.5), r"shape \(3,\).*\(\)", id="scalar"),
    pytest.param(np.array(["a", "b", "c"]), r"dtype", id="strings"),
    pytest.param(["0.1", "0.2", "0.3"], r"dtype", id="numeric-strings"),
    pytest.param(np.array([1j, 0, 0]), r"dtype", id="complex"),
    pytest.param(np.array([0.1, None, 0.1], dtype=object), r"dtype", id="object"),
    pytest.param(None, r"numeric", id="none"),
    pytest.param([[0.1], [0.1, 0.2]], r"numeric", id="ragged"),
]


@pytest.mark.parametrize(("action", "pattern"), BAD_ACTIONS)
def test_gym_bad_action_raises_and_leaves_episode_untouched(closing, action, pattern):
    env = closing(gym.make(GYM_ID, task=NOISY))
    ref = closing(gym.make(GYM_ID, task=NOISY))
    env.reset(seed=0)
    ref.reset(seed=0)
    with pytest.raises(ValueError, match=pattern):
        env.step(action)
    assert env.unwrapped.episode_state.steps == 0
    good = np.array([0.2, -0.1, 0.0], np.float32)
    obs, reward, *_ = env.step(good)
    ref_obs, ref_reward, *_ = ref.step(good)
    assert np.array_equal(obs, ref_obs) and reward == ref_reward


@pytest.mark.parametrize(("action", "pattern"), BAD_ACTIONS)
def test_parallel_bad_action_names_the_agent(closing, action, pattern):
    env = closing(CarryParallelEnv())
    env.reset(seed=0)
    with pytest.raises(ValueError, match=rf"carrier_1\b.*{pattern}"):
        env.step({"carrier_0": np.zeros(3, np.float32), "carrier_1": action})
    assert env.unwrapped.episode_state.steps == 0
    assert env.agents == AGENTS


def test_gym_step_after_episode_end_raises_reset_needed(closing):
    env = closing(gym.make(GYM_ID, max_steps=3))
    env.reset(seed=0)
    for t in range(3):
        _, _, terminated, truncated, _ = env.step(np.zeros(3, np.float32))
        assert truncated == (t == 2) and not terminated
    with pytest.raises(ResetNeeded, match=r"reset\(\)"):
        env.step(np.zeros(3, np.float32))
    env.reset(seed=0)
    env.step(np.zeros(3, np.float32))  # usable again after a reset


def test_step_before_any_reset_raises_reset_needed(closing):
    env = closing(CarryEnv())
    with pytest.raises(ResetNeeded, match=r"reset\(\)"):
        env.step(np.zeros(3, np.float32))
    par = closing(CarryParallelEnv())
    with pytest.raises(ResetNeeded, match=r"reset\(\)"):
        par.step({a: np.zeros(3, np.float32) for a in AGENTS})


def test_parallel_step_after_episode_end_raises_reset_needed(closing):
    env = closing(CarryParallelEnv(max_cycles=2))
    env.reset(seed=0)
    for _ in range(2):
        _, _, _, truncs, _ = env.step({a: np.zeros(3, np.float32) for a in AGENTS})
    assert all(truncs.values()) and env.agents == []
    with pytest.raises(ResetNeeded, match=r"reset\(\)"):
        env.step({a: np.zeros(3, np.float32) for a in AGENTS})


BAD_VALUES = [
    pytest.param("route_length", 100.0, r"a number in \[2, 8\]", id="route_length-high"),
    pytest.param("route_length", 1.0, r"a number in \[2, 8\]", id="route_length-low"),
    pytest.param("route_length", float("nan"), r"a number in \[2, 8\]", id="route_length-nan"),
    pytest.param("route_length", "3", r"a number in \[2, 8\]", id="route_length-str"),
    pytest.param("route_length", True, r"a number in \[2, 8\]", id="route_length-bool"),
    pytest.param("turn_angle_deg", 120.0, r"a number in \[-90, 90\]", id="turn-high"),
    pytest.param("partner_noise", -0.1, r"a number in \[0, 1\]", id="noise-negative"),
    pytest.param("mass_scale", 3.0, r"a number in \[0.5, 2\]", id="mass-high"),
    pytest.param("object", "sofa", r"one of 'box', 'table', 'stretcher'", id="object"),
    pytest.param("role", "boss", r"one of 'leader', 'follower'", id="role"),
    pytest.param("route", 1, r"one of 'straight', 'turn', 'slope'", id="route-int"),
]


def _task_setters(env):
    return [
        lambda task: env.reset(seed=0, options={"task": task}),
        lambda task: env.unwrapped.set_task(task),
    ]


@pytest.mark.parametrize("env_class", [CarryEnv, CarryParallelEnv])
@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_out_of_range_task_value_names_key_and_range(closing, env_class, key, value, allowed):
    env = closing(env_class(task={"role": "leader"}))
    before = env.task
    for apply in _task_setters(env):
        with pytest.raises(ValueError, match=rf"task key '{key}'.*{allowed}"):
            apply({key: value})
        assert env.task == before  # a rejected task leaves the current one in place
    with pytest.raises(ValueError, match=rf"'{key}'.*{allowed}"):
        env_class(task={key: value})


@pytest.mark.parametrize("env_class", [CarryEnv, CarryParallelEnv])
def test_unknown_task_key_names_key_and_valid_ranges(closing, env_class):
    env = closing(env_class())
    before = env.task
    for apply in _task_setters(env):
        with pytest.raises(ValueError, match=r"unknown carry task key 'colour'") as exc:
            apply({"colour": "red"})
        message = str(exc.value)
        assert "route_length (a number in [2, 8])" in message
        assert "role (one of 'leader', 'follower')" in message
        assert env.task == before
    for apply in _task_setters(env):
        with pytest.raises(ValueError, match=r"must be a dict"):
            apply([("role", "leader")])


@pytest.mark.parametrize("env_class", [CarryEnv, CarryParallelEnv])
def test_unknown_reset_option_is_logged_and_ignored(closing, env_class, caplog):
    # PettingZoo's API test passes a dummy option, so unknown keys cannot be an error; they
    # are reported, and the task option next to them still applies.
    env = closing(env_class())
    with caplog.at_level(logging.WARNING, logger="palaestra.envs.tasks"):
        env.reset(seed=0, options={"seed_offset": 1, "task": {"role": "leader"}})
    assert "seed_offset" in caplog.text and "'task'" in caplog.text
    assert env.task["role"] == "leader"


@pytest.mark.parametrize("render_mode", ["ansi", "rgb", "RGB_ARRAY"])
def test_undeclared_render_mode_raises(render_mode):
    for make in (
        lambda: CarryEnv(render_mode=render_mode),
        lambda: CarryParallelEnv(render_mode=render_mode),
        lambda: gym.make(GYM_ID, render_mode=render_mode),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gym.make warns before the env raises
            with pytest.raises(ValueError, match=rf"render_mode.*{render_mode!r}"):
                make()


def test_human_render_mode_without_display_raises(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for make in (
        lambda: CarryEnv(render_mode="human"),
        lambda: CarryParallelEnv(render_mode="human"),
        lambda: gym.make(GYM_ID, render_mode="human"),
        lambda: pettingzoo.make("parallel", PZ_ID, render_mode="human"),
    ):
        with pytest.raises(RuntimeError, match=r"display.*DISPLAY.*WAYLAND_DISPLAY"):
            make()


@pytest.mark.parametrize("steps", [2001, 5000, 0, -1])
def test_step_limit_out_of_range_raises(steps):
    with pytest.raises(ValueError, match=r"max_steps.*2000"):
        CarryEnv(max_steps=steps)
    with pytest.raises(ValueError, match=r"max_steps.*2000"):
        gym.make(GYM_ID, max_steps=steps)
    with pytest.raises(ValueError, match=r"max_cycles.*2000"):
        CarryParallelEnv(max_cycles=steps)


def test_step_limit_of_2000_is_allowed():
    for env in (CarryEnv(max_steps=2000), CarryParallelEnv(max_cycles=2000)):
        env.close()


def test_parallel_missing_and_unknown_agents_raise(closing):
    env = closing(CarryParallelEnv())
    env.reset(seed=0)
    zero = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"missing.*carrier_1"):
        env.step({"carrier_0": zero})
    with pytest.raises(ValueError, match=r"missing.*carrier_0.*carrier_1"):
        env.step({})
    with pytest.raises(ValueError, match=r"unknown agent 'carrier_7'"):
        env.step({"carrier_0": zero, "carrier_1": zero, "carrier_7": zero})
    with pytest.raises(ValueError, match=r"dict from agent name"):
        env.step(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"unknown agent 'carrier_9'"):
        env.action_space("carrier_9")
    assert env.unwrapped.episode_state.steps == 0

    solo = closing(CarryParallelEnv(scripted_partner="carrier_1"))
    solo.reset(seed=0)
    # The scripted seat is not an agent: an action for it is an unknown agent.
    with pytest.raises(ValueError, match=r"unknown agent 'carrier_1'"):
        solo.step({"carrier_0": zero, "carrier_1": zero})


@pytest.mark.parametrize("name", ["carrier_2", "human", "", "CARRIER_1"])
def test_parallel_invalid_scripted_partner_raises(name):
    with pytest.raises(ValueError, match=rf"scripted_partner.*{name!r}"):
        CarryParallelEnv(scripted_partner=name)


# ------------------------------------------------------------------------ 2. clipping
CLIPPED_FORMS = [
    pytest.param(np.array([5.0, -7.0, 3.0], np.float32), id="float32"),
    pytest.param(np.array([5.0, -7.0, 3.0]), id="float64"),
    pytest.param([5, -7, 3], id="int-list"),
    pytest.param(np.array([1e30, -1e30, 1.0000001]), id="huge"),
]


@pytest.mark.parametrize("action", CLIPPED_FORMS)
def test_gym_out_of_range_actions_are_clipped(closing, action):
    env1 = closing(gym.make(GYM_ID, task=NOISY))
    env2 = closing(gym.make(GYM_ID, task=NOISY))
    env1.reset(seed=4)
    env2.reset(seed=4)
    for warm in _small_actions(20, seed=8):
        env1.step(warm)
        env2.step(warm)
    obs1, r1, te1, tr1, _ = env1.step(action)
    obs2, r2, te2, tr2, _ = env2.step(np.array([1.0, -1.0, 1.0], np.float32))
    assert np.array_equal(obs1, obs2)
    assert r1 == r2 and te1 == te2 and tr1 == tr2
    assert np.array_equal(obs1[PREV_ACTION], np.array([1.0, -1.0, 1.0], np.float32))
    # The states stayed equal, not just this observation.
    nxt = np.array([0.1, 0.1, 0.0], np.float32)
    assert np.array_equal(env1.step(nxt)[0], env2.step(nxt)[0])


def test_parallel_out_of_range_actions_are_clipped(closing):
    env1 = closing(CarryParallelEnv())
    env2 = closing(CarryParallelEnv())
    env1.reset(seed=4)
    env2.reset(seed=4)
    other = np.array([0.1, 0.0, 0.0], np.float32)
    obs1, r1, *_ = env1.step({"carrier_0": other, "carrier_1": [5, -7, 3]})
    obs2, r2, *_ = env2.step({"carrier_0": other, "carrier_1": np.array([1, -1, 1], np.float32)})
    _assert_obs_equal(obs1, obs2)
    assert r1 == r2
    assert np.array_equal(obs1["carrier_1"][PREV_ACTION], [1.0, -1.0, 1.0])
    assert np.array_equal(obs1["carrier_0"][PREV_ACTION], other)


# ------------------------------------------------------------ 3. arbitrary arrays
_DTYPES = st.one_of(
    hnp.floating_dtypes(sizes=(16, 32, 64)),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.boolean_dtypes(),
    hnp.complex_number_dtypes(),
    hnp.unicode_string_dtypes(max_len=3),
)
_SHAPES = st.one_of(st.just((3,)), hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4))
_ARRAYS = hnp.arrays(dtype=_DTYPES, shape=_SHAPES)


def _expected_clip(action: np.ndarray) -> np.ndarray | None:
    """The clipped action for a valid real numeric (3,) array; None when it must raise."""
    if action.dtype.kind not in "biuf" or action.shape != (3,):
        return None
    as_float = action.astype(np.float64)
    if not np.all(np.isfinite(as_float)):
        return None
    return np.clip(as_float, -1.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def fuzz_env():
    env = gym.make(GYM_ID)
    env.reset(seed=0)
    yield env
    env.close()


@pytest.fixture(scope="module")
def fuzz_par_env():
    env = CarryParallelEnv(scripted_partner="carrier_0")
    env.reset(seed=0)
    yield env
    env.close()


@settings(max_examples=200, deadline=None)
@given(action=_ARRAYS)
def test_gym_step_with_arbitrary_arrays(fuzz_env, action):
    env = fuzz_env
    steps = env.unwrapped.episode_state.steps
    expected = _expected_clip(action)
    if expected is None:
        with pytest.raises(ValueError, match="learner"):
            env.step(action)
        assert env.unwrapped.episode_state.steps == steps
        return
    obs, reward, terminated, truncated, _ = env.step(action)
    assert env.unwrapped.episode_state.steps == steps + 1
    assert obs.dtype == np.float32 and obs.shape == (OBS_DIM,)
    assert obs in env.observation_space
    assert isinstance(reward, float) and math.isfinite(reward)
    assert np.array_equal(obs[PREV_ACTION], expected)
    if terminated or truncated:
        env.reset(seed=steps)


@settings(max_examples=100, deadline=None)
@given(action=_ARRAYS)
def test_parallel_step_with_arbitrary_arrays(fuzz_par_env, action):
    env = fuzz_par_env
    steps = env.episode_state.steps
    expected = _expected_clip(action)
    if expected is None:
        with pytest.raises(ValueError, match=r"carrier_1\b"):
            env.step({"carrier_1": action})
        assert env.episode_state.steps == steps
        return
    obs, rewards, terms, truncs, _ = env.step({"carrier_1": action})
    assert obs["carrier_1"] in env.observation_space("carrier_1")
    assert math.isfinite(rewards["carrier_1"])
    assert np.array_equal(obs["carrier_1"][PREV_ACTION], expected)
    if any(terms.values()) or any(truncs.values()):
        env.reset(seed=steps)
