"""Generalised advantage estimation (GAE) for PPO, with turn-based waiting steps.

The glossary (transition, terminated, truncated, valid, waiting, advantage, return) is
:mod:`palaestra.train.storage`'s; :class:`~palaestra.train.storage.RolloutStorage` calls
:func:`compute_gae` over its rollout.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["ArrayLike", "compute_gae"]

ArrayLike = Tensor | np.ndarray


def compute_gae(
    rewards: ArrayLike,
    values: Tensor,
    terminated: ArrayLike,
    truncated: ArrayLike,
    next_value: ArrayLike,
    gamma: float,
    gae_lambda: float,
    valid: ArrayLike | None = None,
    waiting: ArrayLike | None = None,
) -> tuple[Tensor, Tensor]:
    """Compute GAE(gamma, lambda) advantages and returns, backwards in time.

    With ``V(obs_{t+1})`` equal to ``values[t + 1]`` for ``t < T - 1`` and to ``next_value``
    for the last step::

        delta_t = r_t + gamma * (1 - terminated_t) * V(obs_{t+1}) - values[t]
        A_t     = valid_t * (delta_t + gamma * lambda * (1 - done_t) * A_{t+1})
        returns = A + values

    where ``done_t = terminated_t or truncated_t``. When a transition ends its episode,
    ``obs_{t+1}`` is that episode's final observation: a truncated episode bootstraps from
    its value, a terminated one does not, and neither passes advantage back across the end.
    Steps with ``valid`` False (autoreset steps, finished agents) get advantage 0, so their
    return equals their value; their value still serves as ``V(obs_{t+1})`` of the step
    before, which is right for next-step autoreset, where it is the value of the final
    observation.

    **Waiting steps** (turn-based envs): per row, a step with ``waiting`` True passes
    through. For a real step ``t`` followed by waiting steps ``t+1 .. t+k`` and then a step
    ``t+k+1`` that is not waiting (the agent's next turn, an autoreset step, or ``T``, where
    ``V(obs_T)`` is ``next_value``)::

        R_t     = r_t + r_{t+1} + ... + r_{t+k}
        term_t' = terminated_t or ... or terminated_{t+k}      (done_t' likewise)
        delta_t = R_t + gamma * (1 - term_t') * values[t+k+1] - values[t]
        A_t     = delta_t + gamma * lambda * (1 - done_t') * A_{t+k+1}

    so discounting counts the agent's own turns, and a reward that reaches an agent while
    others act (a hand's payout) belongs to its last action. A waiting step gets advantage
    0 and its value is never read; a waiting step must not be ``valid``. An invalid step
    that is not waiting (autoreset, finished agent) keeps its meaning above and clears what
    later waiting steps accumulated: those belong to the next episode. Waiting steps before
    a row's first real step in the rollout reach no step and are dropped. ``waiting=None``
    runs exactly the recursion above, unchanged.

    Inputs other than ``values`` may also be numpy arrays; all are moved to the device and
    dtype of ``values``.

    Args:
        rewards: ``[T, N]`` rewards ``r_t``.
        values: ``[T, N]`` value estimates ``V(obs_t)``; a floating-point tensor whose
            dtype and device the outputs take.
        terminated: ``[T, N]`` bool (or 0/1) flags: the transition ended the episode in a
            terminal state.
        truncated: ``[T, N]`` bool (or 0/1) flags: the transition ended the episode by
            truncation.
        next_value: ``[N]`` value of the observation after the last step.
        gamma: discount factor in [0, 1].
        gae_lambda: GAE lambda in [0, 1]; 0 gives one-step TD errors, 1 gives Monte-Carlo
            returns minus values.
        valid: ``[T, N]`` bool flags, True for real transitions; all True when omitted.
        waiting: ``[T, N]`` bool flags, True for waiting steps (never where ``valid``);
            none when omitted.

    Returns:
        ``(advantages, returns)``, both ``[T, N]`` with the dtype and device of ``values``.

    Raises:
        ValueError: if shapes disagree, ``values`` is not floating point, ``gamma`` or
            ``gae_lambda`` lies outside [0, 1], or a step is both valid and waiting.
    """
    rewards, terminated, done, next_value, valid, waiting = _checked(
        rewards, values, terminated, truncated, next_value, gamma, gae_lambda, valid, waiting
    )
    numpy_path = values.device.type == "cpu" and values.dtype in (torch.float32, torch.float64)
    if waiting is not None:
        return (_gae_waiting_numpy if numpy_path else _gae_waiting)(
            rewards, values, terminated, done, valid, waiting, next_value, gamma, gae_lambda
        )
    return (_gae_numpy if numpy_path else _gae_torch)(
        rewards, values, terminated, done, valid, next_value, gamma, gae_lambda
    )


def _gae_torch(
    rewards: Tensor, values: Tensor, terminated: Tensor, done: Tensor, valid: Tensor,
    next_value: Tensor, gamma: float, gae_lambda: float,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The recursion of :func:`compute_gae` in torch (any device)."""
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    advantages = torch.zeros_like(values)
    last = torch.zeros_like(next_value)
    shape = values.shape
    for t in reversed(range(shape[0])):
        following = next_value if t == shape[0] - 1 else values[t + 1]
        # torch.where rather than multiplying by 0/1 masks: a NaN or inf in a value that
        # must be ignored (a terminal bootstrap, an invalid step) cannot leak through.
        bootstrap = torch.where(terminated[t], zero, following)
        delta = rewards[t] + gamma * bootstrap - values[t]
        carried = torch.where(done[t], zero, last)
        last = torch.where(valid[t], delta + gamma * gae_lambda * carried, zero)
        advantages[t] = last
    return advantages, advantages + values


def _gae_numpy(
    rewards: Tensor, values: Tensor, terminated: Tensor, done: Tensor, valid: Tensor,
    next_value: Tensor, gamma: float, gae_lambda: float,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The recursion of :func:`compute_gae` in numpy.

    On the CPU a torch op on a small vector costs several times its arithmetic.
    """
    r, v = rewards.numpy(), values.detach().numpy()
    term, end, ok = terminated.numpy(), done.numpy(), valid.numpy()
    nv = next_value.detach().numpy()
    zero = v.dtype.type(0)
    advantages = np.zeros_like(v)
    last = np.zeros_like(nv)
    for t in range(v.shape[0] - 1, -1, -1):
        following = nv if t == v.shape[0] - 1 else v[t + 1]
        delta = r[t] + gamma * np.where(term[t], zero, following) - v[t]
        carried = np.where(end[t], zero, last)
        last = np.where(ok[t], delta + gamma * gae_lambda * carried, zero).astype(v.dtype)
        advantages[t] = last
    adv = torch.from_numpy(advantages)
    return adv, adv + values


def _gae_waiting(
    rewards: Tensor, values: Tensor, terminated: Tensor, done: Tensor, valid: Tensor,
    waiting: Tensor, next_value: Tensor, gamma: float, gae_lambda: float,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """The recursion of :func:`compute_gae` through waiting steps, in torch.

    Carried backwards per row: ``following`` (the value after the step: that of the next
    step that is not waiting), ``last`` (that step's advantage) and what the waiting steps
    in between accumulated (``acc_r``, ``acc_term``, ``acc_done``), which the step before
    them adds to its own.
    """
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    advantages = torch.zeros_like(values)
    following, last, acc_r = next_value, torch.zeros_like(next_value), torch.zeros_like(next_value)
    acc_term = acc_done = torch.zeros(next_value.shape, dtype=torch.bool, device=values.device)
    for t in reversed(range(values.shape[0])):
        reward = rewards[t] + acc_r
        term, end = terminated[t] | acc_term, done[t] | acc_done
        delta = reward + gamma * torch.where(term, zero, following) - values[t]
        carried = torch.where(end, zero, last)
        last_t = torch.where(valid[t], delta + gamma * gae_lambda * carried, zero)
        advantages[t] = last_t
        w = waiting[t]
        following = torch.where(w, following, values[t])
        last = torch.where(w, last, last_t)
        acc_r = torch.where(w, reward, zero)
        acc_term, acc_done = w & term, w & end
    return advantages, advantages + values


def _gae_waiting_numpy(
    rewards: Tensor, values: Tensor, terminated: Tensor, done: Tensor, valid: Tensor,
    waiting: Tensor, next_value: Tensor, gamma: float, gae_lambda: float,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """:func:`_gae_waiting` in numpy (the CPU path, as :func:`_gae_numpy`)."""
    r, v = rewards.numpy(), values.detach().numpy()
    term_all, end_all, ok, wait = (x.numpy() for x in (terminated, done, valid, waiting))
    nv = next_value.detach().numpy()
    zero = v.dtype.type(0)
    advantages = np.zeros_like(v)
    following, last, acc_r = nv, np.zeros_like(nv), np.zeros_like(nv)
    acc_term = acc_done = np.zeros(nv.shape, bool)
    for t in range(v.shape[0] - 1, -1, -1):
        reward = (r[t] + acc_r).astype(v.dtype)
        term, end = term_all[t] | acc_term, end_all[t] | acc_done
        delta = reward + gamma * np.where(term, zero, following) - v[t]
        carried = np.where(end, zero, last)
        last_t = np.where(ok[t], delta + gamma * gae_lambda * carried, zero).astype(v.dtype)
        advantages[t] = last_t
        w = wait[t]
        following = np.where(w, following, v[t])
        last = np.where(w, last, last_t)
        acc_r = np.where(w, reward, zero)
        acc_term, acc_done = w & term, w & end
    adv = torch.from_numpy(advantages)
    return adv, adv + values


def _checked(
    rewards: ArrayLike, values: Tensor, terminated: ArrayLike, truncated: ArrayLike,
    next_value: ArrayLike, gamma: float, gae_lambda: float, valid: ArrayLike | None,
    waiting: ArrayLike | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | None]:  # fmt: skip
    """:func:`compute_gae`'s inputs checked (ranges, shapes) and as tensors on ``values``' device.

    Returns:
        ``(rewards, terminated, done, next_value, valid, waiting)``; ``done`` is
        ``terminated | truncated``, ``valid`` all True when omitted.
    """
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    if not 0.0 <= gae_lambda <= 1.0:
        raise ValueError(f"gae_lambda must lie in [0, 1], got {gae_lambda}")
    if not isinstance(values, Tensor) or not values.is_floating_point():
        raise ValueError(
            "values must be a floating-point tensor, got "
            f"{getattr(values, 'dtype', type(values).__name__)}"
        )
    if values.ndim != 2:
        raise ValueError(f"values must have shape [T, N], got {tuple(values.shape)}")
    shape = values.shape
    rewards, terminated, truncated, next_value = (
        torch.as_tensor(x) for x in (rewards, terminated, truncated, next_value)
    )
    named = {"rewards": rewards, "terminated": terminated, "truncated": truncated}
    if valid is not None:
        valid = torch.as_tensor(valid)
        named["valid"] = valid
    if waiting is not None:
        waiting = torch.as_tensor(waiting)
        named["waiting"] = waiting
    for name, tensor in named.items():
        if tuple(tensor.shape) != tuple(shape):
            raise ValueError(
                f"{name} has shape {tuple(tensor.shape)}, expected {tuple(shape)} like values"
            )
    if tuple(next_value.shape) != (shape[1],):
        raise ValueError(
            f"next_value has shape {tuple(next_value.shape)}, expected ({shape[1]},) "
            "(one value per env)"
        )

    device, dtype = values.device, values.dtype
    rewards = rewards.to(device=device, dtype=dtype)
    next_value = next_value.to(device=device, dtype=dtype)
    terminated = terminated.to(device=device, dtype=torch.bool)
    done = terminated | truncated.to(device=device, dtype=torch.bool)
    if valid is None:
        valid = torch.ones(shape, dtype=torch.bool, device=device)
    else:
        valid = valid.to(device=device, dtype=torch.bool)
    if waiting is not None:
        waiting = waiting.to(device=device, dtype=torch.bool)
        both = waiting & valid
        if bool(both.any()):
            t, n = (int(i) for i in torch.nonzero(both)[0])
            raise ValueError(
                f"step {t} of row {n} is both valid and waiting: a waiting step takes no "
                "action, so it must be stored with valid=False"
            )
    return rewards, terminated, done, next_value, valid, waiting
