"""Hands played through the envs: rewards, hand histories, several hands with busted seats,
penalized actions, the built-in opponents, the task channel and difficulty.

Decks are written in the documented deal order (hole cards one at a time from the seat left
of the button, two rounds, then the board, no burns); every expected chip count is worked
out by hand from the rules (blinds 1/2, stacks 100 big blinds unless the task says).
"""

from __future__ import annotations

import math

import numpy as np
import pettingzoo
import pytest

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.holdem import HOLDEM_TASK_SPACE, holdem_difficulty
from palaestra.envs.holdem.holdem_gym import HoldemEnv

FOLD, CALL, RAISE_MIN, RAISE_HALF, RAISE_POT, ALL_IN = range(6)


def deck(n: int, button: int, holes: dict[int, str], board: str) -> str:
    order = [(button + 1 + k) % n for k in range(n) if (button + 1 + k) % n in holes]
    first = [holes[seat].split()[0] for seat in order]
    second = [holes[seat].split()[1] for seat in order]
    return " ".join(first + second + board.split())


def aec(**kwargs):
    return pettingzoo.make("aec", "palaestra/holdem-v0", **kwargs)


def finish(env) -> dict:
    """Step every terminated agent out; return each agent's last (reward, info)."""
    last = {}
    for agent in env.agent_iter():
        _, reward, terminated, _, info = env.last()
        assert terminated
        last[agent] = (reward, info)
        env.step(None)
    return last


def test_three_way_all_in_pays_side_pots_and_rewards_in_big_blinds():
    cards = deck(3, 0, {0: "As Ah", 1: "Qs Qh", 2: "Ks Kh"}, "2c 7d 9c 3s 4h")
    env = aec(num_players=3, task={"stacks": [20, 50, 100], "button": 0, "deck": cards})
    env.reset(seed=0)
    for agent, action in (("player_0", ALL_IN), ("player_1", ALL_IN), ("player_2", CALL)):
        assert env.agent_selection == agent
        env.step(action)
    last = finish(env)
    # Nets: player_0 60 - 20, player_1 0 - 50, player_2 110 - 100 chips; big blind 2.
    assert {a: r for a, (r, _) in last.items()} == {"player_0": 20.0, "player_1": -25.0,
                                                    "player_2": 5.0}  # fmt: skip
    info = last["player_0"][1]
    history = info["hand_history"]
    assert all(i["hand_history"] == history for _, i in last.values())
    assert history["stacks_after"] == [60, 0, 110]
    assert history["pots"][1] == {"amount": 60, "eligible": ["player_1", "player_2"]}
    for seat in range(3):
        assert history["stacks_after"][seat] == (
            history["stacks_before"][seat]
            - history["contributions"][seat]
            + history["payouts"][seat]
        )
    assert [last[a][1]["won"] for a in ("player_0", "player_1", "player_2")] == [True, False, True]
    assert info["net_bb"] == 20.0 and info["showdown"] and info["hands_played"] == 1
    assert info["invalid_actions"] == 0
    assert "player_0 shows As Ah pair" in info["events"]


def test_several_hands_bust_a_seat_and_move_the_button_past_it():
    cards = deck(3, 0, {0: "As Ah", 1: "7c 2d", 2: "Kc Kd"}, "3s 8h 9c Jd 4s")
    env = aec(num_players=3, hands=3, task={"stacks": [100, 100, 10], "button": 0, "deck": cards})
    env.reset(seed=1)
    env.step(ALL_IN)  # player_0 (button, first to act three-handed) moves in for 100
    env.step(FOLD)  # player_1 folds its small blind
    assert env.observe("player_2")["action_mask"].tolist() == [1, 1, 0, 0, 0, 0]
    env.step(CALL)  # player_2 calls all-in for 10; the board runs out, aces win
    history = env.infos["player_0"]["hand_history"]
    # player_0's bet above the 10 it could be called for comes back: pot 1 + 10 + 10.
    assert history["uncalled"] == {"player_0": 90}
    assert history["stacks_after"] == [111, 99, 0]
    assert env.rewards == {"player_0": 5.5, "player_1": -0.5, "player_2": -5.0}
    # player_2 is out: its dead step comes first, then hand 2 starts heads-up with the
    # button on player_1 (the next seat with chips), who posts the small blind and acts.
    assert env.agent_selection == "player_2" and env.terminations["player_2"]
    _, reward, _, _, info = env.last()
    assert reward == -5.0 and info["net_bb"] == -5.0 and info["hands_played"] == 1
    env.step(None)
    assert env.agents == ["player_0", "player_1"]
    assert env.agent_selection == "player_1"
    view = env.observe("player_1")  # seats from player_1: 1, 2 (out), 0
    assert view["bets"][:3].tolist() == [0.5, 0.0, 1.0]
    assert view["in_hand"][:3].tolist() == [1.0, 0.0, 1.0]
    env.step(FOLD)
    second = env.infos["player_0"]["hand_history"]
    assert second["button"] == "player_1"
    assert second["stacks_before"] == [111, 99, 0]
    assert second["hole_cards"][2] is None
    assert [a["action"] for a in second["actions"]] == ["small_blind", "big_blind", "fold"]
    assert [a["player"] for a in second["actions"][:2]] == ["player_1", "player_0"]
    assert second["stacks_after"] == [112, 98, 0]
    # Hand 3: the button moves back to player_0; both check or call it down.
    assert env.agent_selection == "player_0"
    while not env.terminations[env.agent_selection]:
        env.step(CALL)
    last = finish(env)
    third = last["player_0"][1]["hand_history"]
    assert third["button"] == "player_0"
    assert sum(third["stacks_after"]) == 210
    assert last["player_0"][1]["hands_played"] == 3
    assert last["player_0"][1]["net_chips"] == third["stacks_after"][0] - 100


def test_penalized_illegal_actions_take_the_fallback_and_are_counted():
    env = aec(num_players=2, illegal_action="penalize", illegal_penalty=0.5, task={"button": 0})
    env.reset(seed=3)
    env.step(CALL)  # player_0 (button) completes the small blind
    env.step(FOLD)  # player_1 may check: folding is masked, so it checks instead
    assert env.infos["player_1"]["invalid_action"] is True
    assert env._cumulative_rewards["player_1"] == -0.5
    assert env.agent_selection == "player_1"  # it acts first on the flop: the hand goes on
    env.step(ALL_IN)  # player_1 moves in for 198
    env.step(RAISE_POT)  # player_0 cannot raise an all-in: it folds instead (2 to the pot)
    last = finish(env)
    assert last["player_0"][0] == pytest.approx(-1.0 - 0.5)
    assert last["player_1"][0] == pytest.approx(1.0)
    assert last["player_0"][1]["invalid_actions"] == 1
    assert last["player_1"][1]["invalid_actions"] == 1
    assert last["player_0"][1]["invalid_action"] is True


def test_gym_learner_raises_and_the_tag_folds_trash():
    cards = deck(2, 0, {0: "As Ah", 1: "7c 2d"}, "3s 8h 9c Jd 4s")
    env = HoldemEnv(opponents="tag", seat=0, task={"deck": cards, "button": 0})
    obs, info = env.reset(seed=0)
    assert info["legal_actions"][RAISE_POT] == "raise to 6 (pot)"
    obs, reward, terminated, truncated, info = env.step(RAISE_POT)
    # The tag folds 7-2 facing 4 more; the learner's 4 uncalled chips come back: +2 chips.
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["net_bb"] == 1.0 and info["won"] and not info["showdown"]
    assert info["events"] == ["player_0 raise to 6", "player_1 fold",
                              "uncalled 4 returned to player_0", "player_0 wins 4"]  # fmt: skip
    assert obs["action_mask"].tolist() == [0] * 6


def test_gym_tag_raises_aces_and_the_learner_sees_the_raise():
    cards = deck(2, 0, {0: "7c 2d", 1: "As Ah"}, "3s 8h 9c Jd 4s")
    env = HoldemEnv(opponents="tag", seat=0, task={"deck": cards, "button": 0})
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(CALL)
    assert not terminated and reward == 0.0
    # The big blind's pot raise: 2 + (4 + 0) = 6, so 4 more to call (2 big blinds).
    assert info["events"] == ["player_0 call 1", "player_1 raise to 6"]
    assert obs["to_call"].tolist() == [2.0] and obs["pot"].tolist() == [4.0]


def test_calling_station_only_checks_and_calls():
    env = HoldemEnv(opponents="calling_station", task={"num_players": 4})
    rng = np.random.default_rng(0)
    seen = set()
    for episode in range(15):
        _, info = env.reset(seed=episode)
        terminated = False
        while not terminated:
            legal = sorted(info["legal_actions"])
            _, _, terminated, _, info = env.step(legal[rng.integers(len(legal))])
        learner = f"player_{env.learner_seat}"
        for action in info["hand_history"]["actions"]:
            if action["player"] == learner:
                seen.add(action["action"])
            else:
                assert action["action"] in ("small_blind", "big_blind", "check", "call")
    assert {"fold", "raise"} <= seen  # the learner's random play did fold and raise


def test_gym_penalty_and_rewards_add_up_to_the_net_result():
    env = HoldemEnv(opponents="calling_station", seat=1, task={"button": 0}, hands=4)
    _, info = env.reset(seed=2)
    total, invalid = 0.0, 0
    terminated = False
    first = True
    while not terminated:
        action = FOLD if first else CALL  # the first fold is illegal (checking is free)
        _obs, reward, terminated, _, info = env.step(action)
        invalid += info["invalid_action"]
        first = False
        total += reward
    assert invalid == 1 and info["invalid_actions"] == 1
    assert total == pytest.approx(info["net_bb"] - 0.1)
    assert info["hands_played"] == 4
    history = info["hand_history"]
    assert sum(history["stacks_after"]) == 400  # 2 seats x 100 big blinds of 2


def test_gym_learner_without_a_decision_is_refused():
    with pytest.raises(ValueError, match="never had a decision"):
        HoldemEnv(seat=0, task={"stacks": [1, 100], "button": 0}).reset(seed=0)


def test_gym_seat_none_draws_the_learner_seat():
    env = HoldemEnv(obs_mode="text", task={"num_players": 3})
    seats = set()
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        seats.add(obs.splitlines()[1].split(", ")[1])
    assert seats == {"you are player_0", "you are player_1", "you are player_2"}


def test_task_channel_and_difficulty():
    env = HoldemEnv()
    _, info = env.reset(seed=0)
    assert env.task["num_players"] == 2 and env.task["stacks"] == [200, 200]
    assert env.task["small_blind"] == 1 and env.task["ante"] == 0 and env.task["button"] == 0
    assert info["difficulty"] == pytest.approx(0.5 * math.log1p(100) / math.log1p(400))
    env.set_task({"num_players": 9, "stacks": [800] * 9})
    assert env.task["num_players"] == 9
    _, info = env.reset(seed=0)
    assert info["difficulty"] == 1.0
    _, info = env.reset(seed=0, options={"task": {"num_players": 3, "big_blind": 10}})
    assert env.task["stacks"] == [1000] * 3 and env.task["small_blind"] == 5
    aec_env = aec(num_players=6, task={"num_players": 3})
    aec_env.reset(seed=0)
    assert aec_env.agents == ["player_0", "player_1", "player_2"]


def test_difficulty_grows_with_players_and_stack_depth():
    def d(**task):
        return holdem_difficulty(HOLDEM_TASK_SPACE.validate(task))

    assert d(num_players=2, stacks=[2, 2]) == pytest.approx(0.5 * math.log(2) / math.log(401))
    assert d(num_players=2) < d(num_players=5) < d(num_players=9)
    assert d(stacks=[20, 20]) < d() < d(stacks=[2000, 2000])
    assert d(num_players=9, stacks=[4000] * 9) == 1.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        task = HOLDEM_TASK_SPACE.sample(rng)
        assert HOLDEM_TASK_SPACE.contains(task)
        assert 0.0 <= HOLDEM_TASK_SPACE.difficulty(task) <= 1.0
