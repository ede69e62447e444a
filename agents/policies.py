"""Actor-critic policies (torch) behind the small interface the PPO trainer uses.

Glossary:
    obs: a float32 tensor [B, obs_dim] (see :mod:`palaestra.agents.spaces` for flattening).
    action_mask: a bool tensor [B, n] of the actions allowed for each row, or None. A masked
        action gets zero probability: it is never sampled, and its log-probability is never
        used.
    critic_obs: what the critic sees when it is centralised (MAPPO); defaults to obs.

Any policy with ``act``, ``evaluate_actions`` and ``value`` (:class:`Policy`) can be trained.
That includes a policy whose actions are a softmax over scores of a variable number of
legal actions (pad to the largest count and mask the padding).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from palaestra.agents.spaces import ActionSpec

__all__ = ["ActorCritic", "MultiAgentActorCritic", "Policy", "PolicyStep"]


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
