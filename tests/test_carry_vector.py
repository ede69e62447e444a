"""The task channel through Gymnasium's vector envs, and making envs by module path."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)

ROLE = 15


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_set_task_reaches_every_sub_env_before_reset(mode):
    envs = gym.make_vec("palaestra/Carry-v0", num_envs=2, vectorization_mode=mode)
    try:
        obs, _ = envs.reset(seed=0)
        assert list(obs[:, ROLE]) == [-1.0, -1.0]  # default role: follower
        envs.call("set_task", {"role": "leader", "object": "table"})
        obs, _ = envs.reset(seed=0)
        assert list(obs[:, ROLE]) == [1.0, 1.0]
        tasks = envs.get_attr("task")
        assert [t["object"] for t in tasks] == ["table", "table"]
        # Steps run in both sub-envs and give finite results.
        actions = np.zeros((2, 3), np.float32)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        assert np.isfinite(obs).all() and np.isfinite(rewards).all()
        assert not terminated.any() and not truncated.any()
    finally:
        envs.close()


def test_vector_autoreset_uses_the_task_set_before_the_episode_ended():
    envs = gym.make_vec("palaestra/Carry-v0", num_envs=2, vectorization_mode="sync", max_steps=5)
    try:
        envs.reset(seed=1)
        envs.call("set_task", {"role": "leader"})
        actions = np.zeros((2, 3), np.float32)
        for _ in range(5):
            obs, _, terminated, truncated, infos = envs.step(actions)
        assert truncated.all() and not terminated.any()
        assert infos["end_reason"].tolist() == ["time_limit", "time_limit"]
        obs, *_ = envs.step(actions)  # the autoreset step starts the new task
        assert list(obs[:, ROLE]) == [1.0, 1.0]
    finally:
        envs.close()


def test_make_by_module_path_without_importing_palaestra():
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('palaestra:palaestra/Carry-v0')\n"
        "obs, _ = env.reset(seed=0)\n"
        "print(obs.shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(19,)"
