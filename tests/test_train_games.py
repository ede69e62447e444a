"""Training on the game envs: Dict observations with action masks, and curricula over them."""

from __future__ import annotations

import dataclasses

import palaestra  # noqa: F401  (registers the envs)
from palaestra.curriculum import make
from palaestra.envs.craft import CRAFT_SOLO_TASK_SPACE
from palaestra.train.callbacks import Callback
from palaestra.train.config import PPOConfig, TrainConfig
from palaestra.train.curriculum import CurriculumCallback
from palaestra.train.ppo import train
from palaestra.train.runlog import read_metrics

TINY_PPO = PPOConfig(num_steps=64, num_minibatches=2, update_epochs=1, hidden_sizes=(32,))


def _config(tmp_path, **overrides) -> TrainConfig:
    base = TrainConfig(
        env_id="palaestra/Craft-v0", total_timesteps=1024, num_envs=2, seed=0,
        run_dir=tmp_path / "run", eval_episodes=0, video=False, quiet=True,
        env_kwargs={"max_steps": 40}, ppo=TINY_PPO,
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


def test_masked_ppo_never_takes_an_illegal_craft_action(tmp_path):
    result = train(_config(tmp_path))
    records = [r for r in read_metrics(result.run_dir) if r.get("invalid_actions") is not None]
    assert records, "Craft-v0 reports invalid_actions at episode end"
    # Under the default illegal_action="penalize" an illegal action would be counted.
    assert all(r["invalid_actions"] == 0 for r in records)


class HeldTask(Callback):
    """Reads the task each worker holds when its episode ends."""

    def __init__(self, curriculum):
        self.curriculum = curriculum
        self.goals: list[str] = []

    def on_env_episode_end(self, state, env_index, episodes):
        held = state.envs.vector.get_attr("task")[env_index]
        assert held == self.curriculum.current_tasks[env_index]
        assert episodes[0].metrics["difficulty"] == CRAFT_SOLO_TASK_SPACE.difficulty(held)
        self.goals.append(held["goal"])


def test_curriculum_tasks_reach_craft_workers(tmp_path):
    scheduler = make("uniform", CRAFT_SOLO_TASK_SPACE, seed=3)
    curriculum = CurriculumCallback(scheduler)
    held = HeldTask(curriculum)
    train(_config(tmp_path, vector_mode="async"), [held, curriculum])
    assert len(held.goals) >= 20
    assert len(set(held.goals)) >= 4  # the workers played the sampled goals, not the default
