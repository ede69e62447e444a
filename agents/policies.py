"""Actor-critic policies (torch) behind the small interface the PPO trainer uses.

Glossary:
    obs: a float32 tensor [B, obs_dim] (see :mod:`palaestra.agents.spaces` for flattening).
    action_mask: a bool tensor [B, n] of the actions allowed for each row, or None. A masked
        action gets zero probability: it is never sampled, and its log-probability is never
        used.
    critic_obs: what the critic sees when it is centralised (MAPPO); defaults to obs.

The trainer's policy protocol (:class:`Policy`): any ``torch.nn.Module`` with ``act``,
``evaluate_actions`` and ``value`` can be trained with
``palaestra.train.ppo.train(config, policy=...)``. That includes a policy whose actions are a
softmax over scores of a variable number of legal actions (pad to the largest count and mask
the padding). Optional extras a policy may offer:

- ``numpy_twin() -> object`` with numpy ``act(obs, mask, critic_obs, rng)`` and
  ``value(obs, critic_obs)``: a faster rollout path on the CPU (see :class:`NumpyActorCritic`);
  the trainer uses it when offered, never requires it.
- ``predict(obs, action_mask=None, deterministic=True, generator=None) -> actions``: actions
  alone, without the critic (so a centralised critic needs no joint observation);
  :class:`~palaestra.agents.policy_agent.PolicyAgent` uses it when offered, else ``act``.
- ``row_extras``: a tuple of the per-row extras it reads (``"text"``, ``"legal_actions"``,
  ``"events"``); the trainer then passes ``extras=`` (one dict per row) to ``act``,
  ``evaluate_actions`` and ``value``, and gets no numpy twin. Policies without it get none
  and pay nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from palaestra.agents.spaces import ActionSpec

__all__ = [
    "ActorCritic",
    "MultiAgentActorCritic",
    "NumpyActorCritic",
    "Policy",
    "PolicyStep",
    "numpy_twin",
]


@dataclass(frozen=True)
class PolicyStep:
    """The outcome of :meth:`Policy.act` for a batch."""

    action: torch.Tensor
    logprob: torch.Tensor
    value: torch.Tensor


@runtime_checkable
class Policy(Protocol):
    """What the PPO trainer needs from a policy."""

    def act(
        self,
        obs: torch.Tensor,
        action_mask: torch.Tensor | None = None,
        critic_obs: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> PolicyStep:
        """Sample (or pick the most likely) actions, with their log-probabilities and values."""
        ...

    def evaluate_actions(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        action_mask: torch.Tensor | None = None,
        critic_obs: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of ``actions``, and the value, for each row."""
        ...

    def value(self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None) -> torch.Tensor:
        """The critic's value of each row."""
        ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """Its trainable parameters (any ``torch.nn.Module`` has them)."""
        ...


def _mlp(sizes: list[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [_init(nn.Linear(a, b), np.sqrt(2)), activation()]
    return nn.Sequential(*layers)


def _init(layer: nn.Linear, gain: float, bias: float = 0.0) -> nn.Linear:
    # Orthogonal initialisation (the PPO implementation details: gain sqrt(2) in hidden
    # layers, 0.01 for the policy head, 1 for the value head).
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs for one action space.

    Args:
        obs_dim: Width of the flat observation.
        action: The action space's :class:`~palaestra.agents.spaces.ActionSpec`.
        hidden_sizes: Hidden layer widths of both networks.
        activation: ``"tanh"`` or ``"relu"``.
        critic_obs_dim: Width of the critic's input when it differs from the actor's
            (a centralised critic); None to use the observation.
        log_std_init: Initial log standard deviation of a Gaussian policy (Box actions);
            the log-std is a learned parameter independent of the state.
    """

    def __init__(
        self,
        obs_dim: int,
        action: ActionSpec,
        *,
        hidden_sizes: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        critic_obs_dim: int | None = None,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            )
        act = _ACTIVATIONS[activation]
        self.spec = action
        self.obs_dim = obs_dim
        self.critic_obs_dim = critic_obs_dim
        hidden = list(hidden_sizes)
        self.actor_body = _mlp([obs_dim, *hidden], act)
        self.actor_head = _init(nn.Linear(hidden[-1] if hidden else obs_dim, action.size), 0.01)
        self.critic_body = _mlp([critic_obs_dim or obs_dim, *hidden], act)
        self.critic_head = _init(
            nn.Linear(hidden[-1] if hidden else (critic_obs_dim or obs_dim), 1), 1.0
        )
        if action.kind == "continuous":
            self.log_std = nn.Parameter(torch.full((action.size,), float(log_std_init)))
        if action.kind == "multidiscrete":
            self._splits = list(action.nvec or ())

    # --------------------------------------------------------------------- distribution
    def _logits(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor_head(self.actor_body(obs))

    def _log_prob_entropy(
        self, out: torch.Tensor, actions: torch.Tensor, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        kind = self.spec.kind
        if kind == "continuous":
            log_std = self.log_std.expand_as(out)
            var = torch.exp(2 * log_std)
            logp = -((actions - out) ** 2) / (2 * var) - log_std - 0.5 * np.log(2 * np.pi)
            entropy = (0.5 + 0.5 * np.log(2 * np.pi) + log_std).sum(-1)
            return logp.sum(-1), entropy
        if kind == "discrete":
            logp_all = self._masked_log_softmax(out, mask)
            logp = logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
            return logp, self._entropy(logp_all, mask)
        logps, entropies = [], []
        for i, part in enumerate(torch.split(out, self._splits, dim=-1)):
            logp_all = torch.log_softmax(part, dim=-1)
            logps.append(logp_all.gather(-1, actions[..., i].long().unsqueeze(-1)).squeeze(-1))
            entropies.append(self._entropy(logp_all, None))
        return torch.stack(logps, -1).sum(-1), torch.stack(entropies, -1).sum(-1)

    @staticmethod
    def _masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is not None:
            logits = logits.masked_fill(~mask, torch.finfo(logits.dtype).min)
        return torch.log_softmax(logits, dim=-1)

    @staticmethod
    def _entropy(logp_all: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        terms = logp_all.exp() * logp_all
        if mask is not None:
            terms = torch.where(mask, terms, torch.zeros_like(terms))
        return -terms.sum(-1)

    def _sample(
        self, out: torch.Tensor, mask: torch.Tensor | None, deterministic: bool
    ) -> torch.Tensor:
        kind = self.spec.kind
        if kind == "continuous":
            if deterministic:
                return out
            return out + torch.exp(self.log_std) * torch.randn_like(out)
        if kind == "discrete":
            logp = self._masked_log_softmax(out, mask)
            if deterministic:
                return logp.argmax(-1)
            return torch.multinomial(logp.exp(), 1).squeeze(-1)
        parts = []
        for part in torch.split(out, self._splits, dim=-1):
            if deterministic:
                parts.append(part.argmax(-1))
            else:
                parts.append(torch.multinomial(torch.softmax(part, -1), 1).squeeze(-1))
        return torch.stack(parts, -1)

    # ------------------------------------------------------------------------ interface
    def value(self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None) -> torch.Tensor:
        """The critic's value of each row, shape [B]."""
        x = critic_obs if self.critic_obs_dim else obs
        return self.critic_head(self.critic_body(x)).squeeze(-1)

    def act(
        self,
        obs: torch.Tensor,
        action_mask: torch.Tensor | None = None,
        critic_obs: torch.Tensor | None = None,
        deterministic: bool = False,
    ) -> PolicyStep:
        """Sample actions (or take the mode), with log-probabilities and values."""
        out = self._logits(obs)
        action = self._sample(out, action_mask, deterministic)
        logp, _ = self._log_prob_entropy(out, action, action_mask)
        return PolicyStep(action, logp, self.value(obs, critic_obs))

    def evaluate_actions(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        action_mask: torch.Tensor | None = None,
        critic_obs: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of ``actions`` and the value, each shape [B]."""
        out = self._logits(obs)
        logp, entropy = self._log_prob_entropy(out, actions, action_mask)
        return logp, entropy, self.value(obs, critic_obs)

    def predict(
        self,
        obs: torch.Tensor,
        action_mask: torch.Tensor | None = None,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Actions alone (the mode, or a sample drawn from ``generator``); no critic needed."""
        out = self._logits(obs)
        kind = self.spec.kind
        if deterministic:
            return self._sample(out, action_mask, True)
        if kind == "continuous":
            noise = torch.randn(out.shape, generator=generator, dtype=out.dtype, device=out.device)
            return out + torch.exp(self.log_std) * noise
        if kind == "discrete":
            probs = self._masked_log_softmax(out, action_mask).exp()
            return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        parts = [
            torch.multinomial(torch.softmax(part, -1), 1, generator=generator).squeeze(-1)
            for part in torch.split(out, self._splits, dim=-1)
        ]
        return torch.stack(parts, -1)

    def numpy_twin(self) -> NumpyActorCritic | None:
        """The numpy twin for fast CPU rollouts (see :class:`NumpyActorCritic`).

        None for a subclass that overrides how actions or values are computed: the twin
        copies this class's arithmetic, not the subclass's.
        """
        if _overrides(self, ActorCritic, ("act", "value", "_logits", "_sample")):
            return None
        return NumpyActorCritic(self)


class MultiAgentActorCritic(nn.Module):
    """Independent policies, one :class:`ActorCritic` per agent, behind one interface.

    Each row's agent is read from the one-hot agent id in the last ``num_agents`` columns
    of its observation (the trainer appends it), so batches may mix agents freely.

    Args:
        num_agents: Number of agents (and policies).
        make: Builds the policy of one agent.
    """

    def __init__(self, num_agents: int, make: type[ActorCritic] | None = None, **kwargs) -> None:
        super().__init__()
        build = make or ActorCritic
        self.num_agents = num_agents
        self.policies = nn.ModuleList([build(**kwargs) for _ in range(num_agents)])

    def _agent(self, obs: torch.Tensor) -> torch.Tensor:
        return obs[:, -self.num_agents :].argmax(-1)

    def _route(self, obs: torch.Tensor, fn, *tensors: torch.Tensor | None):
        agent = self._agent(obs)
        results = None
        for i, policy in enumerate(self.policies):
            rows = (agent == i).nonzero(as_tuple=True)[0]
            if rows.numel() == 0:
                continue
            picked = [None if t is None else t[rows] for t in tensors]
            out = fn(policy, obs[rows], *picked)
            if results is None:
                results = [
                    torch.empty((obs.shape[0], *o.shape[1:]), dtype=o.dtype, device=o.device)
                    for o in out
                ]
            for r, o in zip(results, out, strict=True):
                r[rows] = o
        return results

    def act(self, obs, action_mask=None, critic_obs=None, deterministic=False) -> PolicyStep:
        """As :meth:`ActorCritic.act`, each row by its agent's policy."""

        def fn(policy, o, m, c):
            step = policy.act(o, m, c, deterministic)
            return step.action, step.logprob, step.value

        action, logprob, value = self._route(obs, fn, action_mask, critic_obs)
        return PolicyStep(action, logprob, value)

    def evaluate_actions(self, obs, actions, action_mask=None, critic_obs=None):
        """As :meth:`ActorCritic.evaluate_actions`, each row by its agent's policy."""
        return tuple(
            self._route(
                obs,
                lambda p, o, a, m, c: p.evaluate_actions(o, a, m, c),
                actions,
                action_mask,
                critic_obs,
            )
        )

    def value(self, obs, critic_obs=None):
        """As :meth:`ActorCritic.value`, each row by its agent's policy."""
        return self._route(obs, lambda p, o, c: (p.value(o, c),), critic_obs)[0]

    def predict(self, obs, action_mask=None, deterministic=True, generator=None):
        """As :meth:`ActorCritic.predict`, each row by its agent's policy."""
        return self._route(
            obs, lambda p, o, m: (p.predict(o, m, deterministic, generator),), action_mask
        )[0]

    def numpy_twin(self) -> NumpyMultiAgentActorCritic | None:
        """The numpy twin for fast CPU rollouts (rows routed by agent id); None as above."""
        if _overrides(self, MultiAgentActorCritic, ("act", "value", "_route")) or any(
            p.numpy_twin() is None for p in self.policies
        ):
            return None
        return NumpyMultiAgentActorCritic(self)


class NumpyActorCritic:
    """A numpy twin of an :class:`ActorCritic` for fast rollouts on the CPU.

    For the tiny batches of a rollout (a few env rows), each torch op costs microseconds of
    dispatch; numpy does the same arithmetic in a fraction of that. The twin holds numpy
    *views* of the policy's CPU parameters, so it follows every optimiser step without
    copying. Sampling draws from the numpy generator it is given. Log-probabilities and
    values agree with :meth:`ActorCritic.evaluate_actions` to float32 rounding.

    Args:
        policy: A CPU :class:`ActorCritic`.
    """

    def __init__(self, policy: ActorCritic) -> None:
        def linears(seq: nn.Module) -> list[tuple[np.ndarray, np.ndarray]]:
            return [
                (m.weight.detach().numpy().T, m.bias.detach().numpy())
                for m in seq
                if isinstance(m, nn.Linear)
            ]

        if next(policy.parameters()).device.type != "cpu":
            raise ValueError("NumpyActorCritic needs a policy on the CPU")
        self.spec = policy.spec
        self.actor = [*linears(policy.actor_body), *linears(nn.Sequential(policy.actor_head))]
        self.critic = [*linears(policy.critic_body), *linears(nn.Sequential(policy.critic_head))]
        self.relu = isinstance(policy.actor_body[1], nn.ReLU)
        self.centralized = bool(policy.critic_obs_dim)
        self.log_std = policy.log_std.detach().numpy() if self.spec.kind == "continuous" else None

    def _mlp(self, x: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        for w, b in layers[:-1]:
            x = x @ w + b
            x = np.maximum(x, 0.0) if self.relu else np.tanh(x)
        w, b = layers[-1]
        return x @ w + b

    def value(self, obs: np.ndarray, critic_obs: np.ndarray | None = None) -> np.ndarray:
        """Values [B] of a batch."""
        x = critic_obs if self.centralized else obs
        return self._mlp(x, self.critic)[:, 0]

    @staticmethod
    def _categorical(
        logits: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator, deterministic: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        if mask is not None:
            logits = np.where(mask, logits, np.float32(np.finfo(np.float32).min))
        shifted = logits - logits.max(axis=1, keepdims=True)
        logp_all = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        if deterministic:
            action = logp_all.argmax(axis=1)
        else:
            # Inverse-CDF sampling; scaling u by the total guards against rounding, so an
            # action of probability zero (masked) can never be drawn.
            cdf = np.cumsum(np.exp(logp_all), axis=1)
            u = rng.random(len(logits)) * cdf[:, -1]
            action = np.minimum((cdf <= u[:, None]).sum(axis=1), logits.shape[1] - 1)
        return action, logp_all[np.arange(len(logits)), action]

    def act(
        self,
        obs: np.ndarray,
        action_mask: np.ndarray | None,
        critic_obs: np.ndarray | None,
        rng: np.random.Generator,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample actions; return (actions, log-probabilities, values) as numpy arrays."""
        out = self._mlp(obs, self.actor)
        kind = self.spec.kind
        if kind == "continuous":
            std = np.exp(self.log_std)
            if deterministic:
                action = out
            else:
                action = out + std * rng.standard_normal(out.shape).astype(np.float32)
            logp = (
                -((action - out) ** 2) / (2 * std * std) - self.log_std - 0.5 * np.log(2 * np.pi)
            ).sum(axis=1)
            return action.astype(np.float32), logp.astype(np.float32), self.value(obs, critic_obs)
        if kind == "discrete":
            action, logp = self._categorical(out, action_mask, rng, deterministic)
            return action, logp.astype(np.float32), self.value(obs, critic_obs)
        actions, logps = [], []
        start = 0
        for size in self.spec.nvec or ():
            a, lp = self._categorical(out[:, start : start + size], None, rng, deterministic)
            actions.append(a)
            logps.append(lp)
            start += size
        logp = np.sum(logps, axis=0).astype(np.float32)
        return np.stack(actions, axis=1), logp, self.value(obs, critic_obs)


class NumpyMultiAgentActorCritic:
    """The numpy twin of a :class:`MultiAgentActorCritic` (rows routed by agent id)."""

    def __init__(self, policy: MultiAgentActorCritic) -> None:
        self.num_agents = policy.num_agents
        self.twins = [NumpyActorCritic(p) for p in policy.policies]

    def _rows(self, obs: np.ndarray) -> list[np.ndarray]:
        agent = obs[:, -self.num_agents :].argmax(axis=1)
        return [np.flatnonzero(agent == i) for i in range(self.num_agents)]

    def value(self, obs: np.ndarray, critic_obs: np.ndarray | None = None) -> np.ndarray:
        """Values [B], each row by its agent's critic."""
        out = np.zeros(len(obs), np.float32)
        for twin, rows in zip(self.twins, self._rows(obs), strict=True):
            if len(rows):
                out[rows] = twin.value(obs[rows], None if critic_obs is None else critic_obs[rows])
        return out

    def act(
        self,
        obs: np.ndarray,
        action_mask: np.ndarray | None,
        critic_obs: np.ndarray | None,
        rng: np.random.Generator,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`NumpyActorCritic.act`, each row by its agent's policy."""
        results = None
        for twin, rows in zip(self.twins, self._rows(obs), strict=True):
            if not len(rows):
                continue
            mask = None if action_mask is None else action_mask[rows]
            critic = None if critic_obs is None else critic_obs[rows]
            out = twin.act(obs[rows], mask, critic, rng, deterministic)
            if results is None:
                results = [np.zeros((len(obs), *o.shape[1:]), o.dtype) for o in out]
            for r, o in zip(results, out, strict=True):
                r[rows] = o
        return tuple(results)  # type: ignore[arg-type]


def _overrides(policy: nn.Module, base: type, names: tuple[str, ...]) -> bool:
    """Whether ``policy``'s class replaces any of ``base``'s methods ``names``."""
    return any(getattr(type(policy), n) is not getattr(base, n) for n in names)


def numpy_twin(policy: nn.Module) -> Any | None:
    """The numpy twin a CPU policy offers through ``numpy_twin()``, or None if it offers none."""
    offer = getattr(policy, "numpy_twin", None)
    return offer() if callable(offer) else None
