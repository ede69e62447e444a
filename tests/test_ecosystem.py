"""The recipes users already run work on every registered palaestra env.

Envs are found from Gymnasium's and PettingZoo's registries (every id under ``palaestra/``),
so an env joins this suite by registering. Each recipe runs a few hundred steps: the
libraries' own checkers in every observation mode, stable-baselines3's PPO, sb3-contrib's
MaskablePPO where there is a mask, SuperSuit's vector envs with SB3 on every Parallel env,
``gymnasium.make_vec`` (sync and async), the common wrappers, and copies (``deepcopy`` and
pickle) before and after reset.
"""

from __future__ import annotations

import copy
import gc
import importlib
import inspect
import pickle
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test

from palaestra.agents.registry import entry_class
from palaestra.envs import ENV_IDS
from palaestra.envs.games import OBS_MODES

# The peer libraries come with the test extra (pip install -e ".[test]").
pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")
pytest.importorskip("supersuit")

GYM_IDS = sorted(i for i in gym.registry if i.startswith("palaestra/"))
PARALLEL_IDS = sorted(i for i in pettingzoo.parallel_registry if i.startswith("palaestra/"))
AEC_IDS = sorted(i for i in pettingzoo.aec_registry if i.startswith("palaestra/"))
PZ_IDS = [("parallel", i) for i in PARALLEL_IDS] + [("aec", i) for i in AEC_IDS]


def _params(env_id: str) -> set[str]:
    return set(inspect.signature(entry_class(env_id)).parameters)


def _obs_modes(env_id: str) -> tuple[str | None, ...]:
    return OBS_MODES if "obs_mode" in _params(env_id) else (None,)


def _kwargs(obs_mode: str | None) -> dict[str, Any]:
    return {} if obs_mode is None else {"obs_mode": obs_mode}


def _mode_cases(ids: list[tuple[str, str]]) -> list[Any]:
    return [
        pytest.param(api, env_id, mode, id=f"{env_id}-{mode or 'default'}")
        for api, env_id in ids
        for mode in _obs_modes(env_id)
    ]


def _legal_or_sample(space: gym.Space, obs: Any, info: dict[str, Any], rng: np.random.Generator):
    """A legal action where the env names them, otherwise a sample of the space."""
    legal = info.get("legal_actions") if isinstance(info, dict) else None
    if legal:
        return int(rng.choice(sorted(legal)))
    if isinstance(obs, dict) and "action_mask" in obs and obs["action_mask"].any():
        return int(rng.choice(np.flatnonzero(obs["action_mask"])))
    return space.sample()


def _same(a: Any, b: Any) -> bool:
    """Exact equality of observations (arrays, dicts of arrays, strings)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


# ------------------------------------------------------------------------------ the registries
def test_the_registries_hold_every_env_of_the_table():
    table = {e.id: e.api for e in ENV_IDS}
    found = {i: "gymnasium" for i in GYM_IDS}
    found.update({i: "pettingzoo-parallel" for i in PARALLEL_IDS})
    found.update({i: "pettingzoo-aec" for i in AEC_IDS})
    assert found == table


# ---------------------------------------------------------------------------- the checkers
@pytest.mark.parametrize(
    ("api", "env_id", "obs_mode"), _mode_cases([("gymnasium", i) for i in GYM_IDS])
)
def test_gymnasium_check_env(api, env_id, obs_mode):
    env = gym.make(env_id, **_kwargs(obs_mode))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the checker's advice on unbounded Boxes
            check_env(env.unwrapped, skip_render_check=True)
    finally:
        env.close()


@pytest.fixture
def api_test_reads_text_observations(monkeypatch):
    """Let PettingZoo's ``api_test`` check a bare ``str`` observation against a ``Text`` space.

    Its space-compatibility check compares ``dtype`` attributes, which a ``str`` lacks; for a
    ``Text`` space it checks membership instead and defers to the original for all else.
    """
    # (pettingzoo.test re-exports the function api_test under the module's name.)
    pz_api = importlib.import_module("pettingzoo.test.api_test")
    original = pz_api._test_observation_space_compatibility

    def compatible(expected, seen, recursed_keys=None):
        if isinstance(expected, gym.spaces.Text):
            assert isinstance(seen, str) and expected.contains(seen)
            return
        original(expected, seen, [] if recursed_keys is None else recursed_keys)

    monkeypatch.setattr(pz_api, "_test_observation_space_compatibility", compatible)


@pytest.mark.usefixtures("api_test_reads_text_observations")
@pytest.mark.parametrize(("api", "env_id", "obs_mode"), _mode_cases(PZ_IDS))
def test_pettingzoo_api_tests(api, env_id, obs_mode):
    kwargs = _kwargs(obs_mode)
    if obs_mode == "text" and "illegal_action" in _params(env_id):
        # The API tests draw actions from the mask when the observation has one; a text
        # view has none, so the env penalizes illegal draws instead of raising.
        kwargs["illegal_action"] = "penalize"
    env = pettingzoo.make(api, env_id, **kwargs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # api_test's notes on Dict observations
            if api == "parallel":
                parallel_api_test(env, num_cycles=200)
            else:
                api_test(env, num_cycles=200)
    finally:
        env.close()


# ----------------------------------------------------------------------- stable-baselines3
def _sb3_policy(space: gym.Space) -> str:
    return "MultiInputPolicy" if isinstance(space, gym.spaces.Dict) else "MlpPolicy"


@pytest.mark.parametrize("env_id", GYM_IDS)
def test_sb3_ppo_learns_and_predicts(env_id):
    from stable_baselines3 import PPO

    env = gym.make(env_id)
    try:
        model = PPO(
            _sb3_policy(env.observation_space),
            env,
            n_steps=128,
            batch_size=64,
            n_epochs=1,
            seed=0,
            device="cpu",
        )
        model.learn(256)
        assert model.num_timesteps >= 256
        obs, _ = env.reset(seed=1)
        action, _ = model.predict(obs, deterministic=True)
        assert env.action_space.contains(
            np.asarray(action).astype(env.action_space.dtype)
            if env.action_space.shape
            else int(action)
        )
    finally:
        env.close()


GAME_IDS = [i for i in GYM_IDS if hasattr(entry_class(i), "action_masks")]


def test_the_game_envs_offer_action_masks():
    # Every Gymnasium env with a mask in its observation offers the sb3-contrib method.
    with_mask = []
    for env_id in GYM_IDS:
        env = gym.make(env_id)
        space = env.observation_space
        if isinstance(space, gym.spaces.Dict) and "action_mask" in space.spaces:
            with_mask.append(env_id)
        env.close()
    assert with_mask and sorted(with_mask) == sorted(GAME_IDS)


@pytest.mark.parametrize("env_id", GAME_IDS)
def test_maskable_ppo_never_takes_an_illegal_action(env_id):
    from sb3_contrib import MaskablePPO

    # illegal_action="raise": a single unmasked choice would fail the run.
    env = gym.make(env_id, illegal_action="raise")
    try:
        model = MaskablePPO(
            "MultiInputPolicy", env, n_steps=128, batch_size=64, n_epochs=1, seed=0, device="cpu"
        )
        model.learn(384)
        assert model.num_timesteps >= 384
    finally:
        env.close()


@pytest.mark.parametrize("obs_mode", OBS_MODES)
@pytest.mark.parametrize("env_id", GAME_IDS)
def test_action_masks_equal_the_observation_mask_and_the_legal_actions(env_id, obs_mode):
    env = gym.make(env_id, obs_mode=obs_mode)
    rng = np.random.default_rng(7)
    try:
        with pytest.raises(gym.error.ResetNeeded):
            env.unwrapped.action_masks()
        obs, info = env.reset(seed=0)
        checked = 0
        for _ in range(1000):
            mask = env.unwrapped.action_masks()
            assert mask.dtype == bool and mask.shape == (env.action_space.n,)
            if isinstance(obs, dict):
                assert np.array_equal(mask, obs["action_mask"].astype(bool))
            assert set(np.flatnonzero(mask).tolist()) == set(info["legal_actions"])
            checked += 1
            # Mostly legal moves, now and then an illegal one (penalized, not raised).
            if rng.random() < 0.9 and mask.any():
                action = int(rng.choice(np.flatnonzero(mask)))
            else:
                action = int(rng.integers(env.action_space.n))
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                mask = env.unwrapped.action_masks()
                if isinstance(obs, dict):
                    assert np.array_equal(mask, obs["action_mask"].astype(bool))
                assert set(np.flatnonzero(mask).tolist()) == set(info.get("legal_actions", {}))
                obs, info = env.reset()
        assert checked == 1000
    finally:
        env.close()


# ------------------------------------------------------------------------------ SuperSuit
def _supersuit_vec_env(env_id: str, copies: int = 2):
    """PettingZoo's tutorial recipe, with the one change a mask-unaware learner needs."""
    import supersuit as ss

    extra = {"illegal_action": "penalize"} if "illegal_action" in _params(env_id) else {}
    env = pettingzoo.make("parallel", env_id, **extra)
    venv = ss.pettingzoo_env_to_vec_env_v1(env)
    return ss.concat_vec_envs_v1(venv, copies, num_cpus=0, base_class="stable_baselines3")


def _learn_supersuit(env_id: str, seed: int, steps: int):
    from stable_baselines3 import PPO
    from stable_baselines3.common.utils import set_random_seed

    venv = _supersuit_vec_env(env_id)
    # The README's seeding recipe: SuperSuit's vector env has no seed(), so PPO(seed=...)
    # fails; seed torch/numpy here and the envs through the inner ConcatVecEnv's reset.
    set_random_seed(seed)
    venv.venv.reset(seed=seed)
    model = PPO(
        _sb3_policy(venv.observation_space),
        venv,
        n_steps=64,
        batch_size=64,
        n_epochs=1,
        device="cpu",
    )
    model.learn(steps)
    return model, venv


@pytest.mark.parametrize("env_id", PARALLEL_IDS)
def test_supersuit_vector_env_with_sb3_ppo(env_id):
    model, venv = _learn_supersuit(env_id, seed=0, steps=3000)
    try:
        # Several thousand steps: long enough for copies made by SuperSuit to be collected.
        gc.collect()
        assert model.num_timesteps >= 3000
        obs = venv.reset()
        for _ in range(20):
            actions, _ = model.predict(obs)
            obs, _, _, _ = venv.step(actions)
    finally:
        venv.close()


@pytest.mark.parametrize("env_id", PARALLEL_IDS)
def test_the_readme_seeding_recipe_for_supersuit_is_deterministic(env_id):
    runs = []
    for _ in range(2):
        model, venv = _learn_supersuit(env_id, seed=3, steps=256)
        runs.append([p.detach().clone() for p in model.policy.parameters()])
        venv.close()
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(*runs, strict=True))


# ---------------------------------------------------------------- Gymnasium vectors, wrappers
def _vector_obs_equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return all(np.array_equal(a[k], b[k]) for k in a)
    return np.array_equal(a, b)


@pytest.mark.parametrize("env_id", GYM_IDS)
def test_make_vec_sync_and_async_agree(env_id):
    results = {}
    for mode in ("sync", "async"):
        envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode)
        try:
            envs.action_space.seed(5)
            obs, _ = envs.reset(seed=5)
            trace = [obs]
            for _ in range(60):
                obs, reward, _, _, _ = envs.step(envs.action_space.sample())
                trace.append(obs)
                trace.append(reward)
            results[mode] = trace
        finally:
            envs.close()
    assert all(
        _vector_obs_equal(a, b) for a, b in zip(results["sync"], results["async"], strict=True)
    )


@pytest.mark.parametrize("env_id", GYM_IDS)
def test_common_wrappers(env_id):
    from gymnasium.wrappers import FlattenObservation, NormalizeObservation, RecordEpisodeStatistics

    env = RecordEpisodeStatistics(NormalizeObservation(FlattenObservation(gym.make(env_id))))
    rng = np.random.default_rng(0)
    try:
        obs, info = env.reset(seed=0)
        assert env.observation_space.contains(obs.astype(env.observation_space.dtype)) or (
            obs.shape == env.observation_space.shape
        )
        total, steps = 0.0, 0
        base = env.unwrapped
        for _ in range(5000):
            if hasattr(base, "action_masks"):
                action = int(rng.choice(np.flatnonzero(base.action_masks())))
            else:
                action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            steps += 1
            assert np.all(np.isfinite(obs))
            if terminated or truncated:
                break
        assert "episode" in info, f"{env_id}: no episode ended in 5000 steps"
        assert info["episode"]["l"] == steps
        assert info["episode"]["r"] == pytest.approx(total, rel=1e-5, abs=1e-5)
    finally:
        env.close()


# ------------------------------------------------------------------------------ copies
def _gym_trace(env: gym.Env, actions: list[Any], n: int) -> list[Any]:
    out = []
    for action in actions[:n]:
        obs, reward, terminated, truncated, _ = env.step(action)
        out.append((obs, reward))
        if terminated or truncated:
            obs, _ = env.reset()
            out.append((obs, None))
    return out


def _traces_equal(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        _same(x[0], y[0]) and x[1] == y[1] for x, y in zip(a, b, strict=True)
    )


def _gym_actions(env: gym.Env, seed: int, n: int) -> list[Any]:
    env.action_space.seed(seed)
    return [env.action_space.sample() for _ in range(n)]


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("env_id", GYM_IDS)
def test_gymnasium_copies_step_on_their_own(env_id, how):
    clone = copy.deepcopy if how == "deepcopy" else (lambda e: pickle.loads(pickle.dumps(e)))
    # Before reset: the copy behaves as a new env.
    fresh = gym.make(env_id)
    before = clone(fresh)
    actions = _gym_actions(fresh, 1, 120)
    fresh.reset(seed=11)
    before.reset(seed=11)
    assert _traces_equal(_gym_trace(fresh, actions, 120), _gym_trace(before, actions, 120))
    before.close()
    fresh.close()
    # Mid-episode: the copy continues as the original does; the original is untouched.
    env, twin = gym.make(env_id), gym.make(env_id)
    for e in (env, twin):
        e.reset(seed=2)
        _gym_trace(e, actions, 30)
    mid = clone(env)
    copy_trace = _gym_trace(mid, actions[30:], 90)
    mid.close()
    del mid
    gc.collect()
    assert _traces_equal(_gym_trace(env, actions[30:], 90), copy_trace)
    assert _traces_equal(_gym_trace(twin, actions[30:], 90), copy_trace)
    env.close()
    twin.close()


def _pz_play(
    env: Any, api: str, rng: np.random.Generator, n: int, obs: Any = None
) -> tuple[list[Any], Any]:
    """``n`` steps of legal actions drawn from ``rng``: comparable records, and the last
    observations (a Parallel env's actions are drawn from its latest observations)."""
    out: list[Any] = []
    if api == "parallel":
        for _ in range(n):
            if not env.agents:
                obs = env.reset()[0]
                out.append(("reset", obs))
                continue
            actions = {a: _pz_action(env, a, (obs or {}).get(a), rng) for a in env.agents}
            obs, rewards, _, _, _ = env.step(actions)
            out.append((obs, rewards))
        return out, obs
    for _ in range(n):
        if not env.agents:
            env.reset()
            out.append(("reset", env.agent_selection))
            continue
        agent = env.agent_selection
        obs, reward, terminated, truncated, _ = env.last()
        action = None if terminated or truncated else _pz_action(env, agent, obs, rng)
        env.step(action)
        out.append((agent, obs, reward))
    return out, None


def _pz_action(env: Any, agent: str, obs: Any, rng: np.random.Generator) -> Any:
    space = env.action_space(agent)
    if obs is None and hasattr(env, "observe"):
        obs = env.observe(agent)
    if isinstance(obs, dict) and "action_mask" in obs and obs["action_mask"].any():
        return int(rng.choice(np.flatnonzero(obs["action_mask"])))
    if isinstance(space, gym.spaces.Discrete):
        return int(rng.integers(space.n))
    return rng.uniform(space.low, space.high).astype(space.dtype)


def _records_equal(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(
        len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize(("api", "env_id"), PZ_IDS)
def test_pettingzoo_copies_step_on_their_own(api, env_id, how):
    clone = copy.deepcopy if how == "deepcopy" else (lambda e: pickle.loads(pickle.dumps(e)))
    fresh = pettingzoo.make(api, env_id)
    before = clone(fresh)
    first = fresh.reset(seed=4)
    again = before.reset(seed=4)
    if api == "parallel":
        assert _same(first[0], again[0])
    played = _pz_play(fresh, api, np.random.default_rng(0), 100, first and first[0])[0]
    replayed = _pz_play(before, api, np.random.default_rng(0), 100, again and again[0])[0]
    assert _records_equal(played, replayed)
    before.close()
    fresh.close()
    env, twin = pettingzoo.make(api, env_id), pettingzoo.make(api, env_id)
    latest = []
    for e in (env, twin):
        start = e.reset(seed=9)
        latest.append(_pz_play(e, api, np.random.default_rng(1), 25, start and start[0])[1])
    mid = clone(env)
    copy_records = _pz_play(mid, api, np.random.default_rng(2), 100, latest[0])[0]
    mid.close()
    del mid
    gc.collect()
    assert _records_equal(
        _pz_play(env, api, np.random.default_rng(2), 100, latest[0])[0], copy_records
    )
    assert _records_equal(
        _pz_play(twin, api, np.random.default_rng(2), 100, latest[1])[0], copy_records
    )
    env.close()
    twin.close()
