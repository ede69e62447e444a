"""A training setup that fails at any stage leaves no physics client and no worker open;
the trainer takes any policy, and rows carry text, legal actions and events when asked."""

from __future__ import annotations

import dataclasses
import multiprocessing

import gymnasium as gym
import pybullet
import pytest
import torch

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents.policies import ActorCritic, PolicyStep
from palaestra.train import ppo, session
from palaestra.train.config import PPOConfig, TrainConfig
from palaestra.train.runlog import read_metrics


def _open_clients() -> list[int]:
    return [i for i in range(64) if pybullet.getConnectionInfo(physicsClientId=i)["isConnected"]]


def _carry(tmp_path, **overrides) -> TrainConfig:
    base = TrainConfig(
        env_id="palaestra/Carry-v0", total_timesteps=256, num_envs=2, seed=0,
        run_dir=tmp_path / "run", eval_episodes=0, video=False, quiet=True,
        ppo=PPOConfig(num_steps=64, num_minibatches=2, update_epochs=1, normalize_obs=True),
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


class Boom(RuntimeError):
    pass


def _raise(*args, **kwargs):
    raise Boom("injected")


def _third_env_fails(monkeypatch):
    made = []
    real = gym.make

    def make(*args, **kwargs):
        if len(made) == 2:
            raise Boom("injected")
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(gym, "make", make)


STAGES = {
    "an env copy": lambda mp: _third_env_fails(mp),
    "the policy": lambda mp: mp.setattr(session, "build_policy", _raise),
    "the optimiser": lambda mp: mp.setattr(torch.optim, "Adam", _raise),
    "the normaliser": lambda mp: mp.setattr(session, "ObservationNormalizer", _raise),
    "the storage": lambda mp: mp.setattr(session, "RolloutStorage", _raise),
    "the config file": lambda mp: mp.setattr(session, "write_json_atomic", _raise),
    "the logger": lambda mp: mp.setattr(ppo, "RunLogger", _raise),
    "the first reset": lambda mp: mp.setattr(session.Session, "reset_envs", _raise),
    "the first rollout": lambda mp: mp.setattr(ppo, "collect_rollout", _raise),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_failure_at_each_setup_stage_closes_every_physics_client(stage, tmp_path, monkeypatch):
    before = _open_clients()
    STAGES[stage](monkeypatch)
    with pytest.raises(Boom):
        ppo.train(_carry(tmp_path, num_envs=3))
    assert _open_clients() == before


@pytest.mark.parametrize("stage", ["the policy", "the storage", "the first reset"])
def test_async_workers_are_stopped_too(stage, tmp_path, monkeypatch):
    STAGES[stage](monkeypatch)
    with pytest.raises(Boom):
        ppo.train(_carry(tmp_path, vector_mode="async"))
    assert multiprocessing.active_children() == []


def test_bad_settings_found_after_the_envs_exist_close_them(tmp_path):
    before = _open_clients()
    with pytest.raises(ValueError, match="threshold"):
        ppo.train(_carry(tmp_path, curriculum="sequential", curriculum_kwargs={"threshold": 7.0}))
    with pytest.raises(ValueError, match="nothing to resume"):
        ppo.train(_carry(tmp_path / "empty"), resume=True)
    assert _open_clients() == before


# --------------------------------------------------------------------- any policy
class TextAwarePolicy(ActorCritic):
    """An MLP actor-critic that asks for every row extra and checks each one it gets."""

    row_extras = ("text", "legal_actions", "events")

    def __init__(self, config, envs):
        super().__init__(envs.obs_dim, envs.action, hidden_sizes=(32,))
        self.rows_seen = 0
        self.minibatch_rows = 0
        self.values_with_extras = 0

    def _check(self, extras, mask):
        assert extras is not None and len(extras) == mask.shape[0]
        for row, legal in zip(extras, mask, strict=True):
            assert isinstance(row["text"], str) and "goal" in row["text"].lower()
            assert sorted(row["legal_actions"]) == torch.nonzero(legal).flatten().tolist()
            assert isinstance(row["events"], list)

    def act(self, obs, action_mask=None, critic_obs=None, deterministic=False, *, extras=None):
        self._check(extras, action_mask)
        self.rows_seen += len(extras)
        return super().act(obs, action_mask, critic_obs, deterministic)

    def value(self, obs, critic_obs=None, *, extras=None):
        if extras is not None:
            assert len(extras) == obs.shape[0]
            self.values_with_extras += 1
        return super().value(obs, critic_obs)

    def evaluate_actions(self, obs, actions, action_mask=None, critic_obs=None, *, extras=None):
        self._check(extras, action_mask)
        self.minibatch_rows += len(extras)
        return super().evaluate_actions(obs, actions, action_mask, critic_obs)


def test_a_custom_policy_trains_on_craft_with_both_views(tmp_path):
    built = []

    def factory(config, envs):
        built.append(TextAwarePolicy(config, envs))
        return built[-1]

    config = TrainConfig(
        env_id="palaestra/Craft-v0", total_timesteps=512, num_envs=2, seed=0,
        run_dir=tmp_path / "run", eval_episodes=2, video=False, quiet=True,
        env_kwargs={"obs_mode": "both", "max_steps": 30},
        ppo=PPOConfig(num_steps=64, num_minibatches=4, update_epochs=2),
    )  # fmt: skip
    result = ppo.train(config, policy=factory)
    (policy,) = built
    # Every rollout row, then every evaluation step (PolicyAgent passes its row's extras too).
    evaluated = round(result.evaluation["mean_length"] * result.evaluation["episodes"])
    assert policy.rows_seen == 512 + evaluated
    assert policy.minibatch_rows > 0  # every minibatch row too
    assert result.evaluation is not None and result.evaluation["episodes"] == 2
    assert len(read_metrics(result.run_dir)) == 4
    assert policy.values_with_extras > 0  # the bootstrap values saw their rows' extras too


def test_a_custom_policy_needs_the_protocol(tmp_path):
    class NotAPolicy(torch.nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match="missing"):
        ppo.train(_carry(tmp_path), policy=NotAPolicy())


def test_a_policy_without_a_numpy_twin_trains_on_the_cpu_path(tmp_path):
    class Plain(torch.nn.Module):
        """Delegates to an ActorCritic but offers no numpy twin."""

        def __init__(self, config, envs):
            super().__init__()
            self.inner = ActorCritic(envs.obs_dim, envs.action)

        def act(self, obs, action_mask=None, critic_obs=None, deterministic=False) -> PolicyStep:
            return self.inner.act(obs, action_mask, critic_obs, deterministic)

        def evaluate_actions(self, obs, actions, action_mask=None, critic_obs=None):
            return self.inner.evaluate_actions(obs, actions, action_mask, critic_obs)

        def value(self, obs, critic_obs=None):
            return self.inner.value(obs, critic_obs)

    result = ppo.train(dataclasses.replace(_carry(tmp_path), env_id="CartPole-v1"), policy=Plain)
    assert result.updates == 2
