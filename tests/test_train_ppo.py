"""The PPO trainer end to end: learning, determinism, resume, masks, multi-agent, bad input."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch

import palaestra  # noqa: F401  (registers the envs)
from palaestra.agents.policies import ActorCritic
from palaestra.agents.spaces import action_spec, obs_layout
from palaestra.cli import main
from palaestra.train.callbacks import Callback
from palaestra.train.checkpoint import list_checkpoints, load_checkpoint
from palaestra.train.config import PPOConfig, TrainConfig
from palaestra.train.defaults import defaults_for
from palaestra.train.envs import make_env_batch
from palaestra.train.ppo import TrainingDiverged, load_policy, train

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------ toy envs
class MaskedChoice(gym.Env):
    """Pick one of 6 actions; only those in the mask are legal. Reward 1 for action 5."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self):
        self.observation_space = gym.spaces.Dict(
            {
                "observation": gym.spaces.Box(0, 1, (3,), np.float32),
                "action_mask": gym.spaces.MultiBinary(6),
            }
        )
        self.action_space = gym.spaces.Discrete(6)
        self.illegal = 0
        self.steps = 0

    def _obs(self):
        mask = np.zeros(6, np.int8)
        mask[self.np_random.choice(6, size=3, replace=False)] = 1
        self.mask = mask
        return {"observation": self.np_random.random(3).astype(np.float32), "action_mask": mask}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        if not self.mask[int(action)]:
            self.illegal += 1
            MaskedChoice.total_illegal += 1
        self.steps += 1
        reward = 1.0 if int(action) == 5 else 0.0
        return self._obs(), reward, False, self.steps >= 10, {}


MaskedChoice.total_illegal = 0


class ExplodingReward(gym.Env):
    """A one-dimensional env whose rewards become NaN after ``healthy`` steps."""

    def __init__(self, healthy: int = 600):
        self.observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.healthy = healthy
        self.count = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.count += 1
        reward = float("nan") if self.count > self.healthy else 1.0
        return np.zeros(2, np.float32), reward, False, self.count % 20 == 0, {}


class TextObs(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Text(10)
        self.action_space = gym.spaces.Discrete(2)


gym.register("palaestra-test/MaskedChoice-v0", entry_point=MaskedChoice)
gym.register("palaestra-test/ExplodingReward-v0", entry_point=ExplodingReward)
gym.register("palaestra-test/TextObs-v0", entry_point=TextObs)


def _config(tmp_path, env_id="CartPole-v1", **kwargs):
    ppo = kwargs.pop("ppo", {})
    base = dict(
        env_id=env_id, total_timesteps=2048, num_envs=2, seed=3, run_dir=tmp_path / "run",
        quiet=True, eval_episodes=0, video=False,
    )  # fmt: skip
    base.update(kwargs)
    return TrainConfig(**base, ppo=PPOConfig(**{"num_steps": 64, **ppo}))


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).tensors


# -------------------------------------------------------------------------- learning
@pytest.mark.slow
def test_cartpole_is_solved_within_150k_steps(tmp_path):
    # CartPole's defaults from the package's table, as `palaestra train CartPole-v1` uses.
    config = dataclasses.replace(
        defaults_for("CartPole-v1"), total_timesteps=150_000, seed=1, run_dir=tmp_path / "cp",
        quiet=True, eval_episodes=10, video=False,
    )  # fmt: skip
    result = train(config)
    assert result.evaluation["mean_return"] >= 475.0, result.evaluation["mean_return"]
    records = [json.loads(line) for line in (tmp_path / "cp" / "metrics.jsonl").open()]
    assert records[-1]["global_step"] == result.global_step >= 150_000
    # Training returns improved along the way, not just at the end.
    returns = [r["episodic_return"] for r in records if r["episodic_return"] is not None]
    assert np.mean(returns[-5:]) > 5 * np.mean(returns[:5])


def test_run_folder_contents(tmp_path):
    result = train(_config(tmp_path, eval_episodes=2, video=True, total_timesteps=1024))
    run = result.run_dir
    for name in ("config.json", "metrics.jsonl", "eval.json", "training.png", "final_policy.mp4"):
        assert (run / name).is_file(), name
    assert any((run / "tb").iterdir())
    config = json.loads((run / "config.json").read_text())
    assert config["env_id"] == "CartPole-v1" and config["ppo"]["num_steps"] == 64
    records = [json.loads(line) for line in (run / "metrics.jsonl").open()]
    assert len(records) == result.updates == 8  # 1024 steps / (64 x 2)
    keys = ["global_step", "sps", "episodic_return", "episodic_length", "value_loss"]
    keys += ["policy_loss", "entropy", "approx_kl", "clipfrac", "explained_variance"]
    for key in keys:
        assert key in records[-1], key
    assert [r["global_step"] for r in records] == [128 * (i + 1) for i in range(8)]
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["episodes"] == 2 and evaluation["mean_return"] > 0
    assert list_checkpoints(run / "checkpoints")[-1].name == "step_000000001024.safetensors"


def test_same_seed_same_losses_and_weights(tmp_path):
    a = train(_config(tmp_path / "a", total_timesteps=512))
    b = train(_config(tmp_path / "b", total_timesteps=512))
    c = train(_config(tmp_path / "c", total_timesteps=512, seed=4))

    def losses(run):
        rows = [json.loads(line) for line in (run / "metrics.jsonl").open()]
        return [(r["policy_loss"], r["value_loss"], r["entropy"], r["approx_kl"]) for r in rows]

    assert losses(a.run_dir) == losses(b.run_dir)
    assert losses(a.run_dir) != losses(c.run_dir)
    wa, wb = _weights(a.checkpoint), _weights(b.checkpoint)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


# ---------------------------------------------------------------------------- resume
_KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from palaestra.train.callbacks import Callback
    from palaestra.train.config import PPOConfig, TrainConfig
    from palaestra.train.ppo import train

    class Kill(Callback):
        def on_update_end(self, state):
            if state.update == int(sys.argv[2]):
                os.kill(os.getpid(), signal.SIGKILL)

    config = TrainConfig(
        env_id="Pendulum-v1", total_timesteps=4096, num_envs=2, seed=5, run_dir=Path(sys.argv[1]),
        checkpoint_interval=1024, quiet=True, eval_episodes=0, video=False,
        ppo=PPOConfig(num_steps=128, num_minibatches=4, update_epochs=3, ent_coef=0.0,
                      normalize_obs=True, normalize_reward=True, learning_rate=3e-4),
    )
    train(config, [Kill()])
    """
)


def test_killed_run_resumes_to_identical_weights(tmp_path):
    # Uninterrupted reference (a kill point past the end never fires).
    ref = subprocess.run(
        [sys.executable, "-c", _KILLER, str(tmp_path / "ref"), "999"], capture_output=True
    )
    assert ref.returncode == 0, ref.stderr.decode()
    # The same run killed with SIGKILL after update 11 (checkpoints at updates 4 and 8) ...
    killed = subprocess.run(
        [sys.executable, "-c", _KILLER, str(tmp_path / "run"), "11"], capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")][-1] == (
        "step_000000002048.safetensors"
    )
    # ... and resumed from the command line.
    main(["train", "--resume", str(tmp_path / "run"), "--quiet"])
    final_ref = list_checkpoints(tmp_path / "ref" / "checkpoints")[-1]
    final = list_checkpoints(tmp_path / "run" / "checkpoints")[-1]
    assert final.name == final_ref.name == "step_000000004096.safetensors"
    wa, wb = _weights(final_ref), _weights(final)
    assert set(wa) == set(wb) and any(k.startswith("obs_norm.") for k in wa)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    # The resumed run's metrics continue without duplicates.
    steps = [
        json.loads(line)["global_step"] for line in (tmp_path / "run" / "metrics.jsonl").open()
    ]
    assert steps == sorted(set(steps)) and steps[-1] == 4096


def test_corrupt_latest_checkpoint_names_the_file_and_keeps_the_previous(tmp_path):
    config = _config(tmp_path, total_timesteps=1024, checkpoint_interval=256, keep_checkpoints=5)
    train(config)
    checkpoints = list_checkpoints(tmp_path / "run" / "checkpoints")
    latest, previous = checkpoints[-1], checkpoints[-2]
    latest.write_bytes(latest.read_bytes()[:100])
    with pytest.raises(SystemExit, match=latest.name):
        main(["train", "--resume", str(tmp_path / "run"), "--quiet"])
    assert load_checkpoint(previous).step == 768


def test_save_and_load_round_trip(tmp_path):
    kept = {}

    class Keep(Callback):
        def on_training_end(self, state):
            kept["policy"] = copy.deepcopy(state.policy)

    config = _config(
        tmp_path, env_id="Pendulum-v1", total_timesteps=512, ppo={"normalize_obs": True}
    )
    train(config, [Keep()])
    policy, loaded_config, obs_norm = load_policy(tmp_path / "run")
    assert loaded_config == config
    obs = torch.randn(32, 3)
    with torch.no_grad():
        a = kept["policy"].act(obs, deterministic=True).action
        b = policy.act(obs, deterministic=True).action
    assert torch.equal(a, b)
    assert obs_norm is not None and obs_norm.rms.count > 512
    # The optimiser state is in the checkpoint and restores into a fresh Adam.
    state = load_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1]).state
    fresh = torch.optim.Adam(policy.parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimizer"])
    saved_steps = [s["step"] for s in state["optimizer"]["state"].values()]
    assert saved_steps and all(float(s) == 4 * 4 * 4 for s in saved_steps)  # updates x epochs x mbs
    assert fresh.state_dict()["state"].keys() == state["optimizer"]["state"].keys()


# ---------------------------------------------------------------------- action masks
def test_masked_actions_are_never_sampled():
    layout = obs_layout(MaskedChoice().observation_space)
    policy = ActorCritic(layout.dim, action_spec(gym.spaces.Discrete(6)))
    torch.manual_seed(0)
    obs = torch.randn(4000, layout.dim)
    mask = torch.rand(4000, 6) < 0.4
    mask[torch.arange(4000), torch.randint(0, 6, (4000,))] = True
    step = policy.act(obs, mask)
    assert mask[torch.arange(4000), step.action].all()
    assert torch.isfinite(step.logprob).all()
    logp, entropy, _ = policy.evaluate_actions(obs, step.action, mask)
    assert torch.allclose(logp, step.logprob)
    # The entropy is that of the distribution over the allowed actions only.
    logits = policy.actor_head(policy.actor_body(obs))
    probs = torch.softmax(logits.masked_fill(~mask, float("-inf")), -1)
    expected = -(probs * probs.clamp_min(1e-30).log()).sum(-1)
    assert torch.allclose(entropy, expected, atol=1e-5)


def test_training_with_masks_never_takes_an_illegal_action(tmp_path):
    MaskedChoice.total_illegal = 0
    result = train(_config(tmp_path, env_id="palaestra-test/MaskedChoice-v0", total_timesteps=4096,
                           eval_episodes=3))  # fmt: skip
    assert MaskedChoice.total_illegal == 0
    assert result.evaluation["episodes"] == 3


# ----------------------------------------------------------------------- multi-agent
@pytest.mark.parametrize("sharing", ["shared", "independent"])
def test_multi_agent_carry(tmp_path, sharing):
    config = _config(
        tmp_path, env_id="palaestra/carry-v0", total_timesteps=512, num_envs=1,
        policy_sharing=sharing, centralized_critic=sharing == "shared", eval_episodes=1,
        env_kwargs={"max_cycles": 100},
    )  # fmt: skip
    result = train(config)
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").open()]
    assert records[-1]["global_step"] == 512  # 2 agents x 64 steps x 4 updates
    assert any(r["episodes"] for r in records)
    assert "partner_effort" in {k for r in records for k in r}
    weights = _weights(result.checkpoint)
    if sharing == "independent":
        assert any(k.startswith("policy.policies.1.") for k in weights)
    else:
        # The centralised critic sees both agents' observations plus the agent id.
        assert weights["policy.critic_body.0.weight"].shape[1] == 2 * 19 + 2


def test_multi_agent_env_that_is_not_palaestras(tmp_path):
    import pettingzoo

    if "mpe2/simple_spread-v3" not in pettingzoo.parallel_registry:
        pettingzoo.register(
            "parallel", "mpe2/simple_spread-v3", "mpe2.simple_spread_v3:parallel_env"
        )
    spread = {"N": 3, "max_cycles": 25}
    config = _config(tmp_path, env_id="mpe2/simple_spread-v3", total_timesteps=1536)
    result = train(dataclasses.replace(config, eval_episodes=1, env_kwargs=spread))
    records = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").open()]
    assert records[-1]["global_step"] == 1536  # 3 agents x 2 envs x 64 steps x 4
    assert all(np.isfinite(r["value_loss"]) for r in records)
    assert result.evaluation["episodes"] == 1


def test_agents_that_finish_early_add_no_transitions():
    import pettingzoo

    # a ends at step 2, b at step 4; step 5 is the reset step (no transition).
    schedule = {0: ["a", "b"], 1: ["a", "b"], 2: ["b"], 3: ["b"], 4: []}
    if "palaestra-test/early-exit-v0" not in pettingzoo.parallel_registry:
        pettingzoo.register("parallel", "palaestra-test/early-exit-v0", lambda: _Scripted(schedule))
    batch = make_env_batch("palaestra-test/early-exit-v0", 1)
    batch.reset(0)
    valid, ended = [], []
    for _ in range(6):
        out = batch.step(np.zeros(2, np.int64))
        valid.append(out.valid.tolist())
        ended.append((out.terminated | out.truncated).tolist())
    assert valid == [[True, True], [True, True], [False, True], [False, True], [False, False],
                     [True, True]]  # fmt: skip
    assert ended == [[False, False], [True, False], [False, False], [False, True],
                     [False, False], [False, False]]  # fmt: skip


def test_vector_autoreset_step_is_not_a_transition():
    batch = make_env_batch("CartPole-v1", 2)
    batch.reset(0)
    pushes = np.ones(2, np.int64)  # always push right: the pole falls within ~10 steps
    seen_end = False
    for _ in range(40):
        out = batch.step(pushes)
        if seen_end:
            assert not out.valid[0] and out.rewards[0] == 0.0
            break
        if out.terminated[0]:
            seen_end = True
            assert out.episodes and out.episodes[0].length >= 8
    assert seen_end
    batch.close()


# ------------------------------------------------------------------------- bad input
def test_unknown_env_id_lists_close_matches(tmp_path):
    with pytest.raises(ValueError, match=r"CartPole-v1"):
        train(_config(tmp_path, env_id="CartPol-v1"))
    with pytest.raises(SystemExit, match=r"palaestra/Carry-v0"):
        main(["train", "palaestra/Cary-v0"])


def test_unsupported_space_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"Text"):
        train(_config(tmp_path, env_id="palaestra-test/TextObs-v0"))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    config = _config(
        tmp_path, env_id="palaestra-test/ExplodingReward-v0", total_timesteps=4096,
        num_envs=1, checkpoint_interval=128, env_kwargs={"healthy": 300},
    )  # fmt: skip
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        train(config)
    checkpoints = list_checkpoints(tmp_path / "run" / "checkpoints")
    assert checkpoints, "the good checkpoints before the NaN are kept"
    good = load_checkpoint(checkpoints[-1])
    assert good.step <= 320 and all(torch.isfinite(t).all() for t in good.tensors.values())


# ------------------------------------------------------------------------------- CLI
def test_cli_exact_cartpole_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    command = (
        "train CartPole-v1 --total-timesteps 51200 --seed 1 --run-dir runs/cp --num-envs 4 "
        "--ppo.num-steps 128 --ppo.num-minibatches 4 --ppo.update-epochs 4 "
        "--ppo.learning-rate 2.5e-4 --ppo.ent-coef 0.01 --ppo.clip-coef 0.2 --ppo.gamma 0.99 "
        "--ppo.gae-lambda 0.95 --ppo.vf-coef 0.5 --ppo.max-grad-norm 0.5"
    )
    main([*command.split(), "--quiet", "--no-video"])
    run = tmp_path / "runs" / "cp"
    steps = [json.loads(line)["global_step"] for line in (run / "metrics.jsonl").open()]
    assert steps[-1] == 51200 and len(steps) == 100
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["mean_return"] > 100  # learning happened
    assert "run folder" in capsys.readouterr().out
    main(["eval", str(run), "--episodes", "3"])
    assert json.loads((run / "eval.json").read_text())["episodes"] == 3


def test_cli_defaults_per_env():
    carry = defaults_for("palaestra/Carry-v0")
    assert carry.ppo.normalize_obs and carry.total_timesteps > 0
    cartpole = defaults_for("CartPole-v1")
    assert cartpole.total_timesteps == 150_000 and cartpole.ppo.learning_rate == 1e-3
    assert defaults_for("Acrobot-v1").ppo == PPOConfig()  # CleanRL's discrete defaults
    assert defaults_for("MountainCarContinuous-v0").ppo.num_steps == 2048  # continuous default


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trains_on_cuda(tmp_path):
    result = train(_config(tmp_path, total_timesteps=1024, device="cuda"))
    weights = _weights(result.checkpoint)
    assert all(t.device.type == "cpu" for t in weights.values())  # saved portable
    assert os.path.exists(result.run_dir / "metrics.jsonl")


def test_async_workers_give_the_same_run_as_sync(tmp_path):
    sync = train(_config(tmp_path / "sync", total_timesteps=512))
    workers = train(_config(tmp_path / "async", total_timesteps=512, vector_mode="async"))
    a, b = _weights(sync.checkpoint), _weights(workers.checkpoint)
    assert all(torch.equal(a[k], b[k]) for k in a)


class _Scripted:
    """A PettingZoo Parallel env whose agents come and go on a script; records reset seeds."""

    metadata: ClassVar[dict] = {"name": "scripted"}
    seeds: ClassVar[list] = []

    def __init__(self, schedule=None):
        # schedule: step -> agents present after that step (the episode ends when empty)
        self.schedule = schedule or {0: ["a"], 1: ["a", "b"], 2: ["a", "b"], 3: []}
        self.possible_agents = ["a", "b"]
        self._obs = gym.spaces.Box(-1, 1, (1,), np.float32)
        self._act = gym.spaces.Discrete(2)

    def observation_space(self, agent):
        return self._obs

    def action_space(self, agent):
        return self._act

    def reset(self, seed=None, options=None):
        _Scripted.seeds.append(seed)
        self.t = 0
        self.agents = list(self.schedule[0])
        return {a: np.zeros(1, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        after = self.schedule[self.t]
        acting = list(self.agents)
        obs = {a: np.full(1, self.t, np.float32) for a in set(acting) | set(after)}
        term = {a: a not in after for a in acting}
        self.agents = list(after)
        return (
            obs,
            {a: 1.0 for a in acting},
            term,
            {a: False for a in acting},
            {a: {} for a in acting},
        )

    def close(self):
        pass


def test_agents_that_join_mid_episode_are_trained_on():
    import pettingzoo

    if "palaestra-test/scripted-v0" not in pettingzoo.parallel_registry:
        pettingzoo.register("parallel", "palaestra-test/scripted-v0", _Scripted)
    batch = make_env_batch("palaestra-test/scripted-v0", 1)
    first = batch.reset(0)
    assert first.valid.tolist() == [True, False]  # b is not there yet
    valid = []
    for _ in range(4):
        valid.append(batch.step(np.zeros(2, np.int64)).valid.tolist())
    # b joins after step 1 and acts in steps 2 and 3; step 4 resets the env.
    assert valid == [[True, False], [True, True], [True, True], [False, False]]


def test_multi_agent_reset_seeds_repeat_after_a_fresh_reset():
    import pettingzoo

    if "palaestra-test/scripted-v0" not in pettingzoo.parallel_registry:
        pettingzoo.register("parallel", "palaestra-test/scripted-v0", _Scripted)
    batch = make_env_batch("palaestra-test/scripted-v0", 2)
    runs = []
    for _ in range(2):
        _Scripted.seeds.clear()
        batch.reset(100)
        for _ in range(9):
            batch.step(np.zeros(4, np.int64))
        runs.append(list(_Scripted.seeds))
    assert runs[0] == runs[1] and len(set(runs[0])) == len(runs[0]) > 2


def test_action_mask_needs_a_matching_discrete_space(tmp_path):
    class MaskedBox(gym.Env):
        def __init__(self):
            self.observation_space = gym.spaces.Dict(
                {"obs": gym.spaces.Box(0, 1, (2,)), "action_mask": gym.spaces.MultiBinary(3)}
            )
            self.action_space = gym.spaces.MultiDiscrete([3, 3])

    gym.register("palaestra-test/MaskedMulti-v0", entry_point=MaskedBox)
    with pytest.raises(ValueError, match="action_mask of 3 entries needs a Discrete"):
        train(_config(tmp_path, env_id="palaestra-test/MaskedMulti-v0"))
