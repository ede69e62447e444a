"""Route geometry: the path the object's centre should follow, and the ground height.

Every route starts at the origin heading along +x. ``straight`` and ``slope`` run along the
x axis; ``slope`` adds a ramp that starts :data:`RAMP_START` metres ahead and climbs at the
task's incline. ``turn`` runs straight for half its length, then along a circular arc whose
heading changes by the task's turn angle, then straight on. The goal is the point at the
route's arc length; the path continues beyond it, so a leader can walk past the goal with
the object between it and the follower.

The path is made of a line, an arc and a line, so points and projections are computed in
closed form (a few float operations per call: this runs every env step).
"""

from __future__ import annotations

import math

__all__ = ["RAMP_START", "Route"]

RAMP_START = 1.5
"""Distance from the start to the foot of the ramp on the ``slope`` route, m."""


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
        angle = math.radians(turn_angle_deg) if kind == "turn" else 0.0
        self._straight = abs(angle) < 1e-9
        if not self._straight:
            self._lead_in = self.length / 2  # straight part before the arc
            self._side = 1.0 if angle > 0 else -1.0
            self._angle = abs(angle)
            self._radius = (self.length / 2) / self._angle
            self._arc_end = self._lead_in + self._radius * self._angle
            self._centre = (self._lead_in, self._side * self._radius)
            self._exit = self._arc_point(self._angle)
            self._exit_heading = (math.cos(angle), math.sin(angle))
        self.goal = self.point_at(self.length)

    def _arc_point(self, phi: float) -> tuple[float, float]:
        return (
            self._lead_in + self._radius * math.sin(phi),
            self._side * self._radius * (1.0 - math.cos(phi)),
        )

    def point_at(self, s: float) -> tuple[float, float]:
        """The (x, y) point at arc length ``s`` (the path extends along +x before 0)."""
        if self._straight or s <= self._lead_in:
            return (s, 0.0)
        if s <= self._arc_end:
            return self._arc_point((s - self._lead_in) / self._radius)
        t = s - self._arc_end
        return (
            self._exit[0] + t * self._exit_heading[0],
            self._exit[1] + t * self._exit_heading[1],
        )

    def heading_at(self, s: float) -> float:
        """The path's heading (radians from +x) at arc length ``s``."""
        if self._straight or s <= self._lead_in:
            return 0.0
        return self._side * min((s - self._lead_in) / self._radius, self._angle)

    def height(self, x: float) -> float:
        """Ground height at ``x``, m (the ramp rises along x only)."""
        if self.grade == 0.0 or x <= RAMP_START:
            return 0.0
        return (x - RAMP_START) * self.grade

    def height_slope(self, x: float) -> float:
        """d(height)/dx at ``x``."""
        return self.grade if (self.grade != 0.0 and x > RAMP_START) else 0.0

    def progress(self, x: float, y: float) -> float:
        """Arc length of the path point nearest to (x, y), m."""
        if self._straight:
            return x
        # Candidate 1: the lead-in line (and its extension behind the start).
        s_line = min(x, self._lead_in)
        best_s, best_d2 = s_line, (x - s_line) ** 2 + y * y
        # Candidate 2: the arc. P(phi) - centre = r (sin phi, -side cos phi).
        cx, cy = self._centre
        phi = math.atan2(x - cx, -self._side * (y - cy))
        phi = min(max(phi, 0.0), self._angle)
        px, py = self._arc_point(phi)
        d2 = (x - px) ** 2 + (y - py) ** 2
        if d2 < best_d2:
            best_s, best_d2 = self._lead_in + self._radius * phi, d2
        # Candidate 3: the exit line.
        hx, hy = self._exit_heading
        t = max(0.0, (x - self._exit[0]) * hx + (y - self._exit[1]) * hy)
        px, py = self._exit[0] + t * hx, self._exit[1] + t * hy
        if (x - px) ** 2 + (y - py) ** 2 < best_d2:
            best_s = self._arc_end + t
        return best_s
