"""Copies of the carry envs own their physics: copying never corrupts the original.

SuperSuit's vector envs copy the env they are given, and a pickle round trip makes a copy
too. A copy connects a physics client of its own and restores the world into it; deleting
and collecting it must leave the original stepping exactly as an untouched twin does.
"""

from __future__ import annotations

import copy
import gc
import pickle

import gymnasium as gym
import numpy as np
import pettingzoo
import pybullet as pb
import pytest

import palaestra  # noqa: F401  (registers the envs)

STEPS_BEFORE, STEPS_AFTER = 40, 200


def _actions(seed: int, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.0, 1.0, size=3).astype(np.float32) for _ in range(n)]


def test_copies_of_both_carry_envs_are_collected_without_touching_the_originals():
    actions = _actions(0, STEPS_BEFORE + STEPS_AFTER)
    single, single_twin = gym.make("palaestra/Carry-v0"), gym.make("palaestra/Carry-v0")
    duo, duo_twin = (
        pettingzoo.make("parallel", "palaestra/carry-v0"),
        pettingzoo.make("parallel", "palaestra/carry-v0"),
    )
    for env in (single, single_twin):
        env.reset(seed=5)
    for env in (duo, duo_twin):
        env.reset(seed=5)

    def step_all(t: int) -> tuple:
        a = actions[t]
        s = single.step(a)[0], single_twin.step(a)[0]
        joint = {agent: a for agent in duo.agents}
        d = duo.step(joint)[0], duo_twin.step(joint)[0]
        return s, d

    for t in range(STEPS_BEFORE):
        step_all(t)
    copies = [
        copy.deepcopy(single),
        pickle.loads(pickle.dumps(single)),
        copy.deepcopy(duo),
        pickle.loads(pickle.dumps(duo)),
    ]
    clients = {c.unwrapped.physics_client for c in copies}
    originals = {single.unwrapped.physics_client, duo.unwrapped.physics_client}
    assert len(clients) == 4 and not clients & originals
    # The copies step a while on their own, then go away.
    for c in copies:
        for a in actions[:10]:
            if isinstance(c, gym.Env):
                c.step(a)
            else:
                c.step({agent: a for agent in c.agents})
    for c in copies:
        c.close()
    del copies, c
    gc.collect()
    assert not any(pb.isConnected(physicsClientId=cid) for cid in clients)
    for t in range(STEPS_BEFORE, STEPS_BEFORE + STEPS_AFTER):
        (s, s_twin), (d, d_twin) = step_all(t)
        assert np.array_equal(s, s_twin), f"Carry-v0 diverged from its twin at step {t}"
        for agent in d_twin:
            assert np.array_equal(d[agent], d_twin[agent]), f"carry-v0 diverged at step {t}"
        if not duo.agents:
            break
    for env in (single, single_twin, duo, duo_twin):
        env.close()


def test_copies_that_are_only_collected_release_their_clients():
    env = gym.make("palaestra/Carry-v0")
    env.reset(seed=1)
    clients = []
    for _ in range(20):
        c = pickle.loads(pickle.dumps(env))
        clients.append(c.unwrapped.physics_client)
        del c
    gc.collect()
    assert not any(pb.isConnected(physicsClientId=cid) for cid in clients)
    assert pb.isConnected(physicsClientId=env.unwrapped.physics_client)
    env.step(env.action_space.sample())
    env.close()


def test_a_copy_taken_mid_episode_continues_as_the_original():
    actions = _actions(3, 150)
    env = gym.make("palaestra/Carry-v0")
    env.reset(seed=8)
    for a in actions[:50]:
        env.step(a)
    twin = copy.deepcopy(env)
    assert twin.unwrapped.episode_state == env.unwrapped.episode_state
    for a in actions[50:]:
        ours, theirs = env.step(a), twin.step(a)
        assert np.array_equal(ours[0], theirs[0])
        assert ours[1:4] == theirs[1:4]
        if ours[2] or ours[3]:
            assert ours[4] == theirs[4]
            break
    env.close()
    twin.close()


def test_a_copy_of_a_closed_env_is_closed_too():
    env = gym.make("palaestra/Carry-v0")
    env.reset(seed=0)
    env.close()
    clone = copy.deepcopy(env)
    with pytest.raises(RuntimeError, match="closed"):
        clone.reset(seed=0)
