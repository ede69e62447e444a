"""Effort metrics of a carry episode: what each carrier's grip did, separated into parts.

Every env step, :class:`EffortMeter` takes each carrier's grip force ``F`` (the mean force it
applied to the object over the step's substeps, N), its hand's position, and the object's
position. At the episode's end it reports, per carrier (``T`` steps of ``dt`` = 0.02 s, ``L``
the horizontal distance the object's centre travelled, the sum of its step displacements):

* ``cola_effort``: COLA's human effort, ``mean_t(|F_xy| + |F_z|)``, N;
* ``vertical_force``: ``mean_t(F_z)``, N (positive while holding the object up);
* ``interaction_force``: ``mean_t(|F_xy| + |F_z - s_t W|)``, N: the grip force beyond
  what holding its static share ``s_t W`` of the weight ``W`` needs, where ``s_t`` is the
  share statics would give this carrier's pin at the step's pose (the horizontal distance
  from the other grip to the centre of mass over the distance between the grips; one half
  for a level object with palaestra's symmetric handles);
* ``guiding_force_per_m``: ``sum_t |F_xy| dt / L``, N s/m: the horizontal impulse spent
  per metre the object travelled;
* ``impulse_per_m``: ``sum_t |F| dt / L``, N s/m;
* ``work``: ``sum_t |F . dp_t|``, J: the mechanical work on the hand's path ``p`` (each
  step's force against the hand's displacement over the step), counted whether the hand
  pushes or is pushed;
* ``horizontal_force``: ``mean_t |F_xy|``, N.

The per-metre metrics are NaN when the object did not move (``L`` below 1 mm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["EFFORT_METRICS", "EffortMeter"]

EFFORT_METRICS = (
    "cola_effort",
    "vertical_force",
    "interaction_force",
    "guiding_force_per_m",
    "impulse_per_m",
    "work",
    "horizontal_force",
)
"""The metrics :meth:`EffortMeter.metrics` reports for each carrier, in order."""

Vec = Sequence[float]


class EffortMeter:
    """Accumulates the effort metrics of both carriers over one episode.

    Args:
        weight: The object's weight, N.
        dt: Duration of one env step, s.
        hands: Each carrier's hand position ``(x, y, z)`` at the start.
        obj_xy: The object's centre ``(x, y)`` at the start.
    """

    def __init__(self, weight: float, dt: float, hands: Sequence[Vec], obj_xy: Vec) -> None:
        self.weight = weight
        self.dt = dt
        self.steps = 0
        self.path = 0.0
        self._hands = [tuple(h) for h in hands]
        self._obj = (float(obj_xy[0]), float(obj_xy[1]))
        # Per seat: sums of |F_xy|, F_z, |F_z|, |F_z - s W|, |F|, |F . dp|.
        self._sums = [[0.0] * 6 for _ in hands]

    def add(self, forces: Sequence[Vec], hands: Sequence[Vec], obj_com: Vec) -> None:
        """Record one env step: grip forces, hand positions and the object's centre of mass."""
        ox, oy = float(obj_com[0]), float(obj_com[1])
        self.path += math.hypot(ox - self._obj[0], oy - self._obj[1])
        self._obj = (ox, oy)
        (x0, y0, _), (x1, y1, _) = hands[0], hands[1]
        span2 = (x1 - x0) ** 2 + (y1 - y0) ** 2
        # Seat 1's share: how far the centre lies from seat 0 along the line between them.
        along = (ox - x0) * (x1 - x0) + (oy - y0) * (y1 - y0)
        share1 = along / span2 if span2 > 1e-12 else 0.5
        shares = (1.0 - share1, share1)
        for seat, ((fx, fy, fz), hand) in enumerate(zip(forces, hands, strict=True)):
            old = self._hands[seat]
            horizontal = math.hypot(fx, fy)
            sums = self._sums[seat]
            sums[0] += horizontal
            sums[1] += fz
            sums[2] += abs(fz)
            sums[3] += abs(fz - shares[seat] * self.weight)
            sums[4] += math.sqrt(horizontal * horizontal + fz * fz)
            dx, dy, dz = hand[0] - old[0], hand[1] - old[1], hand[2] - old[2]
            sums[5] += abs(fx * dx + fy * dy + fz * dz)
            self._hands[seat] = tuple(hand)
        self.steps += 1

    def mean_force(self, seat: int) -> float:
        """``mean_t |F|`` of one carrier, N (the env's ``partner_effort`` and ``own_effort``)."""
        return self._sums[seat][4] / max(self.steps, 1)

    def metrics(self, seat: int) -> dict[str, float]:
        """The effort metrics of one carrier (module docstring), keyed by :data:`EFFORT_METRICS`."""
        n = max(self.steps, 1)
        horizontal, vertical, vertical_abs, interaction, total, work = self._sums[seat]
        per_m = self.dt / self.path if self.path >= 1e-3 else math.nan
        return {
            "cola_effort": (horizontal + vertical_abs) / n,
            "vertical_force": vertical / n,
            "interaction_force": (horizontal + interaction) / n,
            "guiding_force_per_m": horizontal * per_m,
            "impulse_per_m": total * per_m,
            "work": work,
            "horizontal_force": horizontal / n,
        }
