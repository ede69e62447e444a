"""Each scheduler does what its definition says, on synthetic learners with known success.

Expected numbers come from the schedulers' definitions (the formulas in their docstrings);
the learners are palaestra.curriculum.ToyLearner (success a logistic function of practice)
or small deterministic learners written here.
"""

from __future__ import annotations

import numpy as np
import pytest

from palaestra.curriculum import DiscreteTaskSpace, ToyLearner, band_of, make, train_toy


def _levels(difficulties):
    return DiscreteTaskSpace([{"level": i} for i in range(len(difficulties))], difficulties)


def _play(scheduler, space, success_of, episodes):
    """Play single episodes; return (index, band after the update, success) per episode."""
    out = []
    for _ in range(episodes):
        (task,) = scheduler.sample(1)
        index = space.index(task)
        success = success_of(index)
        scheduler.update_on_episode(task, success=success, episode_return=success, length=1)
        out.append((index, getattr(scheduler, "band", None), success))
    return out


@pytest.mark.parametrize("name", ["sequential", "anti"])
def test_sequential_and_anti_promote_band_by_band_when_the_window_passes(name):
    difficulties = np.linspace(0.0, 1.0, 10)
    space = _levels(difficulties.tolist())
    window, threshold = 20, 0.8
    scheduler = make(name, space, seed=1, num_bands=5, window=window, threshold=threshold)
    learner = ToyLearner(difficulties, seed=2)
    history = _play(scheduler, space, learner.play, 3000)
    bands = [band_of(d, 5) for d in difficulties]
    expected_order = [0, 1, 2, 3, 4] if name == "sequential" else [4, 3, 2, 1, 0]
    assert bands[history[0][0]] == expected_order[0]
    visited = [expected_order[0]]
    recent: list[float] = []
    for index, band_after, success in history:
        current = visited[-1]
        assert bands[index] == current, "with replay=0 every task comes from the current band"
        recent.append(success)
        passed = len(recent) >= window and np.mean(recent[-window:]) >= threshold
        if passed and current != expected_order[-1]:
            assert band_after == expected_order[len(visited)]
            visited.append(band_after)
            recent = []
        else:
            assert band_after == current
    assert visited == expected_order


def test_sequential_replays_earlier_bands_at_the_configured_share():
    space = _levels(np.linspace(0.0, 1.0, 10).tolist())
    scheduler = make("sequential", space, seed=0, num_bands=5, window=5, replay=0.25)
    for _ in range(5):
        scheduler.update_on_episode({"level": 0}, success=1.0, episode_return=1.0, length=3)
    for _ in range(5):
        scheduler.update_on_episode({"level": 2}, success=1.0, episode_return=1.0, length=3)
    assert scheduler.band == 2
    p = scheduler.probabilities()
    assert np.allclose(p, [0.0625] * 4 + [0.375] * 2 + [0.0] * 4)
    bands = [band_of(space.difficulties[space.index(t)], 5) for t in scheduler.sample(4000)]
    assert np.mean(np.array(bands) < 2) == pytest.approx(0.25, abs=0.03)
    assert set(bands) == {0, 1, 2}


def test_medium_puts_twice_uniforms_share_on_tasks_solved_about_half_the_time():
    difficulties = np.linspace(0.0, 1.0, 20)
    space = _levels(difficulties.tolist())
    shares = {}
    for name in ("uniform", "medium"):
        mid = []
        for seed in range(3):
            learner = ToyLearner(
                difficulties, seed=10 + seed, need_easy=-300, need_hard=700, width=50, transfer=0.2
            )
            history = train_toy(make(name, space, seed=seed), learner, 1000, batch=8)
            mid += [0.25 <= p <= 0.75 for _, p, _ in history]
        shares[name] = np.mean(mid)
    assert shares["uniform"] > 0.05
    assert shares["medium"] >= 2.0 * shares["uniform"]


def test_medium_weights_follow_the_smoothed_variance():
    space = _levels([0.0, 0.5, 1.0])
    scheduler = make("medium", space, seed=0, prior=1.0, temperature=0.5, epsilon=0.05)
    for _ in range(4):
        scheduler.update_on_episode({"level": 0}, success=1.0, episode_return=0.0, length=1)
    scheduler.update_on_episode({"level": 2}, success=1.0, episode_return=0.0, length=1)
    scheduler.update_on_episode({"level": 2}, success=0.0, episode_return=0.0, length=1)
    # p = (4.5 / 5, 0.5 / 1, 1.5 / 3) = (0.9, 0.5, 0.5); w = (p (1 - p)) ** 2
    w = np.array([0.09**2, 0.25**2, 0.25**2])
    assert np.allclose(scheduler.success_estimate(), [0.9, 0.5, 0.5])
    assert np.allclose(scheduler.probabilities(), 0.95 * w / w.sum() + 0.05 / 3)


def _plr_with_history(**knobs):
    space = _levels([0.0, 0.25, 0.5, 0.75, 1.0])
    plr = make("plr", space, seed=5, **knobs)
    history = []
    for index, score in [(0, 0.5), (1, 2.0), (2, 1.0), (3, 1.0)]:
        plr.update_on_score({"level": index}, score)
    for _ in range(7):
        history.append(space.index(plr.sample(1)[0]))
    return plr, history


def _expected_plr(scores, history, temperature, rho):
    """P over seen tasks from the definition: rank prioritisation mixed with staleness."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    h = (1.0 / ranks) ** (1.0 / temperature)
    c = len(history)
    last = [
        max((t + 1 for t, i in enumerate(history) if i == s), default=0) for s in range(len(scores))
    ]
    stale = np.array([c - last_i for last_i in last], dtype=float)
    return (1.0 - rho) * h / h.sum() + rho * stale / stale.sum()


def test_plr_distribution_matches_rank_and_staleness_formula():
    plr, history = _plr_with_history(temperature=0.5, rho=0.3, replay_prob=0.8)
    replay = _expected_plr([0.5, 2.0, 1.0, 1.0], history, 0.5, 0.3)
    # four of five tasks seen: replay with 0.8, else the one unseen task
    assert np.allclose(plr.probabilities(), np.append(0.8 * replay, 0.2))
    plr.update_on_episode({"level": 4}, success=0.0, episode_return=0.0, length=1)
    everything = _expected_plr([0.5, 2.0, 1.0, 1.0, 0.0], history, 0.5, 0.3)
    assert np.allclose(plr.probabilities(), everything)


def test_plr_prefers_high_scores_and_mixes_stale_tasks_at_rate_rho():
    space = _levels([0.0, 0.25, 0.5, 0.75])
    plr = make("plr", space, seed=0, temperature=1.0, rho=0.0)
    for index in range(4):
        plr.update_on_score({"level": index}, float(index))
    counts = np.bincount([space.index(t) for t in plr.sample(4000)], minlength=4)
    h = 1.0 / np.array([4.0, 3.0, 2.0, 1.0])
    assert np.allclose(counts / 4000, h / h.sum(), atol=0.03)
    assert list(np.argsort(counts)) == [0, 1, 2, 3]

    rho = 0.2
    plr = make("plr", space, seed=0, temperature=0.05, rho=rho)
    for index in range(4):
        plr.update_on_score({"level": index}, float(index))
    drawn = np.array([space.index(t) for t in plr.sample(4000)])
    # P_S puts all but (1/2) ** 20 on the top task; the rho share goes by staleness, which the
    # top task, drawn nearly every time, hardly has.
    assert np.mean(drawn != 3) == pytest.approx(rho, abs=0.03)
    for stale_task in range(3):
        assert np.mean(drawn == stale_task) == pytest.approx(rho / 3, abs=0.02)


def test_plr_samples_unseen_tasks_when_not_replaying():
    space = _levels([0.0, 0.5, 1.0])
    plr = make("plr", space, seed=0, replay_prob=0.0)
    assert np.allclose(plr.probabilities(), 1.0 / 3)
    plr.update_on_score({"level": 1}, 3.0)
    assert {space.index(t) for t in plr.sample(200)} == {0, 2}
    default = make("plr", space, seed=0, rho=0.0)
    default.update_on_score({"level": 1}, 3.0)
    assert np.allclose(default.probabilities(), [1 / 3, 1 / 3, 1 / 3])


def test_adcl_reorders_by_recent_success_not_static_difficulty():
    space = _levels([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    adcl = make("adcl", space, seed=3, batch_size=2, interval=60, explore=0.5, prior=2.0)
    solves = {0: 1.0, 1: 1.0, 2: 0.0, 3: 0.0, 4: 0.0, 5: 1.0}
    history = _play(adcl, space, solves.__getitem__, 60)
    assert adcl.position == 2
    counts = np.bincount([i for i, _, _ in history], minlength=6)
    static = space.difficulties
    estimate = {
        i: (counts[i] * (1.0 - solves[i]) + 2.0 * static[i]) / (counts[i] + 2.0)
        for i in range(2, 6)
    }
    assert adcl.order == [0, 1, *sorted(estimate, key=lambda i: (estimate[i], i))]
    assert adcl.order.index(5) < min(adcl.order.index(i) for i in (2, 3, 4))
    assert 5 in adcl.batch().tolist()


def test_adcl_with_a_probe_follows_the_learners_current_success():
    static = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    space = _levels(static)
    learner = ToyLearner([0.0, 0.2, 0.4, 0.6, 0.8, 0.05], seed=0)
    probed = []

    def probe(tasks):
        probed.append(([space.index(t) for t in tasks], learner.success_probs()))
        return [learner.success_prob(space.index(t)) for t in tasks]

    adcl = make("adcl", space, seed=0, batch_size=1, interval=40, explore=0.0, probe=probe)
    assert adcl.order == [0, 1, 2, 3, 4, 5]
    train_toy(adcl, learner, 40)
    ((indices, p),) = probed
    assert indices == [1, 2, 3, 4, 5]
    assert adcl.order == [0, *sorted(indices, key=lambda i: (1.0 - p[i], indices.index(i)))]
    assert adcl.order[1] == 5 and adcl.batch().tolist() == [5]


def test_cyclical_share_follows_its_cycle():
    difficulties = [0.7, 0.1, 0.9, 0.3, 0.5, 0.2, 0.8, 0.6]
    space = _levels(difficulties)
    cyc = make("cyclical", space, seed=0, phase_length=200)
    assert cyc.cycle == [0.25, 0.5, 1.0, 0.5]
    easiest = [1, 5, 3, 4, 7, 0, 6, 2]
    shares = [0.25, 0.5, 1.0, 0.5, 0.25, 0.5]
    for phase, share in enumerate(shares):
        assert cyc.phase == phase and cyc.share == share
        drawn = {space.index(t) for t in cyc.sample(200)}
        assert drawn == set(easiest[: int(share * 8)])
    other = make("cyclical", space, start_share=0.125, end_share=0.5, multiplier=0.5)
    assert other.cycle == [0.125, 0.25, 0.5, 0.25]


def test_learning_progress_concentrates_on_the_task_whose_success_changes():
    space = _levels([0.0, 0.3, 0.6, 1.0])
    practice = np.zeros(4)

    def success_of(index):
        practice[index] += 1
        return [0.0, 1.0, 1.0, min(1.0, practice[3] / 200.0)][index]

    lp = make("learning_progress", space, seed=0, epsilon=0.1)
    history = _play(lp, space, success_of, 1000)
    drawn = np.array([i for i, _, _ in history])
    first = int(np.argmax(drawn == 3))
    later = drawn[first + 1 :]
    # LP is exactly 0 on the constant tasks, so task 3 gets (1 - eps) + eps / 4 = 0.925.
    assert np.mean(later == 3) == pytest.approx(0.925, abs=0.03)
    assert np.allclose(lp.progress()[:3], 0.0)


def test_learning_progress_values_follow_the_two_moving_averages():
    space = _levels([0.0, 1.0])
    lp = make("learning_progress", space, seed=0, fast_rate=0.1, slow_rate=0.1, epsilon=0.2)
    assert np.allclose(lp.probabilities(), [0.5, 0.5])
    lp.update_on_episode({"level": 1}, success=0.0, episode_return=0.0, length=1)
    lp.update_on_episode({"level": 1}, success=1.0, episode_return=1.0, length=1)
    # fast = 0 + 0.1 * (1 - 0) = 0.1, slow = 0 + 0.1 * (0.1 - 0) = 0.01
    assert lp.progress()[1] == pytest.approx(0.09)
    assert np.allclose(lp.probabilities(), [0.1, 0.9])


def test_uniform_spreads_evenly():
    space = _levels([0.0, 0.5, 1.0])
    counts = np.bincount([space.index(t) for t in make("uniform", space).sample(3000)])
    assert np.allclose(counts / 3000, 1 / 3, atol=0.03)
