"""Running statistics, observation normalisation and reward scaling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from palaestra.agents.normalize import ObservationNormalizer, RewardNormalizer, RunningMeanStd

# ---------------------------------------------------------------------------------------------
# RunningMeanStd
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (3,), (2, 4)])
@pytest.mark.parametrize("sizes", [[1, 1, 1], [5, 17, 2, 40], [100], [3, 0, 8]])
def test_running_stats_equal_numpy_on_concatenated_batches(shape, sizes):
    rng = np.random.default_rng(0)
    batches = [rng.normal(2.0, 3.0, size=(n, *shape)) for n in sizes]
    rms = RunningMeanStd(shape, epsilon=1e-12)
    for batch in batches:
        rms.update(batch)
    data = np.concatenate(batches)
    assert rms.mean.shape == rms.var.shape == shape
    assert rms.mean.dtype == rms.var.dtype == np.float64
    np.testing.assert_allclose(rms.mean, data.mean(axis=0), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(rms.var, data.var(axis=0), rtol=1e-9, atol=1e-9)
    assert rms.count == pytest.approx(len(data))


def test_default_epsilon_acts_as_a_prior_pseudo_sample():
    # The statistics are those of the data pooled with a sample of weight eps, mean 0, var 1.
    rng = np.random.default_rng(1)
    data = rng.normal(5.0, 2.0, size=(50, 2))
    rms = RunningMeanStd((2,))
    rms.update(data[:20])
    rms.update(data[20:])
    eps, n = 1e-4, len(data)
    m, v = data.mean(axis=0), data.var(axis=0)
    pooled_mean = n * m / (n + eps)
    # Pooled second central moment: within-group parts plus the between-group term.
    pooled_var = (eps * 1.0 + n * v + (eps * n / (n + eps)) * m**2) / (n + eps)
    np.testing.assert_allclose(rms.mean, pooled_mean, rtol=1e-12)
    np.testing.assert_allclose(rms.var, pooled_var, rtol=1e-12)
    assert rms.count == pytest.approx(n + eps)


def test_running_stats_state_dict_round_trip_through_json():
    rng = np.random.default_rng(2)
    rms = RunningMeanStd((3,))
    rms.update(rng.normal(size=(10, 3)))
    text = json.dumps({k: v.tolist() for k, v in rms.state_dict().items()})
    other = RunningMeanStd((3,))
    other.load_state_dict(json.loads(text))
    batch = rng.normal(size=(4, 3))
    rms.update(batch)
    other.update(batch)
    assert np.array_equal(rms.mean, other.mean) and np.array_equal(rms.var, other.var)
    assert rms.count == other.count


def test_state_dict_is_a_copy():
    rms = RunningMeanStd((2,))
    state = rms.state_dict()
    state["mean"][:] = 99.0
    assert (rms.mean == 0).all()
    rms.load_state_dict(state)
    state["mean"][:] = -1.0
    assert (rms.mean == 99.0).all()


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"mean": np.zeros(3), "var": np.ones(2), "count": np.array(1.0)}, "'mean'.*shape"),
        ({"mean": np.zeros(2), "var": np.ones((2, 1)), "count": np.array(1.0)}, "'var'.*shape"),
        ({"mean": np.zeros(2), "var": np.ones(2), "count": np.ones(2)}, "'count'.*shape"),
        ({"mean": np.zeros(2), "var": np.ones(2)}, "missing 'count'"),
        ({"mean": np.zeros(2), "var": -np.ones(2), "count": np.array(1.0)}, "negative"),
        ({"mean": np.zeros(2), "var": np.ones(2), "count": np.array(0.0)}, "count"),
        ({"mean": [np.nan, 0.0], "var": np.ones(2), "count": 1.0}, "'mean'.*NaN"),
    ],
)
def test_load_state_dict_rejects_bad_states(state, message):
    with pytest.raises(ValueError, match=message):
        RunningMeanStd((2,)).load_state_dict(state)


def test_update_rejects_wrong_shape_and_nan():
    rms = RunningMeanStd((2,))
    with pytest.raises(ValueError, match="shape"):
        rms.update(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="shape"):
        rms.update(np.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        rms.update(np.array([[0.0, np.nan]]))


# ---------------------------------------------------------------------------------------------
# ObservationNormalizer
# ---------------------------------------------------------------------------------------------


def test_normalised_stream_has_zero_mean_unit_std():
    rng = np.random.default_rng(3)
    loc, scale = np.array([10.0, -3.0, 0.0]), np.array([5.0, 0.1, 100.0])
    normalizer = ObservationNormalizer((3,))
    outputs = [normalizer(rng.normal(loc, scale, size=(16, 3))) for _ in range(300)]
    assert outputs[0].dtype == np.float32 and outputs[0].shape == (16, 3)
    late = np.concatenate(outputs[100:])
    np.testing.assert_allclose(late.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(late.std(axis=0), 1.0, atol=0.05)
    # Frozen statistics on fresh data from the same distribution.
    fresh = normalizer(rng.normal(loc, scale, size=(20000, 3)), update=False)
    np.testing.assert_allclose(fresh.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(fresh.std(axis=0), 1.0, atol=0.05)


def test_formula_and_update_flag():
    normalizer = ObservationNormalizer((2,), epsilon=1e-8)
    first = np.array([[1.0, 2.0], [3.0, 6.0]])
    out = normalizer(first)  # statistics updated first, then applied
    mean, var = normalizer.rms.mean, normalizer.rms.var
    np.testing.assert_allclose(out, (first - mean) / np.sqrt(var + 1e-8), rtol=1e-6)
    before = normalizer.state_dict()
    single = normalizer(np.array([100.0, -100.0]), update=False)
    assert single.shape == (2,)
    after = normalizer.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_clip_is_respected():
    normalizer = ObservationNormalizer((2,), clip=3.0)
    rng = np.random.default_rng(4)
    normalizer(rng.normal(size=(500, 2)))
    out = normalizer(np.array([[1e6, -1e6], [0.5, -0.5]]), update=False)
    assert out[0].tolist() == [3.0, -3.0]
    assert np.all(np.abs(out[1]) < 3.0)


def test_observation_state_round_trip_gives_identical_outputs():
    rng = np.random.default_rng(5)
    a = ObservationNormalizer((2, 2))
    for _ in range(5):
        a(rng.normal(3.0, 2.0, size=(8, 2, 2)))
    b = ObservationNormalizer((2, 2))
    b.load_state_dict(a.state_dict())
    for _ in range(5):
        batch = rng.normal(3.0, 2.0, size=(8, 2, 2))
        assert np.array_equal(a(batch), b(batch))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_observation_raises(bad):
    normalizer = ObservationNormalizer((3,))
    obs = np.zeros((2, 3))
    obs[1, 2] = bad
    name = "NaN" if np.isnan(bad) else "inf"
    with pytest.raises(ValueError, match=rf"observation holds {name}.*\(1, 2\)"):
        normalizer(obs)
    with pytest.raises(ValueError, match=name):
        normalizer(obs, update=False)
    assert normalizer.rms.count == pytest.approx(1e-4)  # nothing was merged


def test_observation_wrong_shapes_raise():
    normalizer = ObservationNormalizer(3)
    with pytest.raises(ValueError, match="shape"):
        normalizer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="'mean' has shape"):
        normalizer.load_state_dict({"mean": np.zeros(4), "var": np.ones(3), "count": 1.0})
    with pytest.raises(ValueError, match="clip"):
        ObservationNormalizer(3, clip=0.0)


# ---------------------------------------------------------------------------------------------
# RewardNormalizer
# ---------------------------------------------------------------------------------------------


def test_constant_reward_scaled_by_discounted_return_std():
    # One env, reward 1 every step, episodes of length L. Within an episode the discounted
    # return after k + 1 steps is ret_k = sum_{j<=k} gamma^j = (1 - gamma^(k+1)) / (1 - gamma),
    # so the stream of returns repeats these L values and their running variance tends to
    # the variance of one episode's values. The scaled reward tends to 1 / sqrt(that).
    gamma, length, episodes = 0.9, 10, 400
    k = np.arange(length)
    episode_returns = (1.0 - gamma ** (k + 1)) / (1.0 - gamma)
    expected = 1.0 / np.sqrt(episode_returns.var() + 1e-8)

    normalizer = RewardNormalizer(1, gamma, clip=100.0)
    scaled = []
    for _ in range(episodes):
        for step in range(length):
            out = normalizer(np.array([1.0]), np.array([step == length - 1]))
            scaled.append(float(out[0]))
    # At the end of an episode the statistics hold whole episodes only (plus a negligible
    # prior of weight 1e-4), so the match is tight; mid-episode it is within O(1/episodes).
    assert scaled[-1] == pytest.approx(expected, rel=1e-5)
    assert scaled[-length // 2] == pytest.approx(expected, rel=0.02)


def test_returns_reset_per_env_at_episode_ends():
    gamma = 0.5
    normalizer = RewardNormalizer(2, gamma)
    normalizer(np.array([1.0, 2.0]), np.array([False, False]))
    assert normalizer.state_dict()["ret"].tolist() == [1.0, 2.0]
    normalizer(np.array([4.0, 8.0]), np.array([True, False]))
    # env 0: 1 * 0.5 + 4 = 4.5, then reset; env 1: 2 * 0.5 + 8 = 9
    assert normalizer.state_dict()["ret"].tolist() == [0.0, 9.0]
    normalizer(np.array([1.0, 1.0]), np.array([False, True]))
    assert normalizer.state_dict()["ret"].tolist() == [1.0, 0.0]


def test_reward_statistics_track_returns_not_rewards():
    gamma = 0.5
    normalizer = RewardNormalizer(2, gamma, epsilon=0.0)
    stream = [([1.0, 2.0], [False, False]), ([4.0, 8.0], [True, False]), ([1.0, 1.0], [0, 0])]
    outs = [normalizer(np.array(r), np.array(e, bool)) for r, e in stream]
    # The returns merged, step by step: [1, 2], [4.5, 9], [0 * 0.5 + 1, 9 * 0.5 + 1].
    merged = np.array([1.0, 2.0, 4.5, 9.0, 1.0, 5.5])
    eps = 1e-4  # the prior pseudo-sample: weight eps, mean 0, variance 1
    n, m, v = len(merged), merged.mean(), merged.var()
    pooled_var = (eps + n * v + (eps * n / (n + eps)) * m**2) / (n + eps)
    assert outs[-1].tolist() == pytest.approx([1.0 / np.sqrt(pooled_var)] * 2, rel=1e-6)
    assert outs[-1].dtype == np.float32


def test_reward_clip_and_frozen_update():
    normalizer = RewardNormalizer(1, 0.99, clip=2.0)
    for _ in range(50):
        normalizer(np.array([0.01]), np.array([False]))
    assert normalizer(np.array([1e6]), np.array([False]), update=False).tolist() == [2.0]
    assert normalizer(np.array([-1e6]), np.array([False]), update=False).tolist() == [-2.0]
    count = normalizer.rms.count
    normalizer(np.array([0.01]), np.array([False]), update=False)
    assert normalizer.rms.count == count


def test_reward_state_round_trip_continues_exactly():
    rng = np.random.default_rng(6)
    a = RewardNormalizer(3, 0.99)
    for _ in range(20):
        a(rng.normal(size=3), rng.random(3) < 0.1)
    state = json.loads(json.dumps({k: v.tolist() for k, v in a.state_dict().items()}))
    b = RewardNormalizer(3, 0.99)
    b.load_state_dict(state)
    for _ in range(20):
        rewards, ended = rng.normal(size=3), rng.random(3) < 0.1
        assert np.array_equal(a(rewards, ended), b(rewards, ended))
    assert np.array_equal(a.ret, b.ret)


def test_resuming_without_ret_would_differ():
    # The per-env return is part of the state: dropping it changes the future statistics.
    a = RewardNormalizer(1, 0.9)
    for _ in range(5):
        a(np.array([1.0]), np.array([False]))
    b = RewardNormalizer(1, 0.9)
    b.load_state_dict({**a.state_dict(), "ret": np.zeros(1)})
    assert a(np.array([1.0]), np.array([False]))[0] != b(np.array([1.0]), np.array([False]))[0]


def test_reward_bad_inputs_raise():
    normalizer = RewardNormalizer(2, 0.99)
    with pytest.raises(ValueError, match="rewards must have shape"):
        normalizer(np.zeros(3), np.zeros(2, bool))
    with pytest.raises(ValueError, match="episode_ended must have shape"):
        normalizer(np.zeros(2), np.zeros(3, bool))
    with pytest.raises(ValueError, match="rewards holds NaN"):
        normalizer(np.array([0.0, np.nan]), np.zeros(2, bool))
    state = normalizer.state_dict()
    with pytest.raises(ValueError, match="'ret' has shape"):
        normalizer.load_state_dict({**state, "ret": np.zeros(3)})
    with pytest.raises(ValueError, match="missing 'ret'"):
        normalizer.load_state_dict({k: v for k, v in state.items() if k != "ret"})
    with pytest.raises(ValueError, match="gamma"):
        RewardNormalizer(2, 1.5)
    with pytest.raises(ValueError, match="num_envs"):
        RewardNormalizer(0, 0.99)
