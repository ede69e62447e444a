"""Route geometry: the path the object's centre should follow, and the ground height.

Every route starts at the origin heading along +x. ``straight`` and ``slope`` run along the
x axis; ``slope`` adds a ramp that starts :data:`RAMP_START` metres ahead and climbs at the
task's incline. ``turn`` runs straight for half its length, then along a circular arc whose
heading changes by the task's turn angle. The goal is the point at the route's arc length;
the path continues beyond it (:data:`RUN_OUT` metres) so a leader can walk past the goal
with the object between it and the follower.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["RAMP_START", "RUN_OUT", "Route"]

RAMP_START = 1.5
"""Distance from the start to the foot of the ramp on the ``slope`` route, m."""

RUN_OUT = 3.0
"""Length of path kept beyond the goal, m."""

_SPACING = 0.05


class Route:
    """The path of one episode.

    Args:
        kind: ``"straight"``, ``"turn"`` or ``"slope"``.
        length: Arc length from the start to the goal, m.
        turn_angle_deg: Heading change of a ``turn`` route (positive turns left).
        slope_deg: Incline of the ``slope`` route's ramp.
    """

    def __init__(self, kind: str, length: float, turn_angle_deg: float, slope_deg: float) -> None:
        self.kind = kind
        self.length = float(length)
        self.grade = math.tan(math.radians(slope_deg)) if kind == "slope" else 0.0
        self._straight = kind != "turn" or abs(turn_angle_deg) < 1e-6
        s = np.arange(0.0, self.length + RUN_OUT + _SPACING, _SPACING)
        if self._straight:
            xy = np.stack([s, np.zeros_like(s)], axis=1)
        else:
            xy = self._turn_points(s, self.length / 2, math.radians(turn_angle_deg))
        self.s = s
        self.points = xy
        self.goal = self.point_at(self.length)
        self._hint = 0

    @staticmethod
    def _turn_points(s: np.ndarray, straight: float, angle: float) -> np.ndarray:
        radius = straight / abs(angle)
        side = 1.0 if angle > 0 else -1.0
        xy = np.zeros((len(s), 2))
        before = s <= straight
        xy[before, 0] = s[before]
        arc_s = np.clip(s - straight, 0.0, straight)
        phi = arc_s / radius
        on_arc = (s > straight) & (s <= 2 * straight)
        xy[on_arc, 0] = straight + radius * np.sin(phi[on_arc])
        xy[on_arc, 1] = side * radius * (1 - np.cos(phi[on_arc]))
        after = s > 2 * straight
        end = np.array(
            [straight + radius * math.sin(abs(angle)), side * radius * (1 - math.cos(abs(angle)))]
        )
        heading = np.array([math.cos(angle), math.sin(angle)])
        xy[after] = end + (s[after] - 2 * straight)[:, None] * heading
        return xy

    def point_at(self, s: float) -> tuple[float, float]:
        """The (x, y) point at arc length ``s`` (clamped to the path)."""
        s = min(max(s, 0.0), float(self.s[-1]))
        if self._straight:
            return (s, 0.0)
        return (
            float(np.interp(s, self.s, self.points[:, 0])),
            float(np.interp(s, self.s, self.points[:, 1])),
        )

    def heading_at(self, s: float) -> float:
        """The path's heading (radians from +x) at arc length ``s``."""
        a = self.point_at(s - _SPACING)
        b = self.point_at(s + _SPACING)
        return math.atan2(b[1] - a[1], b[0] - a[0])

    def height(self, x: float) -> float:
        """Ground height at ``x``, m (the ramp rises along x only)."""
        if self.grade == 0.0 or x <= RAMP_START:
            return 0.0
        return (x - RAMP_START) * self.grade

    def height_slope(self, x: float) -> float:
        """d(height)/dx at ``x``."""
        return self.grade if (self.grade != 0.0 and x > RAMP_START) else 0.0

    def reset_progress(self) -> None:
        """Forget the search hint kept by :meth:`progress` (call at each reset)."""
        self._hint = 0

    def progress(self, x: float, y: float) -> float:
        """Arc length of the path point nearest to (x, y), m.

        On a straight route this is ``x``; on a turn the nearest polyline vertex is searched
        near the previous answer (the object moves a few centimetres per step) and refined on
        the adjacent segment.
        """
        if self._straight:
            return x
        lo = max(self._hint - 40, 0)
        window = self.points[lo : self._hint + 41]
        d2 = (window[:, 0] - x) ** 2 + (window[:, 1] - y) ** 2
        i = lo + int(np.argmin(d2))
        self._hint = i
        j0, j1 = max(i - 1, 0), min(i + 1, len(self.s) - 1)
        tx, ty = self.points[j1] - self.points[j0]
        ax, ay = self.points[i]
        along = ((x - ax) * tx + (y - ay) * ty) / math.hypot(tx, ty)
        return float(self.s[i] + along)
