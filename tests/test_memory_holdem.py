"""The hold'em opponent model against the real envs and built-in opponents."""

from __future__ import annotations

import copy
import itertools

import gymnasium as gym
import numpy as np
import pytest

import palaestra  # noqa: F401
from palaestra.envs.holdem.opponents import _preflop_class
from palaestra.memory.holdem import FEATURE_NAMES, OpponentModel

STYLES = ["calling_station", "tag", "random"]


def play_gym(hands: int, seed: int, opponents=STYLES, feed=None):
    """Seat 0 raises pre-flop when it can, then checks or calls; returns the infos."""
    env = gym.make("palaestra/Holdem-v0", opponents=list(opponents), seat=0,
                   task={"num_players": 4}, hands=hands)  # fmt: skip
    infos = []
    _, info = env.reset(seed=seed)
    infos.append(info)
    done = False
    while not done:
        legal = info["legal_actions"]
        preflop = env.unwrapped.hand.street == 0
        action = 2 if preflop and 2 in legal else 1
        _, _, done, _, info = env.step(action)
        infos.append(info)
    return infos


def independent_counts(histories, player):
    """Plain loops over the public action lists (no model code)."""
    c = {"hands": 0, "preflop": 0, "vpip": 0, "pfr": 0, "faced": 0, "fold": 0, "agg": 0,
         "calls": 0, "shown": 0}  # fmt: skip
    for h in histories:
        seat = h["players"].index(player)
        if h["stacks_before"][seat] == 0:
            continue
        c["hands"] += 1
        pre = [a for a in h["actions"] if a["street"] == "preflop" and a["player"] == player]
        pre = [a for a in pre if a["action"] not in ("small_blind", "big_blind", "ante")]
        if pre:
            c["preflop"] += 1
            c["vpip"] += any(a["action"] in ("call", "raise", "bet") for a in pre)
            c["pfr"] += any(a["action"] in ("raise", "bet") for a in pre)
        for street in ("preflop", "flop", "turn", "river"):
            facing = False
            for a in h["actions"]:
                if a["street"] != street:
                    continue
                if a["player"] == player and a["action"] in ("fold", "check", "call", "bet",
                                                              "raise"):  # fmt: skip
                    if facing:
                        c["faced"] += 1
                        c["fold"] += a["action"] == "fold"
                    facing = False
                    c["agg"] += a["action"] in ("bet", "raise")
                    c["calls"] += a["action"] == "call"
                elif a["player"] != player and a["action"] in ("bet", "raise"):
                    facing = True
        c["shown"] += player in h["hands_shown"]
    return c


@pytest.fixture(scope="module")
def session():
    model = OpponentModel("player_0")
    histories = []
    for seed in range(60):
        for info in play_gym(1, seed):
            model.observe(None, info)
            if "hand_history" in info:
                histories.append(info["hand_history"])
    return model, histories


def test_counts_equal_independent_counting(session):
    model, histories = session
    assert model.hands_counted == len(histories) == 60
    for player in ("player_1", "player_2", "player_3"):
        mine = independent_counts(histories, player)
        c = model.counts(player)
        assert c["hands"] == mine["hands"]
        assert (c["preflop"], c["vpip"], c["pfr"]) == (mine["preflop"], mine["vpip"], mine["pfr"])
        assert (c["faced_raise"], c["folded_to_raise"]) == (mine["faced"], mine["fold"])
        assert (c["actions_aggressive"], c["actions_calls"]) == (mine["agg"], mine["calls"])
        assert c["showdown"] == mine["shown"]
        assert len(model.shown(player)) == min(mine["shown"], 20)


def test_styles_match_the_documented_rules(session):
    model, _ = session
    station, tag = model.counts("player_1"), model.counts("player_2")
    # The station always checks or calls and seat 0 raised pre-flop: it voluntarily
    # called every hand, never raised, never folded.
    assert station["vpip"] == station["preflop"] == 60
    assert station["pfr"] == station["folded_to_raise"] == station["actions_aggressive"] == 0
    # tag plays only its calling or raising range pre-flop: the share of the 1326 starts.
    starts = list(itertools.combinations(range(52), 2))
    playable = sum(_preflop_class(a, b) > 0 for a, b in starts) / len(starts)
    assert model.rate("player_2", "vpip").raw < playable + 0.15
    assert model.rate("player_2", "fold_to_raise").raw > 0.5
    assert model.label("player_1").startswith("calls a lot")
    assert tag["hands"] == 60


def test_shown_hands_only_at_showdown(session):
    model, histories = session
    shown = {p: sum(p in h["hands_shown"] for h in histories) for p in ("player_1", "player_3")}
    for player, n in shown.items():
        entries = model.shown(player)
        assert len(entries) == min(n, 20)
        seen = [h for h in histories if player in h["hands_shown"]][-len(entries) :]
        for entry, h in zip(entries, seen, strict=True):
            seat = h["players"].index(player)
            assert entry["cards"] == h["hole_cards"][seat]
            assert entry["board"] == h["board"] and len(entry["board"]) == 5


def test_no_peeking_at_unshown_hole_cards():
    infos = [i for seed in range(8) for i in play_gym(1, seed)]
    altered = copy.deepcopy(infos)
    for info in altered:
        h = info.get("hand_history")
        if h:
            for j, name in enumerate(h["players"]):
                if name not in h["hands_shown"]:
                    h["hole_cards"][j] = None if j % 2 else ["2c", "2d"]
    a, b = OpponentModel("player_0"), OpponentModel("player_0")
    for x, y in zip(infos, altered, strict=True):
        a.observe(None, x)
        b.observe(None, y)
    assert a.render() == b.render()
    assert np.array_equal(a.features(), b.features())
    assert all(a.counts(p) == b.counts(p) for p in a.players) and a.players == b.players


def test_events_alone_give_the_same_counts():
    infos = play_gym(12, 3)
    a, b = OpponentModel("player_0"), OpponentModel("player_0")
    for info in infos:
        a.observe(None, info)
        b.observe(None, {k: v for k, v in info.items() if k != "hand_history"})
        a.observe(None, info)  # the same info again counts nothing
    assert a.hands_counted == b.hands_counted == infos[-1]["hands_played"] > 1
    assert all(a.counts(p) == b.counts(p) for p in a.players)


def test_features_and_render(session):
    model, _ = session
    f = model.features()
    assert f.shape == (8, len(FEATURE_NAMES)) and f.dtype == np.float32
    assert np.all(f[3:] == 0) and np.all(f[:3, -1] > 0)
    column = FEATURE_NAMES.index("vpip")
    assert f[0, column] == pytest.approx(model.rate("player_1", "vpip").estimate)
    assert f[0, FEATURE_NAMES.index("fold_to_raise")] < f[1, FEATURE_NAMES.index("fold_to_raise")]
    text = model.render()
    for player in ("player_1", "player_2", "player_3"):
        assert f"{player}: 60 hands" in text
    assert OpponentModel("player_2").render() == ""


def test_shrinkage_for_few_hands():
    model = OpponentModel("player_0")
    for info in play_gym(1, 0):
        model.observe(None, info)
    r = model.rate("player_1", "vpip")
    assert r.raw == 1.0 and r.estimate < 0.9 and model.label("player_1") == "few hands"


def test_bad_input():
    with pytest.raises(ValueError, match=r"player_9.*player_0"):
        OpponentModel("player_9")
    with pytest.raises(ValueError, match="seat in identities"):
        OpponentModel("player_0", identities={"bob": "x"})
    with pytest.raises(TypeError, match="MemoryStore"):
        OpponentModel("player_0", store=object())
    with pytest.raises(ValueError, match="unknown rate"):
        OpponentModel("player_0").rate("player_1", "tilt")


def test_block_protocol():
    from palaestra.agents.prompts import PromptBlock

    model = OpponentModel("player_0")
    block = model.as_block()
    assert isinstance(block, PromptBlock)
    texts = [block.render(None, info) for info in play_gym(1, 5)]
    assert texts[0] is None and "player_1" in texts[-1]
    block.reset(0)
    assert model.hands_counted == 1


def test_persistence_across_sessions(tmp_path):
    store_module = pytest.importorskip("palaestra.memory.store")
    if not hasattr(store_module.MemoryStore, "add_counts"):
        pytest.skip("MemoryStore has no add_counts yet")
    names = {"player_1": "station", "player_2": "tag", "player_3": "random"}
    store = store_module.MemoryStore(tmp_path)
    first = OpponentModel("player_0", store=store, memory_agent="me", identities=names)
    for seed in range(4):
        for info in play_gym(5, seed):
            first.observe(None, info)
    store.close()
    store = store_module.MemoryStore(tmp_path)
    # A new session, other seats: the station now sits in seat 3.
    moved = {"player_1": "random", "player_2": "tag", "player_3": "station"}
    second = OpponentModel("player_0", store=store, memory_agent="me", identities=moved)
    assert second.counts("station") == first.counts("station")
    before = first.counts("station")["hands"]
    assert second.counts("station")["hands"] == before > 0
    histories = []
    for seed in range(5):
        for info in play_gym(1, seed, opponents=["random", "tag", "calling_station"]):
            second.observe(None, info)
            histories += [info["hand_history"]] if "hand_history" in info else []
    total = before + independent_counts(histories, "player_3")["hands"]
    assert store.counts("me", "holdem_tendency", "station")["hands"] == total
    assert second.counts("station")["hands"] == total
    assert second.counts("station")["folded_to_raise"] == 0
    shown = store.facts("me", "holdem_shown")
    assert len(shown) >= 1
    store.close()


def full_counts(histories, player):
    """Every counter, by plain loops over public hand-history fields (no model code)."""
    forced = ("small_blind", "big_blind", "ante")
    c = dict.fromkeys(
        ("hands", "preflop", "vpip", "pfr", "three_bet_chances", "three_bet", "faced_raise",
         "folded_to_raise", "actions_aggressive", "actions_calls", "saw_flop", "showdown",
         "won_showdown"), 0)  # fmt: skip
    for h in histories:
        seat = h["players"].index(player)
        if h["stacks_before"][seat] == 0:
            continue
        c["hands"] += 1
        pre = h["actions"][: sum(a["street"] == "preflop" for a in h["actions"])]
        mine = [a["action"] for a in pre if a["player"] == player and a["action"] not in forced]
        c["preflop"] += bool(mine)
        c["vpip"] += any(k in ("call", "raise") for k in mine)
        c["pfr"] += "raise" in mine
        raisers = []
        for a in pre:
            decides = a["player"] == player and a["action"] not in forced
            if decides and len(raisers) == 1 and raisers[0] != player:
                c["three_bet_chances"] += 1
                c["three_bet"] += a["action"] == "raise"
                break
            if a["action"] == "raise":
                raisers.append(a["player"])
        for street in ("preflop", "flop", "turn", "river"):
            facing = False
            for a in h["actions"]:
                if a["street"] != street or a["action"] in forced:
                    continue
                if a["player"] == player:
                    c["faced_raise"] += facing
                    c["folded_to_raise"] += facing and a["action"] == "fold"
                    c["actions_aggressive"] += a["action"] in ("bet", "raise")
                    c["actions_calls"] += a["action"] == "call"
                    facing = False
                elif a["action"] in ("bet", "raise"):
                    facing = True
        c["saw_flop"] += "fold" not in mine and len(h["board"]) >= 3
        if player in h["hands_shown"]:
            c["showdown"] += 1
            c["won_showdown"] += h["payouts"][seat] > 0
    return c


def test_aec_counts_every_statistic_independently():
    import pettingzoo

    from palaestra.agents.holdem_baselines import HOLDEM_AGENTS

    env = pettingzoo.make("aec", "palaestra/holdem-v0", num_players=4, hands=40)
    styles = ("tag", "calling_station", "tag", "random")
    players = {
        a: HOLDEM_AGENTS[s](env, seat=a, seed=7)
        for a, s in zip(env.possible_agents, styles, strict=True)
    }
    model = OpponentModel("player_0")
    histories = []
    for seed in range(6):
        env.reset(seed=seed)
        model.observe(None, env.infos["player_0"])
        played = 0
        for agent in env.agent_iter():
            obs, _, term, trunc, info = env.last()
            env.step(None if term or trunc else players[agent].act(obs, info))
            table = env.unwrapped._table
            if "player_0" not in env.infos:
                continue  # the holder busted: it sees no more hands
            if table.hands_played > played:  # the simulator's own record, for the check
                assert table.hands_played == played + 1
                played = table.hands_played
                histories.append(table.history)
            model.observe(None, env.infos["player_0"])
    assert model.hands_counted == len(histories) > 150
    for player in ("player_1", "player_2", "player_3"):
        expected = full_counts(histories, player)
        assert model.counts(player) == {k: float(v) for k, v in expected.items()}
    station = model.counts("player_1")
    assert station["three_bet_chances"] > 10 and station["three_bet"] == 0
    assert model.counts("player_2")["three_bet"] > 0  # tag re-raises its raising hands
    assert station["showdown"] > 0 and 0 < station["won_showdown"] < station["showdown"]


def test_stored_shown_hands_load_in_a_new_session(tmp_path):
    store_module = pytest.importorskip("palaestra.memory.store")
    names = {"player_1": "station", "player_2": "tag", "player_3": "random"}
    with store_module.MemoryStore(tmp_path) as store:
        first = OpponentModel("player_0", store=store, identities=names)
        for seed in range(10):
            for info in play_gym(1, seed):
                first.observe(None, info)
        shown = first.shown("station")
        assert shown
    with store_module.MemoryStore(tmp_path) as store:
        second = OpponentModel("player_0", store=store, identities=names)
        assert second.shown("station") == shown
        assert second.counts("station") == first.counts("station")
