"""Rollout storage and generalised advantage estimation (GAE) for PPO.

Glossary (shapes use ``T`` for steps in a rollout and ``N`` for parallel envs or agents):

- **transition**: one step ``(obs_t, a_t, r_t, obs_{t+1})`` of one env.
- **terminated** / **truncated**: the transition ended its episode by reaching a terminal
  state (no future reward: never bootstrap) or by a time limit or other cut-off (the future
  was merely not observed: bootstrap from the value of the final observation).
- **valid**: whether a stored step is a real transition. Gymnasium 1.x vector envs reset
  with *next-step* autoreset: after an episode ends at step ``t``, the env's step ``t + 1``
  only resets it, ignoring the action and returning reward 0. That step, and the steps of an
  agent that has already left a multi-agent episode, are stored with ``valid = False``: they
  get no advantage, never leak into their neighbours, and are left out of every minibatch.
- **waiting**: a step of a turn-based (PettingZoo AEC) row whose agent is in its episode
  but not on turn: it takes no action and is never trained on (``valid = False``), but GAE
  passes through it to the agent's next turn, collecting the rewards and episode ends that
  reach the agent while others play (see :func:`compute_gae`).
- **advantage** ``A_t``: GAE(gamma, lambda) of Schulman et al., "High-Dimensional Continuous
  Control Using Generalized Advantage Estimation" (2016), eq. 16.
- **return**: ``A_t + V(obs_t)``, the target of the value function (the TD(lambda) return).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from palaestra.train.gae import ArrayLike, compute_gae

_NUMPY_DTYPES = {
    torch.float32: np.float32,
    torch.float64: np.float64,
    torch.int64: np.int64,
    torch.int32: np.int32,
    torch.bool: np.bool_,
}

__all__ = ["Batch", "RolloutStorage", "compute_gae"]


@dataclass(frozen=True)
class Batch:
    """One minibatch of valid transitions, flattened over steps and envs.

    Attributes:
        obs: ``[B, obs_dim]`` observations the actor saw.
        critic_obs: ``[B, critic_obs_dim]`` observations of a centralised critic, or None.
        actions: ``[B, *action_shape]`` actions taken.
        logprobs: ``[B]`` log-probabilities of the actions under the rollout policy.
        values: ``[B]`` value estimates at collection time.
        advantages: ``[B]`` GAE advantages (not normalised).
        returns: ``[B]`` value targets.
        action_masks: ``[B, mask_dim]`` legal-action masks, or None.
        index: ``[B]`` positions of the transitions in the rollout flattened step-major
            (``step * N + row``), to look up what the storage does not hold (row extras).
    """

    obs: Tensor
    critic_obs: Tensor | None
    actions: Tensor
    logprobs: Tensor
    values: Tensor
    advantages: Tensor
    returns: Tensor
    action_masks: Tensor | None
    index: Tensor | None = None


class RolloutStorage:
    """Preallocated tensors for one rollout of ``num_steps`` steps of ``num_envs`` envs.

    Use it in three phases per PPO iteration: :meth:`insert` each step of the rollout,
    :meth:`compute_returns` once with the value of the observation after the last step, then
    :meth:`minibatches` once per epoch. Every tensor lives on ``device``; inputs are copied in
    from wherever they are, so env outputs can stay on CPU.

    Attributes:
        obs: ``[T, N, obs_dim]`` float32 observations.
        critic_obs: ``[T, N, critic_obs_dim]`` float32 critic observations, or None.
        actions: ``[T, N, *action_shape]`` actions of ``action_dtype``.
        logprobs: ``[T, N]`` float32 log-probabilities of the actions.
        rewards: ``[T, N]`` float32 rewards.
        values: ``[T, N]`` float32 value estimates.
        terminated: ``[T, N]`` bool termination flags.
        truncated: ``[T, N]`` bool truncation flags.
        valid: ``[T, N]`` bool flags, True for real transitions.
        waiting: ``[T, N]`` bool flags of waiting steps (turn-based envs), or None until an
            insert passes ``waiting``; it is allocated then, and every step inserted without
            it counts as not waiting.
        action_masks: ``[T, N, mask_dim]`` bool legal-action masks, or None.
        advantages: ``[T, N]`` float32 advantages, filled by :meth:`compute_returns`.
        returns: ``[T, N]`` float32 value targets, filled by :meth:`compute_returns`.
    """

    def __init__(
        self,
        num_steps: int,
        num_envs: int,
        obs_dim: int,
        action_shape: tuple[int, ...],
        action_dtype: torch.dtype,
        device: torch.device | str,
        *,
        mask_dim: int | None = None,
        critic_obs_dim: int | None = None,
    ) -> None:
        """Allocate the tensors.

        Args:
            num_steps: steps ``T`` per env in one rollout.
            num_envs: parallel envs (or agents) ``N``.
            obs_dim: length of a flat observation.
            action_shape: shape of one action: ``()`` for a discrete action, ``(k,)`` for a
                continuous or multi-discrete one.
            action_dtype: dtype of stored actions, e.g. ``torch.long`` or ``torch.float32``.
            device: where every tensor lives.
            mask_dim: length of the legal-action mask; None stores no masks.
            critic_obs_dim: length of a centralised critic's observation; None stores none.

        Raises:
            ValueError: if a size is not a positive integer.
        """
        for name, size in (("num_steps", num_steps), ("num_envs", num_envs), ("obs_dim", obs_dim)):
            _check_positive(name, size)
        if mask_dim is not None:
            _check_positive("mask_dim", mask_dim)
        if critic_obs_dim is not None:
            _check_positive("critic_obs_dim", critic_obs_dim)
        action_shape = tuple(action_shape)
        if any(not isinstance(d, int) or d < 1 for d in action_shape):
            raise ValueError(f"action_shape must hold positive integers, got {action_shape}")

        self.num_steps = num_steps
        self.num_envs = num_envs
        self.obs_dim = obs_dim
        self.action_shape = action_shape
        self.action_dtype = action_dtype
        self.device = torch.device(device)
        self.mask_dim = mask_dim
        self.critic_obs_dim = critic_obs_dim

        # Every per-step array lives in a host (numpy) buffer that inserts write into with
        # plain numpy assignment (cheap next to a torch op per field). On the CPU the
        # tensors are views of those buffers; on another device they are copied over once
        # per rollout, in compute_returns.
        tn = (num_steps, num_envs)
        self._host: dict[str, np.ndarray] = {}
        self._dirty = False

        def alloc(name: str, shape: tuple[int, ...], dtype: torch.dtype, fill: int = 0) -> Tensor:
            host = np.full(shape, fill, dtype=_NUMPY_DTYPES[dtype])
            self._host[name] = host
            if self.device.type == "cpu":
                return torch.from_numpy(host)
            return torch.from_numpy(host).to(self.device)

        f32, boolean = torch.float32, torch.bool
        self.obs = alloc("obs", (*tn, obs_dim), f32)
        self.critic_obs: Tensor | None = (
            alloc("critic_obs", (*tn, critic_obs_dim), f32) if critic_obs_dim is not None else None
        )
        self.actions = alloc("actions", (*tn, *action_shape), action_dtype)
        self.logprobs = alloc("logprobs", tn, f32)
        self.rewards = alloc("rewards", tn, f32)
        self.values = alloc("values", tn, f32)
        self.terminated = alloc("terminated", tn, boolean)
        self.truncated = alloc("truncated", tn, boolean)
        self.valid = alloc("valid", tn, boolean, fill=1)
        self.action_masks: Tensor | None = (
            alloc("action_masks", (*tn, mask_dim), boolean) if mask_dim is not None else None
        )
        self._alloc = alloc
        self.waiting: Tensor | None = None  # allocated by the first insert that passes it
        self.advantages = torch.zeros(tn, dtype=f32, device=self.device)
        self.returns = torch.zeros(tn, dtype=f32, device=self.device)

    def _sync(self) -> None:
        """Copy the host buffers to the device tensors (nothing to do on the CPU)."""
        if self._dirty and self.device.type != "cpu":
            for name, host in self._host.items():
                getattr(self, name).copy_(torch.from_numpy(host), non_blocking=False)
        self._dirty = False

    @property
    def num_valid(self) -> int:
        """Number of stored steps that are real transitions (the minibatch pool's size)."""
        return int(self.valid.sum().item())

    def insert(
        self,
        step: int,
        *,
        obs: ArrayLike,
        actions: ArrayLike,
        logprobs: ArrayLike,
        values: ArrayLike,
        rewards: ArrayLike,
        terminated: ArrayLike,
        truncated: ArrayLike,
        valid: ArrayLike,
        action_masks: ArrayLike | None = None,
        critic_obs: ArrayLike | None = None,
        waiting: ArrayLike | None = None,
    ) -> None:
        """Copy one step of all envs into the storage.

        Inputs may be tensors on any device or numpy arrays; they are converted to the
        storage's dtypes. ``terminated``/``truncated`` refer to the transition taken at this
        step (``obs`` is the observation it started from).

        Args:
            step: index in ``[0, num_steps)``.
            obs: ``[N, obs_dim]`` observations the actions were chosen from.
            actions: ``[N, *action_shape]`` actions.
            logprobs: ``[N]`` log-probabilities of the actions.
            values: ``[N]`` value estimates of ``obs``.
            rewards: ``[N]`` rewards of the transitions.
            terminated: ``[N]`` termination flags of the transitions.
            truncated: ``[N]`` truncation flags of the transitions.
            valid: ``[N]`` flags, False for autoreset steps and finished agents.
            action_masks: ``[N, mask_dim]`` legal-action masks; required exactly when the
                storage was built with ``mask_dim``.
            critic_obs: ``[N, critic_obs_dim]`` critic observations; required exactly when
                the storage was built with ``critic_obs_dim``.
            waiting: ``[N]`` flags of rows whose agent is in its episode but not on turn
                (turn-based envs; see :func:`compute_gae`), stored with ``valid`` False.
                The first insert that passes it allocates :attr:`waiting`; an insert
                without it stores no waiting rows at that step.

        Raises:
            ValueError: if ``step`` is out of range, a shape is wrong, an optional input is
                given (or missing) against how the storage was built, or a row is both
                valid and waiting.
        """
        if not 0 <= step < self.num_steps:
            raise ValueError(f"step must lie in [0, {self.num_steps}), got {step}")
        _check_optional("action_masks", action_masks, self.action_masks, "mask_dim")
        _check_optional("critic_obs", critic_obs, self.critic_obs, "critic_obs_dim")
        pairs: list[tuple[str, Tensor, ArrayLike]] = [
            ("obs", self.obs, obs),
            ("actions", self.actions, actions),
            ("logprobs", self.logprobs, logprobs),
            ("values", self.values, values),
            ("rewards", self.rewards, rewards),
            ("terminated", self.terminated, terminated),
            ("truncated", self.truncated, truncated),
            ("valid", self.valid, valid),
        ]
        if self.action_masks is not None and action_masks is not None:
            pairs.append(("action_masks", self.action_masks, action_masks))
        if self.critic_obs is not None and critic_obs is not None:
            pairs.append(("critic_obs", self.critic_obs, critic_obs))
        # Check every input before writing any, so a bad call leaves the storage unchanged.
        sources = []
        for name, target, value in pairs:
            if isinstance(value, Tensor):
                source = value.detach().cpu().numpy()
            else:
                source = np.asarray(value)
            if source.shape != tuple(target.shape[1:]):
                raise ValueError(
                    f"{name} has shape {tuple(source.shape)}, expected {tuple(target.shape[1:])}"
                )
            sources.append(source)
        waiting_row = None
        if waiting is not None:
            waiting_row = _host_array(waiting)
            if waiting_row.shape != (self.num_envs,):
                raise ValueError(
                    f"waiting has shape {tuple(waiting_row.shape)}, expected ({self.num_envs},)"
                )
            waiting_row = waiting_row.astype(bool)
            valid_row = sources[[name for name, _, _ in pairs].index("valid")]
            both = np.flatnonzero(waiting_row & valid_row.astype(bool))
            if both.size:
                raise ValueError(
                    f"rows {both.tolist()} are both valid and waiting at step {step}: a "
                    "waiting row takes no action, so it must have valid=False"
                )
        for (name, _, _), source in zip(pairs, sources, strict=True):
            self._host[name][step] = source
        if waiting_row is not None:
            if self.waiting is None:
                self.waiting = self._alloc("waiting", (self.num_steps, self.num_envs), torch.bool)
            self._host["waiting"][step] = waiting_row
        elif self.waiting is not None:
            self._host["waiting"][step] = False
        self._dirty = True

    def compute_returns(self, next_value: ArrayLike, gamma: float, gae_lambda: float) -> None:
        """Fill :attr:`advantages` and :attr:`returns` with :func:`compute_gae`.

        Args:
            next_value: ``[N]`` value of the observation after the last stored step.
            gamma: discount factor in [0, 1].
            gae_lambda: GAE lambda in [0, 1].

        Raises:
            ValueError: if ``next_value`` has the wrong shape or a coefficient is out of range.
        """
        self._sync()
        next_value = torch.as_tensor(next_value).detach()
        advantages, returns = compute_gae(
            self.rewards,
            self.values,
            self.terminated,
            self.truncated,
            next_value,
            gamma,
            gae_lambda,
            self.valid,
            self.waiting,
        )
        self.advantages.copy_(advantages)
        self.returns.copy_(returns)

    def numpy_views(self, *names: str) -> tuple[np.ndarray, ...]:
        """Host copies (``[T, N]`` numpy arrays) of the named fields, e.g. ``"advantages"``.

        Fields written by inserts come from their host buffers; computed ones
        (``advantages``, ``returns``) are copied from the device. ``waiting`` is all False
        while no insert has passed it.
        """
        out = []
        for name in names:
            if name == "waiting" and self.waiting is None:
                out.append(np.zeros((self.num_steps, self.num_envs), bool))
            elif name in self._host:
                out.append(self._host[name].copy())
            elif name in ("advantages", "returns"):
                out.append(getattr(self, name).detach().cpu().numpy().copy())
            else:
                raise ValueError(f"storage has no field {name!r}")
        return tuple(out)

    def minibatches(self, num_minibatches: int, generator: torch.Generator) -> Iterator[Batch]:
        """Yield the valid transitions in a random order, split into minibatches.

        Only steps with ``valid`` True are used, each exactly once per call. They are
        shuffled with ``generator`` (the same seed gives the same order) and split into
        ``num_minibatches`` parts whose sizes differ by at most one, the larger first, as
        ``numpy.array_split`` does. When there are fewer valid steps than minibatches, only
        the non-empty parts are yielded.

        Args:
            num_minibatches: number of parts to split the valid steps into.
            generator: source of the permutation. It may live on another device than the
                storage (a CPU generator for CUDA data); the permutation is drawn on the
                generator's device and moved.

        Yields:
            :class:`Batch` objects on the storage's device.

        Raises:
            ValueError: if ``num_minibatches`` is not a positive integer.
        """
        if isinstance(num_minibatches, bool) or not isinstance(num_minibatches, int):
            raise ValueError(f"num_minibatches must be an integer, got {num_minibatches!r}")
        if num_minibatches < 1:
            raise ValueError(f"num_minibatches must be at least 1, got {num_minibatches}")
        self._sync()
        flat = self.num_steps * self.num_envs
        valid_index = torch.nonzero(self.valid.reshape(flat)).squeeze(1)
        permutation = torch.randperm(
            valid_index.numel(), generator=generator, device=generator.device
        )
        order = valid_index[permutation.to(self.device)]

        obs = self.obs.reshape(flat, self.obs_dim)
        critic_obs = None if self.critic_obs is None else self.critic_obs.reshape(flat, -1)
        actions = self.actions.reshape(flat, *self.action_shape)
        logprobs = self.logprobs.reshape(flat)
        values = self.values.reshape(flat)
        advantages = self.advantages.reshape(flat)
        returns = self.returns.reshape(flat)
        masks = None if self.action_masks is None else self.action_masks.reshape(flat, -1)
        for index in torch.tensor_split(order, num_minibatches):
            if index.numel() == 0:
                continue
            yield Batch(
                obs=obs[index],
                critic_obs=None if critic_obs is None else critic_obs[index],
                actions=actions[index],
                logprobs=logprobs[index],
                values=values[index],
                advantages=advantages[index],
                returns=returns[index],
                action_masks=None if masks is None else masks[index],
                index=index,
            )


def _host_array(value: ArrayLike) -> np.ndarray:
    """A numpy view or copy of a tensor (on any device) or array-like."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _check_positive(name: str, size: object) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{name} must be a positive integer, got {size!r}")


def _check_optional(name: str, given: ArrayLike | None, stored: Tensor | None, option: str) -> None:
    if given is not None and stored is None:
        raise ValueError(f"{name} given, but the storage was built without {option}")
    if given is None and stored is not None:
        raise ValueError(f"{name} missing: the storage was built with {option}, so pass them")
