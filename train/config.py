"""Training configuration: frozen dataclasses whose field docstrings are the CLI help.

Hyperparameter names follow CleanRL's ``ppo.py`` so settings carry over.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from palaestra.agents.language_spec import LanguagePolicyConfig

__all__ = ["PPOConfig", "TrainConfig", "config_from_dict", "config_to_dict"]


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyperparameters (names as in CleanRL)."""

    learning_rate: float = 2.5e-4
    """Adam learning rate (annealed linearly to 0 when anneal_lr)."""
    num_steps: int = 128
    """Steps per env (per row) in each rollout; a rollout holds num_steps x num_envs steps."""
    anneal_lr: bool = True
    """Anneal the learning rate linearly to 0 over training."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """Lambda of generalised advantage estimation."""
    num_minibatches: int = 4
    """Minibatches per epoch over the rollout (unless minibatch_size is set)."""
    minibatch_size: int | None = None
    """Transitions per minibatch; overrides num_minibatches, so memory per step stays bounded
    whatever the rollout's size (language policies: set this, not a count)."""
    grad_accum_steps: int = 1
    """Split each minibatch into this many micro-batches whose gradients add up before one
    optimiser step: the same update as one pass, in a fraction of the memory."""
    update_epochs: int = 4
    """Passes over each rollout."""
    norm_adv: bool = True
    """Normalise advantages within each minibatch."""
    clip_coef: float = 0.2
    """Surrogate clipping coefficient."""
    clip_vloss: bool = True
    """Clip the value loss around the old values, as in the PPO paper's implementation."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Global gradient norm clip."""
    target_kl: float | None = None
    """Stop the epochs of an update early when the approximate KL exceeds this (None: never)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and critic MLPs."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Activation of the MLPs."""
    log_std_init: float = 0.0
    """Initial log standard deviation of Gaussian policies (Box actions)."""
    normalize_obs: bool = False
    """Normalise observations with running statistics (saved in checkpoints, used in eval)."""
    normalize_reward: bool = False
    """Scale rewards by the running standard deviation of the discounted return."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run."""

    env_id: str = "CartPole-v1"
    """A Gymnasium id (palaestra's or any registered one) or a PettingZoo Parallel id."""
    total_timesteps: int = 100_000
    """Environment steps to train for (rows x steps; each agent step counts once)."""
    num_envs: int = 4
    """Env copies stepped together."""
    seed: int = 1
    """Seed of everything: torch, the minibatch order and the envs."""
    device: str = "auto"
    """auto (CUDA when present), cpu, cuda or cuda:N. Envs always run on the CPU."""
    run_dir: Path | None = None
    """Run folder (default: runs/<env>__<seed>__<time>)."""
    checkpoint_interval: int = 0
    """Save a checkpoint every this many steps (0: only the final one). Envs are reset
    after each checkpoint, so a resumed run continues exactly as an uninterrupted one."""
    keep_checkpoints: int = 3
    """How many of the newest checkpoints to keep."""
    vector_mode: Literal["sync", "async"] = "sync"
    """Gymnasium vector env: sync (in process; fastest on 2 cores) or async (worker processes)."""
    policy_sharing: Literal["shared", "independent"] = "shared"
    """Multi-agent envs: one shared policy with an agent-id input, or one policy per agent."""
    centralized_critic: bool = False
    """Multi-agent envs: the critic sees every agent's observation (MAPPO)."""
    eval_episodes: int = 10
    """Episodes of the final deterministic evaluation (eval.json)."""
    video: bool = True
    """Write an mp4 of one evaluation episode when the env renders rgb_array frames."""
    quiet: bool = False
    """No progress bar."""
    torch_threads: int | None = None
    """torch.set_num_threads on CPU (default: 1, the fastest for small MLPs)."""
    env_kwargs: Annotated[dict[str, Any], tyro.conf.Suppress] = field(default_factory=dict)
    """Keyword arguments for the env's constructor (Python API only)."""
    curriculum: str | None = None
    """Curriculum scheduler that chooses every episode's task (uniform, sequential, anti,
    cyclical, adcl, plr, learning_progress, medium); its knobs are --curriculum.<knob> VALUE.
    None: every episode plays the env's default task."""
    curriculum_kwargs: Annotated[dict[str, Any], tyro.conf.Suppress] = field(default_factory=dict)
    """The scheduler's knobs (on the command line: --curriculum.<knob> VALUE)."""
    policy: Literal["mlp", "minilm", "llm"] = "mlp"
    """mlp: palaestra's actor-critic on the numeric observation. minilm: a language policy
    over the env's text view and legal actions (a frozen sentence encoder and a trainable
    similarity head; trains on a CPU). llm: a causal LM (--llm.model) fine-tuned with LoRA.
    Language policies need a game env with a text view (obs_mode is set to "both")."""
    llm: LanguagePolicyConfig = LanguagePolicyConfig()  # noqa: RUF009 (frozen, so shareable)
    """Language policy knobs (--policy minilm or llm)."""
    ppo: PPOConfig = PPOConfig()
    """PPO hyperparameters."""

    def validate(self) -> None:
        """Raise ValueError for settings that cannot run."""
        p = self.ppo
        checks = [
            (self.total_timesteps > 0, "total_timesteps must be positive"),
            (self.num_envs >= 1, "num_envs must be at least 1"),
            (p.num_steps >= 1, "ppo.num_steps must be at least 1"),
            (p.num_minibatches >= 1, "ppo.num_minibatches must be at least 1"),
            (p.update_epochs >= 1, "ppo.update_epochs must be at least 1"),
            (p.learning_rate > 0, "ppo.learning_rate must be positive"),
            (
                0 <= p.gamma <= 1 and 0 <= p.gae_lambda <= 1,
                "ppo.gamma and ppo.gae_lambda must be in [0, 1]",
            ),
            (self.checkpoint_interval >= 0, "checkpoint_interval must be >= 0"),
            (self.keep_checkpoints >= 1, "keep_checkpoints must be at least 1"),
            (len(p.hidden_sizes) >= 1, "ppo.hidden_sizes needs at least one layer"),
            (
                p.minibatch_size is None or p.minibatch_size >= 1,
                "ppo.minibatch_size must be at least 1 (or None)",
            ),
            (p.grad_accum_steps >= 1, "ppo.grad_accum_steps must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.policy != "mlp":
            self.llm.validate(self.policy)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """A JSON-ready dict of the whole config (enough to reproduce the run)."""
    data = dataclasses.asdict(config)
    data["run_dir"] = None if config.run_dir is None else str(config.run_dir)
    data["ppo"]["hidden_sizes"] = list(config.ppo.hidden_sizes)
    data["llm"] = config.llm.to_dict()
    return data


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Rebuild a :class:`TrainConfig` from :func:`config_to_dict`'s output."""
    data = dict(data)
    ppo = dict(data.pop("ppo", {}))
    llm = LanguagePolicyConfig.from_dict(dict(data.pop("llm", {})))
    if "hidden_sizes" in ppo:
        ppo["hidden_sizes"] = tuple(ppo["hidden_sizes"])
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}")
    if data.get("run_dir") is not None:
        data["run_dir"] = Path(data["run_dir"])
    return TrainConfig(**data, llm=llm, ppo=PPOConfig(**ppo))
