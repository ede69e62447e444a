"""Curricula without training: the driver plays episodes on the scheduler's tasks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import AdmittanceFollower
from palaestra.curriculum import DiscreteTaskSpace, make
from palaestra.curriculum.driver import run_curriculum, run_curriculum_parallel
from palaestra.envs.carry import CARRY_TASK_SPACE
from palaestra.envs.carry.carry_parallel import CarryParallelEnv

TASKS = [
    {"route_length": 2.0, "object": "box"},
    {"route_length": 5.0, "object": "table"},
    {"route_length": 8.0, "object": "stretcher", "route": "slope"},
]


def test_each_episode_plays_the_task_the_scheduler_chose():
    env = gym.make("palaestra/Carry-v0", max_steps=30)
    scheduler = make("uniform", CARRY_TASK_SPACE, seed=4)
    reference = make("uniform", CARRY_TASK_SPACE, seed=4)
    agent = AdmittanceFollower()
    reset_infos = []

    def act(obs, info):
        if "difficulty" in info:  # the reset info
            reset_infos.append(info)
        return agent.act(obs)

    try:
        records = run_curriculum(env, scheduler, act, episodes=4, seed=7, on_reset=agent.reset)
    finally:
        env.close()
    assert [r.task for r in records] == reference.sample(4)
    assert len(reset_infos) == 4
    for record, info in zip(records, reset_infos, strict=True):
        assert info["difficulty"] == CARRY_TASK_SPACE.difficulty(record.task)
        assert record.length == 30 and record.success in (0.0, 1.0)
    assert [r.seed for r in records] == [7, 8, 9, 10]


def test_the_scheduler_hears_every_episode():
    space = DiscreteTaskSpace([CARRY_TASK_SPACE.validate(t) for t in TASKS])
    scheduler = make("learning_progress", space, seed=0)
    before = scheduler.state_dict()
    env = gym.make("palaestra/Carry-v0", max_steps=5)
    try:
        run_curriculum(env, scheduler, lambda obs, info: np.zeros(3, np.float32), episodes=3)
    finally:
        env.close()
    assert scheduler.state_dict() != before


def test_parallel_driver_reports_the_mean_over_agents():
    env = CarryParallelEnv(max_cycles=12)
    scheduler = make("uniform", CARRY_TASK_SPACE, seed=1)
    try:
        records = run_curriculum_parallel(
            env, scheduler, lambda agent, obs, info: np.zeros(3, np.float32), episodes=2
        )
    finally:
        env.close()
    assert [r.length for r in records] == [12, 12]
    for record in records:
        assert set(record.info) == {"carrier_0", "carrier_1"}
        expected = np.mean([record.info[a]["success"] for a in record.info])
        assert record.success == expected


def test_bad_episode_counts_and_envs_without_success_raise():
    scheduler = make("uniform", CARRY_TASK_SPACE, seed=0)
    with pytest.raises(ValueError, match="episodes must be at least 1"):
        run_curriculum(None, scheduler, lambda o, i: 0, episodes=0)

    class NoSuccess(gym.Env):
        observation_space = gym.spaces.Discrete(1)
        action_space = gym.spaces.Discrete(1)

        def reset(self, *, seed=None, options=None):
            return 0, {}

        def step(self, action):
            return 0, 0.0, True, False, {}

    with pytest.raises(ValueError, match=r"reports no info\['success'\]"):
        run_curriculum(NoSuccess(), scheduler, lambda o, i: 0, episodes=1)


@pytest.mark.parametrize("vector_mode", ["sync", "async"])
def test_gymnasium_vector_envs_take_per_env_tasks_through_set_attr(vector_mode):
    """Users' own vector loops: set_attr("task", tasks) gives each copy its next task."""
    env = gym.make_vec(
        "palaestra/Carry-v0", num_envs=2, vectorization_mode=vector_mode, max_steps=3
    )
    scheduler = make("uniform", CARRY_TASK_SPACE, seed=9)
    try:
        tasks = scheduler.sample(2)
        env.set_attr("task", tasks)
        _, infos = env.reset(seed=0)
        expected = [CARRY_TASK_SPACE.difficulty(t) for t in tasks]
        assert list(infos["difficulty"]) == expected
        zeros = np.zeros((2, 3), np.float32)
        for _ in range(3):  # both copies end on their third step
            _, _, terminated, truncated, _ = env.step(zeros)
        assert (terminated | truncated).all()
        tasks = scheduler.sample(2)
        env.set_attr("task", tasks)
        _, _, _, _, infos = env.step(zeros)  # the autoreset step starts the new tasks
        assert list(infos["difficulty"]) == [CARRY_TASK_SPACE.difficulty(t) for t in tasks]
        assert env.get_attr("task") == tuple(CARRY_TASK_SPACE.validate(t) for t in tasks)
    finally:
        env.close()
