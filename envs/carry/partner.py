"""The scripted human proxy: a partner that leads along the route or follows by admittance.

As ``leader`` it walks ahead of the object along the route, then to where it must stand for
the object's centre to sit on the goal (it sees the object, so it can), at the task's
``partner_speed`` (reached over the first second), with smoothly varying speed and heading
noise (``partner_noise``) and, at ``intention_change_rate`` events per second, an intention
change: half the time a pause of 0.5 to 1.5 s, otherwise a new cruising speed between 0.5
and 1.5 times the task's speed. Like a person, it slows down when it feels the load held
back (from :data:`RESIST_START` newtons) and stands still, keeping the tension, from
:data:`RESIST_STOP` newtons.

As ``follower`` it is a classic admittance controller, a virtual mass-damper
(``FOLLOW_MASS * dv/dt + FOLLOW_DAMPING * v = f``) driven by the horizontal force ``f`` it
feels at its grip: it walks at ``f / FOLLOW_DAMPING`` in steady state, with the same
noise. Either way it keeps its hands at the nominal height above the ground under its own
feet: it does not level the object on a slope.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from palaestra.envs.carry.sim import CONTROL_DT, NOMINAL_HEIGHT

if TYPE_CHECKING:
    from palaestra.envs.carry.sim import CarrySim

__all__ = ["FOLLOW_DAMPING", "FOLLOW_MASS", "HumanProxy"]

FOLLOW_DAMPING = 60.0
"""Felt force per unit of steady walking speed of the following proxy, N/(m/s)."""
FOLLOW_MASS = 20.0
"""Virtual mass of the following proxy's admittance, kg."""
MAX_FOLLOW_SPEED = 1.2
"""Fastest the proxy walks when following, m/s."""
RESIST_START = 40.0
"""Force holding the leading proxy back at which it starts to slow down, N."""
RESIST_STOP = 120.0
"""Force holding the leading proxy back at which it stops walking, N."""
_DEADBAND = 4.0
_NOISE_MEMORY = 0.95  # AR(1) coefficient of the noise processes (about 0.4 s correlation)


class HumanProxy:
    """A scripted partner for one seat.

    Args:
        role: ``"leader"`` or ``"follower"``.
        task: The complete carry task (see :data:`~palaestra.envs.carry.task.CARRY_TASK_SPACE`).
        rng: The env's generator; the proxy draws from it and from nothing else.
    """

    def __init__(self, role: str, task: Mapping[str, Any], rng: np.random.Generator) -> None:
        if role not in ("leader", "follower"):
            raise ValueError(f"partner role must be 'leader' or 'follower', got {role!r}")
        self.role = role
        self.speed = float(task["partner_speed"])
        self.noise = float(task["partner_noise"])
        self.event_probability = float(task["intention_change_rate"]) * CONTROL_DT
        self.rng = rng
        self.time = 0.0
        self.pause_left = 0.0
        self.speed_factor = 1.0
        self.noise_speed = 0.0
        self.noise_heading = 0.0
        self.velocity = (0.0, 0.0)

    def _update_noise(self) -> None:
        rng = self.rng
        k = _NOISE_MEMORY
        scale = math.sqrt(1.0 - k * k)
        self.noise_speed = k * self.noise_speed + scale * float(rng.standard_normal())
        self.noise_heading = k * self.noise_heading + scale * float(rng.standard_normal())
        if self.event_probability > 0.0 and float(rng.random()) < self.event_probability:
            if float(rng.random()) < 0.5:
                self.pause_left = float(rng.uniform(0.5, 1.5))
            else:
                self.speed_factor = float(rng.uniform(0.5, 1.5))

    def act(self, sim: CarrySim, seat: int, object_progress: float) -> tuple[float, float, float]:
        """Return this step's walking velocity (world x, y) and lift velocity, m/s."""
        self._update_noise()
        self.time += CONTROL_DT
        lift = max(-0.3, min(0.3, 2.0 * (NOMINAL_HEIGHT - sim.lift_height[seat])))
        gain = 1.0 + 0.5 * self.noise * self.noise_speed
        turn = 0.3 * self.noise * self.noise_heading
        if self.role == "follower":
            fx, fy, _ = sim.grip_force[seat]
            # The hand feels the opposite of the force the carrier applies to the object.
            fx, fy = -fx, -fy
            magnitude = math.hypot(fx, fy)
            scale = max(0.0, magnitude - _DEADBAND) / magnitude if magnitude > 0 else 0.0
            vx, vy = self.velocity
            step = CONTROL_DT / FOLLOW_MASS
            vx += step * (scale * fx - FOLLOW_DAMPING * vx)
            vy += step * (scale * fy - FOLLOW_DAMPING * vy)
            speed = math.hypot(vx, vy)
            if speed > MAX_FOLLOW_SPEED:
                vx, vy = vx * MAX_FOLLOW_SPEED / speed, vy * MAX_FOLLOW_SPEED / speed
            self.velocity = (vx, vy)
            c, s = math.cos(turn), math.sin(turn)
            return gain * (c * vx - s * vy), gain * (s * vx + c * vy), lift
        if self.pause_left > 0.0:
            self.pause_left -= CONTROL_DT
            return 0.0, 0.0, lift
        route = sim.route
        handle = sim.spec.handle_x  # type: ignore[union-attr]
        x, y = sim.body_xy[seat]
        # Where to stand so the object's centre lies on the goal, given where the other end
        # is: the leader sees the object, and swings wide through a turn to land it there.
        gx, gy = route.goal  # type: ignore[union-attr]
        bx, by = sim.body_xy[1 - seat]
        span = math.hypot(gx - bx, gy - by) or 1.0
        final = (gx + (gx - bx) * handle / span, gy + (gy - by) * handle / span)
        ahead = object_progress + handle + 0.4
        aim = final if ahead >= route.length + handle else route.point_at(ahead)  # type: ignore[union-attr]
        remaining = math.hypot(final[0] - x, final[1] - y)
        speed = self.speed * self.speed_factor * min(1.0, self.time) * gain
        speed = max(0.0, min(speed, 1.5 * remaining))
        angle = math.atan2(aim[1] - y, aim[0] - x) + turn
        dx, dy = math.cos(angle), math.sin(angle)
        # A person who feels the load held back slows down, and stops pulling harder than
        # RESIST_STOP newtons instead of yanking the object out of the partner's hands.
        fx, fy, _ = sim.grip_force[seat]
        resist = fx * dx + fy * dy  # the hand is held back by -(force it applies)
        if resist > RESIST_START:
            speed *= max(0.0, 1.0 - (resist - RESIST_START) / (RESIST_STOP - RESIST_START))
        return speed * dx, speed * dy, lift
