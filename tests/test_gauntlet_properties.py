"""Invariants of the Gauntlet engine over 10,000 short random runs.

Each run is a random task (1-3 fights, any enemy set and ascension, small HP so runs are
short) played by random legal actions. After every action: HP stays within [0, max], in
combat the piles hold every card of the deck exactly once (draw + hand + discard + exhaust
+ powers = deck), energy and block are never negative, the counters never go down, the mask
agrees with the legal actions and leaves at least one until the run ends, and a masked-out
action is refused with a ``ValueError`` naming it and the legal ones (and changes nothing).
Every few states each legal action is also applied to a copy of the run.
"""

from __future__ import annotations

import numpy as np
import pytest

from palaestra.envs.gauntlet.engine import COMBAT, Run, RunOverError
from palaestra.envs.gauntlet.rules import DURATION_STATUSES, HAND_MAX
from palaestra.envs.gauntlet.task import GAUNTLET_TASK_SPACE
from palaestra.envs.gauntlet.vocabulary import N_ACTIONS

RUNS = 10_000
SETS = ("starter", "standard", "elites", "boss")


def random_task(rng: np.random.Generator) -> dict:
    """Mostly short, deadly runs; one in ten a longer one that reaches rewards and rests."""
    if rng.random() < 0.1:
        return {"fights": 3, "enemy_set": "starter", "max_hp": 70, "rest_every": 1}
    enemy_set = SETS[int(rng.integers(len(SETS)))]
    return {
        "fights": int(rng.integers(1, 4)),
        "enemy_set": enemy_set,
        "ascension": int(rng.integers(0, 11)),
        "rest_every": int(rng.integers(0, 3)),
        "max_hp": int(rng.integers(1, 41)),
        "pool_seed": None if rng.random() < 0.5 else int(rng.integers(2**32)),
    }


def check_state(run: Run, before: tuple) -> tuple:
    player = run.player
    assert 0 <= player.hp <= player.max_hp and player.block >= 0
    for enemy in run.enemies:
        assert 0 <= enemy.hp <= enemy.max_hp and enemy.block >= 0
        assert all(enemy.status[s] >= 0 for s in DURATION_STATUSES)
    assert all(player.status[s] >= 0 for s in DURATION_STATUSES)
    piles = run.piles()
    held = [i for pile in piles.values() for i in pile]
    if run.phase == COMBAT:
        assert sorted(held) == list(range(len(run.deck)))
        assert run.energy >= 0 and len(run.hand) <= HAND_MAX
    else:
        assert held == []
    s = run.stats
    counters = (s.fights_won, s.turns, s.cards_played, s.damage_dealt, s.damage_taken, run.floor)
    assert all(a >= b for a, b in zip(counters, before, strict=True))
    return counters


def check_illegal(run: Run, mask: np.ndarray, rng: np.random.Generator) -> None:
    illegal = np.flatnonzero(mask == 0)
    action = int(illegal[int(rng.integers(len(illegal)))])
    name = run.action_name(action)
    before = run.vector()
    with pytest.raises(ValueError) as err:
        run.step(action)
    message = str(err.value)
    assert f"action {action} ({name}) is not legal" in message
    legal = run.legal_actions()
    first = next(iter(legal))
    assert f"{first} ({legal[first]})" in message
    np.testing.assert_array_equal(run.vector(), before)


def test_random_runs_keep_every_invariant():
    rng = np.random.default_rng(2024)
    steps = wins = rewards = rests = 0
    for k in range(RUNS):
        task = random_task(rng)
        run = Run(task, np.random.default_rng(k))
        counters = check_state(run, (0,) * 6)
        while not run.over:
            mask = run.legal_mask()
            legal = run.legal_indices()
            assert legal and list(np.flatnonzero(mask)) == legal
            if steps % 8 == 0:
                check_illegal(run, mask, rng)
            if steps % 50 == 0:
                for action in legal:
                    run.copy().step(action)
            run.step(legal[int(rng.integers(len(legal)))])
            rewards += run.phase_name == "reward"
            rests += run.phase_name == "rest"
            counters = check_state(run, counters)
            steps += 1
        wins += run.won
        with pytest.raises(RunOverError):
            run.step(int(rng.integers(N_ACTIONS)))
    # The sample reaches every part of a run.
    assert steps > 8 * RUNS and wins > 300 and rewards > 1000 and rests > 500
    assert GAUNTLET_TASK_SPACE.contains(random_task(rng))
