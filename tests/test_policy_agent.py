"""A trained run as an agent: PolicyAgent.from_run reproduces the run's evaluation, unpickled."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import PolicyAgent, agents_from_run, play
from palaestra.cli import main
from palaestra.train.evaluate import evaluate_agents, evaluation_seeds


def _no_unpickling(monkeypatch):
    """Make every pickle-based loader raise, so a load that needs one fails loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("something unpickled a file")

    class Refused(pickle.Unpickler):
        def __init__(self, *args, **kwargs):
            refuse()

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", Refused)
    monkeypatch.setattr(torch, "load", refuse)


@pytest.fixture(scope="module")
def carry_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("carry") / "run"
    main([
        "train", "palaestra/Carry-v0", "--total-timesteps", "2048", "--num-envs", "2",
        "--ppo.num-steps", "256", "--eval-episodes", "3", "--no-video", "--quiet",
        "--run-dir", str(run),
    ])  # fmt: skip
    return run


def test_from_run_reproduces_the_runs_own_evaluation_without_unpickling(carry_run, monkeypatch):
    expected = json.loads((carry_run / "eval.json").read_text())
    config = json.loads((carry_run / "config.json").read_text())
    assert config["ppo"]["normalize_obs"], "Carry's defaults normalise observations"
    _no_unpickling(monkeypatch)
    agent = PolicyAgent.from_run(carry_run)
    assert agent.obs_norm is not None
    summary = evaluate_agents(
        config["env_id"], agent, seeds=evaluation_seeds(config["seed"], expected["episodes"])
    )
    for key in ("mean_return", "mean_length", "success", "partner_effort", "records"):
        assert summary[key] == expected[key], key


def test_palaestra_eval_reproduces_it_too(carry_run, monkeypatch, capsys):
    expected = json.loads((carry_run / "eval.json").read_text())
    _no_unpickling(monkeypatch)
    main(["eval", str(carry_run), "--episodes", str(expected["episodes"])])
    again = json.loads((carry_run / "eval.json").read_text())
    assert again["records"] == expected["records"]
    assert "success" in capsys.readouterr().out


def test_a_stochastic_agent_repeats_under_the_same_seed(carry_run):
    import gymnasium as gym

    agent = PolicyAgent.from_run(carry_run, deterministic=False)
    env = gym.make("palaestra/Carry-v0", max_steps=40)
    try:
        first = play(env, agent, seeds=[5, 6])
        second = play(env, agent, seeds=[5, 6])
        greedy = play(env, PolicyAgent.from_run(carry_run), seeds=[5])
    finally:
        env.close()
    assert [r.returns for r in first] == [r.returns for r in second]
    assert first[0].returns != greedy[0].returns  # sampling is on


def test_multi_agent_runs_load_as_a_team(tmp_path):
    run = tmp_path / "run"
    main([
        "train", "palaestra/craft-v0", "--total-timesteps", "512", "--num-envs", "1",
        "--ppo.num-steps", "128", "--eval-episodes", "2", "--no-video", "--quiet",
        "--run-dir", str(run),
    ])  # fmt: skip
    expected = json.loads((run / "eval.json").read_text())
    team = agents_from_run(run)
    assert isinstance(team, dict) and sorted(team) == ["agent_0", "agent_1"]
    config = json.loads((run / "config.json").read_text())
    summary = evaluate_agents(
        "palaestra/craft-v0", team, seeds=evaluation_seeds(config["seed"], 2),
        env_kwargs=config["env_kwargs"],
    )  # fmt: skip
    assert summary["records"] == expected["records"]
    with pytest.raises(ValueError, match="a multi-agent policy needs agent="):
        PolicyAgent.from_run(run)


def test_bad_run_folders_name_the_problem(tmp_path, carry_run):
    with pytest.raises(ValueError, match=r"config\.json not found"):
        PolicyAgent.from_run(tmp_path)
    broken = tmp_path / "broken"
    (broken / "checkpoints").mkdir(parents=True)
    (broken / "config.json").write_text((carry_run / "config.json").read_text())
    with pytest.raises(ValueError, match=r"no checkpoint \(step_\*\.safetensors\)"):
        PolicyAgent.from_run(broken)
    (broken / "checkpoints" / "step_000000000001.safetensors").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        PolicyAgent.from_run(broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        PolicyAgent.from_run(broken)


def test_actions_match_the_training_policy_row_for_row(carry_run):
    from palaestra.train.checkpointing import load_policy

    policy, _, obs_norm = load_policy(carry_run)
    agent = PolicyAgent.from_run(carry_run)
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs = rng.normal(size=19).astype(np.float32)
        with torch.no_grad():
            row = torch.as_tensor(obs_norm(obs[None], update=False))
            expected = policy.act(row, deterministic=True).action[0].numpy()
        assert np.array_equal(agent.act(obs), np.clip(expected, -1, 1))


def test_policy_agents_follow_the_agent_interface(carry_run):
    import gymnasium as gym

    from palaestra.agents import check_agent

    env = gym.make("palaestra/Carry-v0")
    try:
        check_agent(PolicyAgent.from_run(carry_run), env, steps=20)
        check_agent(PolicyAgent.from_run(carry_run, deterministic=False), env, steps=20)
    finally:
        env.close()
