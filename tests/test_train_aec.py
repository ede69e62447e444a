"""Turn-based (PettingZoo AEC) envs in the PPO trainer: the row batch, its GAE, training."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pettingzoo
import pytest
import torch
from gymnasium import spaces
from pettingzoo import AECEnv

import palaestra  # noqa: F401  (registers the envs)
from palaestra.envs.holdem.engine import ACTIONS
from palaestra.train.aec import AECEnvBatch, is_turn_based
from palaestra.train.callbacks import Callback
from palaestra.train.config import PPOConfig, TrainConfig
from palaestra.train.envs import is_multi_agent, make_env_batch, resolve_env_id
from palaestra.train.ppo import train
from palaestra.train.storage import RolloutStorage

HOLDEM = "palaestra/holdem-v0"
BIG_BLIND = 2  # the default task's big blind, in chips
TINY_PPO = PPOConfig(num_steps=64, num_minibatches=2, update_epochs=1, hidden_sizes=(32,))


def play(batch: AECEnvBatch, steps: int, seed: int, check=None) -> tuple[Any, list[Any]]:
    """Reset ``batch`` and step it with random legal actions: (reset batch, step batches).

    ``check(batch, before, state, result)`` runs after each step, with the batch the actions
    came from and ``state`` = (copies pending a reset, each copy's agent_selection) before it.
    """
    rng = np.random.default_rng(seed)
    before = first = batch.reset(seed)
    results = []
    for _ in range(steps):
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in before.action_mask])
        state = (batch._pending_reset.copy(), [env.agent_selection for env in batch.envs])
        result = batch.step(actions)
        if check is not None:
            check(batch, before, state, result)
        results.append(result)
        before = result
    return first, results


# ---------------------------------------------------------------------------------------------
# The batch on hold'em
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("players", [2, 3])
def test_exactly_the_agent_on_turn_acts_in_each_env_copy(players):
    batch = make_env_batch(HOLDEM, 3, env_kwargs={"num_players": players})
    assert isinstance(batch, AECEnvBatch)
    assert batch.num_rows == 3 * players and batch.obs_dim == batch.feature_dim + players
    seen = {"steps": 0, "resets": 0}

    def check(batch, before, state, result):
        pending, selected = state
        assert not (result.valid & result.waiting).any()
        for e in range(3):
            rows = slice(e * players, (e + 1) * players)
            valid, waiting = result.valid[rows], result.waiting[rows]
            if pending[e]:  # the step after the episode ended only resets
                seen["resets"] += 1
                assert not valid.any() and not waiting.any()
                assert not result.rewards[rows].any()
                continue
            seen["steps"] += 1
            assert valid.sum() == 1
            assert batch.agents[int(np.flatnonzero(valid)[0])] == selected[e]
            assert waiting.sum() == players - 1  # one hand per episode: everyone is in it
            # The observation a row acted from carries its id and, on turn, the env's mask.
            j = int(np.flatnonzero(valid)[0])
            ids = before.obs[e * players + j, -players:]
            assert ids.tolist() == np.eye(players)[j].tolist()
        for e in range(3):
            if batch._pending_reset[e]:
                continue
            env, j = batch.envs[e], batch.agents.index(batch.envs[e].agent_selection)
            mask = env.observe(env.agent_selection)["action_mask"].astype(bool)
            assert result.action_mask[e * players + j].tolist() == mask.tolist()
            others = [k for k in range(players) if k != j]
            assert result.action_mask[[e * players + k for k in others]].all()

    play(batch, 300, seed=0, check=check)
    assert seen["resets"] >= 10 and seen["steps"] >= 500


@pytest.mark.parametrize("players", [2, 3])
def test_rewards_are_the_engines_chip_changes_in_big_blinds(players):
    batch = make_env_batch(HOLDEM, 2, env_kwargs={"num_players": players})
    _, results = play(batch, 400, seed=1)
    totals = np.zeros(batch.num_rows)
    hands = 0
    for result in results:
        totals += result.rewards
        by_env: dict[int, list] = {}
        for record in result.episodes:
            by_env.setdefault(record.env_index, []).append(record)
        assert sorted(by_env) == sorted(result.ended_envs)
        for e, records in by_env.items():
            assert [r.agent for r in records] == batch.agents
            rows = slice(e * players, (e + 1) * players)
            for record, total in zip(records, totals[rows], strict=True):
                assert record.episode_return == pytest.approx(total)
                assert record.episode_return == pytest.approx(
                    record.metrics["net_chips"] / BIG_BLIND
                )
            assert sum(r.metrics["net_chips"] for r in records) == 0  # zero-sum
            totals[rows] = 0.0
            hands += 1
    assert hands >= 20


def test_a_waiting_row_carries_its_payout_and_gae_credits_its_last_turn():
    # Heads-up, scripted: the button (small blind) calls, the big blind checks; on the flop
    # the big blind bets the minimum and the button folds. The big blind's payout (+1 big
    # blind: the button's call) arrives while it waits, and its last turn gets the credit.
    batch = make_env_batch(HOLDEM, 1)
    first = batch.reset(5)
    button = int(np.flatnonzero(first.valid)[0])
    blind = 1 - button
    script = [ACTIONS.index(a) for a in ("check_call", "check_call", "raise_min", "fold")]
    on_turn = [button, blind, blind, button]
    storage = RolloutStorage(5, 2, batch.obs_dim, (), torch.int64, "cpu", mask_dim=6)
    values = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8], [0.9, 1.0]])
    obs, mask = first.obs, first.action_mask
    for t in range(5):
        action = script[t] if t < 4 else 0
        result = batch.step(np.full(2, action))
        if t < 4:
            assert result.valid.tolist() == [k == on_turn[t] for k in range(2)]
            assert result.waiting.tolist() == [k != on_turn[t] for k in range(2)]
        else:  # the reset step
            assert not result.valid.any() and not result.waiting.any()
        storage.insert(
            t, obs=obs, actions=np.zeros(2, np.int64), logprobs=np.zeros(2), values=values[t],
            rewards=result.rewards, terminated=result.terminated, truncated=result.truncated,
            valid=result.valid, action_masks=mask, waiting=result.waiting,
        )  # fmt: skip
        obs, mask = result.obs, result.action_mask
    assert result.ended_envs == [] and batch._pending_reset.tolist() == [False]
    assert storage.rewards[3, button] == -1.0 and storage.rewards[3, blind] == 1.0
    assert storage.waiting[3, blind] and storage.terminated[3].all()
    storage.compute_returns(np.zeros(2), 1.0, 1.0)
    adv = storage.advantages.numpy()
    v = values
    # Button: turns 0 and 3 (fold: -1, terminal). A_3 = -1 - V_3; A_0 = 0 + V_3 - V_0 + A_3.
    assert adv[3, button] == pytest.approx(-1.0 - v[3, button])
    assert adv[0, button] == pytest.approx(-1.0 - v[0, button])
    # Big blind: turns 1 and 2; its payout +1 arrives at step 3 while it waits.
    assert adv[2, blind] == pytest.approx(1.0 - v[2, blind])
    assert adv[1, blind] == pytest.approx(1.0 - v[1, blind])
    assert adv[[1, 2], button].tolist() == [0.0, 0.0] and adv[[0, 3], blind].tolist() == [0, 0]


def test_resets_use_the_parallel_batchs_seeds():
    # reset(seed): copy e gets seed + e; the k-th autoreset of the batch seeds copy e with
    # seed + num_envs * k + e, as ParallelEnvBatch does. Every live row shows its agent's
    # own observation, so each row can be compared with a reference env.
    batch = make_env_batch(HOLDEM, 2)

    def assert_dealt_like(result, e, seed):
        reference = pettingzoo.make("aec", HOLDEM)
        reference.reset(seed=seed)
        for j, name in enumerate(batch.agents):
            flat, _ = batch.layouts[j].flatten(
                {k: np.asarray(v)[None] for k, v in reference.observe(name).items()}
            )
            assert result.obs[e * 2 + j, : batch.feature_dim].tolist() == flat[0].tolist()

    first, results = play(batch, 80, seed=7)
    assert_dealt_like(first, 0, 7)
    assert_dealt_like(first, 1, 8)
    resets = 0
    for t, result in enumerate(results[:-1]):
        for e in result.ended_envs:
            resets += 1
            assert_dealt_like(results[t + 1], e, 7 + 2 * resets + e)
    assert resets >= 6


def test_same_seed_same_steps():
    def run(seed):
        batch = make_env_batch(HOLDEM, 2, env_kwargs={"num_players": 3})
        return play(batch, 250, seed=seed)[1]

    first, again, other = run(3), run(3), run(4)
    for a, b in zip(first, again, strict=True):
        for name in ("obs", "action_mask", "rewards", "terminated", "truncated", "valid"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(a.waiting, b.waiting) and a.ended_envs == b.ended_envs
        assert [dataclasses.astuple(r) for r in a.episodes] == [
            dataclasses.astuple(r) for r in b.episodes
        ]
    assert any(not np.array_equal(a.obs, b.obs) for a, b in zip(first, other, strict=True))


# ---------------------------------------------------------------------------------------------
# Ids and refusals
# ---------------------------------------------------------------------------------------------


def test_aec_ids_resolve_and_are_multi_agent():
    assert resolve_env_id(HOLDEM) == HOLDEM
    assert is_multi_agent(HOLDEM) and is_turn_based(HOLDEM)
    assert is_multi_agent("palaestra/carry-v0") and not is_turn_based("palaestra/carry-v0")
    assert not is_turn_based("butterfly/pistonball-v6")  # in both registries: Parallel
    assert not is_multi_agent("palaestra/Holdem-v0")
    with pytest.raises(ValueError, match=r"Parallel or AEC env.*did you mean palaestra/holdem-v0"):
        resolve_env_id("palaestra/holdem-v9")


def test_unsupported_settings_and_spaces_are_refused_clearly():
    with pytest.raises(ValueError, match=r"turn-based.*centralised critic"):
        make_env_batch(HOLDEM, 1, centralized_critic=True)
    with pytest.raises(ValueError, match=r"turn-based.*vector_mode='async' is not supported"):
        make_env_batch(HOLDEM, 1, vector_mode="async")
    with pytest.raises(ValueError, match=r"PettingZoo AEC env the trainer cannot run.*Text"):
        make_env_batch(HOLDEM, 1, env_kwargs={"obs_mode": "text"})


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------


def _config(tmp_path, **overrides) -> TrainConfig:
    base = TrainConfig(
        env_id=HOLDEM, total_timesteps=1024, num_envs=2, seed=0, run_dir=tmp_path / "run",
        eval_episodes=0, video=False, quiet=True, ppo=TINY_PPO,
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


@pytest.mark.parametrize("players", [2, 3])
def test_ppo_trains_on_holdem_and_writes_a_checkpoint(tmp_path, players):
    result = train(_config(tmp_path, env_kwargs={"num_players": players}))
    assert result.checkpoint.is_file()
    assert result.global_step >= 1024


def test_cli_trains_holdem_and_the_run_plays_every_seat(tmp_path):
    import json

    from palaestra.agents import agents_from_run
    from palaestra.cli import main
    from palaestra.train.evaluate import evaluate_agents, evaluation_seeds

    run_dir = tmp_path / "cli"
    main(
        ["train", HOLDEM, "--total-timesteps", "512", "--num-envs", "2", "--quiet",
         "--eval-episodes", "4", "--no-video", "--run-dir", str(run_dir)]
    )  # fmt: skip
    assert list((run_dir / "checkpoints").glob("*.safetensors"))
    evaluation = json.loads((run_dir / "eval.json").read_text())
    assert evaluation["episodes"] == 4
    by_hand: dict[int, float] = {}
    for record in evaluation["records"]:
        by_hand[record["episode"]] = by_hand.get(record["episode"], 0.0) + record["return"]
    assert by_hand and all(abs(total) < 1e-9 for total in by_hand.values())  # zero-sum
    team = agents_from_run(run_dir)
    assert sorted(team) == ["player_0", "player_1"]
    again = evaluate_agents(HOLDEM, team, seeds=evaluation_seeds(json.loads(
        (run_dir / "config.json").read_text())["seed"], 4))  # fmt: skip
    assert again["records"] == evaluation["records"]


class CuedTurns(AECEnv):
    """Two agents take turns ``rounds`` times; each sees a cue bit and should repeat it.

    Each round ``first`` acts, then ``second``; only after ``second`` has acted do both get
    their reward for the round (1 for the right answer), so ``first`` is always waiting when
    its reward arrives: it can learn only if GAE passes waiting steps through. The agents
    see their cues on separate inputs, so ``first`` cannot borrow what the shared policy
    learns as ``second``.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "cued_turns_v0",
        "render_modes": [],
        "is_parallelizable": False,
    }

    def __init__(self, rounds: int = 3) -> None:
        super().__init__()
        self.rounds = rounds
        self.possible_agents = ["first", "second"]
        self._obs_space = spaces.Box(0.0, 1.0, (4,), np.float32)
        self._act_space = spaces.Discrete(2)
        self.np_random = np.random.default_rng()

    def observation_space(self, agent):
        return self._obs_space

    def action_space(self, agent):
        return self._act_space

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {} for a in self.agents}
        self.cues = {a: int(self.np_random.integers(2)) for a in self.agents}
        self.pending: dict[str, float] = {}
        self.round = 0
        self.agent_selection = "first"

    def observe(self, agent):
        obs = np.zeros(4, np.float32)
        obs[2 * self.possible_agents.index(agent) + self.cues[agent]] = 1.0
        return obs

    def step(self, action):
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        self._cumulative_rewards[agent] = 0.0
        self.pending[agent] = float(int(action) == self.cues[agent])
        self.rewards = {a: 0.0 for a in self.agents}
        if agent == "first":
            self.agent_selection = "second"
        else:
            self.rewards = dict(self.pending)
            self.round += 1
            self.cues = {a: int(self.np_random.integers(2)) for a in self.agents}
            self.agent_selection = "first"
            if self.round == self.rounds:
                self.terminations = {a: True for a in self.agents}
        self._accumulate_rewards()


if "palaestra-test/cued-turns-v0" not in pettingzoo.aec_registry:
    pettingzoo.register("aec", "palaestra-test/cued-turns-v0", CuedTurns)


class Returns(Callback):
    def __init__(self) -> None:
        self.returns: dict[str, list[float]] = {"first": [], "second": []}

    def on_episode_end(self, state, episode) -> None:
        self.returns[episode.agent].append(episode.episode_return)


def test_ppo_learns_from_rewards_that_arrive_while_waiting(tmp_path):
    returns = Returns()
    config = _config(
        tmp_path, env_id="palaestra-test/cued-turns-v0", total_timesteps=12_000, num_envs=4,
        ppo=dataclasses.replace(TINY_PPO, learning_rate=3e-3, update_epochs=4, gamma=0.9),
    )  # fmt: skip
    train(config, [returns])
    for agent in ("first", "second"):
        early, late = returns.returns[agent][:50], returns.returns[agent][-50:]
        assert np.mean(early) < 2.4, agent  # chance: 1.5 of 3
        assert np.mean(late) > 2.7, agent
