"""GAE worked out by hand, and the rollout storage's bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from palaestra.train.storage import Batch, RolloutStorage, compute_gae

GAMMA = 0.9
LAMBDA = 0.8
GL = GAMMA * LAMBDA  # 0.72

# One env, four steps. V(obs_4) = NEXT_VALUE.
REWARDS = [1.0, 0.0, 2.0, 1.0]
VALUES = [0.5, 0.3, 0.4, 0.2]
NEXT_VALUE = 0.6


def column(xs, dtype=torch.float64):
    """A [T] list as a [T, 1] tensor (one env)."""
    return torch.tensor(xs, dtype=dtype).unsqueeze(1)


def flags(*steps, length=4):
    """A [T, 1] bool tensor, True at the given steps."""
    return column([t in steps for t in range(length)], dtype=torch.bool)


def gae(
    rewards=REWARDS,
    values=VALUES,
    terminated=(),
    truncated=(),
    invalid=(),
    next_value=NEXT_VALUE,
    gamma=GAMMA,
    lam=LAMBDA,
):
    """Run compute_gae on the single-env example; return advantages and returns as lists."""
    advantages, returns = compute_gae(
        column(rewards),
        column(values),
        flags(*terminated),
        flags(*truncated),
        torch.tensor([next_value], dtype=torch.float64),
        gamma,
        lam,
        valid=~flags(*invalid),
    )
    return advantages[:, 0].tolist(), returns[:, 0].tolist()


# ---------------------------------------------------------------------------------------------
# compute_gae: worked examples
# ---------------------------------------------------------------------------------------------


def test_no_episode_end():
    delta3 = 1.0 + 0.9 * 0.6 - 0.2
    delta2 = 2.0 + 0.9 * 0.2 - 0.4
    delta1 = 0.0 + 0.9 * 0.4 - 0.3
    delta0 = 1.0 + 0.9 * 0.3 - 0.5
    a3 = delta3
    a2 = delta2 + 0.72 * a3
    a1 = delta1 + 0.72 * a2
    a0 = delta0 + 0.72 * a1

    advantages, returns = gae()
    assert advantages == pytest.approx([a0, a1, a2, a3], abs=1e-12)
    assert returns == pytest.approx([a0 + 0.5, a1 + 0.3, a2 + 0.4, a3 + 0.2], abs=1e-12)


def test_termination_mid_rollout_neither_bootstraps_nor_propagates():
    # Step 1 ends its episode in a terminal state: no V(obs_2), and A_2 does not flow back.
    delta3 = 1.0 + 0.9 * 0.6 - 0.2
    delta2 = 2.0 + 0.9 * 0.2 - 0.4
    delta1 = 0.0 - 0.3
    delta0 = 1.0 + 0.9 * 0.3 - 0.5
    a3 = delta3
    a2 = delta2 + 0.72 * a3
    a1 = delta1
    a0 = delta0 + 0.72 * a1

    advantages, returns = gae(terminated=[1])
    assert advantages == pytest.approx([a0, a1, a2, a3], abs=1e-12)
    assert returns == pytest.approx([a0 + 0.5, a1 + 0.3, a2 + 0.4, a3 + 0.2], abs=1e-12)


def test_truncation_mid_rollout_bootstraps_from_final_obs_but_does_not_propagate():
    # Step 1 is cut off: obs_2 is the episode's final observation, values[2] = 0.4 its value.
    delta3 = 1.0 + 0.9 * 0.6 - 0.2
    delta2 = 2.0 + 0.9 * 0.2 - 0.4
    delta1 = 0.0 + 0.9 * 0.4 - 0.3
    delta0 = 1.0 + 0.9 * 0.3 - 0.5
    a3 = delta3
    a2 = delta2 + 0.72 * a3
    a1 = delta1
    a0 = delta0 + 0.72 * a1

    advantages, _ = gae(truncated=[1])
    assert advantages == pytest.approx([a0, a1, a2, a3], abs=1e-12)


def test_termination_in_last_step_ignores_next_value():
    a3 = 1.0 - 0.2
    a2 = (2.0 + 0.9 * 0.2 - 0.4) + 0.72 * a3
    advantages, _ = gae(terminated=[3], next_value=123.0)
    assert advantages[2:] == pytest.approx([a2, a3], abs=1e-12)


def test_invalid_autoreset_step_after_termination():
    # Step 1 terminates; step 2 is the autoreset step (not a transition): its reward and
    # value are junk and must not matter to anyone.
    junk_rewards = [1.0, 0.0, 77.0, 1.0]
    delta3 = 1.0 + 0.9 * 0.6 - 0.2
    a3 = delta3
    a2 = 0.0
    a1 = 0.0 - 0.3
    a0 = (1.0 + 0.9 * 0.3 - 0.5) + 0.72 * a1

    for junk_value in (0.4, -55.0):
        values = [0.5, 0.3, junk_value, 0.2]
        advantages, returns = gae(rewards=junk_rewards, values=values, terminated=[1], invalid=[2])
        assert advantages == pytest.approx([a0, a1, a2, a3], abs=1e-12)
        assert returns[2] == pytest.approx(junk_value)  # advantage 0: return = value


def test_invalid_autoreset_step_after_truncation_keeps_its_value_for_the_bootstrap():
    # Next-step autoreset: the value stored at the autoreset step is V(final obs), which the
    # truncated step bootstraps from. Here truncation at step 2, autoreset at step 3 (the
    # last), so step 2 bootstraps from values[3], not from next_value.
    a3 = 0.0
    a2 = 2.0 + 0.9 * 0.2 - 0.4
    a1 = (0.0 + 0.9 * 0.4 - 0.3) + 0.72 * a2
    a0 = (1.0 + 0.9 * 0.3 - 0.5) + 0.72 * a1

    advantages, _ = gae(rewards=[1.0, 0.0, 2.0, 9.0], truncated=[2], invalid=[3])
    assert advantages == pytest.approx([a0, a1, a2, a3], abs=1e-12)


def test_nan_in_ignored_values_does_not_leak():
    nan = float("nan")
    advantages, _ = gae(values=[0.5, 0.3, nan, 0.2], terminated=[1], invalid=[2])
    assert advantages[2] == 0.0
    assert all(np.isfinite(advantages))
    advantages, _ = gae(terminated=[3], next_value=nan)
    assert all(np.isfinite(advantages))


def test_two_envs_are_independent():
    # Env 0 runs on; env 1 terminates at step 1. Stacked, each column equals its solo run.
    solo0, _ = gae()
    solo1, _ = gae(rewards=[0.5, 1.5, -1.0, 0.0], values=[0.1, 0.2, 0.3, 0.4], terminated=[1])
    rewards = torch.tensor([[1.0, 0.5], [0.0, 1.5], [2.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, 0.1], [0.3, 0.2], [0.4, 0.3], [0.2, 0.4]], dtype=torch.float64)
    terminated = torch.zeros(4, 2, dtype=torch.bool)
    terminated[1, 1] = True
    truncated = torch.zeros(4, 2, dtype=torch.bool)
    next_value = torch.tensor([0.6, 0.6], dtype=torch.float64)
    advantages, _ = compute_gae(rewards, values, terminated, truncated, next_value, GAMMA, LAMBDA)
    assert advantages[:, 0].tolist() == pytest.approx(solo0, abs=1e-12)
    assert advantages[:, 1].tolist() == pytest.approx(solo1, abs=1e-12)

    # The hand-worked numbers of env 1 as well.
    b1 = 1.5 - 0.2
    b0 = (0.5 + 0.9 * 0.2 - 0.1) + 0.72 * b1
    b3 = 0.0 + 0.9 * 0.6 - 0.4
    b2 = (-1.0 + 0.9 * 0.4 - 0.3) + 0.72 * b3
    assert solo1 == pytest.approx([b0, b1, b2, b3], abs=1e-12)


def test_lambda_one_is_monte_carlo_return_minus_value():
    g3 = 1.0 + 0.9 * 0.6
    g2 = 2.0 + 0.9 * g3
    g1 = 0.0 + 0.9 * g2
    g0 = 1.0 + 0.9 * g1
    advantages, returns = gae(lam=1.0)
    assert advantages == pytest.approx([g0 - 0.5, g1 - 0.3, g2 - 0.4, g3 - 0.2], abs=1e-12)
    assert returns == pytest.approx([g0, g1, g2, g3], abs=1e-12)

    # With a termination at step 1, the return of steps 0-1 stops there.
    h1 = 0.0
    h0 = 1.0 + 0.9 * h1
    advantages, _ = gae(lam=1.0, terminated=[1])
    assert advantages[:2] == pytest.approx([h0 - 0.5, h1 - 0.3], abs=1e-12)
    assert advantages[2:] == pytest.approx([g2 - 0.4, g3 - 0.2], abs=1e-12)


def test_lambda_one_matches_discounted_sums_on_random_data():
    rng = np.random.default_rng(0)
    steps, envs, gamma = 12, 3, 0.97
    rewards = rng.normal(size=(steps, envs))
    values = rng.normal(size=(steps, envs))
    next_value = rng.normal(size=envs)
    advantages, _ = compute_gae(
        torch.tensor(rewards),
        torch.tensor(values),
        torch.zeros(steps, envs, dtype=torch.bool),
        torch.zeros(steps, envs, dtype=torch.bool),
        torch.tensor(next_value),
        gamma,
        1.0,
    )
    # G_t = sum_{k=t}^{T-1} gamma^(k-t) r_k + gamma^(T-t) V(obs_T), as an explicit sum.
    expected = np.empty((steps, envs))
    for t in range(steps):
        discounts = gamma ** np.arange(steps - t)
        expected[t] = discounts @ rewards[t:] + gamma ** (steps - t) * next_value - values[t]
    np.testing.assert_allclose(advantages.numpy(), expected, atol=1e-12)


def test_lambda_zero_is_one_step_td_error():
    delta = [
        1.0 + 0.9 * 0.3 - 0.5,
        0.0 - 0.3,  # terminated: no bootstrap
        2.0 + 0.9 * 0.2 - 0.4,
        1.0 + 0.9 * 0.6 - 0.2,
    ]
    advantages, _ = gae(lam=0.0, terminated=[1])
    assert advantages == pytest.approx(delta, abs=1e-12)


def test_lambda_zero_on_random_data_with_episode_ends():
    rng = np.random.default_rng(1)
    steps, envs = 10, 4
    rewards = rng.normal(size=(steps, envs))
    values = rng.normal(size=(steps, envs))
    next_value = rng.normal(size=envs)
    terminated = rng.random((steps, envs)) < 0.2
    truncated = rng.random((steps, envs)) < 0.2
    advantages, returns = compute_gae(
        torch.tensor(rewards),
        torch.tensor(values),
        torch.tensor(terminated),
        torch.tensor(truncated),
        torch.tensor(next_value),
        0.99,
        0.0,
    )
    following = np.concatenate([values[1:], next_value[None]])
    expected = rewards + 0.99 * np.where(terminated, 0.0, following) - values
    np.testing.assert_allclose(advantages.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(returns.numpy(), expected + values, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_output_dtype_follows_values(dtype):
    advantages, returns = compute_gae(
        column(REWARDS, dtype=dtype),
        column(VALUES, dtype=dtype),
        flags(),
        flags(),
        torch.tensor([NEXT_VALUE], dtype=dtype),
        GAMMA,
        LAMBDA,
    )
    assert advantages.dtype == returns.dtype == dtype
    reference, _ = gae()
    tolerance = 0.05 if dtype == torch.bfloat16 else 1e-5
    assert advantages[:, 0].float().tolist() == pytest.approx(reference, abs=tolerance)


def test_numpy_flags_and_rewards_are_accepted():
    advantages, _ = compute_gae(
        np.array(REWARDS)[:, None],
        column(VALUES),
        np.zeros((4, 1), dtype=bool),
        np.zeros((4, 1), dtype=bool),
        np.array([NEXT_VALUE]),
        GAMMA,
        LAMBDA,
    )
    assert advantages[:, 0].tolist() == pytest.approx(gae()[0], abs=1e-12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rewards": torch.zeros(4, 2)}, "rewards"),
        ({"terminated": torch.zeros(3, 1, dtype=torch.bool)}, "terminated"),
        ({"truncated": torch.zeros(4, dtype=torch.bool)}, "truncated"),
        ({"valid": torch.ones(4, 2, dtype=torch.bool)}, "valid"),
        ({"next_value": torch.zeros(2)}, "next_value"),
        ({"values": torch.zeros(4)}, "values"),
        ({"values": torch.zeros(4, 1, dtype=torch.long)}, "floating"),
        ({"gamma": 1.5}, "gamma"),
        ({"gae_lambda": -0.1}, "gae_lambda"),
    ],
)
def test_bad_inputs_raise(change, message):
    kwargs = {
        "rewards": column(REWARDS),
        "values": column(VALUES),
        "terminated": flags(),
        "truncated": flags(),
        "next_value": torch.tensor([NEXT_VALUE], dtype=torch.float64),
        "gamma": GAMMA,
        "gae_lambda": LAMBDA,
        "valid": None,
    }
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        compute_gae(**kwargs)


# ---------------------------------------------------------------------------------------------
# RolloutStorage
# ---------------------------------------------------------------------------------------------

T, N, OBS, MASK, CRITIC = 6, 3, 4, 5, 7


def filled_storage(valid: np.ndarray, *, masks: bool = True, device="cpu") -> RolloutStorage:
    """A storage whose obs[..., 0] is the flat index t * N + n of each entry."""
    storage = RolloutStorage(
        T,
        N,
        OBS,
        (2,),
        torch.float32,
        device,
        mask_dim=MASK if masks else None,
        critic_obs_dim=CRITIC if masks else None,
    )
    rng = np.random.default_rng(3)
    for t in range(T):
        ids = np.arange(N) + t * N
        obs = np.zeros((N, OBS), np.float32)
        obs[:, 0] = ids
        extra = {}
        if masks:
            extra = {
                "action_masks": torch.from_numpy(rng.random((N, MASK)) < 0.5),
                "critic_obs": torch.from_numpy(np.repeat(ids[:, None], CRITIC, 1)).float(),
            }
        storage.insert(
            t,
            obs=torch.from_numpy(obs),
            actions=torch.from_numpy(rng.normal(size=(N, 2))).float(),
            logprobs=torch.from_numpy(-rng.random(N)).float(),
            values=torch.from_numpy(rng.normal(size=N)).float(),
            rewards=rng.normal(size=N),  # numpy float64
            terminated=rng.random(N) < 0.2,  # numpy bool
            truncated=np.zeros(N, bool),
            valid=valid[t],
            **extra,
        )
    return storage


def random_valid(seed: int = 0) -> np.ndarray:
    valid = np.random.default_rng(seed).random((T, N)) < 0.7
    valid[0] = True
    return valid


def test_shapes_and_dtypes():
    storage = RolloutStorage(T, N, OBS, (), torch.long, "cpu", mask_dim=MASK, critic_obs_dim=CRITIC)
    assert storage.obs.shape == (T, N, OBS) and storage.obs.dtype == torch.float32
    assert storage.critic_obs is not None and storage.critic_obs.shape == (T, N, CRITIC)
    assert storage.actions.shape == (T, N) and storage.actions.dtype == torch.long
    for name in ("logprobs", "rewards", "values", "advantages", "returns"):
        tensor = getattr(storage, name)
        assert tensor.shape == (T, N) and tensor.dtype == torch.float32, name
    for name in ("terminated", "truncated", "valid"):
        tensor = getattr(storage, name)
        assert tensor.shape == (T, N) and tensor.dtype == torch.bool, name
    assert storage.action_masks is not None
    assert storage.action_masks.shape == (T, N, MASK)
    assert storage.action_masks.dtype == torch.bool

    plain = RolloutStorage(T, N, OBS, (3,), torch.float32, "cpu")
    assert plain.action_masks is None and plain.critic_obs is None
    assert plain.actions.shape == (T, N, 3)


def test_insert_copies_and_converts():
    valid = random_valid()
    storage = filled_storage(valid)
    assert storage.obs[:, :, 0].flatten().tolist() == list(range(T * N))
    assert storage.rewards.dtype == torch.float32
    assert storage.valid.numpy().tolist() == valid.tolist()
    assert storage.num_valid == int(valid.sum())


def test_compute_returns_equals_compute_gae():
    storage = filled_storage(random_valid())
    storage.compute_returns(np.array([0.1, -0.2, 0.3]), 0.95, 0.9)
    advantages, returns = compute_gae(
        storage.rewards,
        storage.values,
        storage.terminated,
        storage.truncated,
        torch.tensor([0.1, -0.2, 0.3]),
        0.95,
        0.9,
        storage.valid,
    )
    assert torch.equal(storage.advantages, advantages)
    assert torch.equal(storage.returns, returns)
    assert (storage.advantages[~storage.valid] == 0).all()


def collect(storage: RolloutStorage, num_minibatches: int, seed: int) -> list[Batch]:
    generator = torch.Generator().manual_seed(seed)
    return list(storage.minibatches(num_minibatches, generator))


def test_minibatches_cover_valid_entries_once_each_epoch():
    valid = random_valid()
    storage = filled_storage(valid)
    storage.compute_returns(torch.zeros(N), 0.99, 0.95)
    expected_ids = sorted(np.flatnonzero(valid.reshape(-1)).tolist())
    generator = torch.Generator().manual_seed(0)
    for _epoch in range(3):
        batches = list(storage.minibatches(4, generator))
        ids = [int(i) for b in batches for i in b.obs[:, 0].tolist()]
        assert sorted(ids) == expected_ids  # each valid entry exactly once
        sizes = [len(b.obs) for b in batches]
        assert sizes == [len(part) for part in np.array_split(np.arange(len(ids)), 4)]
        for batch in batches:
            t, n = np.divmod(batch.obs[:, 0].long().numpy(), N)
            assert torch.equal(batch.advantages, storage.advantages[t, n])
            assert torch.equal(batch.returns, storage.returns[t, n])
            assert torch.equal(batch.values, storage.values[t, n])
            assert torch.equal(batch.logprobs, storage.logprobs[t, n])
            assert torch.equal(batch.actions, storage.actions[t, n])
            assert batch.action_masks is not None and batch.critic_obs is not None
            assert torch.equal(batch.action_masks, storage.action_masks[t, n])
            assert batch.critic_obs[:, 0].tolist() == batch.obs[:, 0].tolist()


def test_minibatch_shapes():
    storage = filled_storage(np.ones((T, N), bool), masks=False)
    batches = collect(storage, 3, seed=0)
    assert len(batches) == 3
    for batch in batches:
        size = T * N // 3
        assert batch.obs.shape == (size, OBS)
        assert batch.actions.shape == (size, 2)
        for name in ("logprobs", "values", "advantages", "returns"):
            assert getattr(batch, name).shape == (size,)
        assert batch.action_masks is None and batch.critic_obs is None
    with pytest.raises(AttributeError):
        batches[0].obs = None  # frozen


def test_same_seed_same_order_different_seed_different_order():
    storage = filled_storage(random_valid())

    def order(seed):
        return [i for b in collect(storage, 2, seed) for i in b.obs[:, 0].tolist()]

    assert order(7) == order(7)
    assert order(7) != order(8)


def test_fewer_valid_entries_than_minibatches_yields_only_nonempty_batches():
    valid = np.zeros((T, N), bool)
    valid[0, 1] = valid[4, 2] = True
    storage = filled_storage(valid)
    batches = collect(storage, 5, seed=0)
    assert [len(b.obs) for b in batches] == [1, 1]
    assert sorted(b.obs[0, 0].item() for b in batches) == [0 * N + 1, 4 * N + 2]
    assert collect(filled_storage(np.zeros((T, N), bool)), 2, seed=0) == []


def test_bad_storage_calls_raise():
    storage = filled_storage(random_valid())
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="num_minibatches"):
        next(storage.minibatches(0, generator))
    step = {
        "obs": torch.zeros(N, OBS),
        "actions": torch.zeros(N, 2),
        "logprobs": torch.zeros(N),
        "values": torch.zeros(N),
        "rewards": np.zeros(N),
        "terminated": np.zeros(N, bool),
        "truncated": np.zeros(N, bool),
        "valid": np.ones(N, bool),
        "action_masks": torch.ones(N, MASK, dtype=torch.bool),
        "critic_obs": torch.zeros(N, CRITIC),
    }
    with pytest.raises(ValueError, match="step"):
        storage.insert(T, **step)
    with pytest.raises(ValueError, match="obs"):
        storage.insert(0, **{**step, "obs": torch.zeros(N, OBS + 1)})
    before = storage.obs.clone()
    with pytest.raises(ValueError, match="rewards"):
        storage.insert(0, **{**step, "rewards": np.zeros(N + 1)})
    assert torch.equal(storage.obs, before)  # a rejected insert writes nothing
    with pytest.raises(ValueError, match="action_masks"):
        storage.insert(0, **{**step, "action_masks": None})
    plain = RolloutStorage(T, N, OBS, (2,), torch.float32, "cpu")
    with pytest.raises(ValueError, match="critic_obs"):
        plain.insert(0, **{**step, "action_masks": None})
    with pytest.raises(ValueError, match="num_envs"):
        RolloutStorage(T, 0, OBS, (), torch.long, "cpu")
    with pytest.raises(ValueError, match="next_value"):
        storage.compute_returns(torch.zeros(N + 1), 0.99, 0.95)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_storage_with_cpu_generator():
    valid = random_valid()
    storage = filled_storage(valid, device="cuda")
    storage.compute_returns(torch.zeros(N), 0.99, 0.95)
    assert storage.advantages.is_cuda
    cpu_storage = filled_storage(valid)
    cpu_storage.compute_returns(torch.zeros(N), 0.99, 0.95)
    assert torch.allclose(storage.advantages.cpu(), cpu_storage.advantages, atol=1e-6)
    on_cuda = collect(storage, 3, seed=5)
    on_cpu = collect(cpu_storage, 3, seed=5)
    assert all(b.obs.is_cuda for b in on_cuda)
    assert [b.obs[:, 0].tolist() for b in on_cuda] == [b.obs[:, 0].tolist() for b in on_cpu]


# ---------------------------------------------------------------------------------------------
# compute_gae through waiting steps (turn-based envs), worked by hand from the docstring's
# equations: delta_t = (r_t + ... + r_{t+k}) + gamma (1 - term') V_{t+k+1} - V_t and
# A_t = delta_t + gamma lambda (1 - done') A_{t+k+1}, flags OR-ed over t .. t+k.
# ---------------------------------------------------------------------------------------------


def turn_gae(rewards, values, *, waiting=(), terminated=(), truncated=(), invalid=(), nv=0.6):
    """compute_gae on one row of len(rewards) steps; returns advantages and returns as lists."""
    length = len(rewards)
    advantages, returns = compute_gae(
        column(rewards),
        column(values),
        flags(*terminated, length=length),
        flags(*truncated, length=length),
        torch.tensor([nv], dtype=torch.float64),
        GAMMA,
        LAMBDA,
        valid=~flags(*invalid, *waiting, length=length),
        waiting=flags(*waiting, length=length),
    )
    return advantages[:, 0].tolist(), returns[:, 0].tolist()


def test_waiting_steps_pass_value_advantage_and_rewards_through():
    # Steps 1-2: the agent waits while others act. Their values are junk (never read);
    # their rewards belong to step 0, which bootstraps from V_3, the agent's next turn.
    rewards = [1.0, 0.5, 2.0, 0.0, 1.0]
    values = [0.5, 9.0, -9.0, 0.3, 0.2]
    a4 = 1.0 + 0.9 * 0.6 - 0.2
    a3 = (0.0 + 0.9 * 0.2 - 0.3) + 0.72 * a4
    a0 = ((1.0 + 0.5 + 2.0) + 0.9 * 0.3 - 0.5) + 0.72 * a3

    advantages, returns = turn_gae(rewards, values, waiting=[1, 2])
    assert advantages == pytest.approx([a0, 0.0, 0.0, a3, a4], abs=1e-12)
    assert returns == pytest.approx([a0 + 0.5, 9.0, -9.0, a3 + 0.3, a4 + 0.2], abs=1e-12)


def test_termination_while_waiting_ends_the_real_step_before_it():
    # Step 0 acts; the hand ends (terminal, payout 2.0) at step 1 while the agent waits;
    # step 2 is the autoreset step (junk reward and value). Step 3 waits in the new episode
    # before the agent's first turn: its reward 0.7 reaches no decision and is dropped.
    # Step 4 acts; step 5 waits (reward 0.4) up to the rollout's end, so step 4 bootstraps
    # from next_value = V(obs_6).
    rewards = [1.0, 2.0, 55.0, 0.7, 0.25, 0.4]
    values = [0.5, 8.0, -33.0, 7.0, 0.1, 6.0]
    a4 = (0.25 + 0.4) + 0.9 * 0.6 - 0.1
    a0 = (1.0 + 2.0) - 0.5  # terminal: no bootstrap, no advantage from after the end

    advantages, _ = turn_gae(rewards, values, waiting=[1, 3, 5], terminated=[1], invalid=[2])
    assert advantages == pytest.approx([a0, 0.0, 0.0, 0.0, a4, 0.0], abs=1e-12)


def test_truncation_while_waiting_bootstraps_from_the_final_observation():
    # Truncated at step 1 while waiting; step 2 autoresets and holds V(final obs) = 0.4.
    rewards = [1.0, 0.5, 9.0, 2.0]
    values = [0.5, 5.0, 0.4, 0.2]
    a3 = 2.0 + 0.9 * 0.6 - 0.2
    a0 = (1.0 + 0.5) + 0.9 * 0.4 - 0.5  # bootstraps, but no advantage across the end

    advantages, _ = turn_gae(rewards, values, waiting=[1], truncated=[1], invalid=[2])
    assert advantages == pytest.approx([a0, 0.0, 0.0, a3], abs=1e-12)


def test_lambda_one_through_waiting_steps_is_the_return_over_own_turns():
    # Discounting counts the agent's turns (steps 0, 2, 4), not the steps of the batch.
    rewards = [1.0, 3.0, 0.0, 0.5, 2.0]
    values = [0.5, 1.0, 0.3, 1.0, 0.2]
    g4 = 2.0 + 0.9 * 0.6
    g2 = (0.0 + 0.5) + 0.9 * g4
    g0 = (1.0 + 3.0) + 0.9 * g2
    advantages, _ = compute_gae(
        column(rewards), column(values), flags(length=5), flags(length=5),
        torch.tensor([0.6], dtype=torch.float64), 0.9, 1.0,
        valid=~flags(1, 3, length=5), waiting=flags(1, 3, length=5),
    )  # fmt: skip
    assert advantages[:, 0].tolist() == pytest.approx([g0 - 0.5, 0, g2 - 0.3, 0, g4 - 0.2])


def test_nan_in_waiting_values_does_not_leak():
    nan = float("nan")
    a2 = 2.0 + 0.9 * 0.6 - 0.3
    a0 = ((1.0 + 0.5) + 0.9 * 0.3 - 0.5) + 0.72 * a2
    advantages, _ = turn_gae([1.0, 0.5, 2.0], [0.5, nan, 0.3], waiting=[1])
    assert advantages == pytest.approx([a0, 0.0, a2], abs=1e-12)


def random_turns(seed: int, steps: int = 40, rows: int = 5):
    """Random rewards, values and flags with waiting steps (never valid) and autoresets."""
    rng = np.random.default_rng(seed)
    waiting = rng.random((steps, rows)) < 0.5
    valid = ~waiting & (rng.random((steps, rows)) < 0.85)
    return (
        torch.tensor(rng.normal(size=(steps, rows))),
        torch.tensor(rng.normal(size=(steps, rows))),
        torch.tensor(rng.random((steps, rows)) < 0.1),
        torch.tensor(rng.random((steps, rows)) < 0.1),
        torch.tensor(rng.normal(size=rows)),
        torch.tensor(valid),
        torch.tensor(waiting),
    )


def test_waiting_torch_and_numpy_paths_agree():
    from palaestra.train.gae import _gae_waiting, _gae_waiting_numpy

    rewards, values, term, trunc, next_value, valid, waiting = random_turns(0)
    args = (rewards, values, term, term | trunc, valid, waiting, next_value, 0.97, 0.9)
    torch_adv, torch_ret = _gae_waiting(*args)
    numpy_adv, numpy_ret = _gae_waiting_numpy(*args)
    torch.testing.assert_close(torch_adv, numpy_adv, rtol=0, atol=1e-12)
    torch.testing.assert_close(torch_ret, numpy_ret, rtol=0, atol=1e-12)
    assert (numpy_adv[~valid] == 0).all()
    # bfloat16 on the CPU takes the torch path through compute_gae.
    low, _ = compute_gae(
        rewards, values.bfloat16(), term, trunc, next_value, 0.97, 0.9, valid, waiting
    )
    torch.testing.assert_close(low.double(), numpy_adv, rtol=0.05, atol=0.2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_waiting_steps_is_bit_identical_to_waiting_none(dtype):
    rewards, values, term, trunc, next_value, valid, _ = random_turns(1)
    values = values.to(dtype)
    plain = compute_gae(rewards, values, term, trunc, next_value, 0.99, 0.95, valid)
    none_waiting = torch.zeros_like(valid)
    turned = compute_gae(rewards, values, term, trunc, next_value, 0.99, 0.95, valid, none_waiting)
    assert torch.equal(plain[0], turned[0]) and torch.equal(plain[1], turned[1])


def test_a_step_both_valid_and_waiting_is_refused():
    with pytest.raises(ValueError, match="step 2 of row 0 is both valid and waiting"):
        compute_gae(
            column(REWARDS), column(VALUES), flags(), flags(),
            torch.tensor([NEXT_VALUE], dtype=torch.float64), GAMMA, LAMBDA,
            valid=None, waiting=flags(2),
        )  # fmt: skip
    with pytest.raises(ValueError, match="waiting has shape"):
        compute_gae(
            column(REWARDS), column(VALUES), flags(), flags(),
            torch.tensor([NEXT_VALUE], dtype=torch.float64), GAMMA, LAMBDA,
            waiting=torch.zeros(4, dtype=torch.bool),
        )  # fmt: skip


def plain_step(**overrides):
    """One step of a storage built without masks or a critic (action shape (2,))."""
    step = {
        "obs": np.zeros((N, OBS), np.float32),
        "actions": np.zeros((N, 2), np.float32),
        "logprobs": np.zeros(N),
        "values": np.zeros(N),
        "rewards": np.zeros(N),
        "terminated": np.zeros(N, bool),
        "truncated": np.zeros(N, bool),
        "valid": np.ones(N, bool),
    }
    return {**step, **overrides}


def test_storage_allocates_waiting_on_first_use_and_clears_steps_without_it():
    storage = RolloutStorage(T, N, OBS, (2,), torch.float32, "cpu")
    assert storage.waiting is None
    assert not storage.numpy_views("waiting")[0].any()
    storage.insert(0, **plain_step())
    turn = np.array([True, False, False])
    storage.insert(1, **plain_step(valid=turn, waiting=~turn))
    assert storage.waiting is not None
    assert storage.waiting[:2].tolist() == [[False] * 3, [False, True, True]]
    storage.insert(1, **plain_step())  # a later rollout's step without waiting rows
    assert not storage.waiting.any()


def test_storage_refuses_bad_waiting_and_writes_nothing():
    storage = RolloutStorage(T, N, OBS, (2,), torch.float32, "cpu")
    with pytest.raises(ValueError, match=r"rows \[1\] are both valid and waiting at step 0"):
        storage.insert(0, **plain_step(rewards=np.ones(N), waiting=[False, True, False]))
    assert storage.waiting is None and not storage.rewards.any()
    with pytest.raises(ValueError, match="waiting has shape"):
        storage.insert(0, **plain_step(valid=np.zeros(N, bool), waiting=np.ones(N + 1, bool)))
    assert storage.waiting is None


def test_compute_returns_passes_waiting_through():
    # Row 0 plays the worked example of test_waiting_steps_pass_value_advantage_and_rewards_
    # through (padded to T steps with its own next turns); rows 1-2 never wait.
    storage = RolloutStorage(5, 2, OBS, (2,), torch.float32, "cpu")
    rewards = [1.0, 0.5, 2.0, 0.0, 1.0]
    values = [0.5, 9.0, -9.0, 0.3, 0.2]
    for t in range(5):
        wait = np.array([t in (1, 2), False])
        storage.insert(
            t, obs=np.zeros((2, OBS)), actions=np.zeros((2, 2)), logprobs=np.zeros(2),
            values=np.array([values[t], 0.0]), rewards=np.array([rewards[t], 1.0]),
            terminated=np.zeros(2, bool), truncated=np.zeros(2, bool), valid=~wait, waiting=wait,
        )  # fmt: skip
    storage.compute_returns(np.array([0.6, 0.0]), GAMMA, LAMBDA)
    expected, _ = turn_gae(rewards, values, waiting=[1, 2])
    assert storage.advantages[:, 0].tolist() == pytest.approx(expected, abs=1e-5)
    assert storage.num_valid == 8
    batches = collect(storage, 1, seed=0)
    assert len(batches[0].obs) == 8  # waiting steps are never trained on


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_storage_with_waiting_matches_the_cpu():
    rng = np.random.default_rng(4)
    waiting = rng.random((T, N)) < 0.5
    valid = ~waiting & (rng.random((T, N)) < 0.9)
    stores = []
    for device in ("cuda", "cpu"):
        storage = RolloutStorage(T, N, OBS, (2,), torch.float32, device)
        for t in range(T):
            storage.insert(
                t, **plain_step(values=np.arange(N) * 0.1 + t, rewards=np.arange(N) - t,
                                valid=valid[t], waiting=waiting[t]),
            )  # fmt: skip
        storage.compute_returns(torch.ones(N), 0.99, 0.95)
        stores.append(storage)
    on_cuda, on_cpu = stores
    assert on_cuda.waiting is not None and on_cuda.waiting.is_cuda
    assert torch.equal(on_cuda.waiting.cpu(), on_cpu.waiting)
    assert torch.allclose(on_cuda.advantages.cpu(), on_cpu.advantages, atol=1e-5)
