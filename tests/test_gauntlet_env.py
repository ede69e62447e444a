"""``palaestra/Gauntlet-v0``: the checker, determinism, metrics, the text view, bad input."""

from __future__ import annotations

import string
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.games import OBS_MODES
from palaestra.envs.gauntlet.cards import VARIANTS
from palaestra.envs.gauntlet.gauntlet_env import GauntletEnv, vector_bounds
from palaestra.envs.gauntlet.text import MAX_TEXT_LENGTH, TEXT_VERSION, text_view
from palaestra.envs.gauntlet.vocabulary import END_TURN, N_ACTIONS, play_action

ID = "palaestra/Gauntlet-v0"


def _play(env: gym.Env, seed: int, task=None, steps: int = 10_000):
    """A whole run with random legal actions drawn from ``seed``: every step's record."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed, options={"task": task} if task else None)
    records = [(obs, None, info)]
    for _ in range(steps):
        action = int(rng.choice(sorted(info["legal_actions"])))
        obs, reward, terminated, truncated, info = env.step(action)
        records.append((obs, reward, info))
        if terminated or truncated:
            break
    return records


def text_view_card(code: int) -> str:
    """A card's name and text, as the view writes them."""
    return VARIANTS[code].name + VARIANTS[code].text


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


@pytest.mark.parametrize("obs_mode", OBS_MODES)
def test_check_env_in_every_obs_mode(obs_mode):
    env = gym.make(ID, obs_mode=obs_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checker's notes on inf bounds
        check_env(env.unwrapped, skip_render_check=True)
    assert env.action_space == gym.spaces.Discrete(N_ACTIONS)


def test_same_seed_and_actions_give_the_same_whole_runs():
    task = {"fights": 2, "enemy_set": "starter"}
    for seed in range(3):
        a = _play(gym.make(ID, obs_mode="both"), seed, task)
        b = _play(gym.make(ID, obs_mode="both"), seed, task)
        assert len(a) == len(b) > 5
        assert all(_same(x, y) for x, y in zip(a, b, strict=True))
    assert not _same(_play(gym.make(ID), 0)[1][0], _play(gym.make(ID), 5)[1][0])


def test_episode_metrics_are_the_engines_counters_and_observations_fit_the_space():
    env = gym.make(ID, obs_mode="both")
    low, high = vector_bounds()
    for seed in range(6):
        records = _play(env, seed)
        for obs, _, info in records:
            assert env.observation_space.contains(obs)
            assert np.all(obs["state"] >= low) and np.all(obs["state"] <= high)
            assert set(np.flatnonzero(obs["action_mask"])) == set(info["legal_actions"])
        info = records[-1][2]
        run = env.unwrapped.run
        for key, value in run.metrics().items():
            assert info[key] == value, key
        assert info["success"] == run.won
        assert info["end_reason"] == ("won" if run.won else "died")
        assert info["invalid_actions"] == 0 and info["steps"] == len(records) - 1
        assert info["damage_dealt"] == run.stats.damage_dealt
        with pytest.raises(gym.error.ResetNeeded):
            env.step(END_TURN)


def test_dense_rewards_add_up_and_sparse_rewards_only_pay_a_win():
    env = gym.make(ID, task={"fights": 1, "enemy_set": "starter"})
    records = _play(env, 1)
    info = records[-1][2]
    total = sum(r for _, r, _ in records[1:])
    terminal = 1.0 if info["success"] else -1.0
    assert total == pytest.approx(0.01 * info["damage_dealt"] + info["fights_won"] + terminal)
    sparse = gym.make(ID, reward="sparse", task={"fights": 1, "enemy_set": "starter"})
    for seed in range(4):
        records = _play(sparse, seed)
        rewards = [r for _, r, _ in records[1:]]
        assert rewards[:-1] == [0.0] * (len(rewards) - 1)
        assert rewards[-1] == (1.0 if records[-1][2]["success"] else 0.0)


def test_the_step_cap_truncates():
    env = gym.make(ID, max_steps=3)
    records = _play(env, 0)
    assert len(records) == 4
    info = records[-1][2]
    assert info["end_reason"] == "time_limit" and not info["success"]
    with pytest.raises(gym.error.ResetNeeded):
        env.step(END_TURN)


def test_the_text_view_hides_the_draw_piles_order_and_fits_its_space():
    a, b = GauntletEnv(obs_mode="text"), GauntletEnv(obs_mode="text")
    a.reset(seed=3)
    b.reset(seed=3)
    pile = b.run.fight.draw_pile
    assert len(pile) >= 2
    pile.reverse()
    assert a.run.fight.draw_pile != pile
    b.run.state_changed()
    assert a.text_view() == b.text_view()
    text = a.text_view()
    assert text.startswith(TEXT_VERSION) and "draw 5" in text and "Strike (1)" in text
    assert "intent:" in text and set(text) <= set(string.printable)
    # The longest view: a full hand of the longest cards, every status, the biggest deck of
    # distinct cards (names listed once each), three enemies.
    run = a.run
    by_length = sorted(range(len(VARIANTS)), key=lambda c: -len(text_view_card(c)))
    run.deck[:] = by_length[:52]
    run.fight.hand[:] = list(range(10))
    for combatant in (run.player, *run.enemies):
        combatant.status[:] = [-999] * len(combatant.status)
    assert len(run.enemies) >= 2
    assert len(text_view(run)) <= MAX_TEXT_LENGTH
    assert a.observation_space.contains(text_view(run))


def test_render_ansi_gives_the_text_view():
    env = GauntletEnv(render_mode="ansi")
    assert env.render() is None
    env.reset(seed=0)
    assert env.render() == env.text_view()
    assert GauntletEnv().reset(seed=0) is not None and GauntletEnv().render() is None


@pytest.mark.parametrize(
    ("task", "pattern"),
    [
        ({"fightz": 3}, "fightz"),
        ({"fights": 0}, "fights"),
        ({"ascension": 11}, "ascension"),
        ({"enemy_set": "hard"}, "enemy_set"),
        ({"starting_deck": ["Strike", "Fireball"]}, "Fireball"),
        ({"card_pool": ["Cleave", "Nope"]}, "Nope"),
        ({"fights": 1, "encounters": ["dragon"]}, "dragon"),
    ],
)
def test_bad_tasks_are_refused_by_name(task, pattern):
    with pytest.raises(ValueError, match=pattern):
        GauntletEnv(task=task)
    env = GauntletEnv()
    with pytest.raises(ValueError, match=pattern):
        env.reset(seed=0, options={"task": task})


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"obs_mode": "pixels"}, "obs_mode"),
        ({"illegal_action": "ignore"}, "illegal_action"),
        ({"reward": "shaped"}, "reward"),
        ({"max_steps": 0}, "max_steps"),
        ({"render_mode": "human"}, "render_mode"),
        ({"illegal_penalty": -1}, "illegal_penalty"),
    ],
)
def test_bad_arguments_are_refused(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        GauntletEnv(**kwargs)


def test_bad_actions_and_steps_out_of_an_episode():
    env = GauntletEnv()
    with pytest.raises(gym.error.ResetNeeded):
        env.step(END_TURN)
    with pytest.raises(gym.error.ResetNeeded):
        env.action_masks()
    with pytest.raises(gym.error.ResetNeeded):
        _ = env.run
    env.reset(seed=0)
    for bad in (-1, N_ACTIONS, 2.5, float("nan"), "end turn", np.array([1, 2])):
        with pytest.raises(ValueError, match=r"player"):
            env.step(bad)
    assert env.run.stats.turns == 1  # nothing was taken


def test_illegal_actions_raise_naming_them_or_are_penalized_and_counted():
    strict = GauntletEnv(illegal_action="raise")
    strict.reset(seed=0)
    illegal = play_action(0, 2)  # enemy slot 2 is empty in this fight
    assert not strict.action_masks()[illegal]
    with pytest.raises(ValueError, match=rf"action {illegal} \(play slot 0 at enemy 2\)"):
        strict.step(illegal)
    env = GauntletEnv(illegal_penalty=0.25)
    env.reset(seed=0)
    turns = env.run.stats.turns
    _, reward, _, _, info = env.step(illegal)
    assert info["invalid_action"] and reward == pytest.approx(-0.25)
    assert env.run.stats.turns == turns + 1  # the fallback ended the turn
    _, _, _, _, info = env.step(34)  # skip: illegal in combat
    assert info["invalid_action"]
    assert env.episode_metrics()["invalid_actions"] == 2
