"""Proximal Policy Optimization for any palaestra, Gymnasium or PettingZoo env.

Reads top to bottom in the order of the PPO paper (Schulman et al., 2017) and its reference
implementation details (Huang et al., "The 37 Implementation Details of PPO", 2022):

1. setup: seeding, envs, policy, optimiser, rollout storage, run folder
   (:func:`~palaestra.train.session.open_session`, guarded: a failure closes every env);
2. rollout: ``num_steps`` steps of every env row with the current policy
   (:func:`collect_rollout`);
3. advantages: generalised advantage estimation (Schulman et al., 2016)
   (:func:`compute_advantages`);
4. update: ``update_epochs`` passes of minibatch gradient steps on the clipped surrogate,
   the (clipped) value loss and the entropy bonus, with gradient clipping and an optional
   target-KL early stop; the learning rate anneals linearly (:func:`update_policy`);
5. logging, checkpoints (:mod:`palaestra.train.checkpointing`) and callbacks; then a final
   checkpoint, evaluation, plot and video (:func:`finish`).

Any policy can be trained: ``train(config, policy=...)`` takes a ``torch.nn.Module`` with
``act``, ``evaluate_actions`` and ``value`` (:class:`palaestra.agents.policies.Policy`), or a
factory ``policy(config, envs) -> module`` that sizes it from the envs (``envs.obs_dim``,
``envs.action``, ``envs.layout``, ``envs.agents``). Its optional extras (a numpy twin for
fast CPU rollouts, ``row_extras`` for the text view, legal-action texts and events of each
row) are described in :mod:`palaestra.agents.policies`.

Glossary:
    row: one actor in the env batch (an env for Gymnasium envs, an (env, agent) pair for
        PettingZoo envs). A rollout holds ``num_steps x rows`` transitions.
    valid: whether a stored transition is real; the step that resets a finished env and
        the steps of agents that already finished (or wait for their turn) are stored but
        never trained on.
    phase: how many times the envs were reset from scratch (at the start and after each
        checkpoint); it seeds the envs, so a resumed run sees the same episodes.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from palaestra.train.callbacks import Callback
from palaestra.train.checkpoint import list_checkpoints, write_json_atomic
from palaestra.train.checkpointing import load_policy, save_session
from palaestra.train.config import TrainConfig
from palaestra.train.envs import EnvBatch, EpisodeRecord
from palaestra.train.progress import Progress
from palaestra.train.runlog import RunLogger, plot_run
from palaestra.train.session import (
    PolicyFactory,
    Session,
    build_policy,
    open_session,
    resolve_device,
)
from palaestra.train.storage import Batch, RolloutStorage

__all__ = [
    "TrainResult",
    "TrainingDiverged",
    "build_policy",
    "collect_rollout",
    "compute_advantages",
    "load_policy",
    "resolve_device",
    "train",
    "update_policy",
]

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


# ---------------------------------------------------------------------------- the loop
def train(
    config: TrainConfig,
    callbacks: Sequence[Callback] = (),
    *,
    policy: torch.nn.Module | PolicyFactory | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a policy with PPO and return where everything was written.

    Args:
        config: The run's configuration.
        callbacks: Hooks called during training.
        policy: The policy to train (a module, or a factory ``(config, envs) -> module``);
            None builds palaestra's MLP actor-critic from ``config.ppo``.
        resume: Continue from the latest checkpoint in ``config.run_dir`` (to
            ``config.total_timesteps``) instead of starting anew.

    Raises:
        ValueError: for an unknown env id (with close matches), an unsupported space (named),
            a policy without the protocol's methods, or settings that cannot run.
        TrainingDiverged: when a loss becomes NaN; the last good checkpoint is kept.
    """
    config.validate()
    factory = _curriculum_callback if config.curriculum is not None else None
    s = open_session(config, callbacks, policy, resume=resume, curriculum=factory)
    logger = None
    progress = Progress(s.num_updates, s.config.quiet)
    try:
        logger = RunLogger(s.run_dir, resume_step=s.global_step if resume else None)
        s.reset_envs()
        for callback in s.callbacks:
            callback.on_training_start(s.state)
        progress.advance(s.start_update)
        last_checkpoint = list_checkpoints(s.ckpt_dir)[-1] if resume else None
        start_time, start_step = time.perf_counter(), s.global_step
        ckpt_every = _checkpoint_every(s)
        for update in range(s.start_update, s.num_updates):
            lr = _anneal_learning_rate(s, update)
            episodes = collect_rollout(s)
            compute_advantages(s)
            losses = update_policy(
                s.policy, s.optimizer, s.storage, s.config.ppo, s.generator, s.flat_extras()
            )
            elapsed = time.perf_counter() - start_time
            metrics: dict[str, Any] = {
                "sps": (s.global_step - start_step) / max(elapsed, 1e-9),
                "learning_rate": lr,
                **losses,
                **_episode_metrics(episodes),
            }
            for callback in s.callbacks:
                metrics.update(callback.update_metrics(s.state))
            logger.log(s.global_step, metrics)
            s.update = s.state.update = update + 1
            s.state.metrics = metrics
            progress.update(update + 1, s.global_step, metrics)
            stop = any(cb.on_update_end(s.state) is False for cb in s.callbacks)
            is_last = update + 1 == s.num_updates or stop
            if is_last or (ckpt_every and (update + 1) % ckpt_every == 0):
                s.phase += 1  # the envs' next fresh start (here, or in a resumed run)
                last_checkpoint = save_session(s)
                if not is_last:
                    s.reset_envs()  # a fresh start after a checkpoint: what a resume sees
            if stop:
                break
    finally:
        progress.close()
        if logger is not None:
            logger.close()
        s.envs.close()
    evaluation = finish(s)
    if last_checkpoint is None:  # only when resuming a run whose checkpoints vanished
        raise RuntimeError(f"no checkpoint was written to {s.ckpt_dir}")
    return TrainResult(s.run_dir, s.global_step, s.update, last_checkpoint, evaluation)


def _checkpoint_every(s: Session) -> int:
    """Updates between checkpoints (0: only the final one)."""
    if s.config.checkpoint_interval == 0:
        return 0
    return max(1, round(s.config.checkpoint_interval / (s.config.ppo.num_steps * s.envs.num_rows)))


def _anneal_learning_rate(s: Session, update: int) -> float:
    ppo = s.config.ppo
    lr = ppo.learning_rate * (1.0 - update / s.num_updates if ppo.anneal_lr else 1.0)
    for group in s.optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
    return lr


# ---------------------------------------------------------------------------- 2. rollout
def collect_rollout(s: Session) -> list[EpisodeRecord]:
    """Fill the storage with ``num_steps`` steps of every row; return the episodes that ended.

    Callbacks hear every finished episode (per agent) and every env copy's episode end.
    """
    episodes: list[EpisodeRecord] = []
    storage, envs, rows = s.storage, s.envs, s.envs.num_rows
    extras_log = s.extras_log = [] if s.row_extras else None
    for step in range(s.config.ppo.num_steps):
        s.state.rollout_step = step
        actions, logprobs, values = s.act(s.obs, s.mask, s.critic)
        result = envs.step(actions)
        rewards = result.rewards
        if s.reward_norm is not None:
            rewards = s.reward_norm(rewards, result.terminated | result.truncated)
        storage.insert(
            step, obs=s.obs, actions=actions, logprobs=logprobs, values=values,
            rewards=rewards, terminated=result.terminated, truncated=result.truncated,
            valid=result.valid, action_masks=s.mask, critic_obs=s.critic,
            **({} if result.waiting is None else {"waiting": result.waiting}),
        )  # fmt: skip
        if extras_log is not None:
            extras_log.append(s.extras)
        s.obs = s.normalize(result.obs, s.obs_norm)
        s.mask = result.action_mask
        s.critic = s.normalize(result.critic_obs, s.critic_norm)
        s.extras = result.extras
        s.global_step += rows
        for episode in result.episodes:
            episodes.append(episode)
            s.env_records[episode.env_index].append(episode)
            for callback in s.callbacks:
                callback.on_episode_end(s.state, episode)
        for env_index in result.ended_envs:
            # Every agent's record of the episode, early leavers included.
            records, s.env_records[env_index] = s.env_records[env_index], []
            for callback in s.callbacks:
                callback.on_env_episode_end(s.state, env_index, records)
    s.state.global_step = s.global_step
    for callback in s.callbacks:
        callback.on_rollout_end(s.state)
    return episodes


# ------------------------------------------------------------------------- 3. advantages
def compute_advantages(s: Session) -> None:
    """GAE over the rollout, bootstrapped from the rows' current observations.

    Only callbacks that override ``on_advantages`` get the rollout's arrays (a host copy).
    """
    s.storage.compute_returns(s.value(s.obs, s.critic), s.config.ppo.gamma, s.config.ppo.gae_lambda)
    listeners = [cb for cb in s.callbacks if type(cb).on_advantages is not Callback.on_advantages]
    if listeners:
        arrays = s.storage.numpy_views("advantages", "values", "valid")
        for callback in listeners:
            callback.on_advantages(s.state, *arrays)


# ----------------------------------------------------------------------------- 4. update
def update_policy(
    policy: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    storage: RolloutStorage,
    ppo: Any,
    generator: torch.Generator,
    extras: Sequence[dict[str, Any]] | None = None,
) -> dict[str, float]:
    """Minibatch epochs of the clipped PPO objective; returns the update's loss metrics.

    ``extras``: the rollout's row extras flattened over steps and rows (step-major), for a
    policy with ``row_extras``; each minibatch passes its own to ``evaluate_actions``.
    """
    clipfracs: list[torch.Tensor] = []
    approx_kl = old_approx_kl = torch.zeros(())
    pg_loss = v_loss = entropy_loss = torch.zeros(())
    num_minibatches = ppo.num_minibatches
    if ppo.minibatch_size:
        num_minibatches = max(1, math.ceil(int(storage.valid.sum()) / ppo.minibatch_size))
    for _epoch in range(ppo.update_epochs):
        for batch in storage.minibatches(num_minibatches, generator):
            advantages = batch.advantages
            if ppo.norm_adv and advantages.numel() > 1:
                advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
            optimizer.zero_grad(set_to_none=True)
            sums: torch.Tensor | None = None  # stays on the device: no sync per minibatch
            for micro, micro_advantages, weight in _micro_batches(
                batch, advantages, ppo.grad_accum_steps
            ):
                kwargs = {}
                if extras is not None:
                    kwargs = {"extras": [extras[i] for i in micro.index.tolist()]}
                terms = _ppo_terms(policy, micro, micro_advantages, ppo, kwargs)
                (terms[0] * weight).backward()
                part_sums = torch.stack([t.detach().float() for t in terms]) * weight
                sums = part_sums if sums is None else sums + part_sums
            assert sums is not None  # a minibatch is never empty
            _, pg_loss, v_loss, entropy_loss, old_approx_kl, approx_kl, clipfrac = sums.unbind()
            clipfracs.append(clipfrac)
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


def _micro_batches(
    batch: Batch, advantages: torch.Tensor, accum: int
) -> list[tuple[Batch, torch.Tensor, float]]:
    """Split a minibatch for gradient accumulation.

    Returns ``(micro-batch, its normalised advantages, its share of the minibatch)`` for each
    part; the minibatch itself, with weight 1, when there is nothing to split.
    """
    if accum <= 1:
        return [(batch, advantages, 1.0)]
    size = advantages.shape[0]
    out = []
    for part in torch.arange(size, device=advantages.device).tensor_split(accum):
        if part.numel():
            rows = {
                f.name: None if (t := getattr(batch, f.name)) is None else t[part]
                for f in dataclasses.fields(batch)
            }
            out.append((Batch(**rows), advantages[part], part.numel() / size))
    return out


def _ppo_terms(
    policy: torch.nn.Module, batch: Batch, advantages: torch.Tensor, ppo: Any, kwargs: dict
) -> list[torch.Tensor]:
    """Loss, policy loss, value loss, entropy, the two KL estimates and the clip fraction."""
    new_logprob, entropy, new_value = policy.evaluate_actions(
        batch.obs, batch.actions, batch.action_masks, batch.critic_obs, **kwargs
    )
    log_ratio = new_logprob - batch.logprobs
    ratio = log_ratio.exp()
    with torch.no_grad():
        # KL estimators of http://joschu.net/blog/kl-approx.html
        old_approx_kl = (-log_ratio).mean()
        approx_kl = ((ratio - 1) - log_ratio).mean()
        clipfrac = ((ratio - 1.0).abs() > ppo.clip_coef).float().mean()

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
    return [loss, pg_loss, v_loss, entropy_loss, old_approx_kl, approx_kl, clipfrac]


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


# ------------------------------------------------------------------------ 5. the end
def finish(s: Session) -> dict[str, Any] | None:
    """After the last update: callbacks' end, evaluation (eval.json, video) and the plot."""
    for callback in s.callbacks:
        callback.on_training_end(s.state)
    evaluation = None
    if s.config.eval_episodes > 0:
        from palaestra.train.evaluate import evaluate_policy

        evaluation = evaluate_policy(
            s.config, s.policy, s.obs_norm, episodes=s.config.eval_episodes,
            video_path=s.run_dir / "final_policy.mp4" if s.config.video else None,
        )  # fmt: skip
        write_json_atomic(s.run_dir / "eval.json", evaluation)
    plot_run(s.run_dir)
    return evaluation


def _curriculum_callback(config: TrainConfig, envs: EnvBatch) -> Callback:
    """The callback that runs ``config.curriculum`` on the envs' task space."""
    from palaestra.curriculum import make
    from palaestra.train.curriculum import CurriculumCallback

    space = envs.task_space
    if space is None:
        raise ValueError(f"{config.env_id} has no task channel: it cannot take a curriculum")
    scheduler = make(config.curriculum, space, seed=config.seed, **config.curriculum_kwargs)
    return CurriculumCallback(scheduler)
