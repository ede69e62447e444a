"""A PPO run's working state, :class:`Session`, and its guarded setup.

:func:`open_session` builds everything a run needs, in an order that seeds reproducibly
(torch seed, envs, policy initialisation, optimiser, normalisers, storage, run folder), and
closes every env and worker it made if any later stage fails, so a failed setup leaves no
physics client or process behind. :func:`palaestra.train.ppo.train` runs the phases of PPO
over a session; other loops (a language-policy run, the bench) can reuse them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from palaestra.agents.normalize import ObservationNormalizer, RewardNormalizer
from palaestra.agents.policies import numpy_twin
from palaestra.agents.policy_agent import build_actor_critic
from palaestra.train.callbacks import Callback, TrainerState
from palaestra.train.checkpoint import write_json_atomic
from palaestra.train.config import TrainConfig, config_to_dict
from palaestra.train.envs import EnvBatch, EpisodeRecord, make_env_batch
from palaestra.train.storage import RolloutStorage

__all__ = ["PolicyFactory", "Session", "build_policy", "open_session", "resolve_device"]

PolicyFactory = Callable[[TrainConfig, EnvBatch], torch.nn.Module]
"""Builds a policy for the envs: ``factory(config, envs) -> module`` (see ``train``)."""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as torch understands it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    return device


def build_policy(config: TrainConfig, envs: EnvBatch) -> torch.nn.Module:
    """The MLP actor-critic for ``envs`` as ``config`` describes it."""
    return build_actor_critic(
        envs.obs_dim, envs.action, num_agents=len(envs.agents),
        independent=config.policy_sharing == "independent",
        hidden_sizes=config.ppo.hidden_sizes, activation=config.ppo.activation,
        critic_obs_dim=envs.critic_dim, log_std_init=config.ppo.log_std_init,
    )  # fmt: skip


def _env_kwargs(config: TrainConfig) -> dict[str, Any]:
    """The env's keyword arguments; a language policy reads the text view (obs_mode="both")."""
    kwargs = dict(config.env_kwargs)
    if config.policy != "mlp" and kwargs.get("obs_mode", "both") != "both":
        # "vector" has no text (every row would be skipped and nothing would train);
        # "text" has no numbers for the rollout storage.
        raise ValueError(
            f"--policy {config.policy} reads the text view next to the numbers: it needs "
            f"obs_mode='both' (or no obs_mode), got obs_mode={kwargs['obs_mode']!r}"
        )
    if config.policy != "mlp" and "obs_mode" not in kwargs:
        if not _takes_obs_mode(config.env_id):
            raise ValueError(
                f"--policy {config.policy} needs an env with a text view (an obs_mode argument); "
                f"{config.env_id} has none"
            )
        kwargs["obs_mode"] = "both"
    return kwargs


def _takes_obs_mode(env_id: str) -> bool:
    import inspect

    from palaestra.agents.registry import entry_class

    try:
        return "obs_mode" in inspect.signature(entry_class(env_id)).parameters
    except (TypeError, ValueError):
        return False


def _env_seed(seed: int, phase: int) -> int:
    """A reproducible env seed for each phase (each fresh start of the envs)."""
    return int(np.random.SeedSequence([seed, phase]).generate_state(1)[0]) % (2**30)


def _default_run_dir(config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.env_id.replace('/', '_')}__{config.seed}__{stamp}"


@dataclass(eq=False)
class Session:
    """Everything a PPO run holds while it trains (see the module docstring)."""

    config: TrainConfig
    device: torch.device
    envs: EnvBatch
    policy: torch.nn.Module
    optimizer: torch.optim.Optimizer
    storage: RolloutStorage
    generator: torch.Generator
    rng: np.random.Generator
    callbacks: list[Callback]
    obs_norm: ObservationNormalizer | None = None
    critic_norm: ObservationNormalizer | None = None
    reward_norm: RewardNormalizer | None = None
    row_extras: tuple[str, ...] = ()
    twin: Any = None
    num_updates: int = 1
    global_step: int = 0
    update: int = 0
    start_update: int = 0
    phase: int = 0
    obs: Any = None
    mask: Any = None
    critic: Any = None
    extras: list[dict[str, Any]] | None = None
    extras_log: list[list[dict[str, Any]]] | None = None
    env_records: list[list[EpisodeRecord]] = field(default_factory=list)
    state: TrainerState = None  # type: ignore[assignment]

    @property
    def run_dir(self) -> Path:
        """The run folder."""
        return Path(self.config.run_dir)  # type: ignore[arg-type]

    @property
    def ckpt_dir(self) -> Path:
        """The checkpoint folder."""
        return self.run_dir / "checkpoints"

    def normalize(self, array: np.ndarray | None, norm: ObservationNormalizer | None) -> Any:
        """``array`` through ``norm`` (updating its statistics), or unchanged."""
        return array if array is None or norm is None else norm(array)

    def to_device(self, array: np.ndarray | None, dtype: torch.dtype = torch.float32) -> Any:
        """A tensor on the policy's device, or None."""
        return None if array is None else torch.as_tensor(array, dtype=dtype, device=self.device)

    def act(self, obs: np.ndarray, mask: np.ndarray | None, critic: np.ndarray | None) -> tuple:
        """(actions, log-probabilities, values) as numpy arrays, for the rollout."""
        if self.twin is not None:
            return self.twin.act(obs, mask, critic, self.rng)
        kwargs = {"extras": self.extras} if self.row_extras else {}
        with torch.no_grad():
            out = self.policy.act(
                self.to_device(obs), self.to_device(mask, torch.bool), self.to_device(critic),
                **kwargs,
            )  # fmt: skip
        return out.action.cpu().numpy(), out.logprob.cpu().numpy(), out.value.cpu().numpy()

    def value(self, obs: np.ndarray, critic: np.ndarray | None) -> torch.Tensor:
        """The values of the rows' current observations (bootstrap of the last step)."""
        if self.twin is not None:
            return torch.from_numpy(np.ascontiguousarray(self.twin.value(obs, critic)))
        kwargs = {"extras": self.extras} if self.row_extras else {}
        with torch.no_grad():
            return self.policy.value(self.to_device(obs), self.to_device(critic), **kwargs)

    def flat_extras(self) -> list[dict[str, Any]] | None:
        """The rollout's row extras flattened step-major (as the storage flattens), or None."""
        if self.extras_log is None:
            return None
        return [row for step in self.extras_log for row in step]

    def reset_envs(self) -> None:
        """A fresh start of every env (the run's first, and the one after each checkpoint)."""
        self.env_records = [[] for _ in range(self.envs.num_envs)]
        for callback in self.callbacks:
            callback.before_reset(self.state)
        first = self.envs.reset(_env_seed(self.config.seed, self.phase))
        if self.reward_norm is not None:
            self.reward_norm.ret[:] = 0.0
        self.obs = self.normalize(first.obs, self.obs_norm)
        self.mask = first.action_mask
        self.critic = self.normalize(first.critic_obs, self.critic_norm)
        self.extras = first.extras


def _resolve_policy(
    config: TrainConfig, envs: EnvBatch, policy: torch.nn.Module | PolicyFactory | None
) -> torch.nn.Module:
    if policy is None and config.policy != "mlp":
        from palaestra.agents.language_spec import build_language_policy

        return build_language_policy(config.policy, config.llm, str(resolve_device(config.device)))
    if policy is None:
        return build_policy(config, envs)
    module = policy if isinstance(policy, torch.nn.Module) else policy(config, envs)
    missing = [
        m for m in ("act", "evaluate_actions", "value") if not callable(getattr(module, m, None))
    ]
    if not isinstance(module, torch.nn.Module) or missing:
        raise ValueError(
            f"the policy ({type(module).__name__}) must be a torch.nn.Module with act, "
            f"evaluate_actions and value (palaestra.agents.policies.Policy); missing {missing}"
        )
    return module


def _policy_spec(
    policy: torch.nn.Module, config: TrainConfig, envs: EnvBatch, row_extras: Sequence[str]
) -> dict:
    cls = type(policy)
    builtin = cls.__module__ == "palaestra.agents.policies"
    language = (
        {"language": {"policy": config.policy, **config.llm.to_dict()}}
        if config.policy != "mlp"
        else {}
    )
    return {
        **language,
        "class": cls.__name__ if builtin else f"{cls.__module__}:{cls.__qualname__}",
        "hidden_sizes": list(config.ppo.hidden_sizes),
        "activation": config.ppo.activation,
        "log_std_init": config.ppo.log_std_init,
        "independent": config.policy_sharing == "independent",
        "obs_dim": envs.obs_dim,
        "critic_obs_dim": envs.critic_dim,
        "agents": list(envs.agents) if hasattr(envs, "num_agents") else None,
        "row_extras": list(row_extras),
    }


def open_session(
    config: TrainConfig,
    callbacks: Sequence[Callback],
    policy: torch.nn.Module | PolicyFactory | None,
    *,
    resume: bool,
    curriculum: Callable[[TrainConfig, EnvBatch], Callback] | None = None,
) -> Session:
    """Set up a run; if any stage fails, close whatever envs were made and re-raise."""
    ppo = config.ppo
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.torch_threads or 1)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)  # minibatch order
    run_dir = Path(config.run_dir) if config.run_dir is not None else _default_run_dir(config)
    config = dataclasses.replace(config, run_dir=run_dir, env_kwargs=_env_kwargs(config))
    with contextlib.ExitStack() as guard:
        envs = make_env_batch(
            config.env_id, config.num_envs, vector_mode=config.vector_mode,
            centralized_critic=config.centralized_critic, env_kwargs=config.env_kwargs,
        )  # fmt: skip
        guard.callback(envs.close)
        callbacks = list(callbacks)
        if curriculum is not None:
            callbacks.append(curriculum(config, envs))
        net = _resolve_policy(config, envs, policy).to(device)
        row_extras = tuple(getattr(net, "row_extras", ()) or ())
        envs.request_extras(row_extras)
        # A policy with parameter groups (a language policy: scorer and value head) gets one
        # optimiser over those disjoint sets; each group anneals from its own rate.
        groups = getattr(net, "param_groups", None)
        params = (
            groups(ppo.learning_rate, config.llm.head_lr_scale)
            if callable(groups)
            else net.parameters()
        )
        optimizer = torch.optim.Adam(
            params, lr=ppo.learning_rate, eps=1e-5, foreach=device.type != "cpu",
            fused=device.type == "cpu",
        )  # fmt: skip
        obs_norm = critic_norm = None
        if ppo.normalize_obs:
            obs_norm = ObservationNormalizer((envs.obs_dim,))
            critic_norm = ObservationNormalizer((envs.critic_dim,)) if envs.critic_dim else None
        reward_norm = RewardNormalizer(envs.num_rows, ppo.gamma) if ppo.normalize_reward else None
        kind = envs.action.kind
        shape = {"continuous": (envs.action.size,), "multidiscrete": (len(envs.action.nvec or ()),)}
        storage = RolloutStorage(
            ppo.num_steps, envs.num_rows, envs.obs_dim, shape.get(kind, ()),
            torch.float32 if kind == "continuous" else torch.int64, device,
            mask_dim=envs.layout.mask_dim, critic_obs_dim=envs.critic_dim,
        )  # fmt: skip
        session = Session(
            config, device, envs, net, optimizer, storage, generator,
            np.random.default_rng(config.seed), callbacks, obs_norm, critic_norm, reward_norm,
            row_extras=row_extras,
            num_updates=max(1, math.ceil(config.total_timesteps / (ppo.num_steps * envs.num_rows))),
        )  # fmt: skip
        run_dir.mkdir(parents=True, exist_ok=True)
        if resume:
            from palaestra.train.checkpoint import load_latest_checkpoint
            from palaestra.train.checkpointing import restore_session

            # On the CPU: RNG states must stay CPU byte tensors; load_state_dict moves
            # weights and optimiser state to the policy's device.
            checkpoint = load_latest_checkpoint(session.ckpt_dir, map_location="cpu")
            if checkpoint is None:
                raise ValueError(f"nothing to resume: no checkpoint in {session.ckpt_dir}")
            restore_session(session, checkpoint)
        else:
            write_json_atomic(run_dir / "config.json", config_to_dict(config))
            write_json_atomic(run_dir / "policy.json", _policy_spec(net, config, envs, row_extras))
        session.state = TrainerState(
            config, run_dir, envs, net, session.global_step, session.start_update,
            obs_norm=obs_norm, critic_norm=critic_norm,
        )  # fmt: skip
        # Rollouts on the CPU run the policy's numpy twin when it offers one (same weights,
        # no torch dispatch cost on tiny batches); elsewhere, or without one, the policy.
        if device.type == "cpu" and not row_extras:
            session.twin = numpy_twin(net)
        guard.pop_all()  # set up: the envs now belong to the session
    return session
