"""A trained policy as an agent: :class:`PolicyAgent`, and loading one from a run folder.

A run folder written by ``palaestra train`` holds ``config.json``, ``policy.json`` (which
policy class, and the shapes it was built for) and ``checkpoints/step_*.safetensors`` (the
weights and the observation normaliser's statistics). :meth:`PolicyAgent.from_run` reads
those three and nothing else: no pickle is loaded, so a run someone else made can be played
safely. The agent encodes each observation exactly as the trainer did (flattened, padded and
given a one-hot agent id in multi-agent envs, normalised with the frozen statistics), so it
reproduces the run's own evaluation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from palaestra.agents.normalize import ObservationNormalizer
from palaestra.agents.policies import ActorCritic, MultiAgentActorCritic
from palaestra.agents.registry import env_api, make_env
from palaestra.agents.spaces import ActionSpec, ObsLayout, action_spec, obs_layout, row_extras_of

__all__ = [
    "BUILTIN_POLICIES",
    "ObsEncoder",
    "PolicyAgent",
    "agents_from_run",
    "build_actor_critic",
    "encoder_for",
]

BUILTIN_POLICIES = {
    "ActorCritic": ActorCritic,
    "MultiAgentActorCritic": MultiAgentActorCritic,
}
"""Policy classes :meth:`PolicyAgent.from_run` can rebuild from ``policy.json`` alone."""

_WEIGHTS = re.compile(r"^step_(\d{12,})\.safetensors$")
_FORMAT = "palaestra-checkpoint-1"


def build_actor_critic(
    obs_dim: int,
    action: ActionSpec,
    *,
    num_agents: int = 1,
    independent: bool = False,
    hidden_sizes: tuple[int, ...] = (64, 64),
    activation: str = "tanh",
    critic_obs_dim: int | None = None,
    log_std_init: float = 0.0,
) -> torch.nn.Module:
    """The MLP actor-critic of palaestra: one shared network, or one per agent (``independent``)."""
    kwargs = dict(
        obs_dim=obs_dim, action=action, hidden_sizes=tuple(hidden_sizes), activation=activation,
        critic_obs_dim=critic_obs_dim, log_std_init=log_std_init,
    )  # fmt: skip
    if independent and num_agents > 1:
        return MultiAgentActorCritic(num_agents, **kwargs)
    return ActorCritic(**kwargs)


class ObsEncoder:
    """Turns one agent's observation into the policy's input row, as the trainer's batches do.

    Gymnasium envs: the flat observation. Multi-agent envs: the flat observation zero-padded
    to the widest agent's width, then a one-hot id of the agent among ``agents``.

    Args:
        layouts: Each agent's :class:`ObsLayout` (one entry for a Gymnasium env).
        agents: The agents' names (``possible_agents`` order); None for a Gymnasium env.
    """

    def __init__(self, layouts: Mapping[str, ObsLayout], agents: list[str] | None) -> None:
        self.layouts = dict(layouts)
        self.agents = agents
        self.feature_dim = max(layout.dim for layout in self.layouts.values())
        self.obs_dim = self.feature_dim + (len(agents) if agents else 0)

    def encode(self, observation: Any, agent: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(float32 [1, obs_dim] row, bool [1, n] mask or None) for ``agent``'s observation."""
        key = agent if self.agents else next(iter(self.layouts))
        if key not in self.layouts:
            raise ValueError(f"unknown agent {agent!r}; the env's agents are {self.agents}")
        batch = (
            {k: np.asarray(v)[None] for k, v in observation.items()}
            if isinstance(observation, Mapping)
            else np.asarray(observation)[None]
        )
        flat, mask = self.layouts[key].flatten(batch)
        if not self.agents:
            return flat, mask
        row = np.zeros((1, self.obs_dim), np.float32)
        row[0, : flat.shape[1]] = flat[0]
        row[0, self.feature_dim + self.agents.index(key)] = 1.0
        return row, mask


class PolicyAgent:
    """A torch policy that acts as an agent: ``act(observation, info=None) -> action``.

    Args:
        policy: A policy with ``predict`` (palaestra's actor-critics) or ``act`` (any policy
            following :class:`~palaestra.agents.policies.Policy`).
        encoder: How observations become the policy's input.
        action: The action space's spec (converts policy actions to env actions).
        agent: The seat this agent plays in a multi-agent env (its one-hot id); None for a
            Gymnasium env.
        obs_norm: The run's observation normaliser, used frozen (no update), or None.
        deterministic: Take the most likely action (the mean for Box actions) instead of
            sampling; sampling draws from a generator seeded by :meth:`reset`.
    """

    def __init__(
        self,
        policy: torch.nn.Module,
        encoder: ObsEncoder,
        action: ActionSpec,
        *,
        agent: str | None = None,
        obs_norm: ObservationNormalizer | None = None,
        deterministic: bool = True,
    ) -> None:
        if encoder.agents and agent is None:
            raise ValueError(f"a multi-agent policy needs agent=, one of {encoder.agents}")
        if encoder.agents and agent not in encoder.agents:
            raise ValueError(f"unknown agent {agent!r}; the env's agents are {encoder.agents}")
        self.policy = policy.eval()
        self.encoder = encoder
        self.action = action
        self.agent = agent
        self.obs_norm = obs_norm
        self.deterministic = deterministic
        self.device = next(policy.parameters()).device
        self._generator = torch.Generator(device=self.device)
        self._steps = 0

    def reset(self, seed: int | None = None) -> None:
        """Start an episode; a seed reseeds the sampling generator (stochastic agents)."""
        self._steps = 0
        if seed is not None:
            self._generator.manual_seed(int(seed))

    def act(self, observation: Any, info: Mapping[str, Any] | None = None) -> Any:
        """The policy's action for ``observation`` (``info`` is not needed)."""
        row, mask = self.encoder.encode(observation, self.agent)
        if self.obs_norm is not None:
            row = self.obs_norm(row, update=False)
        obs = torch.as_tensor(row, dtype=torch.float32, device=self.device)
        mask_t = None if mask is None else torch.as_tensor(mask, device=self.device)
        row_extras = tuple(getattr(self.policy, "row_extras", ()) or ())
        with torch.no_grad():
            predict = getattr(self.policy, "predict", None)
            if row_extras:  # a policy that reads text gets its row as in training
                extras = [row_extras_of(row_extras, observation, info)]
                seeded = {}
                if not self.deterministic and _takes_generator(self.policy.act):
                    seeded = {"generator": self._generator}  # reset(seed) fixes the samples
                step = self.policy.act(
                    obs, mask_t, None, deterministic=self.deterministic, extras=extras, **seeded
                )
                action = step.action
            elif predict is not None:
                action = predict(obs, mask_t, self.deterministic, self._generator)
            else:
                action = self.policy.act(obs, mask_t, None, deterministic=self.deterministic).action
        self._steps += 1
        out = self.action.to_env(action.cpu().numpy())[0]
        return int(out) if self.action.kind == "discrete" else out

    def stats(self) -> dict[str, float]:
        """Actions taken in the current episode."""
        return {"actions": float(self._steps)}

    # ------------------------------------------------------------------ loading a run
    @classmethod
    def from_run(
        cls,
        run_dir: str | Path,
        *,
        agent: str | None = None,
        deterministic: bool = True,
        policy: torch.nn.Module | None = None,
        device: str | torch.device = "cpu",
    ) -> PolicyAgent:
        """The latest checkpoint of a ``palaestra train`` run as an agent.

        Reads ``config.json``, ``policy.json`` and the newest complete
        ``checkpoints/step_*.safetensors``; never a pickle.

        Args:
            run_dir: The run folder.
            agent: The seat to play in a multi-agent env (see :meth:`team_from_run` for all).
            deterministic: Most likely actions (as evaluation does) or samples.
            policy: For a run that trained a custom policy class: an instance built like the
                trained one, into which the weights are loaded.
            device: Where the policy runs.

        Raises:
            ValueError: naming the missing or malformed file, a custom policy class with no
                ``policy=``, or weights that do not fit the policy.
        """
        run = _RunFiles(Path(run_dir))
        net, encoder, action, obs_norm = run.build(policy, device)
        return cls(
            net, encoder, action, agent=agent, obs_norm=obs_norm, deterministic=deterministic
        )

    @classmethod
    def team_from_run(
        cls, run_dir: str | Path, *, deterministic: bool = True, device: str = "cpu"
    ) -> dict[str, PolicyAgent]:
        """One agent per seat of a multi-agent run, sharing one loaded policy."""
        team = agents_from_run(run_dir, deterministic=deterministic, device=device)
        if not isinstance(team, dict):
            raise ValueError(f"{run_dir} trained on a single-agent env; use from_run")
        return team


def agents_from_run(
    run_dir: str | Path, *, deterministic: bool = True, device: str = "cpu"
) -> PolicyAgent | dict[str, PolicyAgent]:
    """What plays a run's env: one agent (Gymnasium env) or one per seat (multi-agent env)."""
    run = _RunFiles(Path(run_dir))
    net, encoder, action, obs_norm = run.build(None, device)
    if not encoder.agents:
        return PolicyAgent(net, encoder, action, obs_norm=obs_norm, deterministic=deterministic)
    return {
        name: PolicyAgent(net, encoder, action, agent=name, obs_norm=obs_norm,
                          deterministic=deterministic)
        for name in encoder.agents
    }  # fmt: skip


class _RunFiles:
    """The files of a run folder that describe its policy."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.config = _read_json(run_dir / "config.json")
        path = run_dir / "policy.json"
        self.spec = _read_json(path) if path.is_file() else {"class": "builtin"}
        self.weights = _latest_weights(run_dir / "checkpoints")

    def build(
        self, policy: torch.nn.Module | None, device: str | torch.device
    ) -> tuple[torch.nn.Module, ObsEncoder, ActionSpec, ObservationNormalizer | None]:
        config = self.config
        env_id, kwargs = config["env_id"], dict(config.get("env_kwargs") or {})
        encoder, action = encoder_for(env_id, kwargs)
        ppo = config.get("ppo", {})
        name = self.spec.get("class", "builtin")
        if policy is None and isinstance(self.spec.get("language"), dict):
            # A language policy: rebuilt from its recorded knobs (the base model from where
            # it came from); the checkpoint holds its trainable tensors.
            from palaestra.agents.language_spec import LanguagePolicyConfig, build_language_policy

            knobs = dict(self.spec["language"])
            kind = knobs.pop("policy", "minilm")
            policy = build_language_policy(kind, LanguagePolicyConfig.from_dict(knobs), str(device))
        if policy is None:
            if name not in ("builtin", *BUILTIN_POLICIES):
                raise ValueError(
                    f"{self.run_dir} trained a custom policy ({name}); pass policy= an instance "
                    "built like it, and its weights are loaded into it"
                )
            # policy.json records how the network was built; config.json for older runs.
            spec = {**ppo, "independent": config.get("policy_sharing") == "independent"}
            spec |= self.spec
            policy = build_actor_critic(
                encoder.obs_dim, action, num_agents=len(encoder.agents or [None]),
                independent=bool(spec["independent"]),
                hidden_sizes=tuple(spec.get("hidden_sizes", (64, 64))),
                activation=spec.get("activation", "tanh"),
                critic_obs_dim=spec.get("critic_obs_dim"),
                log_std_init=float(spec.get("log_std_init", 0.0)),
            )  # fmt: skip
        tensors = _load_tensors(self.weights)
        try:
            policy.load_state_dict(
                {k[7:]: v for k, v in tensors.items() if k.startswith("policy.")}
            )
        except RuntimeError as exc:
            raise ValueError(f"{self.weights}: the weights do not fit the policy: {exc}") from None
        obs_norm = None
        stats = {k[9:]: v.numpy() for k, v in tensors.items() if k.startswith("obs_norm.")}
        if stats:
            obs_norm = ObservationNormalizer((encoder.obs_dim,))
            obs_norm.load_state_dict(stats)
        return policy.to(device), encoder, action, obs_norm


def _takes_generator(method: Any) -> bool:
    """Whether a policy's ``act`` takes a ``generator`` (a language policy's does)."""
    import inspect

    try:
        return "generator" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


def encoder_for(env_id: str, env_kwargs: Mapping[str, Any]) -> tuple[ObsEncoder, ActionSpec]:
    """The observation encoder and action spec of an env id, read from one env's spaces."""
    env = make_env(env_id, **dict(env_kwargs))
    try:
        if env_api(env_id) == "gymnasium":
            layout = obs_layout(env.observation_space)
            return ObsEncoder({"agent": layout}, None), action_spec(env.action_space)
        agents = list(env.possible_agents)
        layouts = {a: obs_layout(env.observation_space(a)) for a in agents}
        return ObsEncoder(layouts, agents), action_spec(env.action_space(agents[0]))
    finally:
        env.close()


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ValueError(f"{path} not found: is {path.parent} a palaestra run folder?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, not a JSON object")
    return data


def _latest_weights(directory: Path) -> Path:
    found = sorted(
        (int(m.group(1)), p)
        for p in (directory.iterdir() if directory.is_dir() else ())
        if (m := _WEIGHTS.match(p.name)) and p.is_file()
    )
    if not found:
        raise ValueError(f"no checkpoint (step_*.safetensors) in {directory}")
    return found[-1][1]


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118
    except Exception as exc:
        raise ValueError(f"{path} is truncated or corrupt ({exc})") from None
    if metadata.get("format") != _FORMAT:
        raise ValueError(
            f"{path} is not a palaestra checkpoint (format {metadata.get('format')!r})"
        )
    return tensors
