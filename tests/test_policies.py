"""Actor-critic policies: every action space, and the numpy twin used for CPU rollouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

from palaestra.agents.policies import (
    ActorCritic,
    MultiAgentActorCritic,
    NumpyActorCritic,
    numpy_twin,
)
from palaestra.agents.spaces import action_spec, obs_layout

SPACES = {
    "box": spaces.Box(-2.0, 2.0, (3,), np.float32),
    "discrete": spaces.Discrete(5),
    "multidiscrete": spaces.MultiDiscrete([3, 4]),
}


@pytest.mark.parametrize("kind", list(SPACES))
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_numpy_twin_matches_the_torch_policy(kind, activation):
    torch.manual_seed(0)
    policy = ActorCritic(6, action_spec(SPACES[kind]), activation=activation, hidden_sizes=(32, 16))
    twin = NumpyActorCritic(policy)
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((64, 6)).astype(np.float32)
    mask = None
    if kind == "discrete":
        mask = rng.random((64, 5)) < 0.6
        mask[:, 0] = True
    actions, logp, values = twin.act(obs, mask, None, rng)
    t_logp, _, t_values = policy.evaluate_actions(
        torch.from_numpy(obs),
        torch.from_numpy(actions),
        None if mask is None else torch.from_numpy(mask),
    )
    np.testing.assert_allclose(logp, t_logp.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(values, t_values.detach().numpy(), rtol=1e-5, atol=1e-5)
    if mask is not None:
        assert mask[np.arange(64), actions].all()
    # Deterministic actions are the distribution's mode, as in torch.
    det, _, _ = twin.act(obs, mask, None, rng, deterministic=True)
    t_det = policy.act(
        torch.from_numpy(obs), None if mask is None else torch.from_numpy(mask), deterministic=True
    ).action
    np.testing.assert_allclose(det, t_det.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_twin_follows_optimiser_steps_without_copying():
    policy = ActorCritic(4, action_spec(SPACES["discrete"]))
    twin = numpy_twin(policy)
    obs = np.ones((2, 4), np.float32)
    before = twin.value(obs).copy()
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(0.1)
    after = twin.value(obs)
    np.testing.assert_allclose(
        after, policy.value(torch.from_numpy(obs)).detach().numpy(), rtol=1e-5
    )
    assert not np.allclose(before, after)


def test_sampling_follows_the_distribution():
    torch.manual_seed(1)
    policy = ActorCritic(3, action_spec(SPACES["discrete"]))
    twin = NumpyActorCritic(policy)
    obs = np.tile(np.array([[0.3, -1.0, 2.0]], np.float32), (20000, 1))
    actions, _, _ = twin.act(obs, None, None, np.random.default_rng(3))
    logits = policy.actor_head(policy.actor_body(torch.from_numpy(obs[:1])))
    probs = torch.softmax(logits, -1)[0].detach().numpy()
    freq = np.bincount(actions, minlength=5) / len(actions)
    np.testing.assert_allclose(freq, probs, atol=0.015)


def test_gaussian_entropy_and_log_prob():
    policy = ActorCritic(2, action_spec(SPACES["box"]), log_std_init=-0.7)
    obs = torch.zeros(5, 2)
    mean = policy.actor_head(policy.actor_body(obs))
    actions = mean + 0.3
    logp, entropy, _ = policy.evaluate_actions(obs, actions)
    dist = torch.distributions.Normal(mean, torch.exp(torch.full_like(mean, -0.7)))
    assert torch.allclose(logp, dist.log_prob(actions).sum(-1), atol=1e-5)
    assert torch.allclose(entropy, dist.entropy().sum(-1), atol=1e-5)


def test_multi_agent_policies_route_rows_by_agent_id():
    torch.manual_seed(0)
    spec = action_spec(SPACES["discrete"])
    policy = MultiAgentActorCritic(3, obs_dim=7, action=spec)
    obs = torch.randn(9, 7)
    obs[:, -3:] = 0.0
    agents = torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2])
    obs[torch.arange(9), 4 + agents] = 1.0
    values = policy.value(obs)
    for i in range(9):
        own = policy.policies[int(agents[i])].value(obs[i : i + 1])
        assert torch.allclose(values[i : i + 1], own)
    twin = numpy_twin(policy)
    np.testing.assert_allclose(twin.value(obs.numpy()), values.detach().numpy(), rtol=1e-5)
    actions, logp, _ = twin.act(obs.numpy(), None, None, np.random.default_rng(0))
    t_logp, _, _ = policy.evaluate_actions(obs, torch.from_numpy(actions))
    np.testing.assert_allclose(logp, t_logp.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_layouts_flatten_and_reject_unsupported_spaces():
    space = spaces.Dict(
        {
            "pos": spaces.Box(-1, 1, (2, 2), np.float32),
            "kind": spaces.Discrete(3),
            "action_mask": spaces.MultiBinary(4),
        }
    )
    layout = obs_layout(space)
    assert (layout.dim, layout.mask_dim) == (7, 4)
    batch = {
        "pos": np.arange(8, dtype=np.float32).reshape(2, 2, 2),
        "kind": np.array([2, 0]),
        "action_mask": np.array([[1, 0, 1, 0], [0, 0, 0, 1]], np.int8),
    }
    flat, mask = layout.flatten(batch)
    # Keys in sorted order: kind (one-hot), then pos (flattened).
    np.testing.assert_array_equal(flat[0], [0, 0, 1, 0, 1, 2, 3])
    np.testing.assert_array_equal(flat[1], [1, 0, 0, 4, 5, 6, 7])
    assert mask.dtype == bool and mask.tolist() == [
        [True, False, True, False],
        [False] * 3 + [True],
    ]
    with pytest.raises(ValueError, match="Text"):
        obs_layout(spaces.Text(5))
    with pytest.raises(ValueError, match="Tuple"):
        action_spec(spaces.Tuple((spaces.Discrete(2),)))
    spec = action_spec(SPACES["box"])
    np.testing.assert_array_equal(spec.to_env(np.array([[3.0, -3.0, 0.5]])), [[2.0, -2.0, 0.5]])


def test_subclasses_that_change_the_forward_pass_get_no_numpy_twin():
    from palaestra.agents.policies import ActorCritic, MultiAgentActorCritic, numpy_twin
    from palaestra.agents.spaces import ActionSpec

    spec = ActionSpec("discrete", (), 3)

    class Shifted(ActorCritic):
        def _logits(self, obs):
            return super()._logits(obs) + 1.0

    class Renamed(ActorCritic):  # same arithmetic: the twin still applies
        pass

    assert numpy_twin(ActorCritic(4, spec)) is not None
    assert numpy_twin(Renamed(4, spec)) is not None
    assert numpy_twin(Shifted(4, spec)) is None
    assert numpy_twin(MultiAgentActorCritic(2, Shifted, obs_dim=4, action=spec)) is None
    assert numpy_twin(MultiAgentActorCritic(2, obs_dim=4, action=spec)) is not None
