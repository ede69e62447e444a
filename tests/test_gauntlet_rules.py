"""The Gauntlet combat rules, one scenario per rule.

Every expected number is worked out by hand from the tables in the docstrings of
``envs/gauntlet/rules.py`` (formulas, turn order), ``cards.py`` (resolution order, the card
rows) and ``enemies.py`` (moves, patterns, phases). Most scenarios use five-card decks, so
the whole deck is in hand on turn 1 whatever the shuffle; the others set the piles by hand.
Enemy HP is set by hand where the rolled value would get in the way.
"""

from __future__ import annotations

import numpy as np
import pytest

from palaestra.envs.gauntlet.cards import card_name
from palaestra.envs.gauntlet.enemies import ENEMIES, ENEMY_INDEX, ENEMY_SETS, PATTERNS, choose_move
from palaestra.envs.gauntlet.engine import Run
from palaestra.envs.gauntlet.rules import (
    DEXTERITY,
    FRAIL,
    POISON,
    STRENGTH,
    VULNERABLE,
    WEAK,
    Combatant,
    attack_damage,
    block_gain,
)
from palaestra.envs.gauntlet.vocabulary import END_TURN, play_action


def make(deck, enemies, *, hp=80, seed=0, record=False, **task):
    task = {"fights": 1, "encounters": [enemies], "starting_deck": deck, "max_hp": hp, **task}
    return Run(task, np.random.default_rng(seed), record=record)


def slot_of(run, name):
    for slot, instance in enumerate(run.hand):
        if card_name(run.deck[instance]) == name:
            return slot
    raise AssertionError(f"{name} not in hand: {[card_name(run.deck[i]) for i in run.hand]}")


def play(run, name, target=0):
    run.step(play_action(slot_of(run, name), target))


def set_hp(run, *hps):
    for enemy, hp in zip(run.enemies, hps, strict=True):
        enemy.hp = enemy.max_hp = hp
    run.state_changed()


def move_name(enemy):
    return ENEMIES[enemy.kind].moves[enemy.intent].name


# ---------------------------------------------------------------------- formulas
def test_formula_order_weak_before_vulnerable_each_rounding_down():
    weak, vulnerable, plain = [0] * 9, [0] * 9, [0] * 9
    weak[WEAK] = 1
    vulnerable[VULNERABLE] = 1
    both = weak[:]
    both[VULNERABLE] = 1
    assert attack_damage(10, weak, plain) == 7  # 10 * 3 // 4
    assert attack_damage(10, plain, vulnerable) == 15  # 10 * 3 // 2
    # 10 -> 7 (weak) -> 10 (vulnerable); rounding once would give 11, vulnerable first 11.
    assert attack_damage(10, weak, vulnerable) == 10
    strong = [0] * 9
    strong[STRENGTH] = -20
    assert attack_damage(10, strong, vulnerable) == 0  # max(0, ...) before the multipliers


def test_block_formula_dexterity_then_frail():
    statuses = [0] * 9
    statuses[DEXTERITY] = 2
    assert block_gain(5, statuses) == 7
    statuses[FRAIL] = 1
    assert block_gain(5, statuses) == 5  # (5 + 2) * 3 // 4
    statuses[DEXTERITY] = -7
    assert block_gain(5, statuses) == 0


def test_healing_and_hp_loss_are_bounded():
    c = Combatant("x", 10, 20)
    assert c.heal(50) == 10 and c.hp == 20
    assert c.lose_hp(25) == 20 and c.hp == 0


# ---------------------------------------------------------------------- block
def test_block_absorbs_before_hp_and_expires_at_the_start_of_the_owners_turn():
    run = make(["Defend"] * 5, ["cultist"])
    play(run, "Defend")
    assert run.player.block == 5
    run.step(END_TURN)  # Incantation: no attack; the cultist's ritual 3 gives it 3 strength
    assert run.enemies[0].status[STRENGTH] == 3
    assert run.player.block == 0 and run.player.hp == 80  # expired at the start of turn 2
    play(run, "Defend")
    play(run, "Defend")
    run.step(END_TURN)  # Dark Strike 6 + 3 = 9 into 10 block
    assert run.player.hp == 80 and run.player.block == 0  # the 1 left expired at turn 3
    play(run, "Defend")
    run.step(END_TURN)  # Dark Strike 6 + 6 = 12: 5 absorbed, 7 to HP
    assert run.player.hp == 73
    assert run.stats.damage_taken == 7


def test_enemy_block_lasts_through_the_players_turn_and_expires_at_its_own():
    run = make(["Strike"] * 5, ["warden"], hp=200)
    run.step(END_TURN)  # Charge Up: 9 block
    warden = run.enemies[0]
    hp = warden.hp
    assert warden.block == 9
    play(run, "Strike")  # 6 into 9 block
    assert (warden.hp, warden.block) == (hp, 3)
    run.step(END_TURN)  # the warden's block expires, then Fierce Bash 24
    assert warden.block == 0
    assert run.player.hp == 200 - 24


# ---------------------------------------------------------------------- modifiers
@pytest.mark.parametrize(
    ("weak", "vulnerable", "expected"), [(0, 0, 10), (1, 0, 7), (0, 1, 15), (1, 1, 10)]
)
def test_weak_and_vulnerable_multiply_in_order_on_a_played_attack(weak, vulnerable, expected):
    run = make(["Strike+"] * 5, ["cultist"])
    set_hp(run, 50)
    run.player.status[STRENGTH] = 1  # Strike+ 9 + 1 = 10
    run.player.status[WEAK] = weak
    run.enemies[0].status[VULNERABLE] = vulnerable
    play(run, "Strike+")
    assert run.enemies[0].hp == 50 - expected


@pytest.mark.parametrize(("vulnerable", "expected"), [(1, 9), (2, 13)])
def test_enemy_attack_on_a_vulnerable_player(vulnerable, expected):
    run = make(["Defend"] * 5, ["cultist"])
    run.step(END_TURN)  # Incantation; the cultist has 3 strength now
    run.player.status[VULNERABLE] = vulnerable
    # The player's vulnerable ticks down at the end of the player's turn, before Dark Strike
    # (6 + 3): from 1 it is gone (9 damage), from 2 it is still on: 9 * 3 // 2 = 13.
    run.step(END_TURN)
    assert run.player.hp == 80 - expected
    assert run.player.status[VULNERABLE] == vulnerable - 1


def test_strength_adds_to_every_hit_of_a_multi_hit():
    run = make(["Twin Strike", "Heavy Blade", "Defend", "Defend", "Defend"], ["cultist"])
    set_hp(run, 60)
    run.player.status[STRENGTH] = 2
    play(run, "Twin Strike")  # (5 + 2) x 2 = 14; strength once would be 12
    assert run.enemies[0].hp == 60 - 14
    play(run, "Heavy Blade")  # 14 + 2 x 3 = 20
    assert run.enemies[0].hp == 60 - 14 - 20


def test_enemy_strength_adds_to_every_hit_of_its_multi_hit():
    run = make(["Defend"] * 5, ["sentinel"])
    assert move_name(run.enemies[0]) == "Slash"  # the cycle starts with Slash 7 x 2
    run.enemies[0].status[STRENGTH] = 2
    run.step(END_TURN)
    assert run.player.hp == 80 - 2 * 9


def test_dexterity_adds_to_block_and_frail_cuts_it():
    run = make(["Footwork", "Defend", "Defend", "Defend", "Defend"], ["cultist"])
    play(run, "Footwork")
    assert run.player.status[DEXTERITY] == 2
    play(run, "Defend")
    assert run.player.block == 7
    run.player.status[FRAIL] = 1
    play(run, "Defend")
    assert run.player.block == 7 + 5  # (5 + 2) * 3 // 4


# ---------------------------------------------------------------------- energy and piles
def test_energy_resets_each_turn_without_carrying_over():
    run = make(["Seeing Red", "Defend", "Defend", "Defend", "Defend"], ["cultist"])
    assert run.energy == 3
    play(run, "Seeing Red")  # cost 1, +2 energy
    assert run.energy == 4
    run.step(END_TURN)
    assert run.energy == 3
    play(run, "Defend")
    run.step(END_TURN)
    assert run.energy == 3


def test_the_discard_pile_is_shuffled_into_the_draw_pile_when_it_runs_out():
    run = make(["Defend"] * 7, ["cultist"])
    fight = run.fight
    assert (len(fight.hand), len(fight.draw_pile)) == (5, 2)
    rest = fight.draw_pile[:]
    first_hand = set(fight.hand)
    run.step(END_TURN)
    # Turn 2: the two left are drawn (from the end), then the five discarded become the
    # draw pile and three of them are drawn.
    assert run.fight.hand[:2] == rest[::-1]
    assert set(run.fight.hand[2:]) <= first_hand
    assert (len(fight.draw_pile), len(fight.discard_pile)) == (2, 0)
    assert sorted(fight.hand + fight.draw_pile) == list(range(7))


def test_a_card_drawn_into_a_full_hand_goes_to_the_discard_pile():
    run = make(["Battle Trance"] + ["Defend"] * 11, ["cultist"])
    fight = run.fight  # instance 0 is Battle Trance: the deck is in starting_deck order
    fight.hand, fight.draw_pile, fight.discard_pile = list(range(9)), [9, 10, 11], []
    run.state_changed()
    play(run, "Battle Trance")  # 8 in hand, draw 3 from the end: 11 and 10 fit, 9 does not
    assert fight.hand == [1, 2, 3, 4, 5, 6, 7, 8, 11, 10]
    assert fight.discard_pile == [9, 0]  # the card played is discarded after it resolves


def test_exhausted_cards_leave_the_fight():
    run = make(["Pummel", "Defend", "Defend", "Defend", "Defend"], ["cultist"], hp=200)
    set_hp(run, 200)
    pummel = run.hand[slot_of(run, "Pummel")]
    play(run, "Pummel")
    assert run.fight.exhaust_pile == [pummel]
    assert pummel not in run.fight.discard_pile
    for _ in range(4):
        run.step(END_TURN)
        assert pummel not in run.hand and run.fight.exhaust_pile == [pummel]


def test_retained_cards_stay_in_hand_at_the_end_of_the_turn():
    run = make(["Steady Guard", "Patient Strike"] + ["Defend"] * 8, ["cultist"])
    fight = run.fight  # instances 0 and 1 retain
    fight.hand, fight.draw_pile, fight.discard_pile = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9], []
    run.state_changed()
    run.step(END_TURN)
    # The two that retain stay; the three Defends are discarded; five are drawn on top.
    assert fight.hand == [0, 1, 9, 8, 7, 6, 5]
    assert fight.discard_pile == [2, 3, 4] and fight.draw_pile == []


# ---------------------------------------------------------------------- X cost
def test_x_cost_cards_spend_all_energy_and_repeat_x_times():
    run = make(["Whirlwind", "Defend", "Defend", "Defend", "Defend"], ["mite"] * 3)
    set_hp(run, 50, 50, 50)
    play(run, "Whirlwind")  # X = 3: 5 damage to each enemy, 3 times
    assert [e.hp for e in run.enemies] == [35, 35, 35]
    assert run.energy == 0


def test_x_cost_uses_energy_gained_this_turn():
    run = make(["Seeing Red", "Skewer", "Defend", "Defend", "Defend"], ["cultist"])
    set_hp(run, 60)
    play(run, "Seeing Red")  # 3 - 1 + 2 = 4
    play(run, "Skewer")  # 7 x 4
    assert run.enemies[0].hp == 60 - 28 and run.energy == 0


def test_x_cost_at_zero_energy_is_playable_and_does_nothing_but_x_bonus_counts():
    run = make(["Defend", "Defend", "Defend", "Whirlwind", "Malaise+"], ["cultist"])
    set_hp(run, 60)
    for _ in range(3):
        play(run, "Defend")
    assert run.energy == 0
    play(run, "Whirlwind")
    assert run.enemies[0].hp == 60 and run.stats.cards_played == 4
    play(run, "Malaise+")  # X = 0 + 1: 1 weak, -1 strength
    assert run.enemies[0].status[WEAK] == 1 and run.enemies[0].status[STRENGTH] == -1


# ---------------------------------------------------------------------- poison
def test_poison_ticks_at_the_start_of_the_owners_turn_then_decays():
    run = make(["Deadly Poison", "Defend", "Defend", "Defend", "Defend"], ["cultist"])
    set_hp(run, 50)
    play(run, "Deadly Poison")
    cultist = run.enemies[0]
    assert (cultist.hp, cultist.status[POISON]) == (50, 5)
    run.step(END_TURN)
    assert (cultist.hp, cultist.status[POISON]) == (45, 4)
    run.step(END_TURN)
    assert (cultist.hp, cultist.status[POISON]) == (41, 3)
    assert run.stats.damage_dealt == 9


def test_player_poison_ticks_at_the_start_of_the_players_turn_ignoring_block():
    run = make(["Defend"] * 5, ["cultist"])
    play(run, "Defend")
    run.player.status[POISON] = 3
    run.step(END_TURN)  # Incantation does no damage; poison ticks at turn 2's start
    assert run.player.hp == 77 and run.player.status[POISON] == 2
    assert run.stats.damage_taken == 3


def test_poison_kills_an_enemy_before_it_acts():
    run = make(["Deadly Poison", "Defend", "Defend", "Defend", "Defend"], ["beetle"])
    set_hp(run, 4)
    assert move_name(run.enemies[0]) == "Chomp"  # would deal 11
    play(run, "Deadly Poison")
    run.step(END_TURN)
    assert run.over and run.won and run.player.hp == 80


# ---------------------------------------------------------------------- deaths mid-attack
def test_an_enemy_dying_mid_multi_hit_stops_the_remaining_hits():
    run = make(["Pummel", "Defend", "Defend", "Defend", "Defend"], ["mite", "mite"], record=True)
    set_hp(run, 3, 30)
    run.take_events()
    play(run, "Pummel")  # 2 x 4 at a 3-HP mite: the second hit kills it
    hits = [e for e in run.take_events() if e.startswith("you hit")]
    assert hits == ["you hit Mite 1 for 2 (2 HP)", "you hit Mite 1 for 2 (1 HP)"]
    assert [e.hp for e in run.enemies] == [0, 30]
    assert run.stats.damage_dealt == 3  # never more than it had


def test_x_repeats_stop_when_the_target_dies():
    run = make(["Skewer", "Defend", "Defend", "Defend", "Defend"], ["mite", "mite"])
    set_hp(run, 2, 30)
    play(run, "Skewer")
    assert [e.hp for e in run.enemies] == [0, 30] and run.stats.damage_dealt == 2


def test_random_hits_only_land_on_living_enemies():
    for seed in range(20):
        run = make(["Sword Boomerang"] + ["Defend"] * 4, ["mite", "mite"], seed=seed)
        set_hp(run, 3, 30)
        play(run, "Sword Boomerang")  # 3 hits of 3, each at a living enemy
        assert run.stats.damage_dealt == 9
        assert run.enemies[0].hp in (0, 3)


# ---------------------------------------------------------------------- bosses and elites
def test_boss_phase_change_gives_block_cleanses_and_changes_the_intent_mid_attack():
    run = make(["Pummel", "Defend", "Defend", "Defend", "Defend"], ["warden"], hp=300)
    warden = run.enemies[0]
    warden.hp, warden.max_hp = 82, 160
    warden.status[WEAK], warden.status[POISON] = 2, 3
    run.state_changed()
    assert (warden.phase, move_name(warden)) == (0, "Charge Up")
    play(run, "Pummel")  # hit 1: 82 -> 80 = 50 % of 160: the defensive phase begins
    assert warden.phase == 1 and warden.hp == 80
    assert warden.block == 12 - 3 * 2  # hits 2-4 meet the new block
    assert warden.status[WEAK] == 0 and warden.status[POISON] == 0
    assert move_name(warden) == "Roll Attack"
    run.step(END_TURN)  # its block expires; Roll Attack 9
    assert run.player.hp == 300 - 9
    assert move_name(warden) == "Twin Slam"


def test_a_hit_crossing_two_thresholds_enters_both_phases():
    run = make(["Bludgeon", "Defend", "Defend", "Defend", "Defend"], ["warden"], hp=300)
    warden = run.enemies[0]
    warden.hp, warden.max_hp = 40, 160
    run.state_changed()
    play(run, "Bludgeon")  # 40 -> 8, below 50 % and 20 %
    assert warden.phase == 2 and warden.hp == 8
    assert warden.block == 12 and warden.status[STRENGTH] == 3
    assert move_name(warden) == "Whirlwind"
    assert run.incoming(warden) == (4 + 3, 4)


def test_an_elite_bellows_then_hits_harder():
    run = make(["Defend"] * 5, ["brute"], hp=100)
    brute = run.enemies[0]
    assert ENEMIES[brute.kind].rank == "elite"
    assert move_name(brute) == "Bellow"
    run.step(END_TURN)
    assert brute.status[STRENGTH] == 2 and run.player.hp == 100
    damage = {"Rush": 14 + 2, "Skull Bash": 6 + 2}[move_name(brute)]
    assert run.incoming(brute) == (damage, 1)
    run.step(END_TURN)
    assert run.player.hp == 100 - damage


def test_an_elite_with_metallicize_has_block_during_the_players_turn():
    run = make(["Defend"] * 5, ["sentinel"], hp=100)
    run.step(END_TURN)  # Slash; then metallicize 4 at the end of its turn
    assert run.enemies[0].block == 4


def test_fight_plan_puts_elites_every_third_fight_and_the_boss_last():
    from palaestra.envs.gauntlet.enemies import fight_plan

    plan = fight_plan(ENEMY_SETS["standard"], 6)
    assert plan == ("normal", "normal", "elite", "normal", "normal", "boss")
    assert fight_plan(ENEMY_SETS["elites"], 3) == ("elite", "elite", "boss")
    assert fight_plan(ENEMY_SETS["boss"], 2) == ("boss", "boss")
    assert set(fight_plan(ENEMY_SETS["starter"], 5)) == {"normal"}


# ---------------------------------------------------------------------- patterns
class FixedRandom:
    def __init__(self, value):
        self.value = value

    def random(self):
        return self.value


def test_cultist_opens_with_its_opening_then_cycles():
    pattern = PATTERNS[ENEMY_INDEX["cultist"]][0]
    moves = [choose_move(pattern, step, -1, 0, FixedRandom(0.0)) for step in range(4)]
    assert moves == [0, 1, 1, 1]  # Incantation, then Dark Strike forever


def test_weighted_draw_scans_cumulative_weights_and_bans_a_repeat():
    pattern = PATTERNS[ENEMY_INDEX["beetle"]][0]  # Chomp 25, Thrash 30, Bellow 45; max 1
    chomp, thrash, bellow = 0, 1, 2
    # After the opening, nothing banned: u = r * 100 against 25 / 55 / 100.
    assert choose_move(pattern, 1, -1, 0, FixedRandom(0.2)) == chomp
    assert choose_move(pattern, 1, -1, 0, FixedRandom(0.3)) == thrash
    assert choose_move(pattern, 1, -1, 0, FixedRandom(0.6)) == bellow
    assert choose_move(pattern, 0, -1, 0, FixedRandom(0.9)) == chomp  # the opening
    # Bellow banned: u = r * 55 against Chomp 25 / Thrash 55.
    assert choose_move(pattern, 1, bellow, 1, FixedRandom(0.4)) == chomp
    assert choose_move(pattern, 1, bellow, 1, FixedRandom(0.6)) == thrash
    # Chomp banned after one Chomp: u = r * 75 against Thrash 30 / Bellow 75.
    assert choose_move(pattern, 1, chomp, 1, FixedRandom(0.3)) == thrash
    assert choose_move(pattern, 1, chomp, 1, FixedRandom(0.5)) == bellow


@pytest.mark.parametrize(("name", "max_repeat"), [("beetle", 1), ("mite", 2), ("fungus", 2)])
def test_an_enemy_never_repeats_a_move_more_than_its_max_repeat(name, max_repeat):
    run = make(["Defend"] * 5, [name], hp=999)
    set_hp(run, 999)
    longest = streak = 0
    previous = None
    for _ in range(200):
        intent = run.enemies[0].intent
        streak = streak + 1 if intent == previous else 1
        longest = max(longest, streak)
        previous = intent
        run.player.hp = 999  # their Bellows and Grows add up
        run.step(END_TURN)
    assert longest == max_repeat


# ---------------------------------------------------------------------- ascension
def test_ascension_raises_enemy_hp_and_damage_and_lowers_player_hp():
    run = Run({"ascension": 7, "fights": 1, "encounters": ["cultist"]}, np.random.default_rng(3))
    plain = Run({"fights": 1, "encounters": ["cultist"]}, np.random.default_rng(3))
    rolled = plain.enemies[0].max_hp
    assert run.enemies[0].max_hp == rolled + rolled * 7 // 20
    assert run.player.max_hp == 70 - 14 and plain.player.max_hp == 70
    run.step(END_TURN)  # Incantation
    assert run.incoming(run.enemies[0]) == (6 + 3 + 7 // 3, 1)
