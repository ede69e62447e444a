"""Proximal Policy Optimization for any palaestra, Gymnasium or PettingZoo Parallel env.

Reads top to bottom in the order of the PPO paper (Schulman et al., 2017) and its reference
implementation details (Huang et al., "The 37 Implementation Details of PPO", 2022):

1. setup: seeding, envs, policy, optimiser, rollout storage, run folder;
2. rollout: ``num_steps`` steps of every env row with the current policy;
3. advantages: generalised advantage estimation (Schulman et al., 2016);
4. update: ``update_epochs`` passes of minibatch gradient steps on the clipped surrogate,
   the (clipped) value loss and the entropy bonus, with gradient clipping and an optional
   target-KL early stop; the learning rate anneals linearly;
5. logging, checkpoints and callbacks; then a final checkpoint, evaluation, plot and video.

Glossary:
    row: one actor in the env batch (an env for Gymnasium envs, an (env, agent) pair for
        PettingZoo envs). A rollout holds ``num_steps x rows`` transitions.
    valid: whether a stored transition is real; the step that resets a finished env and
        the steps of agents that already finished are stored but never trained on.
    phase: how many times the envs were reset from scratch (at the start and after each
        checkpoint); it seeds the envs, so a resumed run sees the same episodes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from palaestra.agents.policies import ActorCritic, MultiAgentActorCritic, numpy_twin
from palaestra.train.callbacks import Callback, TrainerState
from palaestra.train.checkpoint import (
    CheckpointError,
    list_checkpoints,
    load_latest_checkpoint,
    prune_checkpoints,
    save_checkpoint,
    write_json_atomic,
)
from palaestra.train.config import TrainConfig, config_to_dict
from palaestra.train.envs import EnvBatch, EpisodeRecord, make_env_batch
from palaestra.train.normalize import ObservationNormalizer, RewardNormalizer
from palaestra.train.runlog import RunLogger, plot_run
from palaestra.train.storage import RolloutStorage

__all__ = ["TrainResult", "TrainingDiverged", "build_policy", "resolve_device", "train"]

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run leaves behind."""

    run_dir: Path
    global_step: int
    updates: int
    checkpoint: Path
    evaluation: dict[str, Any] | None


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else as torch understands it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    return device


def build_policy(config: TrainConfig, envs: EnvBatch) -> torch.nn.Module:
    """The actor-critic for ``envs`` as ``config`` describes it."""
    kwargs = dict(
        obs_dim=envs.obs_dim,
        action=envs.action,
        hidden_sizes=config.ppo.hidden_sizes,
        activation=config.ppo.activation,
        critic_obs_dim=envs.critic_dim,
        log_std_init=config.ppo.log_std_init,
    )
    if config.policy_sharing == "independent" and len(envs.agents) > 1:
        return MultiAgentActorCritic(len(envs.agents), **kwargs)
    return ActorCritic(**kwargs)


def _env_seed(seed: int, phase: int) -> int:
    """A reproducible env seed for each phase (each fresh start of the envs)."""
    return int(np.random.SeedSequence([seed, phase]).generate_state(1)[0]) % (2**30)


def _default_run_dir(config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.env_id.replace('/', '_')}__{config.seed}__{stamp}"


# ---------------------------------------------------------------------------- the loop
def train(
    config: TrainConfig, callbacks: Sequence[Callback] = (), *, resume: bool = False
) -> TrainResult:
    """Train a policy with PPO and return where everything was written.

    Args:
        config: The run's configuration.
        callbacks: Hooks called during training.
        resume: Continue from the latest checkpoint in ``config.run_dir`` (to
            ``config.total_timesteps``) instead of starting anew.

    Raises:
        ValueError: for an unknown env id (with close matches), an unsupported space (named),
            or settings that cannot run.
        TrainingDiverged: when a loss becomes NaN; the last good checkpoint is kept.
    """
    config.validate()
    ppo = config.ppo

    # ------------------------------------------------------------------- 1. setup
    device = resolve_device(config.device)
    if device.type == "cpu":
        torch.set_num_threads(config.torch_threads or 1)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)  # minibatch order
    run_dir = Path(config.run_dir) if config.run_dir is not None else _default_run_dir(config)
    config = dataclasses.replace(config, run_dir=run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_dir = run_dir / "checkpoints"

    envs = make_env_batch(
        config.env_id,
        config.num_envs,
        vector_mode=config.vector_mode,
        centralized_critic=config.centralized_critic,
        env_kwargs=config.env_kwargs,
    )
    rows = envs.num_rows
    if config.curriculum is not None:
        callbacks = [*callbacks, _curriculum_callback(config, envs)]
    policy = build_policy(config, envs).to(device)
    optimizer = torch.optim.Adam(
        policy.parameters(), lr=ppo.learning_rate, eps=1e-5, foreach=device.type != "cpu",
        fused=device.type == "cpu",
    )  # fmt: skip
    obs_norm, critic_norm = _observation_normalizers(config, envs)
    reward_norm = RewardNormalizer(rows, ppo.gamma) if ppo.normalize_reward else None
    action_dtype = torch.float32 if envs.action.kind == "continuous" else torch.int64
    action_shape = (
        (envs.action.size,)
        if envs.action.kind == "continuous"
        else ((len(envs.action.nvec),) if envs.action.kind == "multidiscrete" else ())
    )
    storage = RolloutStorage(
        ppo.num_steps, rows, envs.obs_dim, action_shape, action_dtype, device,
        mask_dim=envs.layout.mask_dim, critic_obs_dim=envs.critic_dim,
    )  # fmt: skip
    batch_steps = ppo.num_steps * rows
    num_updates = max(1, math.ceil(config.total_timesteps / batch_steps))
    ckpt_every = (
        0
        if config.checkpoint_interval == 0
        else max(1, round(config.checkpoint_interval / batch_steps))
    )

    global_step, start_update, phase = 0, 0, 0
    if resume:
        # On the CPU: RNG states must stay CPU byte tensors; load_state_dict moves weights
        # and optimiser state to the policy's device.
        checkpoint = load_latest_checkpoint(ckpt_dir, map_location="cpu")
        if checkpoint is None:
            raise ValueError(f"nothing to resume: no checkpoint in {ckpt_dir}")
        _restore(checkpoint, policy, optimizer, generator, obs_norm, critic_norm, reward_norm)
        global_step = checkpoint.state["global_step"]
        start_update = checkpoint.state["update"]
        phase = checkpoint.state["phase"]
        _restore_callbacks(checkpoint, callbacks)
        log.info("resuming %s from %s (step %d)", config.env_id, checkpoint.path.name, global_step)
    else:
        write_json_atomic(run_dir / "config.json", config_to_dict(config))
    logger = RunLogger(run_dir, resume_step=global_step if resume else None)
    state = TrainerState(
        config, run_dir, envs, policy, global_step, start_update,
        obs_norm=obs_norm, critic_norm=critic_norm,
    )  # fmt: skip

    # Rollouts on the CPU run the policy's numpy twin (same weights, no torch dispatch
    # cost on tiny batches) and sample from a numpy generator; elsewhere the torch policy.
    twin = numpy_twin(policy) if device.type == "cpu" else None
    rng = np.random.default_rng(config.seed)
    if resume:
        rng.bit_generator.state = checkpoint.state["numpy_rng"]

    def normalize(array: np.ndarray | None, norm: ObservationNormalizer | None) -> Any:
        return array if array is None or norm is None else norm(array)

    def to_device(array: np.ndarray | None, dtype: torch.dtype = torch.float32) -> Any:
        return None if array is None else torch.as_tensor(array, dtype=dtype, device=device)

    def act(obs: np.ndarray, mask: np.ndarray | None, critic: np.ndarray | None) -> tuple:
        if twin is not None:
            return twin.act(obs, mask, critic, rng)
        with torch.no_grad():
            out = policy.act(to_device(obs), to_device(mask, torch.bool), to_device(critic))
        return out.action.cpu().numpy(), out.logprob.cpu().numpy(), out.value.cpu().numpy()

    def value(obs: np.ndarray, critic: np.ndarray | None) -> torch.Tensor:
        if twin is not None:
            return torch.from_numpy(np.ascontiguousarray(twin.value(obs, critic)))
        with torch.no_grad():
            return policy.value(to_device(obs), to_device(critic))

    env_records: list[list[EpisodeRecord]] = []  # per env copy, its episode's records so far

    def reset_envs() -> tuple[Any, ...]:
        env_records[:] = [[] for _ in range(envs.num_envs)]
        for callback in callbacks:
            callback.before_reset(state)
        first = envs.reset(_env_seed(config.seed, phase))
        if reward_norm is not None:
            reward_norm.ret[:] = 0.0
        return (
            normalize(first.obs, obs_norm),
            first.action_mask,
            normalize(first.critic_obs, critic_norm),
        )

    obs, mask, critic = reset_envs()
    # Only callbacks that override on_advantages get the rollout's arrays (a host copy).
    score_listeners = [
        cb for cb in callbacks if type(cb).on_advantages is not Callback.on_advantages
    ]
    for callback in callbacks:
        callback.on_training_start(state)
    progress = _Progress(num_updates, config.quiet)
    progress.advance(start_update)
    last_checkpoint = list_checkpoints(ckpt_dir)[-1] if resume else None
    start_time, start_step = time.perf_counter(), global_step

    try:
        for update in range(start_update, num_updates):
            # ------------------------------------------------- learning-rate annealing
            lr = ppo.learning_rate * (1.0 - update / num_updates if ppo.anneal_lr else 1.0)
            for group in optimizer.param_groups:
                group["lr"] = lr

            # ------------------------------------------------------------- 2. rollout
            episodes: list[EpisodeRecord] = []
            for step in range(ppo.num_steps):
                state.rollout_step = step
                actions, logprobs, values = act(obs, mask, critic)
                result = envs.step(actions)
                rewards = result.rewards
                if reward_norm is not None:
                    rewards = reward_norm(rewards, result.terminated | result.truncated)
                storage.insert(
                    step, obs=obs, actions=actions, logprobs=logprobs, values=values,
                    rewards=rewards, terminated=result.terminated, truncated=result.truncated,
                    valid=result.valid, action_masks=mask, critic_obs=critic,
                )  # fmt: skip
                obs = normalize(result.obs, obs_norm)
                mask = result.action_mask
                critic = normalize(result.critic_obs, critic_norm)
                global_step += rows
                for episode in result.episodes:
                    episodes.append(episode)
                    env_records[episode.env_index].append(episode)
                    for callback in callbacks:
                        callback.on_episode_end(state, episode)
                for env_index in result.ended_envs:
                    # Every agent's record of the episode, early leavers included.
                    records, env_records[env_index] = env_records[env_index], []
                    for callback in callbacks:
                        callback.on_env_episode_end(state, env_index, records)
            state.global_step = global_step
            for callback in callbacks:
                callback.on_rollout_end(state)

            # ---------------------------------------------------------- 3. advantages
            storage.compute_returns(value(obs, critic), ppo.gamma, ppo.gae_lambda)
            if score_listeners:
                arrays = storage.numpy_views("advantages", "values", "valid")
                for callback in score_listeners:
                    callback.on_advantages(state, *arrays)

            # -------------------------------------------------------------- 4. update
            losses = _ppo_update(policy, optimizer, storage, ppo, generator)

            # ---------------------------------------------------- 5. logging, saving
            elapsed = time.perf_counter() - start_time
            metrics: dict[str, Any] = {
                "sps": (global_step - start_step) / max(elapsed, 1e-9),
                "learning_rate": lr,
                **losses,
                **_episode_metrics(episodes),
            }
            for callback in callbacks:
                metrics.update(callback.update_metrics(state))
            logger.log(global_step, metrics)
            state.update, state.metrics = update + 1, metrics
            progress.update(update + 1, global_step, metrics)
            stop = any(cb.on_update_end(state) is False for cb in callbacks)
            is_last = update + 1 == num_updates or stop
            if is_last or (ckpt_every and (update + 1) % ckpt_every == 0):
                phase += 1  # the envs' next fresh start (here, or in a resumed run)
                last_checkpoint = _save(
                    ckpt_dir, policy, optimizer, generator, rng, obs_norm, critic_norm,
                    reward_norm, global_step, update + 1, phase, config, callbacks,
                )  # fmt: skip
                if not is_last:
                    # A fresh start of every env after a checkpoint: what a resumed run sees.
                    obs, mask, critic = reset_envs()
            if stop:
                break
    finally:
        progress.close()
        logger.close()
        envs.close()

    # -------------------------------------------------------- final report artefacts
    for callback in callbacks:
        callback.on_training_end(state)
    evaluation = None
    if config.eval_episodes > 0:
        from palaestra.train.evaluate import evaluate_policy

        evaluation = evaluate_policy(
            config, policy, obs_norm, critic_norm, episodes=config.eval_episodes,
            video_path=run_dir / "final_policy.mp4" if config.video else None,
        )  # fmt: skip
        write_json_atomic(run_dir / "eval.json", evaluation)
    plot_run(run_dir)
    if last_checkpoint is None:  # only when resuming a run whose checkpoints vanished
        raise RuntimeError(f"no checkpoint was written to {ckpt_dir}")
    return TrainResult(run_dir, global_step, state.update, last_checkpoint, evaluation)


def _ppo_update(
    policy: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    storage: RolloutStorage,
    ppo: Any,
    generator: torch.Generator,
) -> dict[str, float]:
    """Minibatch epochs of the clipped PPO objective; returns the update's loss metrics."""
    clipfracs: list[float] = []
    approx_kl = old_approx_kl = torch.zeros(())
    pg_loss = v_loss = entropy_loss = torch.zeros(())
    for _epoch in range(ppo.update_epochs):
        for batch in storage.minibatches(ppo.num_minibatches, generator):
            new_logprob, entropy, new_value = policy.evaluate_actions(
                batch.obs, batch.actions, batch.action_masks, batch.critic_obs
            )
            log_ratio = new_logprob - batch.logprobs
            ratio = log_ratio.exp()
            with torch.no_grad():
                # KL estimators of http://joschu.net/blog/kl-approx.html
                old_approx_kl = (-log_ratio).mean()
                approx_kl = ((ratio - 1) - log_ratio).mean()
                clipfracs.append(((ratio - 1.0).abs() > ppo.clip_coef).float().mean())

            advantages = batch.advantages
            if ppo.norm_adv and advantages.numel() > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

            # Clipped surrogate objective (PPO paper, eq. 7), as a loss.
            pg_loss1 = -advantages * ratio
            pg_loss2 = -advantages * torch.clamp(ratio, 1 - ppo.clip_coef, 1 + ppo.clip_coef)
            pg_loss = torch.max(pg_loss1, pg_loss2).mean()

            # Value loss, clipped around the rollout's values.
            if ppo.clip_vloss:
                v_unclipped = (new_value - batch.returns) ** 2
                v_clipped = batch.values + torch.clamp(
                    new_value - batch.values, -ppo.clip_coef, ppo.clip_coef
                )
                v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - batch.returns) ** 2).mean()
            else:
                v_loss = 0.5 * ((new_value - batch.returns) ** 2).mean()

            entropy_loss = entropy.mean()
            loss = pg_loss - ppo.ent_coef * entropy_loss + ppo.vf_coef * v_loss
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"the loss became {loss.item()} (policy {pg_loss.item()}, value "
                    f"{v_loss.item()}, entropy {entropy_loss.item()}); stopping. Try a lower "
                    "learning rate or observation/reward normalisation"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(
                policy.parameters(), ppo.max_grad_norm, foreach=True
            )
            if not torch.isfinite(norm):
                # A finite loss with overflowing gradients would write NaN into the weights.
                raise TrainingDiverged(f"the gradient norm became {norm.item()}; stopping")
            optimizer.step()
        if ppo.target_kl is not None and approx_kl.item() > ppo.target_kl:
            break

    valid = storage.valid
    values, returns = storage.values[valid], storage.returns[valid]
    var_returns = returns.var().item() if returns.numel() > 1 else 0.0
    explained = (
        float("nan") if var_returns == 0 else 1.0 - (returns - values).var().item() / var_returns
    )
    return {
        "value_loss": v_loss.item(),
        "policy_loss": pg_loss.item(),
        "entropy": entropy_loss.item(),
        "old_approx_kl": old_approx_kl.item(),
        "approx_kl": approx_kl.item(),
        "clipfrac": torch.stack(clipfracs).mean().item() if clipfracs else 0.0,
        "explained_variance": explained,
    }


def _episode_metrics(episodes: list[EpisodeRecord]) -> dict[str, float | None]:
    """Mean return, length and numeric env metrics of the episodes finished in a rollout."""
    if not episodes:
        return {"episodic_return": None, "episodic_length": None, "episodes": 0}
    out: dict[str, float | None] = {
        "episodic_return": float(np.mean([e.episode_return for e in episodes])),
        "episodic_length": float(np.mean([e.length for e in episodes])),
        "episodes": len(episodes),
    }
    keys = sorted({k for e in episodes for k in e.metrics})
    for key in keys:
        values = [e.metrics[key] for e in episodes if key in e.metrics]
        out[key] = float(np.mean(values))
    return out


# ----------------------------------------------------------------------- checkpoints
def _normalizer_tensors(prefix: str, norm: Any) -> dict[str, torch.Tensor]:
    if norm is None:
        return {}
    return {f"{prefix}.{k}": torch.as_tensor(np.asarray(v)) for k, v in norm.state_dict().items()}


def _save(
    directory: Path, policy: torch.nn.Module, optimizer: torch.optim.Optimizer,
    generator: torch.Generator, rng: np.random.Generator, obs_norm: Any, critic_norm: Any,
    reward_norm: Any, global_step: int, update: int, phase: int, config: TrainConfig,
    callbacks: Sequence[Callback],
) -> Path:  # fmt: skip
    tensors = {f"policy.{k}": v.detach() for k, v in policy.state_dict().items()}
    tensors |= _normalizer_tensors("obs_norm", obs_norm)
    tensors |= _normalizer_tensors("critic_norm", critic_norm)
    tensors |= _normalizer_tensors("reward_norm", reward_norm)
    state = {
        "optimizer": optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "generator": generator.get_state(),
        "numpy_rng": rng.bit_generator.state,
        "global_step": global_step,
        "update": update,
        "phase": phase,
        "config": config_to_dict(config),
        "callbacks": {key: cb.state_dict() for key, cb in _callback_keys(callbacks)},
    }
    path = save_checkpoint(directory, global_step, tensors, state)
    prune_checkpoints(directory, config.keep_checkpoints)
    log.info("saved %s", path)
    return path


def _curriculum_callback(config: TrainConfig, envs: EnvBatch) -> Callback:
    """The callback that runs ``config.curriculum`` on the envs' task space."""
    from palaestra.curriculum import make
    from palaestra.train.curriculum import CurriculumCallback

    space = envs.task_space
    if space is None:
        envs.close()
        raise ValueError(f"{config.env_id} has no task channel: it cannot take a curriculum")
    try:
        scheduler = make(config.curriculum, space, seed=config.seed, **config.curriculum_kwargs)
    except BaseException:
        envs.close()
        raise
    return CurriculumCallback(scheduler)


def _callback_keys(callbacks: Sequence[Callback]) -> list[tuple[str, Callback]]:
    """Name each callback by its class and its rank among callbacks of that class."""
    seen: dict[str, int] = {}
    keys = []
    for callback in callbacks:
        name = type(callback).__name__
        keys.append((f"{name}#{seen.get(name, 0)}", callback))
        seen[name] = seen.get(name, 0) + 1
    return keys


def _restore_callbacks(checkpoint: Any, callbacks: Sequence[Callback]) -> None:
    """Hand each callback the state it saved (matched by class and rank in that class)."""
    saved = checkpoint.state.get("callbacks", {})
    for key, callback in _callback_keys(callbacks):
        if saved.get(key) is not None:
            callback.load_state_dict(saved[key])
        elif callback.state_dict() is not None:
            raise CheckpointError(
                checkpoint.path, f"holds no state for callback {key}; was it added on resume?"
            )


def _load_normalizer(prefix: str, norm: Any, tensors: dict[str, torch.Tensor]) -> None:
    if norm is None:
        return
    norm.load_state_dict(
        {
            k[len(prefix) + 1 :]: v.cpu().numpy()
            for k, v in tensors.items()
            if k.startswith(prefix + ".")
        }
    )


def _observation_normalizers(config: TrainConfig, envs: EnvBatch) -> tuple[Any, Any]:
    """The run's observation normalisers (policy input, centralised critic input), or None."""
    if not config.ppo.normalize_obs:
        return None, None
    critic = ObservationNormalizer((envs.critic_dim,)) if envs.critic_dim else None
    return ObservationNormalizer((envs.obs_dim,)), critic


def _load_weights(
    tensors: dict[str, torch.Tensor], policy: torch.nn.Module, *normalizers: tuple[str, Any]
) -> None:
    """Load the policy and the named normalisers from a checkpoint's tensors."""
    policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
    for prefix, norm in normalizers:
        _load_normalizer(prefix, norm, tensors)


def _restore(
    checkpoint: Any, policy: torch.nn.Module, optimizer: torch.optim.Optimizer,
    generator: torch.Generator, obs_norm: Any, critic_norm: Any, reward_norm: Any,
) -> None:  # fmt: skip
    state = checkpoint.state
    try:
        _load_weights(
            checkpoint.tensors, policy, ("obs_norm", obs_norm), ("critic_norm", critic_norm),
            ("reward_norm", reward_norm),
        )  # fmt: skip
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        generator.set_state(state["generator"])
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(checkpoint.path, f"does not fit this run's config: {exc}") from exc


def load_policy(
    run_dir: Path, map_location: str = "cpu"
) -> tuple[torch.nn.Module, TrainConfig, Any, Any]:
    """Rebuild the policy and observation normalisers of a run from its latest checkpoint."""
    from palaestra.train.config import config_from_dict

    run_dir = Path(run_dir)
    config = config_from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8")))
    checkpoint = load_latest_checkpoint(run_dir / "checkpoints", map_location=map_location)
    if checkpoint is None:
        raise ValueError(f"no checkpoint in {run_dir / 'checkpoints'}")
    envs = make_env_batch(
        config.env_id, 1, centralized_critic=config.centralized_critic, env_kwargs=config.env_kwargs
    )
    try:
        policy = build_policy(config, envs)
        obs_norm, critic_norm = _observation_normalizers(config, envs)
    finally:
        envs.close()
    try:
        _load_weights(
            checkpoint.tensors, policy, ("obs_norm", obs_norm), ("critic_norm", critic_norm)
        )
    except (RuntimeError, KeyError, ValueError) as exc:
        raise CheckpointError(checkpoint.path, f"does not fit the run's config: {exc}") from exc
    return policy, config, obs_norm, critic_norm


class _Progress:
    """A rich progress bar with SPS, return and ETA (nothing in quiet mode)."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.bar = None
        if quiet:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("[bold]train[/]"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=False,
        )  # fmt: skip
        self.task = self.bar.add_task("train", total=total, info="")
        self.bar.start()

    def advance(self, n: int) -> None:
        if self.bar is not None and n:
            self.bar.update(self.task, completed=n)

    def update(self, done: int, step: int, metrics: dict[str, Any]) -> None:
        if self.bar is None:
            return
        ret = metrics.get("episodic_return")
        info = f"step {step:,}  sps {metrics['sps']:,.0f}"
        if ret is not None:
            info += f"  return {ret:.2f}"
        if metrics.get("success") is not None:
            info += f"  success {metrics['success']:.0%}"
        self.bar.update(self.task, completed=done, info=info)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
