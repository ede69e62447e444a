"""The 5-to-7-card evaluator: every 5-card hand, hand-picked comparisons, 7 vs best 5.

Expected counts are the textbook frequencies of the 2,598,960 five-card hands, and 7,462
is the textbook number of distinct five-card hand values; the comparisons follow the
ranking rules (a wheel is the lowest straight, kickers break ties, a third pair cannot
play, the board can play for everyone).
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palaestra.envs.holdem import CATEGORIES, evaluate
from palaestra.envs.holdem.cards import CARD_BIT, CARD_NAMES, card_index, parse_cards
from palaestra.envs.holdem.evaluator import best_of_five, rank_bits, rank_cards

FREQUENCIES = {
    "straight_flush": 40,
    "four_of_a_kind": 624,
    "full_house": 3744,
    "flush": 5108,
    "straight": 10200,
    "three_of_a_kind": 54912,
    "two_pair": 123552,
    "pair": 1098240,
    "high_card": 1302540,
}


def test_every_five_card_hand_has_the_known_category_frequencies():
    counts = [0] * len(CATEGORIES)
    values = set()
    bits = CARD_BIT
    for a in range(52):
        ba = bits[a]
        for b in range(a + 1, 52):
            bb = ba | bits[b]
            for c in range(b + 1, 52):
                bc = bb | bits[c]
                for d in range(c + 1, 52):
                    bd = bc | bits[d]
                    for e in range(d + 1, 52):
                        score = rank_bits(bd | bits[e])
                        counts[score >> 26] += 1
                        values.add(score)
    assert dict(zip(CATEGORIES, counts, strict=True)) == FREQUENCIES
    assert sum(counts) == 2_598_960
    # Every distinct five-card hand value (suits aside) gets its own rank.
    assert len(values) == 7462


def _better(winner: str, loser: str) -> None:
    assert evaluate(winner)[1] > evaluate(loser)[1], (winner, loser)


def _tie(first: str, second: str) -> None:
    assert evaluate(first)[1] == evaluate(second)[1], (first, second)


@pytest.mark.parametrize(
    ("cards", "category"),
    [
        ("As Ks Qs Js Ts", "straight_flush"),
        ("5h 4h 3h 2h Ah", "straight_flush"),  # steel wheel
        ("9c 9d 9h 9s 2c", "four_of_a_kind"),
        ("3c 3d 3h 8s 8c", "full_house"),
        ("Ad Jd 8d 4d 2d", "flush"),
        ("Ac 2d 3h 4s 5c", "straight"),  # wheel
        ("Tc Jd Qh Ks Ac", "straight"),
        ("7c 7d 7h Ks 2c", "three_of_a_kind"),
        ("7c 7d Kh Ks 2c", "two_pair"),
        ("7c 7d Kh Qs 2c", "pair"),
        ("Ac Qd 9h 5s 3c", "high_card"),
        ("Qc Kd Ah 2s 3c", "high_card"),  # no wrap-around straight
        ("Ah Kh Qh Jh 9h 7c 7d", "flush"),
        ("7h 7c 7d 2s 2c 2h Ks", "full_house"),  # two sets make a full house
        ("2h 3h 4h 5h 6h 7c 8c", "straight_flush"),
    ],
)
def test_categories_of_hand_picked_hands(cards, category):
    assert evaluate(cards)[0] == category


def test_wheels_are_the_lowest_straights():
    _better("2c 3d 4h 5s 6c", "Ac 2d 3h 4s 5c")  # six-high beats the wheel
    _better("Ac 2d 3h 4s 5c Kd Qd", "Ks Qs Jd 9h 8c 2h 3h")  # wheel beats king-high
    _better("2h 3h 4h 5h 6h", "Ah 2h 3h 4h 5h")  # steel wheel is the lowest straight flush
    _better("Ah 2h 3h 4h 5h", "As Ad Ac Ah Ks")  # but beats four aces
    # Seven cards with a wheel and a six play the six-high straight.
    _tie("Ac 2d 3h 4s 5c 6d 9h", "2c 3d 4h 5s 6c Kd Jh")


def test_kickers_decide_between_equal_made_hands():
    _better("Ac Ad Kh 9s 3c 2d 7h", "As Ah Qc 9d 3h 2c 7s")  # pair of aces, king kicker
    _better("Kc Kd 8h 8s Ac 2d 3h", "Ks Kh 8c 8d Qc 2h 3s")  # two pair, ace kicker
    _better("9c 9d 9h Ac Qd 2s 3h", "9c 9d 9s Ac Jd 2s 3h")  # trips, second kicker
    _better("Ad Jd 8d 4d 3d", "Ac Jc 8c 4c 2c")  # flush decided by the fifth card
    _better("Qc Qd Qh Qs 5c", "Qc Qd Qh Qs 4c")  # quads, kicker
    _better("8c 8d 8h Kc Kd", "7c 7d 7h Ac Ad")  # full house: the set first
    _better("8c 8d 8h Ac Ad", "8c 8d 8s Kc Kd")  # then the pair


def test_counterfeited_two_pair_plays_the_board():
    # Hole 4-4 against a double-paired board with an ace: the board's two pairs play,
    # so 4-4 and 2-3 hold the same hand; the player with a queen kicker wins.
    board = "Kc Kd 9h 9s As"
    _tie(f"4c 4d {board}", f"2c 3d {board}")
    # With a five instead of the ace, a queen beats the counterfeited fours.
    _better("Qc 2d Kc Kd 9h 9s 5s", "4c 4d Kc Kd 9h 9s 5s")
    # Three pairs: only the best two count, the third pair's rank can be the kicker.
    _tie("Ac Ad Kc Kd Qc Qd 2c", "Ah As Kh Ks Qh 3d 2d")


def test_ties_and_the_board_playing():
    board = "As Ks Qs Js Ts"
    _tie(f"2c 3d {board}", f"4h 5h {board}")
    _tie("Ac Kd Qh Js 9c", "Ad Kh Qs Jc 9d")  # same ranks, different suits
    assert evaluate("Ac Kd Qh Js 9c 2d 3d")[1] == evaluate("Ac Kd Qh Js 9c 2h 3h")[1]


def test_ranks_compare_across_categories():
    order = [
        "Ac Qd 9h 5s 3c",
        "2c 2d 3h 4s 6c",
        "2c 2d 3h 3s 4c",
        "2c 2d 2h 3s 4c",
        "Ac 2d 3h 4s 5c",
        "2d 3d 4d 5d 7d",
        "2c 2d 2h 3s 3c",
        "2c 2d 2h 2s 3c",
        "Ah 2h 3h 4h 5h",
    ]
    ranks = [evaluate(hand)[1] for hand in order]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert [evaluate(hand)[0] for hand in order] == list(CATEGORIES)


@settings(max_examples=300, deadline=None)
@given(st.permutations(range(52)).map(lambda p: p[:7]), st.integers(5, 7))
def test_seven_card_rank_is_the_best_five_card_subset(cards, count):
    hand = cards[:count]
    assert rank_cards(hand) == best_of_five(hand)
    names = [CARD_NAMES[k] for k in hand]
    assert evaluate(names) == (CATEGORIES[best_of_five(hand) >> 26], best_of_five(hand))


def test_every_subset_of_a_straight_flush_heavy_deck_agrees():
    # All 7-card hands from 10 cards rich in straights and flushes.
    cards = parse_cards("Ah 2h 3h 4h 5h 6h 6c 6d 2c Ac")
    for hand in itertools.combinations(cards, 7):
        assert rank_cards(hand) == best_of_five(hand)


@pytest.mark.parametrize(
    ("cards", "pattern"),
    [
        ("As Ks Qs Js", "5 to 7 cards, got 4"),
        ("As Ks Qs Js Ts 9s 8s 7s", "5 to 7 cards, got 8"),
        ("As Ks Qs Js As", "duplicate card 'As'"),
        ("As Ks Qs Js 1x", "bad card '1x'"),
        ("As Ks Qs Js 10s", "bad card '10s'"),
        (["As", "Ks", "Qs", "Js", 5], "bad card 5"),
        (12345, "list of card names"),
    ],
)
def test_bad_cards_raise_value_errors_naming_the_card(cards, pattern):
    with pytest.raises(ValueError, match=pattern):
        evaluate(cards)


def test_card_names_round_trip_and_accept_either_case():
    assert [CARD_NAMES[card_index(name)] for name in CARD_NAMES] == list(CARD_NAMES)
    assert card_index("as") == card_index("AS") == card_index("As")
    assert CARD_NAMES[0] == "2c" and CARD_NAMES[51] == "As"
    assert evaluate(["as", "kS", "QS", "js", "TS"])[0] == "straight_flush"
