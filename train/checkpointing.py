"""What a PPO run saves in its checkpoints, and how a resumed run or a reader gets it back.

The file format (atomic writes, safetensors weights, a state file loaded without unpickling)
is :mod:`palaestra.train.checkpoint`'s; this module decides the contents:

- weights (safetensors): ``policy.*`` (the policy's ``state_dict``), ``obs_norm.*``,
  ``critic_norm.*`` and ``reward_norm.*`` (the normalisers' statistics);
- state: the optimiser's ``state_dict``, the torch, CUDA, minibatch and numpy RNG states,
  the counters (``global_step``, ``update``, ``phase``), the config, and each callback's
  ``state_dict`` keyed by class name and rank.

Readers that only play a policy need the weights and ``config.json``
(:meth:`~palaestra.agents.policy_agent.PolicyAgent.from_run`, :func:`load_policy`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from palaestra.train.callbacks import Callback
from palaestra.train.checkpoint import CheckpointError, prune_checkpoints, save_checkpoint
from palaestra.train.config import config_to_dict

if TYPE_CHECKING:
    from palaestra.train.session import Session

__all__ = ["load_policy", "restore_session", "save_session"]

log = logging.getLogger(__name__)


def _normalizer_tensors(prefix: str, norm: Any) -> dict[str, torch.Tensor]:
    if norm is None:
        return {}
    return {f"{prefix}.{k}": torch.as_tensor(np.asarray(v)) for k, v in norm.state_dict().items()}


def save_session(session: Session) -> Path:
    """Write a checkpoint of the session at its current step; prune old ones."""
    s = session
    tensors = {f"policy.{k}": v.detach() for k, v in s.policy.state_dict().items()}
    tensors |= _normalizer_tensors("obs_norm", s.obs_norm)
    tensors |= _normalizer_tensors("critic_norm", s.critic_norm)
    tensors |= _normalizer_tensors("reward_norm", s.reward_norm)
    state = {
        "optimizer": s.optimizer.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "generator": s.generator.get_state(),
        "numpy_rng": s.rng.bit_generator.state,
        "global_step": s.global_step,
        "update": s.update,
        "phase": s.phase,
        "config": config_to_dict(s.config),
        "callbacks": {key: cb.state_dict() for key, cb in _callback_keys(s.callbacks)},
    }
    path = save_checkpoint(s.ckpt_dir, s.global_step, tensors, state)
    prune_checkpoints(s.ckpt_dir, s.config.keep_checkpoints)
    log.info("saved %s", path)
    return path


def restore_session(session: Session, checkpoint: Any) -> None:
    """Load a checkpoint into a freshly set-up session (weights, optimiser, RNGs, counters)."""
    s, state = session, checkpoint.state
    try:
        _load_weights(
            checkpoint.tensors, s.policy, ("obs_norm", s.obs_norm),
            ("critic_norm", s.critic_norm), ("reward_norm", s.reward_norm),
        )  # fmt: skip
        s.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        s.generator.set_state(state["generator"])
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(checkpoint.path, f"does not fit this run's config: {exc}") from exc
    s.global_step = state["global_step"]
    s.start_update = s.update = state["update"]
    s.phase = state["phase"]
    s.rng.bit_generator.state = state["numpy_rng"]
    _restore_callbacks(checkpoint, s.callbacks)


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


def _load_weights(
    tensors: dict[str, torch.Tensor], policy: torch.nn.Module, *normalizers: tuple[str, Any]
) -> None:
    """Load the policy and the named normalisers from a checkpoint's tensors."""
    policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
    for prefix, norm in normalizers:
        if norm is None:
            continue
        norm.load_state_dict(
            {k[len(prefix) + 1 :]: v.cpu().numpy() for k, v in tensors.items()
             if k.startswith(prefix + ".")}
        )  # fmt: skip


def load_policy(run_dir: Path, map_location: str = "cpu") -> tuple[torch.nn.Module, Any, Any]:
    """The policy, config and observation normaliser of a run's latest checkpoint.

    Reads ``config.json``, ``policy.json`` and the safetensors weights only (no pickle),
    through :meth:`~palaestra.agents.policy_agent.PolicyAgent.from_run`.

    Returns:
        ``(policy, config, obs_norm)``; ``obs_norm`` is None for runs without normalisation.
    """
    import json

    from palaestra.agents.policy_agent import PolicyAgent
    from palaestra.train.config import config_from_dict

    run_dir = Path(run_dir)
    agent = PolicyAgent.from_run(run_dir, device=map_location, agent=_first_agent(run_dir))
    config = config_from_dict(json.loads((run_dir / "config.json").read_text(encoding="utf-8")))
    return agent.policy, config, agent.obs_norm


def _first_agent(run_dir: Path) -> str | None:
    import json

    path = run_dir / "policy.json"
    if not path.is_file():
        return None
    agents = json.loads(path.read_text(encoding="utf-8")).get("agents")
    return agents[0] if agents else None
