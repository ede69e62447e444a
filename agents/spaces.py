"""How observations and actions of Gymnasium spaces become tensors a policy can use.

:func:`obs_layout` turns a batch of observations into a flat float32 matrix (Box entries
flattened, Discrete and MultiDiscrete one-hot, MultiBinary as 0/1, Dict keys in sorted
order) and pulls an ``action_mask`` key out of a Dict space as a boolean mask.
:func:`action_spec` describes the action distribution a policy needs: a diagonal Gaussian
for Box, a categorical for Discrete (masked when the observation has ``action_mask``), a
product of categoricals for MultiDiscrete. Anything else raises ``ValueError`` naming the
space. ``Text`` entries of a Dict (the text view of ``obs_mode="both"``) are left out of the
flat matrix: :attr:`ObsLayout.text_keys` names them, for policies that read text. Numpy only:
no torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from gymnasium import spaces

__all__ = ["ROW_EXTRAS", "ActionSpec", "ObsLayout", "action_spec", "obs_layout", "row_extras_of"]

MASK_KEY = "action_mask"


def _leaf_dim(space: spaces.Space, where: str) -> int:
    if isinstance(space, spaces.Box):
        if not np.issubdtype(space.dtype, np.number):
            raise ValueError(f"unsupported observation space {where}: {space} (non-numeric Box)")
        return int(np.prod(space.shape, dtype=np.int64))
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    if isinstance(space, spaces.MultiBinary):
        return int(np.prod(space.shape, dtype=np.int64))
    raise ValueError(
        f"unsupported observation space {where}: {space}; supported: Box, Discrete, "
        "MultiDiscrete, MultiBinary, and Dict of those (with an optional action_mask)"
    )


def _flatten_leaf(space: spaces.Space, batch: np.ndarray) -> np.ndarray:
    batch = np.asarray(batch)
    n = batch.shape[0]
    if isinstance(space, spaces.Discrete):
        out = np.zeros((n, int(space.n)), np.float32)
        out[np.arange(n), batch.reshape(n).astype(np.int64) - int(space.start)] = 1.0
        return out
    if isinstance(space, spaces.MultiDiscrete):
        parts = []
        flat = batch.reshape(n, -1).astype(np.int64) - np.asarray(space.start).reshape(1, -1)
        for i, size in enumerate(np.asarray(space.nvec).reshape(-1)):
            part = np.zeros((n, int(size)), np.float32)
            part[np.arange(n), flat[:, i]] = 1.0
            parts.append(part)
        return np.concatenate(parts, axis=1)
    return batch.reshape(n, -1).astype(np.float32, copy=False)


@dataclass(frozen=True)
class ObsLayout:
    """How a batch of observations of ``space`` becomes a flat float32 matrix.

    Attributes:
        space: The observation space (of one env or agent).
        dim: Width of the flat matrix.
        mask_dim: Width of the action mask, or None when the space has no ``action_mask``.
        text_keys: Dict keys holding ``Text`` (left out of the flat matrix).
    """

    space: spaces.Space
    dim: int
    mask_dim: int | None
    text_keys: tuple[str, ...] = ()

    def flatten(self, batch: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Flatten a batch (leading axis: batch) to (float32 [B, dim], bool [B, mask] or None)."""
        space = self.space
        if isinstance(space, spaces.Dict):
            keys = [k for k in sorted(space.spaces) if k != MASK_KEY and k not in self.text_keys]
            parts = [_flatten_leaf(space.spaces[k], batch[k]) for k in keys]
            flat = np.concatenate(parts, axis=1) if parts else np.zeros((len(batch[MASK_KEY]), 0))
            mask = None
            if self.mask_dim is not None:
                raw = np.asarray(batch[MASK_KEY])
                mask = raw.reshape(raw.shape[0], -1).astype(bool)
            return flat.astype(np.float32, copy=False), mask
        return _flatten_leaf(space, batch), None


def obs_layout(space: spaces.Space) -> ObsLayout:
    """The :class:`ObsLayout` of an observation space; ``ValueError`` names an unsupported one."""
    if isinstance(space, spaces.Dict):
        dim = 0
        mask_dim = None
        text_keys = []
        for key in sorted(space.spaces):
            sub = space.spaces[key]
            if isinstance(sub, spaces.Text):
                text_keys.append(key)
            elif key == MASK_KEY:
                if not isinstance(sub, (spaces.Box, spaces.MultiBinary)) or len(sub.shape) != 1:
                    raise ValueError(
                        f"unsupported action_mask space {sub}: expected a 1-D Box or MultiBinary"
                    )
                mask_dim = int(sub.shape[0])
            else:
                dim += _leaf_dim(sub, f"key {key!r}")
        return ObsLayout(space, dim, mask_dim, tuple(text_keys))
    if isinstance(space, spaces.Text):
        raise ValueError(
            f"unsupported observation space (top level): {space}; a vector policy needs numbers: "
            'use obs_mode="both" (numbers plus the text) or a policy that reads text'
        )
    return ObsLayout(space, _leaf_dim(space, "(top level)"), None)


@dataclass(frozen=True)
class ActionSpec:
    """The action distribution a policy needs for an action space.

    Attributes:
        kind: ``"continuous"`` (Box), ``"discrete"`` (Discrete) or ``"multidiscrete"``.
        shape: Shape of one action as the env takes it.
        size: Action dimensions (Box), number of choices (Discrete), or the sum of the
            choices of each dimension (MultiDiscrete): the width of the policy's head.
        nvec: Choices per dimension for MultiDiscrete, else None.
        low: Lower bounds (Box), used to clip actions sent to the env.
        high: Upper bounds (Box).
        start: First action value of a Discrete space (usually 0).
    """

    kind: Literal["continuous", "discrete", "multidiscrete"]
    shape: tuple[int, ...]
    size: int
    nvec: tuple[int, ...] | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    start: int = 0

    def to_env(self, actions: np.ndarray) -> np.ndarray:
        """Convert a batch of policy actions to what the env takes (clip Box, shift Discrete)."""
        if self.kind == "continuous":
            return (
                np.clip(actions, self.low, self.high).astype(np.float32).reshape((-1, *self.shape))
            )
        if self.kind == "discrete":
            return actions.astype(np.int64) + self.start
        return actions.astype(np.int64).reshape((-1, *self.shape))


def action_spec(space: spaces.Space) -> ActionSpec:
    """The :class:`ActionSpec` of an action space; ``ValueError`` names an unsupported one."""
    if isinstance(space, spaces.Box):
        if not np.issubdtype(space.dtype, np.floating):
            raise ValueError(f"unsupported action space {space}: a Box must have a float dtype")
        size = int(np.prod(space.shape, dtype=np.int64))
        return ActionSpec(
            "continuous", tuple(space.shape), size,
            low=space.low.reshape(-1).astype(np.float32),
            high=space.high.reshape(-1).astype(np.float32),
        )  # fmt: skip
    if isinstance(space, spaces.Discrete):
        return ActionSpec("discrete", (), int(space.n), start=int(space.start))
    if isinstance(space, spaces.MultiDiscrete):
        if np.any(np.asarray(space.start) != 0):
            raise ValueError(f"unsupported action space {space}: MultiDiscrete with a start")
        nvec = tuple(int(v) for v in np.asarray(space.nvec).reshape(-1))
        return ActionSpec("multidiscrete", tuple(space.shape), sum(nvec), nvec=nvec)
    raise ValueError(f"unsupported action space {space}; supported: Box, Discrete, MultiDiscrete")


ROW_EXTRAS = ("text", "legal_actions", "events")
"""What a policy may ask each row to carry besides its numbers (its ``row_extras``)."""


def row_extras_of(names: tuple[str, ...], observation: Any, info: Any) -> dict[str, Any]:
    """One row's extras: the text view from its observation, the others from its info."""
    out: dict[str, Any] = {}
    for name in names:
        if name == "text":
            out[name] = observation.get("text") if isinstance(observation, dict) else None
        else:
            out[name] = (info or {}).get(name)
    return out
