"""The hold'em rules, one fixed deck per rule, and chip conservation over random hands.

Every expected number below is worked out by hand from the rules in the engine's
docstring (blinds 1/2 unless said otherwise): who acts when, raise sizes, pots, payouts.
Decks are written in the documented deal order: hole cards one at a time starting left of
the button, two rounds, then flop, turn and river with no burn cards.
"""

from __future__ import annotations

import random

import pytest

from palaestra.envs.holdem.cards import CARD_NAMES, parse_cards
from palaestra.envs.holdem.engine import (
    ALL_IN,
    CHECK_CALL,
    FOLD,
    RAISE_HALF_POT,
    RAISE_MIN,
    RAISE_POT,
    Hand,
)

NAMES = [f"player_{k}" for k in range(9)]


def deck(n: int, button: int, holes: dict[int, str], board: str) -> list[int]:
    """A deck dealing ``holes[seat]`` to each seat and then ``board``."""
    order = [(button + 1 + k) % n for k in range(n) if (button + 1 + k) % n in holes]
    first = [holes[seat].split()[0] for seat in order]
    second = [holes[seat].split()[1] for seat in order]
    return parse_cards(first + second + board.split())


def hand(stacks, button=0, sb=1, bb=2, ante=0, cards=None) -> Hand:
    if cards is None:
        cards = list(range(52))
    return Hand(stacks, button, sb, bb, ante, cards)


def check_down(h: Hand) -> None:
    while not h.over:
        assert h.current_bet == h.bet[h.to_act], "check_down needs nothing to call"
        h.check_call()


def history(h: Hand) -> dict:
    return h.history(NAMES[: h.n])


def test_deal_order_hole_cards_from_left_of_the_button_then_the_board():
    cards = parse_cards("2c 3c 4c 5c 6c 7c 8d 9d Td Jd Qd")
    h = hand([100, 100, 100], button=0, cards=cards)
    named = {seat: [CARD_NAMES[c] for c in h.hole[seat]] for seat in range(3)}
    assert named == {1: ["2c", "5c"], 2: ["3c", "6c"], 0: ["4c", "7c"]}
    h.check_call()  # seat 0 calls
    h.check_call()  # seat 1 completes
    h.check_call()  # seat 2 checks
    assert [CARD_NAMES[c] for c in h.board] == ["8d", "9d", "Td"]
    h.check_call()
    h.check_call()
    h.check_call()
    assert [CARD_NAMES[c] for c in h.board] == ["8d", "9d", "Td", "Jd"]
    check_down(h)
    assert history(h)["board"] == ["8d", "9d", "Td", "Jd", "Qd"]


def test_heads_up_button_posts_small_blind_acts_first_preflop_and_last_after():
    h = hand([100, 100], button=1)
    # The button (seat 1) posts the small blind, seat 0 the big blind.
    assert h.actions[:2] == [("preflop", 1, "small_blind", 1, False),
                             ("preflop", 0, "big_blind", 2, False)]  # fmt: skip
    assert h.to_act == 1
    assert h.legal_mask() == [1, 1, 1, 1, 1, 1]
    h.check_call()
    # The big blind's option: checking is free, so folding is masked.
    assert h.to_act == 0
    assert h.legal_mask() == [0, 1, 1, 1, 1, 1]
    assert h.raise_targets() == (4, 4, 6)
    h.check_call()
    for street in (1, 2, 3):
        assert h.street == street
        assert h.to_act == 0  # the big blind acts first after the flop
        h.check_call()
        assert h.to_act == 1  # the button acts last
        h.check_call()
    assert h.over and h.showdown


def test_multiway_order_left_of_big_blind_preflop_left_of_button_after():
    h = hand([100, 100, 100, 100], button=2)
    assert (h.sb_seat, h.bb_seat, h.to_act) == (3, 0, 1)
    h.check_call()  # seat 1 calls
    h.check_call()  # seat 2 (button) calls
    h.fold()  # seat 3 (small blind) folds
    assert h.to_act == 0
    h.check_call()  # big blind checks
    # After the flop the first seat in the hand left of the button: 3 folded, so 0.
    assert (h.street, h.to_act) == (1, 0)
    h.check_call()
    assert h.to_act == 1
    h.check_call()
    assert h.to_act == 2


def test_three_handed_button_opens_preflop_and_small_blind_after():
    h = hand([100, 100, 100], button=0)
    assert (h.sb_seat, h.bb_seat, h.to_act) == (1, 2, 0)
    h.check_call()
    h.check_call()
    h.check_call()
    assert (h.street, h.to_act) == (1, 1)


def test_seats_without_chips_sit_out():
    cards = parse_cards("2c 3c 4c 5c 6c 7c 8d 9d Td Jd Qd")
    h = hand([100, 0, 100, 100], button=0, cards=cards)
    assert h.hole[1] is None
    assert (h.sb_seat, h.bb_seat, h.to_act) == (2, 3, 0)
    assert [CARD_NAMES[c] for c in h.hole[2]] == ["2c", "5c"]  # first card left of the button
    h.fold()
    h.fold()
    record = history(h)
    assert record["folded"] == [True, False, True, False]
    assert record["stacks_after"] == [100, 0, 99, 101]


def test_minimum_raise_is_the_last_full_raise_including_reraises():
    h = hand([200, 200, 200], button=0)
    assert h.raise_targets() == (4, 4, 7)  # pot 3, to call 2
    h.raise_to(6)  # a raise of 4
    assert h.to_act == 1
    with pytest.raises(ValueError, match="below the minimum raise to 10"):
        h.raise_to(9)
    # pot 9, to call 5: half pot 6 + 14 // 2, pot 6 + 14
    assert h.raise_targets() == (10, 13, 20)
    h.raise_to(20)  # a re-raise of 14
    # pot 28, to call 18: min 20 + 14, half pot 20 + 46 // 2, pot 20 + 46
    assert h.raise_targets() == (34, 43, 66)
    h.act(RAISE_MIN)
    assert h.bet[2] == 34
    with pytest.raises(ValueError, match="minimum raise to 48"):
        h.raise_to(47)
    h.check_call()
    h.check_call()
    assert (h.street, h.to_act, h.current_bet) == (1, 1, 0)
    # After the flop the minimum bet is the big blind; the pot is 102.
    assert h.raise_targets() == (2, 51, 102)
    with pytest.raises(ValueError, match="below the minimum raise"):
        h.raise_to(1)
    h.raise_to(10)
    with pytest.raises(ValueError, match="minimum raise to 20"):
        h.raise_to(19)
    h.raise_to(20)
    kinds = [(a[1], a[2], a[3]) for a in h.actions[2:]]
    assert kinds == [(0, "raise", 6), (1, "raise", 20), (2, "raise", 34), (0, "call", 28),
                     (1, "call", 14), (1, "bet", 10), (2, "raise", 20)]  # fmt: skip


def _short_all_in_flop() -> Hand:
    """Three-handed to the flop for 2 each; seat 1 bets 20, seat 2 is all-in for 25."""
    h = hand([200, 200, 27], button=0)
    h.check_call()
    h.check_call()
    h.check_call()
    assert h.to_act == 1
    h.raise_to(20)
    assert h.to_act == 2
    # 25 behind: every raise size would need 40 or more, so only all-in can raise.
    assert h.legal_mask() == [1, 1, 0, 0, 0, 1]
    h.act(ALL_IN)
    assert (h.bet[2], h.current_bet, h.min_raise) == (25, 25, 20)
    return h


def test_short_all_in_does_not_reopen_betting_for_players_who_acted():
    h = _short_all_in_flop()
    assert h.to_act == 0
    assert h.legal_mask() == [1, 1, 1, 1, 1, 1]  # seat 0 has not acted yet
    assert h.raise_targets()[0] == 45
    h.check_call()
    assert h.to_act == 1
    assert h.legal_mask() == [1, 1, 0, 0, 0, 0]  # only call or fold
    with pytest.raises(ValueError, match="may not raise"):
        h.raise_to(100)
    h.check_call()
    assert (h.street, h.to_act) == (2, 1)


def test_full_raise_after_a_short_all_in_reopens_betting():
    h = _short_all_in_flop()
    h.raise_to(45)  # a full raise of 20 over 25
    assert h.to_act == 1
    assert h.legal_mask()[RAISE_MIN] == 1
    assert h.raise_targets()[0] == 65


def test_short_all_ins_adding_up_to_a_full_raise_reopen_betting():
    h = hand([200, 200, 17, 24], button=0)
    for _ in range(4):
        h.check_call()
    assert (h.street, h.to_act) == (1, 1)
    h.raise_to(10)
    h.act(ALL_IN)  # seat 2: 15, a raise of 5
    h.act(ALL_IN)  # seat 3: 22, a raise of 7
    assert (h.current_bet, h.min_raise) == (22, 10)
    h.check_call()  # seat 0
    # Seat 1 bet 10 and now faces 22: 12 more, at least a full raise of 10.
    assert h.to_act == 1
    assert h.legal_mask()[RAISE_MIN] == 1
    assert h.raise_targets()[0] == 32


def test_three_way_all_in_makes_side_pots():
    holes = {0: "As Ah", 1: "Qs Qh", 2: "Ks Kh"}
    cards = deck(3, 0, holes, "2c 7d 9c 3s 4h")
    h = hand([20, 50, 100], button=0, cards=cards)
    h.act(ALL_IN)  # seat 0 to 20
    h.act(ALL_IN)  # seat 1 to 50
    # Nobody left could answer a raise: seat 2 may only call or fold.
    assert h.legal_mask() == [1, 1, 0, 0, 0, 0]
    h.check_call()
    assert h.over and h.showdown and h.street == 3
    record = history(h)
    assert record["contributions"] == [20, 50, 50]
    assert record["pots"] == [
        {"amount": 60, "eligible": ["player_0", "player_1", "player_2"]},
        {"amount": 60, "eligible": ["player_1", "player_2"]},
    ]
    assert record["payouts"] == [60, 0, 60]  # aces take the main pot, kings the side pot
    assert record["stacks_after"] == [60, 0, 110]
    assert record["board"] == ["2c", "7d", "9c", "3s", "4h"]
    assert record["hands_shown"] == {"player_0": "pair", "player_1": "pair", "player_2": "pair"}


def test_split_pot_odd_chips_go_to_the_first_winners_left_of_the_button():
    h = hand([100, 100, 100, 100], button=0, sb=2, bb=3,
             cards=deck(4, 0, {0: "2c 3c", 1: "4c 5c", 2: "2d 3d", 3: "4d 5d"},
                        "As Ks Qs Js Ts"))  # fmt: skip
    h.check_call()  # seat 3 calls 3
    h.check_call()  # seat 0 calls 3
    h.fold()  # seat 1 (small blind) folds its 2
    h.check_call()  # seat 2 checks
    assert h.to_act == 2
    check_down(h)
    record = history(h)
    # Pot 11, three-way tie on the board's royal flush: 3 each and 2 odd chips, to seat 2
    # and seat 3 (seat 1, first left of the button, folded); the button gets none.
    assert record["pots"] == [{"amount": 11, "eligible": ["player_0", "player_2", "player_3"]}]
    assert record["payouts"] == [3, 0, 4, 4]
    assert record["stacks_after"] == [100, 98, 101, 101]


def test_one_odd_chip_heads_up_at_showdown_goes_left_of_the_button():
    # Antes of 1 with three seats, one folding, give an odd pot between two winners.
    cards = deck(3, 0, {0: "2c 3c", 1: "4c 5c", 2: "2d 3d"}, "As Ks Qs Js Ts")
    h = hand([100, 100, 100], button=0, ante=1, cards=cards)
    h.fold()  # seat 0 (button) folds its ante
    h.check_call()  # seat 1 completes to 2
    h.check_call()  # seat 2 checks
    check_down(h)
    record = history(h)
    assert record["contributions"] == [1, 3, 3]
    assert record["payouts"] == [0, 4, 3]  # pot 7: seat 1 is first left of the button
    assert record["stacks_after"] == [99, 101, 100]


def test_uncalled_bet_is_returned_and_nothing_is_shown():
    h = hand([100, 100], button=0)
    h.check_call()
    h.check_call()
    h.raise_to(50)  # the big blind bets 50 after the flop
    h.fold()
    record = history(h)
    assert record["uncalled"] == {"player_1": 50}
    assert record["contributions"] == [2, 2]
    assert record["pots"] == [{"amount": 4, "eligible": ["player_1"]}]
    assert record["payouts"] == [0, 4]
    assert record["stacks_after"] == [98, 102]
    assert not record["showdown"] and record["hands_shown"] == {}
    assert record["board"] == [CARD_NAMES[c] for c in h.board_cards[:3]]


def test_preflop_raise_everyone_folds():
    h = hand([100, 100, 100], button=0)
    h.raise_to(10)
    h.fold()
    h.fold()
    record = history(h)
    assert record["uncalled"] == {"player_0": 8}
    assert record["contributions"] == [2, 1, 2]
    assert record["payouts"] == [5, 0, 0]
    assert record["stacks_after"] == [103, 99, 98]
    assert record["board"] == []


def test_blinds_and_antes_are_posted_before_the_action():
    h = hand([100, 100, 100], button=0, ante=1)
    assert h.stack == [99, 98, 97]
    assert h.contrib == [1, 2, 3] and h.pot == 6
    assert h.to_call(0) == 2
    assert h.raise_targets() == (4, 6, 10)  # pot 6 + call 2 = 8
    h.fold()
    h.fold()
    record = history(h)
    assert [a["action"] for a in record["actions"]] == [
        "ante", "ante", "ante", "small_blind", "big_blind", "fold", "fold",
    ]  # fmt: skip
    assert record["contributions"] == [1, 2, 2]  # the big blind's uncalled 1 came back
    assert record["pots"] == [{"amount": 5, "eligible": ["player_2"]}]
    assert record["stacks_after"] == [99, 98, 103]


def test_a_short_big_blind_posts_all_in_and_the_full_blind_is_called():
    cards = deck(3, 0, {1: "7c 2d", 2: "As Ah", 0: "Ks Kh"}, "3c 8d 9h Jc 4s")
    h = hand([100, 100, 1], button=0, cards=cards)
    assert h.actions[1] == ("preflop", 2, "big_blind", 1, True)
    assert h.to_call(0) == 2  # the full big blind
    h.check_call()
    h.check_call()
    assert (h.street, h.to_act) == (1, 1)
    check_down(h)
    record = history(h)
    assert record["contributions"] == [2, 2, 1]
    assert record["pots"] == [
        {"amount": 3, "eligible": ["player_0", "player_1", "player_2"]},
        {"amount": 2, "eligible": ["player_0", "player_1"]},
    ]
    assert record["payouts"] == [2, 0, 3]
    assert record["stacks_after"] == [100, 98, 3]


def test_dead_antes_above_a_short_all_in_make_a_side_pot():
    # Blinds 3/6, ante 6; seat 1 is all-in for 5 from its ante and posts no big blind.
    cards = deck(3, 2, {0: "7c 2d", 1: "As Ah", 2: "Ks Kh"}, "3c 8d 9h Jc 4s")
    h = hand([12, 5, 600], button=2, sb=3, bb=6, ante=6, cards=cards)
    assert (h.sb_seat, h.bb_seat, h.to_act) == (0, 1, 2)
    assert h.stack == [3, 0, 594]
    h.fold()  # seat 2 folds its ante of 6
    # Seat 0's small blind covers seat 1 and nobody else has chips: no decision is left.
    assert h.over and h.showdown
    record = history(h)
    # Seat 0's small blind goes back down to the 6 the folded seat put in; seat 1 can win
    # only 5 from each seat, and the ante chip of seat 2 above it goes to a side pot.
    assert record["uncalled"] == {"player_0": 3}
    assert record["contributions"] == [6, 5, 6]
    assert record["pots"] == [
        {"amount": 15, "eligible": ["player_0", "player_1"]},
        {"amount": 2, "eligible": ["player_0"]},
    ]
    assert record["payouts"] == [2, 15, 0]
    assert record["stacks_after"] == [8, 15, 594]


def test_short_small_blind_all_in_heads_up_needs_no_action():
    h = hand([1, 100], button=0)
    # The button's small blind of 1 is all it has; the big blind has nobody to bet against.
    assert h.over and h.showdown and len(h.board) == 5
    record = history(h)
    assert record["uncalled"] == {"player_1": 1}
    assert record["contributions"] == [1, 1]
    assert sum(record["stacks_after"]) == 101


def test_small_blind_covering_a_short_all_in_big_blind_heads_up_has_nothing_to_decide():
    # Blinds 5/10; the big blind (seat 1) is all-in for 3. The button's small blind of 5
    # already covers it and nobody else has chips: no decision, the board runs out.
    cards = deck(2, 0, {0: "As Ad", 1: "Kc Kd"}, "2h 7s 9c 3d 4h")
    h = hand([100, 3], button=0, sb=5, bb=10, cards=cards)
    assert h.over and h.showdown
    record = history(h)
    assert record["uncalled"] == {"player_0": 2}
    assert record["contributions"] == [3, 3]
    assert record["payouts"] == [6, 0]
    assert record["stacks_after"] == [103, 0]


def test_lone_small_blind_covering_a_short_big_blind_after_a_fold_has_nothing_to_decide():
    # Blinds 5/10, three-handed; the big blind (seat 2) is all-in for 3. The button folds
    # and the small blind (5 in) covers the big blind: the hand runs out with no action.
    cards = deck(3, 0, {1: "7c 2d", 2: "As Ah", 0: "Ks Kh"}, "3c 8d 9h Jc 4s")
    h = hand([100, 100, 3], button=0, sb=5, bb=10, cards=cards)
    assert h.to_act == 0
    h.fold()
    assert h.over and h.showdown
    record = history(h)
    assert record["uncalled"] == {"player_1": 2}
    assert record["contributions"] == [0, 3, 3]
    assert record["pots"] == [{"amount": 6, "eligible": ["player_1", "player_2"]}]
    assert record["stacks_after"] == [100, 97, 6]


def test_lone_seat_short_of_an_all_in_bet_still_calls_or_folds():
    # Blinds 5/10, three-handed; the big blind (seat 2) is all-in for 3 and the button
    # calls all-in for 7: the small blind (5 in) must still answer the 7.
    h = hand([7, 100, 3], button=0, sb=5, bb=10)
    h.check_call()
    assert h.to_act == 1 and h.legal_mask() == [1, 1, 0, 0, 0, 0]


def test_all_in_before_the_river_runs_the_board_out_without_betting():
    cards = deck(2, 0, {0: "As Ad", 1: "Kc Kd"}, "2h 7s 9c Ks 3h")
    h = hand([50, 100], button=0, cards=cards)
    h.check_call()
    h.check_call()
    h.raise_to(10)  # big blind bets on the flop
    h.act(ALL_IN)  # the button moves in for 48
    assert h.bet[0] == 48
    h.check_call()
    assert h.over and h.street == 3
    record = history(h)
    assert [a["street"] for a in record["actions"]][-3:] == ["flop"] * 3
    assert record["board"] == ["2h", "7s", "9c", "Ks", "3h"]
    assert record["hands_shown"] == {"player_0": "pair", "player_1": "three_of_a_kind"}
    assert record["payouts"] == [0, 100]
    assert record["stacks_after"] == [0, 150]


def test_abstract_actions_map_to_the_documented_sizes():
    h = hand([100, 100, 100], button=0)
    h.act(RAISE_POT)  # 2 + (3 + 2) = 7
    assert h.bet[0] == 7
    h.act(RAISE_HALF_POT)  # pot 10, to call 6: 7 + 16 // 2 = 15
    assert h.bet[1] == 15
    h.act(FOLD)
    h.act(CHECK_CALL)
    assert h.bet == [0, 0, 0] and h.street == 1
    with pytest.raises(ValueError, match="fold is not legal"):
        h.act(FOLD)  # nothing to call


def _random_hand(rng: random.Random) -> tuple[Hand, int]:
    n = rng.randint(2, 9)
    bb = rng.randint(1, 20)
    sb = rng.randint(0, bb)
    ante = rng.choice([0, 0, rng.randint(1, bb)])
    depth = rng.choice([3, 20, 100, 300])
    stacks = [rng.choice([0, rng.randint(1, 2 * bb), rng.randint(1, depth * bb)])
              for _ in range(n)]  # fmt: skip
    while sum(1 for s in stacks if s) < 2:
        stacks[rng.randrange(n)] = rng.randint(1, depth * bb)
    button = rng.choice([k for k in range(n) if stacks[k]])
    return Hand(stacks, button, sb, bb, ante, rng.sample(range(52), 52)), bb


def _check_min_raises(record: dict) -> None:
    current, min_raise, street = record["big_blind"], record["big_blind"], "preflop"
    for action in record["actions"]:
        if action["street"] != street:
            street, current, min_raise = action["street"], 0, record["big_blind"]
        if action["action"] in ("bet", "raise"):
            increment = action["amount"] - current
            assert increment > 0
            assert increment >= min_raise or action["all_in"]
            min_raise = max(min_raise, increment)
            current = action["amount"]


def test_chips_are_conserved_over_ten_thousand_random_hands():
    rng = random.Random(20240)
    showdowns = side_pots = 0
    for _ in range(10_000):
        h, _bb = _random_hand(rng)
        steps = 0
        while not h.over:
            mask = h.legal_mask()
            seat = h.to_act
            if mask[ALL_IN] and rng.random() < 0.2:
                low = h.current_bet + h.min_raise
                high = h.bet[seat] + h.stack[seat]
                h.raise_to(rng.randint(low, high) if low <= high else high)
            else:
                h.act(rng.choice([k for k in range(6) if mask[k]]))
            steps += 1
            assert steps < 500
        record = h.history(NAMES[: h.n])
        before, after = record["stacks_before"], record["stacks_after"]
        contrib, payouts = record["contributions"], record["payouts"]
        assert sum(after) == sum(before)
        for seat in range(h.n):
            assert after[seat] == before[seat] - contrib[seat] + payouts[seat]
            assert 0 <= contrib[seat] <= before[seat] and after[seat] >= 0
            if record["folded"][seat] or record["hole_cards"][seat] is None:
                assert payouts[seat] == 0
        assert sum(p["amount"] for p in record["pots"]) == sum(contrib) == sum(payouts)
        assert all(p["eligible"] for p in record["pots"])
        if record["showdown"]:
            assert len(record["board"]) == 5
            showdowns += 1
        side_pots += len(record["pots"]) > 1
        _check_min_raises(record)
    assert showdowns > 1000 and side_pots > 500  # the random hands reach every rule
