"""The compliant partner, the effort metrics and the load-taking follower.

Expected values come from statics and the issue's definitions, not from the code: a level
object on two pins puts half its weight on each; a follower told to carry a share ``s`` of
the weight leaves ``(1 - s) W`` to the partner; COLA's effort is the mean of
``|F_xy| + |F_z|``; the per-metre metrics divide time integrals by the object's path.
"""

import math

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents import AdmittanceFollower, LoadTakingFollower, PassiveCarrier, check_agent
from palaestra.envs.carry.layout import CONTROL_DT
from palaestra.envs.carry.sim import GRAVITY

COMPLIANT = {"partner_load": "compliant"}


def _play(agent, task, seed=0, record=False):
    env = gym.make("palaestra/Carry-v0", task=task)
    obs, _ = env.reset(seed=seed)
    agent.reset()
    unwrapped = env.unwrapped
    sim = unwrapped._episode.sim
    weight = sim.spec.mass * sim.mass_scale * GRAVITY
    steps = []
    while True:
        obs, _, terminated, truncated, info = env.step(agent.act(obs))
        if record:
            state = unwrapped.episode_state
            steps.append(
                (
                    [np.array(c.applied_force) for c in state.carriers],
                    [np.array((*c.hand_position, c.hand_height)) for c in state.carriers],
                    np.array(state.object_position),
                )
            )
        if terminated or truncated:
            break
    env.close()
    return info, weight, steps


@pytest.mark.parametrize("obj", ["box", "table", "stretcher"])
@pytest.mark.parametrize("route", ["straight", "turn"])
def test_a_learner_that_only_holds_gets_the_static_split(obj, route):
    info, weight, _ = _play(AdmittanceFollower(), {**COMPLIANT, "object": obj, "route": route})
    assert info["success"]
    # Palaestra's handles lie symmetrically about the centre of mass: half each.
    assert info["own_vertical_force"] == pytest.approx(0.5 * weight, rel=0.02)
    assert info["partner_vertical_force"] == pytest.approx(0.5 * weight, rel=0.02)


@pytest.mark.parametrize(
    ("obj", "share"), [("box", 0.5), ("box", 0.75), ("box", 0.9), ("table", 0.75)]
)
def test_the_load_taking_follower_leaves_the_partner_the_rest(obj, share):
    agent = LoadTakingFollower(share=share, damping=15.0)
    info, weight, _ = _play(agent, {**COMPLIANT, "object": obj})
    assert info["success"]
    assert info["partner_vertical_force"] == pytest.approx((1 - share) * weight, rel=0.05)
    assert info["own_vertical_force"] == pytest.approx(share * weight, rel=0.05)


def test_taking_load_needs_the_compliant_partner():
    """On the rigid task statics fix the split, whatever the learner's lift does."""
    rigid, weight, _ = _play(AdmittanceFollower(), {"object": "box"})
    compliant, _, _ = _play(LoadTakingFollower(share=0.9, damping=15.0), COMPLIANT)
    assert rigid["partner_vertical_force"] == pytest.approx(0.5 * weight, rel=0.02)
    assert compliant["partner_vertical_force"] < 0.2 * weight
    assert compliant["partner_cola_effort"] < 0.6 * rigid["partner_cola_effort"]


def test_the_grip_torque_limit_caps_the_share_the_learner_can_take():
    """With no pitch torque the learner's grip is a pin again: half the weight at most."""
    task = {**COMPLIANT, "grip_torque_limit": 0.0}
    info, weight, _ = _play(LoadTakingFollower(share=0.9, damping=15.0), task)
    assert info["partner_vertical_force"] > 0.4 * weight


def test_effort_metrics_follow_their_definitions():
    info, weight, steps = _play(AdmittanceFollower(damping=15.0), {"object": "box"}, record=True)
    partner = np.array([s[0][1] for s in steps])  # episode_state lists learner, partner
    learner = np.array([s[0][0] for s in steps])
    hands = np.array([s[1][1] for s in steps])
    obj = np.array([s[2][:2] for s in steps])
    horizontal = np.hypot(partner[:, 0], partner[:, 1])
    assert info["partner_cola_effort"] == pytest.approx(
        np.mean(horizontal + np.abs(partner[:, 2])), rel=1e-9
    )
    assert info["partner_vertical_force"] == pytest.approx(partner[:, 2].mean(), rel=1e-9)
    assert info["partner_horizontal_force"] == pytest.approx(horizontal.mean(), rel=1e-9)
    assert info["partner_effort"] == pytest.approx(np.linalg.norm(partner, axis=1).mean())
    assert info["own_effort"] == pytest.approx(np.linalg.norm(learner, axis=1).mean())
    # The path from the first step on; the metric also counts the first step's move.
    assert info["path_length"] >= np.sum(np.linalg.norm(np.diff(obj, axis=0), axis=1))
    assert info["path_length"] == pytest.approx(info["displacement"], rel=0.05)
    per_m = horizontal.sum() * CONTROL_DT / info["path_length"]
    assert info["partner_guiding_force_per_m"] == pytest.approx(per_m, rel=1e-9)
    impulse = np.linalg.norm(partner, axis=1).sum() * CONTROL_DT / info["path_length"]
    assert info["partner_impulse_per_m"] == pytest.approx(impulse, rel=1e-9)
    work = np.abs(np.sum(partner[1:] * np.diff(hands, axis=0), axis=1)).sum()
    assert work <= info["partner_work"] <= work + 2.0  # plus the first step's share
    # Level and symmetric: the interaction force is the tug plus the vertical deviation.
    interaction = np.mean(horizontal + np.abs(partner[:, 2] - 0.5 * weight))
    assert info["partner_interaction_force"] == pytest.approx(interaction, rel=0.05)
    assert info["partner_interaction_force"] < info["partner_cola_effort"] / 2


def test_per_metre_metrics_are_nan_when_the_object_does_not_move():
    env = gym.make("palaestra/Carry-v0", task={"role": "leader"}, max_steps=5)
    obs, _ = env.reset(seed=0)
    agent = PassiveCarrier()
    for _ in range(5):
        obs, _, _, truncated, info = env.step(agent.act(obs))
    env.close()
    assert truncated and info["path_length"] < 1e-3
    assert math.isnan(info["partner_guiding_force_per_m"])
    assert math.isnan(info["own_impulse_per_m"])
    assert info["partner_cola_effort"] > 0


def test_compliant_episodes_are_deterministic_and_copy_exactly():
    import copy

    env = gym.make("palaestra/Carry-v0", task={**COMPLIANT, "route": "slope"})
    obs, _ = env.reset(seed=4)
    agent = LoadTakingFollower(damping=15.0)
    for _ in range(40):
        obs, *_ = env.step(agent.act(obs))
    twin = copy.deepcopy(env)
    twin_agent = copy.deepcopy(agent)
    obs_twin = obs.copy()
    for _ in range(60):
        obs, reward, *_ = env.step(agent.act(obs))
        obs_twin, reward_twin, *_ = twin.step(twin_agent.act(obs_twin))
        assert np.array_equal(obs, obs_twin) and reward == reward_twin
    env.close()
    twin.close()


def test_load_taking_follower_follows_the_interface():
    env = gym.make("palaestra/Carry-v0", task=COMPLIANT, max_steps=50)
    check_agent(LoadTakingFollower(), env)
    env.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"share": 1.5}, r"share must be a number in \[0, 1\]"),
        ({"share": -0.1}, r"share must be a number in \[0, 1\]"),
        ({"share": float("nan")}, r"share must be a number in \[0, 1\]"),
        ({"force_gain": -1.0}, r"force_gain must be a finite number >= 0"),
        ({"force_gain": float("inf")}, r"force_gain must be a finite number >= 0"),
        ({"weight": 0.0}, r"weight must be a positive finite number"),
        ({"force_filter_s": float("nan")}, r"force_filter_s must be a finite number"),
    ],
)
def test_load_taking_follower_refuses_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LoadTakingFollower(**kwargs)


@pytest.mark.parametrize(
    ("task", "match"),
    [
        ({"partner_load": "springy"}, r"'partner_load'.*'rigid', 'compliant'"),
        ({"partner_load": 1}, r"'partner_load'"),
        ({"grip_torque_limit": -1.0}, r"'grip_torque_limit'.*\[0, 500\]"),
        ({"grip_torque_limit": float("inf")}, r"'grip_torque_limit'.*\[0, 500\]"),
        ({"grip_torque_limit": float("nan")}, r"'grip_torque_limit'.*\[0, 500\]"),
    ],
)
def test_bad_load_knobs_name_the_knob_and_its_range(task, match):
    env = gym.make("palaestra/Carry-v0")
    with pytest.raises(ValueError, match=match):
        env.reset(seed=0, options={"task": task})
    env.close()


def test_the_partner_effort_weight_charges_the_partners_cola_effort():
    weight = 0.3
    base = gym.make("palaestra/Carry-v0", task=COMPLIANT)
    charged = gym.make(
        "palaestra/Carry-v0", task=COMPLIANT, reward_weights={"partner_effort": weight}
    )
    obs, _ = base.reset(seed=2)
    charged.reset(seed=2)
    agent = AdmittanceFollower()
    for _ in range(80):
        action = agent.act(obs)
        obs, plain, *_ = base.step(action)
        _, paid, *_ = charged.step(action)
        fx, fy, fz = charged.unwrapped.episode_state.carriers[1].applied_force
        assert paid == pytest.approx(plain - weight * (math.hypot(fx, fy) + abs(fz)) / 100.0)
    base.close()
    charged.close()


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_the_force_weight_follows_the_learners_role(role):
    # A leader is charged leader_force for its horizontal grip force, a follower force.
    weights = {"force": 0.0, "leader_force": 0.0}
    base = gym.make("palaestra/Carry-v0", task={"role": role}, reward_weights=weights)
    paid = "leader_force" if role == "leader" else "force"
    charged = gym.make(
        "palaestra/Carry-v0", task={"role": role}, reward_weights={**weights, paid: 0.4}
    )
    obs, _ = base.reset(seed=3)
    charged.reset(seed=3)
    agent = AdmittanceFollower()
    felt = 0.0
    for _ in range(80):
        action = agent.act(obs)
        obs, plain, *_ = base.step(action)
        _, cost, *_ = charged.step(action)
        fx, fy, _ = charged.unwrapped.episode_state.carriers[0].applied_force  # learner first
        felt += math.hypot(fx, fy)
        assert cost == pytest.approx(plain - 0.4 * math.hypot(fx, fy) / 100.0)
    assert felt > 80 * 5.0  # the learner did push or pull: the term was exercised
    base.close()
    charged.close()


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"partner_efort": 1.0}, r"unknown reward weight 'partner_efort'; weights: progress"),
        ({"drop": "high"}, r"reward weight 'drop' must be a number"),
        ({"tilt": float("nan")}, r"reward weight 'tilt' must be finite"),
        (3, r"reward_weights must be RewardWeights or a mapping"),
    ],
)
def test_bad_reward_weights_are_named(weights, match):
    with pytest.raises(ValueError, match=match):
        gym.make("palaestra/Carry-v0", reward_weights=weights)
