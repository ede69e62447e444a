"""The Gauntlet run engine: runs, rewards and rests, action names, the vector, the task space,
the predicates, bad input, and determinism over whole runs."""

from __future__ import annotations

import numpy as np
import pytest

from palaestra.envs.gauntlet.cards import CARD_INDEX, CARDS, N_CARDS, card_code, card_name
from palaestra.envs.gauntlet.engine import COMBAT, REST, REWARD, Run, RunOverError
from palaestra.envs.gauntlet.rules import STRENGTH
from palaestra.envs.gauntlet.task import (
    GAUNTLET_TASK_SPACE,
    POOL_SUBSET,
    gauntlet_difficulty,
    reward_pool,
)
from palaestra.envs.gauntlet.vocabulary import (
    CHOOSE_AT,
    END_TURN,
    ENEMY_AT,
    ENEMY_FIELDS,
    HAND_AT,
    HAND_FIELDS,
    N_ACTIONS,
    OFFER_AT,
    PRIMITIVE_ACTIONS,
    REST_HEAL,
    SKIP,
    UPGRADE_AT,
    VECTOR_FIELDS,
    VECTOR_SIZE,
    evaluate_predicate,
    parse_predicate,
    play_action,
)


def make(deck, fights, *, hp=80, seed=0, **task):
    task = {
        "fights": len(fights),
        "encounters": fights,
        "starting_deck": deck,
        "max_hp": hp,
        **task,
    }
    return Run(task, np.random.default_rng(seed))


def slot_of(run, name):
    for slot, instance in enumerate(run.hand):
        if card_name(run.deck[instance]) == name:
            return slot
    raise AssertionError(name)


def win_fight(run):
    """Kill every enemy with the Strike in hand (set to 1 HP first)."""
    for enemy in run.enemies:
        enemy.hp = 1
    run.state_changed()
    for j in range(len(run.enemies)):
        if run.phase == COMBAT and run.enemies[j].hp > 0:
            run.step(play_action(slot_of(run, "Strike"), j))


def random_play(run, rng, limit=5000):
    for _ in range(limit):
        if run.over:
            return
        legal = run.legal_indices()
        run.step(legal[int(rng.integers(len(legal)))])


# ---------------------------------------------------------------------- run flow
def test_a_fight_won_gives_a_reward_then_a_rest_then_the_next_fight():
    deck = ["Strike"] * 5
    run = make(deck, [["mite"], ["mite"]], rest_every=1)
    assert (run.phase, run.floor, run.phase_name) == (COMBAT, 1, "combat")
    win_fight(run)
    assert run.phase == REWARD and run.stats.fights_won == 1
    assert len(set(run.offers)) == 3
    assert all(code % 2 == 0 and CARDS[code // 2].rarity != "starter" for code in run.offers)
    assert run.legal_indices() == [CHOOSE_AT, CHOOSE_AT + 1, CHOOSE_AT + 2, SKIP]
    offered = run.offers[1]
    run.step(CHOOSE_AT + 1)
    assert run.deck == [card_code("Strike")] * 5 + [offered]
    assert run.phase == REST
    run.player.hp = 10
    run.state_changed()
    legal = run.legal_indices()
    assert SKIP in legal and REST_HEAL in legal
    assert UPGRADE_AT + CARD_INDEX["Strike"] in legal
    assert UPGRADE_AT + CARD_INDEX["Bash"] not in legal
    assert run.action_name(REST_HEAL) == "rest: heal 24 HP"  # 80 * 30 // 100
    run.step(UPGRADE_AT + CARD_INDEX["Strike"])
    assert run.deck[0] == card_code("Strike+") and run.deck[1] == card_code("Strike")
    assert (run.phase, run.floor) == (COMBAT, 2)
    piles = run.piles()
    assert sorted(i for pile in piles.values() for i in pile) == list(range(6))


def test_rest_heals_thirty_percent_never_above_maximum_and_skip_takes_nothing():
    run = make(["Strike"] * 5, [["mite"], ["mite"], ["mite"]], rest_every=1)
    win_fight(run)
    run.step(SKIP)
    assert len(run.deck) == 5 and run.phase == REST
    run.player.hp = 70
    run.state_changed()
    run.step(REST_HEAL)
    assert run.player.hp == 80  # min(80 - 70, 24)
    win_fight(run)
    run.step(SKIP)
    assert REST_HEAL not in run.legal_indices()  # at full HP
    run.step(SKIP)  # leave the rest site
    assert run.floor == 3


def test_rests_follow_every_rest_every_th_fight_but_not_the_last():
    run = make(["Strike"] * 5, [["mite"]] * 4, rest_every=2)
    phases = []
    while not run.over:
        win_fight(run)
        if run.over:
            break
        run.step(SKIP)
        phases.append(run.phase)
        if run.phase == REST:
            run.step(SKIP)
    assert phases == [COMBAT, REST, COMBAT]
    assert run.won and run.metrics()["success"] and run.metrics()["floor"] == 4


def test_small_card_pools_offer_fewer_cards_and_pool_seeds_pick_a_fixed_subset():
    run = make(["Strike"] * 5, [["mite"], ["mite"]], card_pool=["Cleave", "Flick"])
    win_fight(run)
    assert sorted(run.offers) == sorted([card_code("Cleave"), card_code("Flick")])
    assert run.legal_indices() == [CHOOSE_AT, CHOOSE_AT + 1, SKIP]
    task = GAUNTLET_TASK_SPACE.validate({"pool_seed": 7})
    pool = reward_pool(task)
    assert len(pool) == POOL_SUBSET and pool == reward_pool(task)
    assert pool != reward_pool(GAUNTLET_TASK_SPACE.validate({"pool_seed": 8}))
    assert all(CARDS[c].rarity != "starter" for c in pool)


def test_the_run_is_lost_when_hp_reaches_zero():
    run = make(["Defend"] * 5, [["beetle"]], hp=5)  # Chomp 11
    run.step(END_TURN)
    assert run.over and not run.won and run.player.hp == 0
    assert run.legal_indices() == [] and not run.legal_mask().any()
    metrics = run.metrics()
    assert (metrics["success"], metrics["hp_left"], metrics["damage_taken"]) == (False, 0, 5)


def test_counters_match_the_hp_lost_in_a_fight():
    rng = np.random.default_rng(5)
    for seed in range(20):
        run = Run({"fights": 1, "enemy_set": "starter"}, np.random.default_rng(seed))
        enemies = run.enemies
        while not run.over:
            legal = run.legal_indices()
            run.step(legal[int(rng.integers(len(legal)))])
            assert run.stats.damage_dealt == sum(e.max_hp - e.hp for e in enemies)
            assert run.stats.damage_taken == run.player.max_hp - run.player.hp


# ---------------------------------------------------------------------- actions
def test_action_names_say_what_is_played_on_whom_for_how_much():
    run = make(["Bash", "Whirlwind", "Defend", "Strike", "Strike"], [["cultist"]])
    assert run.action_name(play_action(slot_of(run, "Bash"), 0)) == (
        "play Bash on Cultist (2 energy)"
    )
    assert run.action_name(play_action(slot_of(run, "Whirlwind"), 0)) == (
        "play Whirlwind (X = 3 energy)"
    )
    assert run.action_name(END_TURN) == "end turn"
    assert run.action_name(play_action(9, 2)) == "play slot 9 at enemy 2"
    names = run.legal_actions()
    assert len(set(names.values())) == len(names)
    assert names == {i: run.action_names()[i] for i in run.legal_indices()}


def test_identical_cards_are_one_move_and_untargeted_cards_use_target_zero():
    run = make(["Strike", "Strike", "Defend", "Defend", "Strike+"], [["mite", "mite"]])
    strikes = [s for s, i in enumerate(run.hand) if card_name(run.deck[i]) == "Strike"]
    defends = [s for s, i in enumerate(run.hand) if card_name(run.deck[i]) == "Defend"]
    plus = slot_of(run, "Strike+")
    legal = set(run.legal_indices())
    expected = {
        play_action(strikes[0], 0),
        play_action(strikes[0], 1),
        play_action(plus, 0),
        play_action(plus, 1),
        play_action(defends[0], 0),
        END_TURN,
    }
    assert legal == expected
    assert run.legal_mask().dtype == np.int8 and run.legal_mask().sum() == len(expected)


def test_dead_enemies_and_unaffordable_cards_are_masked():
    run = make(["Bludgeon", "Strike", "Defend", "Defend", "Defend"], [["mite", "mite"]])
    run.enemies[0].hp = 1
    run.state_changed()
    run.step(play_action(slot_of(run, "Strike"), 0))
    bludgeon = slot_of(run, "Bludgeon")
    assert not run.legal_mask()[play_action(bludgeon, 1)]  # 3 energy, 2 left
    strike_at_dead = [i for i in run.legal_indices() if i < 30 and i % 3 == 0]
    assert all(run.action_name(i).startswith("play Defend") for i in strike_at_dead)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("task", "words"),
    [
        ({"ascention": 1}, ["unknown gauntlet task key 'ascention'"]),
        ({"ascension": 11}, ["'ascension'", "[0, 10]"]),
        ({"fights": 0}, ["'fights'"]),
        ({"enemy_set": "hard"}, ["'enemy_set'", "'standard'"]),
        ({"starting_deck": ["Strike", "Fireball"]}, ["'starting_deck'", "'Fireball'"]),
        ({"starting_deck": "Strike"}, ["'starting_deck'"]),
        ({"card_pool": ["Cleave", "Nope"]}, ["'card_pool'", "'Nope'"]),
        ({"card_pool": ["Cleave+"]}, ["'card_pool'", "'Cleave+'"]),
        ({"encounters": [["cultist", "dragon"]], "fights": 1}, ["'encounters'", "'dragon'"]),
        ({"encounters": [["mite"] * 4], "fights": 1}, ["'encounters'", "1-3"]),
        ({"encounters": ["mite", "mite"], "fights": 3}, ["'encounters'", "'fights'"]),
        ({"pool_seed": -1}, ["'pool_seed'"]),
        ({"max_hp": 0}, ["'max_hp'"]),
        ({"max_hp": True}, ["'max_hp'"]),
    ],
)
def test_bad_tasks_are_refused_naming_the_knob(task, words):
    with pytest.raises(ValueError) as err:
        Run(task, np.random.default_rng(0))
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("action", [-1, N_ACTIONS, 2.5, "end turn", None, True, np.array([1, 2])])
def test_actions_out_of_range_or_of_the_wrong_type_are_refused(action):
    run = Run({}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="player"):
        run.step(action)


def test_an_illegal_action_is_refused_naming_it_and_the_legal_ones():
    run = make(["Strike"] * 5, [["mite"]])
    before = run.vector()
    with pytest.raises(ValueError) as err:
        run.step(CHOOSE_AT)
    message = str(err.value)
    assert "action 31 (take reward 0) is not legal for player now" in message
    assert "30 (end turn)" in message and "0 (play Strike on Mite (1 energy))" in message
    np.testing.assert_array_equal(run.vector(), before)  # nothing changed


def test_numpy_integer_actions_are_accepted():
    run = make(["Strike"] * 5, [["mite"]])
    run.step(np.int64(END_TURN))
    run.step(np.array(END_TURN))
    assert run.fight.turn == 3


def test_acting_after_the_run_ended_is_a_clear_error():
    run = make(["Defend"] * 5, [["beetle"]], hp=5)
    run.step(END_TURN)
    with pytest.raises(RunOverError, match="the run has ended \\(lost on floor 1 of 1\\)"):
        run.step(END_TURN)
    assert issubclass(RunOverError, ValueError)


# ---------------------------------------------------------------------- vector
def test_vector_layout_and_values():
    run = make(["Bash", "Defend", "Defend", "Defend", "Defend"], [["cultist"]])
    v = run.vector()
    assert v.shape == (VECTOR_SIZE,) and v.dtype == np.float32
    assert len(VECTOR_FIELDS) == VECTOR_SIZE
    field = {name: i for i, name in enumerate(VECTOR_FIELDS)}
    assert v[field["phase_combat"]] == 1 and v[field["phase_reward"]] == 0
    assert (v[field["hp"]], v[field["max_hp"]], v[field["energy"]]) == (80, 80, 3)
    assert (v[field["hand"]], v[field["draw_pile"]], v[field["deck_size"]]) == (5, 0, 5)
    bash = slot_of(run, "Bash")
    at = HAND_AT + bash * len(HAND_FIELDS)
    assert list(v[at : at + 4]) == [CARD_INDEX["Bash"] + 1, 0, 2, 1]
    assert v[field["hand_count_Defend"]] == 4 and v[field["deck_count_Bash"]] == 1
    cultist = run.enemies[0]
    at = ENEMY_AT
    assert v[at + ENEMY_FIELDS.index("hp")] == cultist.hp
    assert v[field["enemy_0_intent_buff"]] == 1 and v[field["enemy_0_intent_attack"]] == 0
    assert v[field["enemy_1_alive"]] == 0 and v[field["incoming"]] == 0
    v[0] = 99
    assert run.vector()[0] == 1  # a fresh array every call
    run.step(END_TURN)
    v = run.vector()
    assert v[field["enemy_0_intent_attack"]] == 1
    assert (v[field["enemy_0_intent_damage"]], v[field["incoming"]]) == (9, 9)
    assert v[field["enemy_0_ritual"]] == 3 and v[field["enemy_0_strength"]] == 3


def test_vector_outside_combat_shows_the_offers():
    run = make(["Strike"] * 5, [["mite"], ["mite"]])
    win_fight(run)
    v = run.vector()
    assert v[1] == 1 and v[HAND_AT] == 0
    for k, code in enumerate(run.offers):
        assert v[OFFER_AT + 2 * k] == code // 2 + 1


# ---------------------------------------------------------------------- predicates
def test_predicates_on_the_vector():
    run = make(["Bash", "Inflame", "Defend", "Defend", "Defend"], [["cultist", "mite"]])
    v = run.vector()
    assert evaluate_predicate(v, "hand_has(Bash)")
    assert not evaluate_predicate(v, "hand_has(Cleave)")
    assert evaluate_predicate({"state": v}, ("can_play", "Bash"))
    assert evaluate_predicate(v, "energy_at_least(3)") and not evaluate_predicate(
        v, "energy_at_least(4)"
    )
    assert evaluate_predicate(v, "enemies_at_least(2)")
    assert evaluate_predicate(v, "in_phase(combat)")
    assert not evaluate_predicate(v, "hp_below(0.5)")
    run.step(play_action(slot_of(run, "Bash"), 0))
    run.step(play_action(slot_of(run, "Inflame"), 0))
    v = run.vector()
    assert evaluate_predicate(v, "status_at_least(strength, 2)")
    assert evaluate_predicate(v, "enemy_status_at_least(vulnerable, 2)")
    assert not evaluate_predicate(v, "can_play(Defend)")  # no energy left
    run.player.hp = 30
    run.player.status[STRENGTH] = 0
    assert evaluate_predicate(run.vector(), "hp_below(0.5)")
    assert not evaluate_predicate(run.vector(), "status_at_least(strength, 1)")


def test_intent_predicates_follow_the_enemy_plan():
    run = make(["Defend"] * 5, [["cultist"]])
    assert evaluate_predicate(run.vector(), "enemy_intent(buff)")
    assert not evaluate_predicate(run.vector(), "enemy_intent(attack)")
    run.step(END_TURN)
    assert evaluate_predicate(run.vector(), "enemy_intent(attack)")
    assert evaluate_predicate(run.vector(), "incoming_at_least(9)")
    assert not evaluate_predicate(run.vector(), "incoming_at_least(10)")


@pytest.mark.parametrize(
    "bad",
    [
        "hand_has(Fireball)",
        "hand_has()",
        "hp_below(2)",
        "energy_at_least(x)",
        "fly(1)",
        "status_at_least(rage, 1)",
        "enemy_intent(sleep)",
        42,
    ],
)
def test_bad_predicates_are_refused(bad):
    with pytest.raises(ValueError):
        parse_predicate(bad)


def test_predicates_need_a_state_vector():
    with pytest.raises(ValueError, match="state vector"):
        evaluate_predicate(np.zeros(3), "energy_at_least(1)")


# ---------------------------------------------------------------------- task space
def test_difficulty_spans_zero_to_one_and_grows_with_each_knob():
    easiest = {"fights": 1, "enemy_set": "starter"}
    assert GAUNTLET_TASK_SPACE.difficulty(easiest) == 0.0
    hardest = {"fights": 12, "enemy_set": "boss", "ascension": 10}
    assert GAUNTLET_TASK_SPACE.difficulty(hardest) == pytest.approx(1.0)
    base = GAUNTLET_TASK_SPACE.difficulty({})
    for harder in ({"ascension": 5}, {"fights": 6}, {"enemy_set": "elites"}):
        assert GAUNTLET_TASK_SPACE.difficulty(harder) > base
    explicit = GAUNTLET_TASK_SPACE.validate({"fights": 2, "encounters": ["mite", "warden"]})
    assert gauntlet_difficulty(explicit) == pytest.approx(0.3 * 1 / 11 + 0.3 * 0.5)
    rng = np.random.default_rng(0)
    for _ in range(50):
        task = GAUNTLET_TASK_SPACE.sample(rng)
        assert 0.0 <= GAUNTLET_TASK_SPACE.difficulty(task) <= 1.0
        assert GAUNTLET_TASK_SPACE.validate(task) == task  # validation is idempotent


def test_validation_fills_in_the_derived_knobs():
    task = GAUNTLET_TASK_SPACE.validate({"ascension": 4})
    assert task["max_hp"] == 62
    assert task["starting_deck"] == ["Strike"] * 5 + ["Defend"] * 4 + ["Bash"]
    assert len(task["card_pool"]) == N_CARDS - 3


def test_primitive_action_names_cover_the_action_space():
    assert len(PRIMITIVE_ACTIONS) == N_ACTIONS == len(set(PRIMITIVE_ACTIONS))
    assert PRIMITIVE_ACTIONS[END_TURN] == "end turn"
    assert PRIMITIVE_ACTIONS[UPGRADE_AT] == "upgrade Strike"


# ---------------------------------------------------------------------- determinism
def _trace(seed, actions_seed, task):
    run = Run(task, np.random.default_rng(seed), record=True)
    pick = np.random.default_rng(actions_seed)
    trace = []
    while not run.over:
        legal = run.legal_indices()
        action = legal[int(pick.integers(len(legal)))]
        run.step(action)
        trace.append((action, run.vector().tobytes(), tuple(run.take_events())))
    return trace, run.metrics()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_seed_and_actions_give_identical_runs(seed):
    task = {"fights": 5, "enemy_set": "standard", "max_hp": 150, "rest_every": 2}
    first, metrics = _trace(seed, 100 + seed, task)
    second, again = _trace(seed, 100 + seed, task)
    assert first == second and metrics == again
    assert len(first) > 20
    other, _ = _trace(seed + 10, 100 + seed, task)
    assert other != first


def test_a_copy_plays_on_independently_and_identically():
    run = Run({"fights": 3, "max_hp": 200}, np.random.default_rng(4))
    random_play_steps = np.random.default_rng(9)
    for _ in range(15):
        legal = run.legal_indices()
        run.step(legal[int(random_play_steps.integers(len(legal)))])
    twin = run.copy()
    frozen = run.vector()
    pick_a, pick_b = np.random.default_rng(1), np.random.default_rng(1)
    random_play(twin, pick_b)
    np.testing.assert_array_equal(run.vector(), frozen)
    random_play(run, pick_a)
    assert run.metrics() == twin.metrics()
    np.testing.assert_array_equal(run.vector(), twin.vector())
