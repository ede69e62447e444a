"""A curriculum in training: tasks reach every env copy (in process, in worker processes and
in PettingZoo envs), the scheduler hears every episode, logging, resume and the CLI."""

from __future__ import annotations

import dataclasses
import json
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
import torch
from pettingzoo import ParallelEnv

import palaestra  # noqa: F401  (registers the envs)
from palaestra.cli import main
from palaestra.curriculum import DiscreteTaskSpace, make
from palaestra.envs.carry import CARRY_TASK_SPACE
from palaestra.train.callbacks import Callback
from palaestra.train.checkpoint import load_checkpoint
from palaestra.train.config import PPOConfig, TrainConfig
from palaestra.train.curriculum import CurriculumCallback
from palaestra.train.ppo import train
from palaestra.train.runlog import read_metrics

# Short episodes (10 control steps) so a tiny budget sees many of them.
SHORT = {"max_steps": 10}
TINY_PPO = PPOConfig(num_steps=32, num_minibatches=2, update_epochs=1, hidden_sizes=(16,))


def _config(tmp_path, **overrides) -> TrainConfig:
    base = TrainConfig(
        env_id="palaestra/Carry-v0", total_timesteps=256, num_envs=2, seed=3,
        run_dir=tmp_path / "run", eval_episodes=0, video=False, quiet=True,
        env_kwargs=dict(SHORT), ppo=TINY_PPO,
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


class RecordingScheduler:
    """Wraps a real scheduler and records what it handed out and what it heard."""

    def __init__(self, inner):
        self.inner = inner
        self.task_space = inner.task_space
        self.requires_step_updates = inner.requires_step_updates
        self.requires_score_updates = inner.requires_score_updates
        self.sampled: list[dict] = []
        self.heard: list[dict] = []
        self.results: list[dict] = []
        self.scores: list[tuple[dict, float]] = []

    def sample(self, k):
        tasks = self.inner.sample(k)
        self.sampled.extend(tasks)
        return tasks

    def update_on_episode(self, task, **result):
        self.heard.append(dict(task))
        self.results.append(dict(result))
        self.inner.update_on_episode(task, **result)

    def update_on_score(self, task, score):
        self.scores.append((dict(task), score))
        self.inner.update_on_score(task, score)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


class WorkerTasks(Callback):
    """At every env episode end, read the task the env copy actually holds."""

    def __init__(self, curriculum: CurriculumCallback):
        self.curriculum = curriculum
        self.checked = 0

    def on_env_episode_end(self, state, env_index, episodes):
        # Runs before the curriculum callback: the copy still holds the finished task.
        envs = state.envs
        if envs.vector is not None:
            held = envs.vector.get_attr("task")[env_index]
        else:
            held = envs.envs[env_index].unwrapped.task
        assert held == self.curriculum.current_tasks[env_index]
        self.checked += 1


@pytest.mark.parametrize("vector_mode", ["async", "sync"])
def test_each_worker_runs_exactly_the_tasks_the_curriculum_chose(tmp_path, vector_mode):
    scheduler = RecordingScheduler(make("uniform", CARRY_TASK_SPACE, seed=5))
    curriculum = CurriculumCallback(scheduler)
    checker = WorkerTasks(curriculum)
    config = _config(tmp_path, vector_mode=vector_mode)
    train(config, [checker, curriculum])
    # 256 steps over 2 copies of 10-step episodes (plus a reset step each): ~22 episodes.
    assert checker.checked >= 20
    assert len(scheduler.heard) == checker.checked
    # Every sampled task was either played to the end and reported, or is still in play:
    # none lost, none reported twice.
    key = lambda t: json.dumps(t, sort_keys=True)  # noqa: E731
    in_play = curriculum.current_tasks
    assert sorted(map(key, scheduler.sampled)) == sorted(map(key, scheduler.heard + in_play))
    assert len(set(map(key, scheduler.heard))) > 10


def test_pettingzoo_env_copies_get_the_curriculums_tasks(tmp_path):
    scheduler = RecordingScheduler(make("uniform", CARRY_TASK_SPACE, seed=2))
    curriculum = CurriculumCallback(scheduler)
    seen: list[tuple[int, dict]] = []

    class Held(Callback):
        def on_env_episode_end(self, state, env_index, episodes):
            env = state.envs.envs[env_index]
            while hasattr(env, "env"):
                env = env.env
            assert env.task == curriculum.current_tasks[env_index]
            assert {e.agent for e in episodes} == {"carrier_0", "carrier_1"}
            seen.append((env_index, env.task))

    config = _config(
        tmp_path, env_id="palaestra/carry-v0", total_timesteps=512, env_kwargs={"max_cycles": 10}
    )
    train(config, [Held(), curriculum])
    assert {i for i, _ in seen} == {0, 1}
    # One report per env episode (not one per agent), with the agents' mean success.
    assert len(scheduler.heard) == len(seen) >= 10


LEVELS = DiscreteTaskSpace([{"level": i} for i in range(4)])


class StaggeredPair(ParallelEnv):
    """Two agents with a task channel: ``early`` leaves after 2 steps having succeeded,
    ``late`` after 4 steps having failed; every step pays each agent still in play 1."""

    metadata: ClassVar[dict] = {"name": "staggered_v0"}
    task_space = LEVELS

    def __init__(self):
        self.possible_agents = ["early", "late"]
        self.task = LEVELS.task(0)

    def observation_space(self, agent):
        return gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def action_space(self, agent):
        return gym.spaces.Discrete(2)

    def set_task(self, task):
        self.task = LEVELS.validate(task)

    def reset(self, seed=None, options=None):
        self.agents, self.t = list(self.possible_agents), 0
        return {a: np.zeros(2, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        ending = {"early": 2, "late": 4}
        done = {a: self.t == ending[a] for a in self.agents}
        infos = {a: {"success": float(a == "early")} if done[a] else {} for a in self.agents}
        out = (
            {a: np.zeros(2, np.float32) for a in self.agents},
            dict.fromkeys(self.agents, 1.0),
            done,
            dict.fromkeys(self.agents, False),
            infos,
        )
        self.agents = [a for a in self.agents if not done[a]]
        return out


def test_agents_that_leave_early_count_in_their_env_episodes_report(tmp_path):
    env_id = "palaestra-tests/staggered-v0"
    if env_id not in pettingzoo.parallel_registry:
        pettingzoo.register("parallel", env_id, StaggeredPair)
    scheduler = RecordingScheduler(make("uniform", LEVELS, seed=0))
    config = _config(tmp_path, env_id=env_id, total_timesteps=64, env_kwargs={})
    train(config, [CurriculumCallback(scheduler)])
    # 32 steps per copy of 4-step episodes plus a reset step: 6 episodes each.
    assert len(scheduler.results) == 12
    for result in scheduler.results:
        assert result == {"success": 0.5, "episode_return": 3.0, "length": 4}


def test_curriculum_metrics_and_plot_land_in_the_run_folder(tmp_path):
    config = _config(tmp_path, curriculum="sequential", curriculum_kwargs={"num_bands": 3})
    result = train(config)
    records = read_metrics(result.run_dir)
    assert records and all("curriculum/entropy" in r for r in records)
    first = records[0]
    shares = [first[f"curriculum/band_share/{b}"] for b in range(5)]
    assert sum(shares) == pytest.approx(1.0)
    # sequential starts in its easiest non-empty band of three, [0, 1/3) for the carry
    # pool: the first update samples nothing from the logged bands [0.4, 1].
    assert first["curriculum/mean_difficulty"] < 1 / 3
    assert shares[2:] == [0.0, 0.0, 0.0]
    # The scheduler's own numbers are logged too: its stage and band.
    assert first["curriculum/stage"] == 0.0 and first["curriculum/band"] == 0.0
    assert (result.run_dir / "curriculum.png").stat().st_size > 10_000
    saved = json.loads((result.run_dir / "config.json").read_text())
    assert saved["curriculum"] == "sequential" and saved["curriculum_kwargs"] == {"num_bands": 3}


def test_plr_hears_gae_scores_of_the_tasks_played(tmp_path):
    scheduler = RecordingScheduler(make("plr", CARRY_TASK_SPACE, seed=1, pool_size=16))
    train(_config(tmp_path), [CurriculumCallback(scheduler)])
    assert scheduler.scores
    keys = {json.dumps(t, sort_keys=True) for t in scheduler.sampled}
    for task, score in scheduler.scores:
        assert json.dumps(task, sort_keys=True) in keys
        assert np.isfinite(score) and score >= 0.0
    # Every update scores at least the tasks the copies were on at its start.
    assert len(scheduler.scores) >= 256 // 64 * 2


class StopAt(Callback):
    def __init__(self, update: int):
        self.update = update

    def on_update_end(self, state):
        return state.update < self.update


def test_resumed_run_samples_the_same_tasks_and_ends_with_the_same_weights(tmp_path):
    config = _config(
        tmp_path, curriculum="learning_progress", checkpoint_interval=64, total_timesteps=256
    )
    full = train(dataclasses.replace(config, run_dir=tmp_path / "full"))
    cut = dataclasses.replace(config, run_dir=tmp_path / "cut")
    train(cut, [StopAt(2)])
    resumed = train(cut, resume=True)
    a, b = load_checkpoint(full.checkpoint), load_checkpoint(resumed.checkpoint)
    assert a.step == b.step == 256
    assert a.state["callbacks"] == b.state["callbacks"]
    assert a.state["callbacks"]["CurriculumCallback#0"]["scheduler"]
    ta, tb = a.tensors, b.tensors
    assert ta.keys() == tb.keys()
    for key in ta:
        assert torch.equal(ta[key], tb[key]), key
    full_metrics = read_metrics(full.run_dir)
    resumed_metrics = read_metrics(resumed.run_dir)
    assert [r["curriculum/mean_difficulty"] for r in full_metrics] == [
        r["curriculum/mean_difficulty"] for r in resumed_metrics
    ]


def test_env_without_task_channel_cannot_take_a_curriculum(tmp_path):
    config = _config(tmp_path, env_id="CartPole-v1", env_kwargs={}, curriculum="uniform")
    with pytest.raises(ValueError, match="CartPole-v1 has no task channel"):
        train(config)


def test_cli_wires_the_curriculum_and_its_knobs(tmp_path, capsys):
    run_dir = tmp_path / "cli"
    main([
        "train", "palaestra/Carry-v0", "--total-timesteps", "128", "--num-envs", "2",
        "--run-dir", str(run_dir), "--quiet", "--eval-episodes", "0", "--no-video",
        "--ppo.num-steps", "32", "--ppo.num-minibatches", "2", "--ppo.update-epochs", "1",
        "--curriculum", "medium", "--curriculum.window", "7", "--curriculum.temperature=0.25",
    ])  # fmt: skip
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["curriculum"] == "medium"
    assert saved["curriculum_kwargs"] == {"window": 7, "temperature": 0.25}
    assert "curriculum/entropy" in read_metrics(run_dir)[-1]


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--curriculum", "easy-first"], "unknown curriculum 'easy-first'; valid names: adcl"),
        (["--curriculum", "plr", "--curriculum.tau", "1"], "unknown knob 'tau'.*temperature"),
        (["--curriculum", "plr", "--curriculum.temperature", "-1"], "temperature"),
        (["--curriculum.window", "3"], "needs --curriculum NAME"),
        (["--curriculum", "plr", "--curriculum.rho"], "needs a value"),
    ],
)
def test_cli_rejects_bad_curricula_clearly(tmp_path, args, pattern):
    with pytest.raises(SystemExit, match=pattern):
        main([
            "train", "palaestra/Carry-v0", "--total-timesteps", "64", "--num-envs", "1",
            "--run-dir", str(tmp_path / "bad"), "--quiet", "--ppo.num-steps", "32", *args,
        ])  # fmt: skip
