"""Running statistics and the observation and reward normalisers built on them.

The normalisers follow Stable-Baselines3's ``VecNormalize``: observations are standardised
with their running mean and variance; rewards are divided by the running standard deviation
of a per-env discounted return (not of the reward itself), as in Engstrom et al.,
"Implementation Matters in Deep Policy Gradients" (2020), "reward scaling". Statistics are
float64 numpy arrays, so they are exact enough over millions of steps and serialise to JSON
with ``.tolist()``; :meth:`load_state_dict` accepts the lists back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["ObservationNormalizer", "RewardNormalizer", "RunningMeanStd"]


class RunningMeanStd:
    """Mean and variance of a stream of batches, merged batch by batch.

    Uses the parallel algorithm of Chan, Golub and LeVeque ("Updating Formulae and a Pairwise
    Algorithm for Computing Sample Variances", 1979), as SB3's ``RunningMeanStd`` does. The
    statistics start as a pseudo-sample of weight ``epsilon`` with mean 0 and variance 1, so
    they are defined before the first update and that prior fades as data arrive.

    Attributes:
        mean: float64 array of ``shape``, the running mean.
        var: float64 array of ``shape``, the running (population) variance.
        count: number of samples seen, plus ``epsilon``.
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4) -> None:
        """Start from the prior.

        Args:
            shape: shape of one sample; batches have shape ``(B, *shape)``.
            epsilon: weight of the prior pseudo-sample; must be positive.

        Raises:
            ValueError: if ``epsilon`` is not positive or ``shape`` is not a tuple of
                non-negative integers.
        """
        self.shape = _as_shape(shape)
        if not epsilon > 0.0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.mean = np.zeros(self.shape, dtype=np.float64)
        self.var = np.ones(self.shape, dtype=np.float64)
        self.count = float(epsilon)

    def update(self, batch: np.ndarray) -> None:
        """Merge a batch of samples (first axis) into the statistics.

        Args:
            batch: array of shape ``(B, *shape)``; an empty batch changes nothing.

        Raises:
            ValueError: if the batch has the wrong shape or holds NaN or inf.
        """
        batch = np.asarray(batch, dtype=np.float64)
        if batch.ndim != len(self.shape) + 1 or batch.shape[1:] != self.shape:
            raise ValueError(f"batch must have shape (B, *{self.shape}), got {batch.shape}")
        if batch.shape[0] == 0:
            return
        _check_finite("batch", batch)
        if batch.shape[0] == 1:  # a single sample (one env): no variance to compute
            self.update_from_moments(batch[0], np.zeros(self.shape), 1)
        else:
            self.update_from_moments(batch.mean(axis=0), batch.var(axis=0), batch.shape[0])

    def update_from_moments(
        self, batch_mean: np.ndarray, batch_var: np.ndarray, batch_count: float
    ) -> None:
        """Merge the mean, population variance and size of a batch into the statistics.

        Args:
            batch_mean: mean of the batch, of ``shape``.
            batch_var: population variance of the batch, of ``shape``.
            batch_count: number of samples in the batch; must be positive.

        Raises:
            ValueError: if ``batch_count`` is not positive.
        """
        if not batch_count > 0:
            raise ValueError(f"batch_count must be positive, got {batch_count}")
        delta = batch_mean - self.mean
        total = self.count + batch_count
        # Chan et al.: M2 = M2_a + M2_b + delta^2 * n_a * n_b / (n_a + n_b).
        m2 = self.var * self.count + batch_var * batch_count
        m2 = m2 + np.square(delta) * self.count * batch_count / total
        self.mean = self.mean + delta * batch_count / total
        self.var = m2 / total
        self.count = float(total)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return copies of ``mean``, ``var`` and ``count`` (a 0-d array)."""
        return {
            "mean": self.mean.copy(),
            "var": self.var.copy(),
            "count": np.asarray(self.count, dtype=np.float64),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore statistics saved by :meth:`state_dict` (arrays or nested lists).

        Args:
            state: mapping with ``mean``, ``var`` and ``count``.

        Raises:
            ValueError: if a key is missing, a shape differs from this object's, a value is
                not finite, a variance is negative or the count is not positive.
        """
        mean = _state_array(state, "mean", self.shape)
        var = _state_array(state, "var", self.shape)
        count = _state_array(state, "count", ())
        if np.any(var < 0.0):
            raise ValueError("state 'var' holds negative variances")
        if not count > 0.0:
            raise ValueError(f"state 'count' must be positive, got {float(count)}")
        self.mean, self.var, self.count = mean, var, float(count)


class ObservationNormalizer:
    """Standardise observations with running statistics, then clip.

    ``(obs - mean) / sqrt(var + epsilon)``, clipped to ``[-clip, clip]``, as float32. With
    ``update`` the batch is merged into the statistics before it is normalised (as SB3's
    ``VecNormalize`` does while training); pass ``update=False`` for evaluation, so the
    statistics the policy was trained with stay fixed.

    Attributes:
        rms: the running statistics of the observations.
        clip: bound on the normalised values.
        epsilon: added to the variance to avoid division by zero.
    """

    def __init__(
        self, shape: int | tuple[int, ...], clip: float = 10.0, epsilon: float = 1e-8
    ) -> None:
        """Create a normaliser with no data seen.

        Args:
            shape: shape of one observation.
            clip: normalised values are clipped to ``[-clip, clip]``; must be positive.
            epsilon: added to the variance; must be non-negative.

        Raises:
            ValueError: if ``clip`` is not positive or ``epsilon`` is negative.
        """
        self.shape = _as_shape(shape)
        self.clip = _check_clip(clip)
        if not epsilon >= 0.0:
            raise ValueError(f"epsilon must be non-negative, got {epsilon}")
        self.epsilon = float(epsilon)
        self.rms = RunningMeanStd(self.shape)

    def __call__(self, obs: np.ndarray, update: bool = True) -> np.ndarray:
        """Normalise one observation of ``shape`` or a batch ``(B, *shape)``.

        Args:
            obs: the observation(s).
            update: merge the batch into the statistics first.

        Returns:
            float32 array of the same shape as ``obs``.

        Raises:
            ValueError: if ``obs`` has the wrong shape or holds NaN or inf.
        """
        array = np.asarray(obs, dtype=np.float64)
        if array.shape == self.shape:
            batch = array[None]
        elif array.ndim == len(self.shape) + 1 and array.shape[1:] == self.shape:
            batch = array
        else:
            raise ValueError(
                f"observation must have shape {self.shape} or (B, *{self.shape}), got {array.shape}"
            )
        _check_finite("observation", batch)
        if update:
            self.rms.update(batch)
        normalised = (array - self.rms.mean) / np.sqrt(self.rms.var + self.epsilon)
        return np.clip(normalised, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return the running statistics (see :meth:`RunningMeanStd.state_dict`)."""
        return self.rms.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore statistics saved by :meth:`state_dict`.

        Raises:
            ValueError: if a key is missing or a shape or value is wrong.
        """
        self.rms.load_state_dict(state)


class RewardNormalizer:
    """Scale rewards by the running standard deviation of the discounted return.

    Each env keeps ``ret = ret * gamma + r``. With ``update``, the batch of the envs'
    ``ret`` is merged into a running variance; the reward returned is
    ``r / sqrt(var + epsilon)`` clipped to ``[-clip, clip]`` (not centred: subtracting a
    mean would change which behaviour is optimal). Then ``ret`` is reset to 0 for envs
    whose episode ended. ``ret`` keeps accumulating with ``update=False`` too, so switching
    updates back on continues from correct returns. Divides by the return's spread rather
    than the reward's, which keeps value targets near unit scale (SB3's ``VecNormalize``;
    Engstrom et al., 2020).

    Attributes:
        ret: float64 ``[num_envs]`` discounted return of each env's current episode.
        rms: running statistics of ``ret`` (scalar shape).
        gamma: the discount of ``ret``; use the agent's discount.
        clip: bound on the scaled rewards.
        epsilon: added to the variance to avoid division by zero.
    """

    def __init__(
        self, num_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8
    ) -> None:
        """Create a normaliser with no data seen.

        Args:
            num_envs: number of parallel envs; every call takes one reward per env.
            gamma: discount factor in [0, 1].
            clip: scaled rewards are clipped to ``[-clip, clip]``; must be positive.
            epsilon: added to the variance; must be non-negative.

        Raises:
            ValueError: if an argument is out of range.
        """
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        if not epsilon >= 0.0:
            raise ValueError(f"epsilon must be non-negative, got {epsilon}")
        self.num_envs = num_envs
        self.gamma = float(gamma)
        self.clip = _check_clip(clip)
        self.epsilon = float(epsilon)
        self.ret = np.zeros(num_envs, dtype=np.float64)
        self.rms = RunningMeanStd(())

    def __call__(
        self, rewards: np.ndarray, episode_ended: np.ndarray, update: bool = True
    ) -> np.ndarray:
        """Scale one step's rewards of all envs.

        Args:
            rewards: ``[num_envs]`` rewards.
            episode_ended: ``[num_envs]`` bool, True where the step ended an episode
                (terminated or truncated); those envs' returns restart from 0.
            update: merge the envs' returns into the running variance first.

        Returns:
            float32 ``[num_envs]`` scaled rewards.

        Raises:
            ValueError: if a shape is wrong or a reward is NaN or inf.
        """
        rewards = np.asarray(rewards, dtype=np.float64)
        ended = np.asarray(episode_ended)
        expected = (self.num_envs,)
        if rewards.shape != expected:
            raise ValueError(f"rewards must have shape {expected}, got {rewards.shape}")
        if ended.shape != expected:
            raise ValueError(f"episode_ended must have shape {expected}, got {ended.shape}")
        _check_finite("rewards", rewards)
        self.ret = self.ret * self.gamma + rewards
        if update:
            self.rms.update(self.ret)
        scaled = np.clip(rewards / np.sqrt(self.rms.var + self.epsilon), -self.clip, self.clip)
        self.ret[ended.astype(bool)] = 0.0
        return scaled.astype(np.float32)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Return the running statistics of the return and each env's current ``ret``."""
        return {**self.rms.state_dict(), "ret": self.ret.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict`, so the run continues exactly.

        Raises:
            ValueError: if a key is missing or a shape or value is wrong (``ret`` must have
                one entry per env).
        """
        ret = _state_array(state, "ret", (self.num_envs,))
        self.rms.load_state_dict(state)
        self.ret = ret


def _as_shape(shape: int | tuple[int, ...]) -> tuple[int, ...]:
    result = (shape,) if isinstance(shape, int) else tuple(shape)
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in result):
        raise ValueError(f"shape must be a tuple of non-negative integers, got {shape!r}")
    return result


def _check_clip(clip: float) -> float:
    if not clip > 0.0:
        raise ValueError(f"clip must be positive, got {clip}")
    return float(clip)


def _check_finite(name: str, array: np.ndarray) -> None:
    if np.isfinite(array).all():  # the common case, in one pass
        return
    if np.isnan(array).any():
        where = tuple(int(i) for i in np.argwhere(np.isnan(array))[0])
        raise ValueError(f"{name} holds NaN (first at index {where})")
    if np.isinf(array).any():
        where = tuple(int(i) for i in np.argwhere(np.isinf(array))[0])
        raise ValueError(f"{name} holds inf (first at index {where})")


def _state_array(state: Mapping[str, Any], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in state:
        raise ValueError(f"state is missing {key!r} (has {sorted(state)})")
    try:
        value = np.array(state[key], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"state {key!r} is not numeric: {error}") from error
    if value.shape != shape:
        raise ValueError(f"state {key!r} has shape {value.shape}, expected {shape}")
    if not np.isfinite(value).all():
        raise ValueError(f"state {key!r} holds NaN or inf")
    return value
