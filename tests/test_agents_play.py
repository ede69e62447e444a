"""The episode runner: every env API, seeds, tasks, and curricula without training."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import AdmittanceFollower, play
from palaestra.curriculum import DiscreteTaskSpace, make
from palaestra.envs.carry import CARRY_TASK_SPACE
from palaestra.envs.carry.carry_parallel import CarryParallelEnv


class _Still:
    """Holds its handle: the zero carry action."""

    def reset(self, seed=None):
        pass

    def act(self, observation, info=None):
        return np.zeros(3, np.float32)


class _Zero(_Still):
    def act(self, observation, info=None):
        return 0


TASKS = [
    {"route_length": 2.0, "object": "box"},
    {"route_length": 5.0, "object": "table"},
    {"route_length": 8.0, "object": "stretcher", "route": "slope"},
]


def test_each_episode_plays_the_task_the_scheduler_chose():
    env = gym.make("palaestra/Carry-v0", max_steps=30)
    scheduler = make("uniform", CARRY_TASK_SPACE, seed=4)
    reference = make("uniform", CARRY_TASK_SPACE, seed=4)
    reset_infos = []

    class Recorder(AdmittanceFollower):
        def act(self, obs, info=None):
            if "difficulty" in info:  # the reset info
                reset_infos.append(info)
            return super().act(obs, info)

    try:
        records = play(env, Recorder(), episodes=4, seed=7, curriculum=scheduler)
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
        play(env, _Still(), episodes=3, curriculum=scheduler)
    finally:
        env.close()
    assert scheduler.state_dict() != before


def test_parallel_runs_report_the_mean_over_agents():
    env = CarryParallelEnv(max_cycles=12)
    scheduler = make("uniform", CARRY_TASK_SPACE, seed=1)
    try:
        records = play(
            env, {"carrier_0": _Still(), "carrier_1": _Still()}, episodes=2, curriculum=scheduler
        )
    finally:
        env.close()
    assert [r.length for r in records] == [12, 12]
    for record in records:
        assert set(record.infos) == {"carrier_0", "carrier_1"}
        expected = np.mean([record.infos[a]["success"] for a in record.infos])
        assert record.success == expected


def test_bad_episode_counts_and_envs_without_success_raise():
    scheduler = make("uniform", CARRY_TASK_SPACE, seed=0)
    with pytest.raises(ValueError, match="episodes must be at least 1"):
        play(None, _Still(), episodes=0, curriculum=scheduler)

    class NoSuccess(gym.Env):
        observation_space = gym.spaces.Discrete(1)
        action_space = gym.spaces.Discrete(1)

        def reset(self, *, seed=None, options=None):
            return 0, {}

        def step(self, action):
            return 0, 0.0, True, False, {}

    with pytest.raises(ValueError, match=r"reports no info\['success'\]"):
        play(NoSuccess(), _Zero(), episodes=1, curriculum=scheduler)


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


class _RandomLegal:
    """A seeded random legal player; counts its moves."""

    def reset(self, seed=None):
        self.rng = np.random.default_rng(seed)
        self.moves = 0

    def act(self, observation, info=None):
        self.moves += 1
        return int(self.rng.choice(np.flatnonzero(observation["action_mask"])))

    def stats(self):
        return {"moves": self.moves}


def test_turn_based_hands_are_zero_sum_and_repeat_under_the_same_seeds():
    import pettingzoo

    env = pettingzoo.make("aec", "palaestra/holdem-v0", num_players=3)
    team = {a: _RandomLegal() for a in env.possible_agents}
    try:
        first = play(env, team, seeds=[3, 4, 5, 6])
        again = play(env, team, seeds=[3, 4, 5, 6])
    finally:
        env.close()
    for result in first:
        assert result.ended and sum(result.returns.values()) == pytest.approx(0.0)
        assert sum(s["moves"] for s in result.agent_stats.values()) == result.length
    assert [r.returns for r in first] == [r.returns for r in again]
    assert len({tuple(r.returns.values()) for r in first}) > 1  # the seeds deal other hands


def test_tasks_cycle_and_on_step_sees_every_step():
    env = gym.make("palaestra/Carry-v0", max_steps=6)
    seen = []
    tasks = [{"object": "box"}, {"object": "table"}]
    try:
        results = play(
            env, _Still(), episodes=3, tasks=tasks, on_step=lambda e, s, d: seen.append((e, s, d))
        )
    finally:
        env.close()
    assert [r.task for r in results] == [tasks[0], tasks[1], tasks[0]]
    assert [r.seed for r in results] == [0, 1, 2]
    assert seen[:7] == [(0, s, s == 6) for s in range(7)]
    assert len(seen) == 3 * 7


def test_max_steps_stops_an_episode_and_says_so():
    env = gym.make("palaestra/Carry-v0")
    try:
        (result,) = play(env, _Still(), max_steps=4)
    finally:
        env.close()
    assert result.length == 4 and not result.ended


def test_the_agents_must_match_the_env():
    import pettingzoo

    env = pettingzoo.make("parallel", "palaestra/craft-v0")
    try:
        with pytest.raises(ValueError, match=r"missing \['agent_1'\], unknown \['agent_9'\]"):
            play(env, {"agent_0": _RandomLegal(), "agent_9": _RandomLegal()})
        with pytest.raises(ValueError, match="needs a mapping"):
            play(env, _RandomLegal())
        with pytest.raises(ValueError, match="not both"):
            play(env, {}, tasks=[{}], curriculum=make("uniform", CARRY_TASK_SPACE, seed=0))
    finally:
        env.close()


def test_turn_based_invalid_actions_are_counted_for_the_seat_that_made_them():
    import pettingzoo

    class Fixed(_RandomLegal):
        def __init__(self, action):
            self.action = action

        def act(self, observation, info=None):
            return self.action

    # The small blind calls; the big blind then tries to fold, illegal when checking is free.
    env = pettingzoo.make("aec", "palaestra/holdem-v0", illegal_action="penalize")
    try:
        results = play(env, {"player_0": Fixed(1), "player_1": Fixed(0)}, seeds=range(5))
    finally:
        env.close()
    # Checked down, it tries once on every street: the env's own count says the same.
    assert [r.invalid_actions for r in results] == [{"player_0": 0, "player_1": 4}] * 5
    assert [r.metrics["player_1"]["invalid_actions"] for r in results] == [4.0] * 5


def test_aec_on_step_hears_the_end():
    import pettingzoo

    env = pettingzoo.make("aec", "palaestra/holdem-v0")
    seen = []
    try:
        (result,) = play(
            env, {a: _RandomLegal() for a in env.possible_agents}, on_step=lambda *a: seen.append(a)
        )
    finally:
        env.close()
    assert seen[0] == (0, 0, False) and seen[-1] == (0, result.length, True)
