"""The environment contract of ``palaestra/Holdem-v0`` (Gymnasium) and ``palaestra/holdem-v0``
(PettingZoo AEC): API checkers, multi-step determinism, bad input, observation modes, text
views through vector envs, rendering and fresh arrays.

Expected values come from the documented contract (the env docstrings, DESIGN.md and
envs/games.py): six actions, the vector keys, the ``holdem-v0 text/1`` header, the fallback
(check when free, else fold) and the task knobs' ranges.
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pettingzoo
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, seed_test

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.holdem.holdem_aec import HoldemAECEnv
from palaestra.envs.holdem.holdem_gym import HoldemEnv

GYM_ID = "palaestra/Holdem-v0"
PZ_ID = "palaestra/holdem-v0"
VECTOR_KEYS = {"hole_cards", "board", "street", "pot", "to_call", "stacks", "bets", "in_hand",
               "position", "action_mask"}  # fmt: skip
HEADER = "holdem-v0 text/1"


def aec(**kwargs) -> HoldemAECEnv:
    return pettingzoo.make("aec", PZ_ID, **kwargs)


# ------------------------------------------------------------------------ API checkers
# PettingZoo's api_test warns about any Dict observation and about the all-zero masks of
# agents whose turn it is not (both documented here); those notes are filtered out.
API_TEST_NOTES = pytest.mark.filterwarnings(
    "ignore:Observation is not a NumPy array",
    "ignore:Observation space for each agent probably should be",
    "ignore:Action mask numpy array is all zeros",
)


@pytest.mark.parametrize("obs_mode", ["vector", "text", "both"])
def test_gymnasium_check_env_in_every_obs_mode(obs_mode):
    env = gym.make(GYM_ID, obs_mode=obs_mode)
    check_env(env.unwrapped)
    obs, _info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    if obs_mode != "text":
        assert set(obs) == VECTOR_KEYS | ({"text"} if obs_mode == "both" else set())
    env.close()


@API_TEST_NOTES
@pytest.mark.parametrize("num_players", [2, 3, 6, 9])
def test_pettingzoo_api_test(num_players):
    env = aec(num_players=num_players)
    api_test(env, num_cycles=300)
    assert env.possible_agents == [f"player_{k}" for k in range(num_players)]


@API_TEST_NOTES
def test_pettingzoo_api_test_with_text_in_the_dict_and_several_hands():
    api_test(aec(num_players=4, obs_mode="both", hands=5), num_cycles=300)


# ------------------------------------------------------------------------ determinism
def _play_aec(env, seed, steps):
    """Step with a seeded random legal policy; record everything the env returns."""
    rng = np.random.default_rng(seed + 1)
    env.reset(seed=seed)
    record = []
    for agent in env.agent_iter(max_iter=steps):
        obs, reward, terminated, truncated, info = env.last()
        if terminated or truncated:
            action = None
        else:
            legal = sorted(info["legal_actions"])
            action = legal[int(rng.integers(len(legal)))]
        record.append((agent, obs, reward, terminated, truncated, info))
        env.step(action)
    return record


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("num_players", [2, 5])
def test_aec_same_seed_and_actions_give_identical_steps_over_several_hands(num_players):
    first = _play_aec(aec(num_players=num_players, obs_mode="both", hands=6), 7, 400)
    second = _play_aec(aec(num_players=num_players, obs_mode="both", hands=6), 7, 400)
    assert len(first) > 20
    assert _same(first, second)
    hands = [step[5]["hand_history"] for step in first if "hand_history" in step[5]]
    assert len({id(h) for h in hands}) >= 2  # several hands were played
    other = _play_aec(aec(num_players=num_players, obs_mode="both", hands=6), 8, 400)
    assert not _same(first, other)


def test_pettingzoo_seed_test():
    seed_test(lambda: HoldemAECEnv(num_players=4, hands=3), num_cycles=200)


def _play_gym(env, seed, episodes):
    rng = np.random.default_rng(seed + 1)
    record = []
    obs, info = env.reset(seed=seed)
    record.append((obs, info))
    for _ in range(episodes):
        done = False
        while not done:
            legal = sorted(info["legal_actions"])
            obs, reward, terminated, truncated, info = env.step(legal[rng.integers(len(legal))])
            record.append((obs, reward, terminated, truncated, info))
            done = terminated or truncated
        obs, info = env.reset()
        record.append((obs, info))
    return record


@pytest.mark.parametrize("opponents", ["random", "tag"])
def test_gym_same_seed_and_actions_give_identical_steps(opponents):
    def make():
        return gym.make(GYM_ID, opponents=opponents, obs_mode="both", hands=3,
                        task={"num_players": 4})  # fmt: skip

    first, second = _play_gym(make(), 3, 4), _play_gym(make(), 3, 4)
    assert len(first) > 10 and _same(first, second)
    assert not _same(first, _play_gym(make(), 4, 4))


# ------------------------------------------------------------------------ opponents knob
def _gym(opponents="random", task=None):
    return gym.make(GYM_ID, opponents=opponents, obs_mode="both", hands=3, task=task)


@pytest.mark.parametrize(
    ("argument", "knob"),
    [("tag", "tag"), (["tag", "calling_station", "random"], ["tag", "calling_station", "random"])],
)
def test_the_opponents_knob_plays_as_the_constructor_argument(argument, knob):
    # The same opponents given by the argument or by the task knob give identical episodes.
    by_argument = _play_gym(_gym(argument, {"num_players": 4}), 3, 4)
    by_task = _play_gym(_gym("random", {"num_players": 4, "opponents": knob}), 3, 4)
    assert _same(by_argument, by_task)
    assert not _same(by_argument, _play_gym(_gym("random", {"num_players": 4}), 3, 4))


def test_the_opponents_knob_set_between_episodes_and_left_to_the_argument():
    env = _gym("calling_station", {"num_players": 3})
    assert env.unwrapped.task["opponents"] is None  # the argument decides
    reference = _play_gym(_gym("tag", {"num_players": 3}), 5, 2)
    env.unwrapped.set_task({"num_players": 3, "opponents": "tag"})
    assert _same(_play_gym(env, 5, 2), reference)
    env.reset(seed=5, options={"task": {"num_players": 3}})  # back to the argument
    assert _same(_play_gym(env, 5, 2), _play_gym(_gym("calling_station", {"num_players": 3}), 5, 2))


def test_the_opponents_knob_is_sampled_restricted_and_holdem_v0_has_none():
    space = HoldemEnv.task_space
    drawn = {space.sample(np.random.default_rng(k))["opponents"] for k in range(30)}
    assert drawn == {"random", "calling_station", "tag"}
    narrow = space.restricted(opponents=["tag"])
    assert narrow.sample(np.random.default_rng(0))["opponents"] == "tag"
    assert space.difficulty({"opponents": "tag"}) == space.difficulty({"opponents": "random"})
    assert space.difficulty({"opponents": "tag"}) == HoldemAECEnv.task_space.difficulty({})
    with pytest.raises(ValueError, match="unknown holdem task key 'opponents'"):
        HoldemAECEnv().set_task({"opponents": "tag"})


@pytest.mark.parametrize(
    ("task", "pattern"),
    [
        ({"opponents": "shark"}, r"task key 'opponents': got 'shark', expected None, one of"),
        ({"opponents": ["tag", "fish"], "num_players": 3}, r"'opponents': entry 1 is 'fish'"),
        ({"opponents": []}, r"task key 'opponents': got \[\]"),
        ({"opponents": 2}, r"task key 'opponents': got 2"),
        ({"opponents": ["tag", "tag"]}, r"'opponents' lists 2 names but num_players=2 seats 1"),
    ],
)
def test_bad_opponents_knobs_raise_value_errors_naming_the_key(task, pattern):
    with pytest.raises(ValueError, match=pattern):
        HoldemEnv().set_task(task)
    with pytest.raises(ValueError, match=pattern):
        HoldemEnv().reset(seed=0, options={"task": task})


def test_readme_documents_the_opponents_knob():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- task-table:holdem-solo -->\n", 1)[1].split("<!-- /task-table", 1)[0]
    rows = HoldemEnv.task_space.table().splitlines()
    extra = [k for k in HoldemEnv.task_space.knobs if k not in HoldemAECEnv.task_space.knobs]
    assert extra == ["opponents"]
    assert table.strip() == "\n".join(rows[:2] + rows[-len(extra) :])


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("task", "pattern"),
    [
        ({"colour": "red"}, r"unknown holdem task key 'colour'"),
        ({"num_players": 10}, r"'num_players'.*\[2, 9\]"),
        ({"num_players": 2.5}, r"'num_players'"),
        ({"big_blind": 0}, r"'big_blind'"),
        ({"big_blind": float("nan")}, r"'big_blind'"),
        ({"small_blind": 3, "big_blind": 2}, r"'small_blind': 3 exceeds the big blind 2"),
        ({"ante": -1}, r"'ante'.*integer"),
        ({"stacks": [100, 100, 100]}, r"'stacks' has 3 entries but 'num_players' is 2"),
        ({"stacks": [100, 0]}, r"'stacks': at least two seats need chips"),
        ({"stacks": [100, -5]}, r"'stacks'.*stack 1"),
        ({"stacks": [100, "lots"]}, r"'stacks'.*stack 1"),
        ({"stacks": "100 100"}, r"'stacks'"),
        ({"button": 2}, r"'button': seat 2 does not exist"),
        ({"button": 1, "stacks": [100, 0, 100], "num_players": 3}, r"seat 1 has no chips"),
        ({"deck": "As Kd As Qh 2c 3c 4c 5c 6c"}, r"'deck'.*duplicate card 'As'"),
        ({"deck": "As Kd 1x Qh 2c 3c 4c 5c 6c"}, r"'deck'.*bad card '1x'"),
        ({"deck": "As Kd Qh"}, r"'deck' holds 3 cards; .* needs 9"),
        ({"deck": 52}, r"'deck'"),
    ],
)
def test_bad_tasks_raise_value_errors_naming_the_key(task, pattern):
    env = HoldemAECEnv(num_players=3) if task.get("num_players") == 3 else HoldemAECEnv()
    with pytest.raises(ValueError, match=pattern):
        env.reset(seed=0, options={"task": task})
    gym_env = HoldemEnv()
    with pytest.raises(ValueError, match=pattern):
        gym_env.set_task(task)


def test_task_with_more_players_than_agents_is_refused():
    with pytest.raises(ValueError, match="'num_players': 4 seats, but this env has 2 agents"):
        HoldemAECEnv(num_players=2).set_task({"num_players": 4})


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"render_mode": "human"}, "render_mode must be one of"),
        ({"obs_mode": "pixels"}, "obs_mode must be one of"),
        ({"illegal_action": "ignore"}, "illegal_action must be one of"),
        ({"hands": 0}, r"hands must be an integer in \[1, 100000\]"),
        ({"num_players": 1}, r"num_players must be in \[2, 9\]"),
        ({"num_players": 10}, r"num_players must be in \[2, 9\]"),
    ],
)
def test_bad_aec_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        HoldemAECEnv(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"render_mode": "rgb_array"}, "render_mode must be one of"),
        ({"obs_mode": "image"}, "obs_mode must be one of"),
        ({"opponents": "shark"}, "unknown opponent 'shark'; opponents are random"),
        ({"opponents": ["tag", "fish"]}, "unknown opponent 'fish'"),
        ({"seat": 9}, r"seat must be None or a seat index in \[0, 9\)"),
        ({"hands": -1}, "hands must be"),
    ],
)
def test_bad_gym_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        HoldemEnv(**kwargs)


def test_gym_seat_or_opponent_list_that_does_not_fit_the_task():
    with pytest.raises(ValueError, match="seat 3 has no chips or does not exist"):
        HoldemEnv(seat=3).reset(seed=0)
    with pytest.raises(ValueError, match="opponents lists 2 names but the task seats 1"):
        HoldemEnv(opponents=["tag", "random"]).reset(seed=0)


@pytest.mark.parametrize("action", [float("nan"), 6, -1, 1.5, "1", np.array([1, 2]), None])
def test_malformed_actions_raise_in_both_envs(action):
    env = aec(num_players=3)
    env.reset(seed=0)
    agent = env.agent_selection
    with pytest.raises(ValueError, match=agent):
        env.step(action)
    gym_env = HoldemEnv()
    gym_env.reset(seed=0)
    with pytest.raises(ValueError, match="learner"):
        gym_env.step(action)


def test_illegal_action_under_raise_names_the_action_and_the_legal_ones():
    env = aec(num_players=2, task={"button": 0})
    env.reset(seed=0)
    env.step(1)  # the button completes the small blind
    assert env.agent_selection == "player_1"  # the big blind may check: folding is masked
    expected = r"action 0 \(fold\) is not legal for player_1 now; legal: 1 \(check\), 2 \(raise"
    with pytest.raises(ValueError, match=expected):
        env.step(0)


def test_unknown_agents_and_steps_outside_an_episode():
    env = aec(num_players=2)
    with pytest.raises(ResetNeeded):
        env.step(1)
    with pytest.raises(ResetNeeded):
        env.observe("player_0")
    env.reset(seed=0)
    for bad in ("player_2", "bob", 3):
        with pytest.raises(ValueError, match="unknown agent"):
            env.observe(bad)
        with pytest.raises(ValueError, match="unknown agent"):
            env.observation_space(bad)
        with pytest.raises(ValueError, match="unknown agent"):
            env.action_space(bad)
    while not env.terminations[env.agent_selection]:
        env.step(1)
    with pytest.raises(ValueError, match="only valid action is None"):
        env.step(1)  # a terminated agent may only pass None
    for _ in env.agent_iter():
        env.step(None)
    assert env.agents == []
    with pytest.raises(ResetNeeded):
        env.step(1)
    gym_env = HoldemEnv(opponents="calling_station")
    with pytest.raises(ResetNeeded):
        gym_env.step(1)
    gym_env.reset(seed=0)
    terminated = False
    while not terminated:
        *_, terminated, _, _ = gym_env.step(1)
    with pytest.raises(ResetNeeded):
        gym_env.step(1)


# ------------------------------------------------------------------------ views
@pytest.mark.parametrize("obs_mode", ["vector", "text", "both"])
def test_legal_actions_match_the_mask_in_every_mode(obs_mode):
    env = aec(num_players=4, obs_mode=obs_mode, render_mode="ansi", hands=3)
    env.reset(seed=5)
    vector = aec(num_players=4, hands=3)
    vector.reset(seed=5)
    checked = 0
    for agent in env.agent_iter():
        obs, _, terminated, truncated, info = env.last()
        if terminated or truncated:
            env.step(None)
            vector.step(None)
            continue
        mask = vector.observe(agent)["action_mask"]
        assert sorted(info["legal_actions"]) == list(np.flatnonzero(mask))
        assert all(isinstance(t, str) and t for t in info["legal_actions"].values())
        if obs_mode != "vector":
            text = obs if obs_mode == "text" else obs["text"]
            assert text.splitlines()[0] == HEADER
            assert env.observation_space(agent).contains(obs)
            assert text == env.render()  # ansi renders the view of the seat to act
            legal_line = text.splitlines()[-1]
            assert legal_line == "legal: " + " | ".join(
                f"{k} {t}" for k, t in info["legal_actions"].items()
            )
        others = [a for a in env.agents if a != agent]
        assert all(env.infos[a]["legal_actions"] == {} for a in others)
        assert all(not vector.observe(a)["action_mask"].any() for a in others)
        raises = [k for k in info["legal_actions"] if 2 <= k <= 4]
        action = raises[0] if raises and checked % 4 == 0 else 1
        env.step(action)
        vector.step(action)
        checked += 1
    assert checked > 8


def test_text_view_of_a_fixed_deal():
    cards = "Kc 7d As Kd 2c Ah 3s 8h 9c Jd 4s"  # player_1, player_2, player_0, twice; board
    env = aec(num_players=3, obs_mode="text", task={"deck": cards, "button": 0})
    env.reset(seed=0)
    assert env.observe("player_0") == "\n".join(
        [
            HEADER,
            "hand 1 of 1, you are player_0, player_0 to act",
            "blinds 1/2 ante 0, button player_0",
            "street preflop, board none, pot 3",
            "your cards As Ah, stack 200, bet 0, to call 2",
            "player_0 (you) stack 200 bet 0",
            "player_1 stack 199 bet 1",
            "player_2 stack 198 bet 2",
            "actions: preflop: player_1 small_blind 1; player_2 big_blind 2",
            "legal: 0 fold | 1 call 2 | 2 raise to 4 (min) | 3 raise to 4 (half pot) | "
            "4 raise to 7 (pot) | 5 all in (raise to 200)",
        ]
    )
    env.step(1)  # player_0 calls 2
    env.step(0)  # player_1 folds
    env.step(1)  # player_2 checks: the flop comes
    view = env.observe("player_2").splitlines()
    assert view[3] == "street flop, board 3s 8h 9c, pot 5"
    assert view[4] == "your cards 7d 2c, stack 198, bet 0, to call 0"
    assert view[5:8] == [  # seats clockwise from the viewer
        "player_2 (you) stack 198 bet 0",
        "player_0 stack 198 bet 0",
        "player_1 folded, stack 199",
    ]
    assert view[8] == (
        "actions: preflop: player_1 small_blind 1; player_2 big_blind 2; player_0 call 2; "
        "player_1 fold; player_2 check"
    )
    assert view[9].startswith("legal: 1 check | 2 bet 2 (min) | 3 bet 2 (half pot) | ")


def test_observations_are_fresh_arrays_in_the_documented_ranges():
    env = aec(num_players=3, task={"big_blind": 10, "stacks": [1000, 500, 0]})
    env.reset(seed=2)
    first = env.observe("player_0")
    second = env.observe("player_0")
    for key in first:
        assert first[key] is not second[key]
        assert not np.shares_memory(first[key], second[key])
    # Heads-up between seats 0 and 1: the button (seat 0) posts 5, seat 1 posts 10.
    assert first["stacks"][:4].tolist() == [99.5, 49.0, 0.0, 0.0]
    assert first["bets"][:3].tolist() == [0.5, 1.0, 0.0]
    assert first["in_hand"][:4].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert first["pot"].tolist() == [1.5] and first["to_call"].tolist() == [0.5]
    assert first["position"].tolist() == [1.0] + [0.0] * 8  # on the button
    assert first["hole_cards"].sum() == 2 and first["board"].sum() == 0
    assert first["street"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert first["action_mask"].tolist() == [1, 1, 1, 1, 1, 1]
    other = env.observe("player_1")  # seats from player_1: 1, 2, 0
    assert other["stacks"][:3].tolist() == [49.0, 0.0, 99.5]
    assert other["position"][1] == 1.0 and other["action_mask"].tolist() == [0] * 6
    assert "player_2" not in env.agents  # a seat without chips sits out


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_text_views_are_identical_in_a_vector_of_envs(mode):
    seeds = [21, 22]
    kwargs = {"shared_memory": False} if mode == "async" else {}
    envs = gym.make_vec(GYM_ID, num_envs=2, vectorization_mode=mode, vector_kwargs=kwargs,
                        obs_mode="both", opponents="calling_station")  # fmt: skip
    singles = [HoldemEnv(obs_mode="both", opponents="calling_station") for _ in seeds]
    try:
        obs, _ = envs.reset(seed=seeds)
        views = [env.reset(seed=s)[0] for env, s in zip(singles, seeds, strict=True)]
        assert list(obs["text"]) == [view["text"] for view in views]
        done = [False, False]
        for _ in range(12):
            obs, _, terminated, _, _ = envs.step(np.array([1, 1]))
            for k in range(2):
                if not done[k]:
                    view, _, end, _, _ = singles[k].step(1)
                    assert obs["text"][k] == view["text"]  # the terminal view included
                    assert bool(end) == bool(terminated[k])
                    done[k] = bool(end)
            if all(done):
                break
        assert all(done)
    finally:
        envs.close()


def test_shared_memory_with_text_views_raises_a_clear_error():
    with pytest.raises(ValueError, match="shared_memory=False") as err:
        gym.make_vec(GYM_ID, num_envs=2, vectorization_mode="async", obs_mode="text")
    assert "only once" in str(err.value.__cause__)
    # The vector view goes through shared memory as usual.
    envs = gym.make_vec(GYM_ID, num_envs=2, vectorization_mode="async")
    try:
        obs, _ = envs.reset(seed=[1, 2])
        assert obs["action_mask"].shape == (2, 6) and obs["action_mask"].any(axis=1).all()
    finally:
        envs.close()


def test_render_ansi_is_the_learner_text_view_and_none_otherwise():
    env = HoldemEnv(obs_mode="text", render_mode="ansi", task={"num_players": 3})
    obs, _ = env.reset(seed=4)
    assert env.render() == obs
    assert obs.startswith(HEADER + "\n") and len(obs) < 2000
    # header, hand, blinds, street, own cards, three seats, actions, legal actions
    assert len(obs.splitlines()) == 10
    assert HoldemEnv().render() is None


def test_importing_the_envs_does_not_import_torch_or_the_trainer():
    code = (
        "import sys, palaestra, gymnasium as gym\n"
        "env = gym.make('palaestra/Holdem-v0'); env.reset(seed=0)\n"
        "import palaestra.envs.holdem.holdem_aec\n"
        "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('palaestra.agents', "
        "'palaestra.train'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
