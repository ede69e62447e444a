"""One carry episode for two seats: observations, rewards, ending and metrics.

:class:`CarryEpisode` is shared by the Gymnasium and PettingZoo envs. Seat 1 holds the front
handle and leads (it knows the goal); seat 0 holds the back handle and follows. A seat is
either driven by actions from outside or by a scripted :class:`HumanProxy`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from palaestra.envs.carry.compliance import CompliantLoad
from palaestra.envs.carry.effort import EFFORT_METRICS, EffortMeter
from palaestra.envs.carry.layout import (
    CONTROL_DT,
    FORCE_SCALE,
    MAX_LIFT_SPEED,
    MAX_WALK_SPEED,
    OBS_NAMES,
    TORQUE_SCALE,
)
from palaestra.envs.carry.objects import OBJECTS
from palaestra.envs.carry.partner import HumanProxy
from palaestra.envs.carry.route import Route
from palaestra.envs.carry.sim import GRAVITY, HUMAN, NOMINAL_HEIGHT, ROBOT, CarrySim
from palaestra.envs.carry.state import CarrierState, CarryState
from palaestra.envs.carry.task import CARRY_TASK_SPACE
from palaestra.envs.games import check_render_mode
from palaestra.envs.tasks import TaskChannel

__all__ = [
    "FORCE_SCALE",
    "GOAL_RADIUS",
    "GRIP_FORCE_LIMIT",
    "MAX_LIFT_SPEED",
    "MAX_TILT_DEG",
    "MAX_WALK_SPEED",
    "OBS_NAMES",
    "TORQUE_SCALE",
    "CarryEnvBase",
    "CarryEpisode",
    "RewardWeights",
    "carrier_action_space",
    "carrier_observation_space",
    "reward_weights_from",
    "validate_action",
    "window_for_render_mode",
]

GOAL_RADIUS = 0.25
"""The object's centre must come this close to the goal (horizontally), m."""
MAX_TILT_DEG = 30.0
"""A tilt of the object beyond this many degrees drops it."""
GRIP_FORCE_LIMIT = 600.0
"""A grip force beyond this many newtons breaks the grip (the object is dropped)."""
FORCE_FILTER_S = 0.1
"""Time constant of the low-pass filter on grip forces used for the overload test and the
peak force, s. Rigid-body contact and joint-limit impulses last one physics step; like a
force plate, the metric filters them out."""
IDLE_SPEED = 0.02
"""The object counts as idle while its horizontal speed is below this, m/s."""

log = logging.getLogger(__name__)
_FILTER_ALPHA = 1.0 - math.exp(-CONTROL_DT / FORCE_FILTER_S)


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward terms (per env step).

    Attributes:
        progress: Per metre the object's centre advances along the route.
        force: Per unit (``FORCE_SCALE`` N) of horizontal force felt at the carrier's grip.
            It is set so that dragging the partner along (the robot is the stronger) costs
            more than the progress it buys: the task is to move with the partner.
        leader_force: The same, for the carrier that leads (seat 1, the front handle). A
            leader has to pull its partner along: the scripted follower walks at ``v`` m/s
            only when pulled with about ``60 v`` N (its admittance damping), so at the
            follower's weight every metre led would cost more than the progress it earns
            (at 0.5 m/s, 0.5 x 34 N / 100 N x 100 steps per metre: 17 against 10) and standing still
            would be the leader's best policy. At 0.1 leading pays (3.4 against 10 per metre)
            while pulling harder than needed still costs.
        tilt: Per radian of the object's tilt from level.
        jerk: Per squared change of the action between steps.
        success: Once, when the object's centre reaches the goal zone.
        drop: Once (subtracted), when the object is dropped.
        partner_effort: Per unit (``FORCE_SCALE`` N) of the partner's COLA effort
            ``|F_xy| + |F_z|`` (subtracted; 0 by default). The learner never observes the
            partner's force: the term only shapes the reward, for tasks that ask the learner
            to spare its partner (the ``compliant`` load model, where it can).
    """

    progress: float = 10.0
    force: float = 0.5
    leader_force: float = 0.1
    tilt: float = 2.0
    jerk: float = 0.05
    success: float = 10.0
    drop: float = 10.0
    partner_effort: float = 0.0


def reward_weights_from(value: RewardWeights | Mapping[str, float] | None) -> RewardWeights:
    """``value`` as :class:`RewardWeights`.

    ``None`` gives the defaults, and a mapping (as a run folder's ``config.json`` stores
    them) its named weights, the others at their defaults.

    Raises:
        ValueError: for an unknown weight name or a weight that is not a finite number.
    """
    if value is None:
        return RewardWeights()
    if isinstance(value, RewardWeights):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"reward_weights must be RewardWeights or a mapping, got {value!r}")
    known = [f.name for f in fields(RewardWeights)]
    for name, weight in value.items():
        if name not in known:
            raise ValueError(f"unknown reward weight {name!r}; weights: {', '.join(known)}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise ValueError(f"reward weight {name!r} must be a number, got {weight!r}")
        if not math.isfinite(weight):
            raise ValueError(f"reward weight {name!r} must be finite, got {weight!r}")
    return RewardWeights(**{k: float(v) for k, v in value.items()})


def validate_action(agent: str, action: Any) -> tuple[float, float, float]:
    """Check an action and clip it to [-1, 1]; raise ValueError naming the agent."""
    if isinstance(action, np.ndarray) and action.shape == (3,) and action.dtype.kind == "f":
        a0, a1, a2 = float(action[0]), float(action[1]), float(action[2])
    else:
        try:
            arr = np.asarray(action)
        except Exception as exc:  # ragged or otherwise unconvertible input
            raise ValueError(
                f"{agent}: action must be a numeric array of shape (3,): {exc}"
            ) from exc
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"{agent}: action must be a numeric array of shape (3,), got dtype {arr.dtype}"
            )
        if arr.shape != (3,):
            raise ValueError(f"{agent}: action must have shape (3,), got shape {arr.shape}")
        a0, a1, a2 = (float(v) for v in arr)
    if not (math.isfinite(a0) and math.isfinite(a1) and math.isfinite(a2)):
        raise ValueError(f"{agent}: action contains NaN or inf: {[a0, a1, a2]}")
    return (
        min(1.0, max(-1.0, a0)),
        min(1.0, max(-1.0, a1)),
        min(1.0, max(-1.0, a2)),
    )


class CarryEpisode:
    """The world plus the rules of the carry task, for two seats.

    Args:
        max_steps: Steps after which the episode is truncated.
        reward_weights: Weights of the reward terms.
        gui: Open pybullet's window (needs a display).
    """

    def __init__(self, max_steps: int, reward_weights: RewardWeights, gui: bool = False) -> None:
        self.sim = CarrySim(gui=gui)
        self.max_steps = max_steps
        self.weights = reward_weights
        self.task: dict[str, Any] = {}
        self.proxies: dict[int, HumanProxy] = {}
        self.done = True

    def reset(self, task: Mapping[str, Any], rng: np.random.Generator, scripted: set[int]) -> None:
        """Build the episode of a complete, valid ``task``; ``scripted`` seats get a proxy."""
        if not self.sim.connected:
            raise RuntimeError("this carry env has been closed; make a new one")
        self.task = dict(task)
        spec = OBJECTS[task["object"]]
        route = Route(
            task["route"], task["route_length"], task["turn_angle_deg"], task["slope_deg"]
        )
        params = tuple(HUMAN if seat in scripted else ROBOT for seat in (0, 1))
        load = None
        if task["partner_load"] == "compliant":
            learners = [seat for seat in (0, 1) if seat not in scripted]
            load = CompliantLoad(sorted(scripted), learners, task["grip_torque_limit"])
        self.sim.build(spec, task["mass_scale"], route, params, load)  # type: ignore[arg-type]
        self.route = route
        # The object touches the ground when its centre is lower than its lowest point.
        self._min_clearance = spec.lowest_point + 0.02
        self.proxies = {
            seat: HumanProxy("leader" if seat == 1 else "follower", task, rng) for seat in scripted
        }
        self.prev_actions = [(0.0, 0.0, 0.0), (0.0, 0.0, 0.0)]
        self.steps = 0
        self.done = False
        self.end_reason = ""
        x, y, _ = self.sim.obj_pos
        self.progress = route.progress(x, y)
        self.start_distance = math.hypot(route.goal[0] - x, route.goal[1] - y)
        sim = self.sim
        self.effort = EffortMeter(
            spec.mass * task["mass_scale"] * GRAVITY,
            CONTROL_DT,
            [(*sim.body_xy[seat], sim.hand_z[seat]) for seat in (0, 1)],
            (x, y),
        )
        self._peak_force = 0.0
        self._filtered_force = [math.sqrt(sum(c * c for c in f)) for f in self.sim.grip_force]
        self._tilt_sum = 0.0
        self._tilt_max = 0.0
        self._idle = 0
        self._update_geometry()

    # ---------------------------------------------------------------------------- geometry
    def _update_geometry(self) -> None:
        """Derive the object's axes, tilt and each seat's facing from the raw state."""
        qx, qy, qz, qw = self.sim.obj_quat
        # Columns of the object's rotation matrix: its long (x) axis and its up (z) axis.
        self.up = (2 * (qx * qz + qw * qy), 2 * (qy * qz - qw * qx), 1 - 2 * (qx * qx + qy * qy))
        ax, ay = 1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy + qw * qz)
        norm = math.hypot(ax, ay) or 1.0
        ax, ay = ax / norm, ay / norm
        # Each carrier faces the object: the back carrier along +x_obj, the front one along -x_obj.
        self.facing = ((ax, ay), (-ax, -ay))
        self.tilt = math.acos(max(-1.0, min(1.0, self.up[2])))

    def observation(self, seat: int) -> np.ndarray:
        """The observation of one seat (see :data:`OBS_NAMES`), float32."""
        sim = self.sim
        c, s = self.facing[seat]
        vx, vy = sim.body_vel[seat]
        fx, fy, fz = sim.grip_force[seat]
        tx, ty, tz = sim.grip_torque[seat]
        ux, uy, uz = self.up
        grade = self.route.height_slope(sim.body_xy[seat][0])
        lift_vel = sim.lift_vel[seat] - grade * vx
        # Forces and torques the hand feels are the opposite of those it applies.
        obs = [
            c * vx + s * vy, -s * vx + c * vy,
            sim.lift_height[seat] - NOMINAL_HEIGHT, lift_vel,
            -(c * fx + s * fy) / FORCE_SCALE, -(-s * fx + c * fy) / FORCE_SCALE,
            -fz / FORCE_SCALE,
            -(c * tx + s * ty) / TORQUE_SCALE, -(-s * tx + c * ty) / TORQUE_SCALE,
            -tz / TORQUE_SCALE,
            # Roll: positive when the object's right side (as this carrier sees it) is lower.
            math.atan2(-(-s * ux + c * uy), uz),
            # Pitch: positive when the far end is lower than the near end.
            math.atan2(c * ux + s * uy, uz),
            *self.prev_actions[seat],
        ]  # fmt: skip
        if seat == 1:
            ox, oy, _ = sim.obj_pos
            gx, gy = self.route.goal[0] - ox, self.route.goal[1] - oy
            dist = math.hypot(gx, gy)
            if dist > 1e-9:
                gx, gy = gx / dist, gy / dist
            obs += [1.0, c * gx + s * gy, -s * gx + c * gy, dist]
        else:
            obs += [-1.0, 0.0, 0.0, 0.0]
        return np.array(obs, dtype=np.float32)

    # -------------------------------------------------------------------------------- step
    def step(
        self, actions: Mapping[int, tuple[float, float, float]]
    ) -> tuple[dict[int, float], bool, bool]:
        """Apply validated actions of the non-scripted seats and advance one env step.

        Returns:
            The reward of each seat, whether the episode terminated, whether it was truncated.
        """
        sim = self.sim
        for seat, proxy in self.proxies.items():
            vx, vy, lift = proxy.act(sim, seat, self.progress)
            sim.command(seat, vx, vy, lift)
            self.prev_actions[seat] = (
                vx / MAX_WALK_SPEED,
                vy / MAX_WALK_SPEED,
                lift / MAX_LIFT_SPEED,
            )
        jerks = {}
        for seat, (a0, a1, a2) in actions.items():
            c, s = self.facing[seat]
            sim.command(
                seat,
                (c * a0 - s * a1) * MAX_WALK_SPEED,
                (s * a0 + c * a1) * MAX_WALK_SPEED,
                a2 * MAX_LIFT_SPEED,
            )
            p0, p1, p2 = self.prev_actions[seat]
            jerks[seat] = (a0 - p0) ** 2 + (a1 - p1) ** 2 + (a2 - p2) ** 2
            self.prev_actions[seat] = (a0, a1, a2)
        sim.step()
        self.steps += 1
        self._update_geometry()

        ox, oy, oz = sim.obj_pos
        progress = self.route.progress(ox, oy)
        advance = progress - self.progress
        self.progress = progress
        forces = [math.sqrt(f[0] * f[0] + f[1] * f[1] + f[2] * f[2]) for f in sim.grip_force]
        self.effort.add(
            sim.grip_force,
            [(*sim.body_xy[seat], sim.hand_z[seat]) for seat in (0, 1)],
            (ox, oy),
        )
        filtered = self._filtered_force
        filtered[0] += _FILTER_ALPHA * (forces[0] - filtered[0])
        filtered[1] += _FILTER_ALPHA * (forces[1] - filtered[1])
        self._peak_force = max(self._peak_force, filtered[0], filtered[1])
        tilt_deg = math.degrees(self.tilt)
        self._tilt_sum += tilt_deg
        self._tilt_max = max(self._tilt_max, tilt_deg)
        vx, vy, _ = sim.obj_vel
        if vx * vx + vy * vy < IDLE_SPEED * IDLE_SPEED:
            self._idle += 1

        goal = self.route.goal
        reason = ""
        if tilt_deg > MAX_TILT_DEG:
            reason = "drop_tilt"
        elif oz - self.route.height(ox) < self._min_clearance:
            reason = "drop_height"
        elif max(filtered) > GRIP_FORCE_LIMIT:
            reason = "grip_overload"
        elif (ox - goal[0]) ** 2 + (oy - goal[1]) ** 2 < GOAL_RADIUS * GOAL_RADIUS:
            reason = "success"
        terminated = reason != ""
        truncated = not terminated and self.steps >= self.max_steps
        if truncated:
            reason = "time_limit"
        self.end_reason = reason
        self.done = terminated or truncated

        w = self.weights
        shared = w.progress * advance - w.tilt * self.tilt
        if reason == "success":
            shared += w.success
        elif terminated:
            shared -= w.drop
        rewards = {}
        for seat in actions:
            fx, fy, _ = sim.grip_force[seat]
            horizontal = math.sqrt(fx * fx + fy * fy) / FORCE_SCALE
            force = w.leader_force if seat == 1 else w.force
            rewards[seat] = shared - force * horizontal - w.jerk * jerks[seat]
            if w.partner_effort:
                px, py, pz = sim.grip_force[1 - seat]
                spared = (math.sqrt(px * px + py * py) + abs(pz)) / FORCE_SCALE
                rewards[seat] -= w.partner_effort * spared
        return rewards, terminated, truncated

    # ------------------------------------------------------------------------------ metrics
    def metrics(self, seat: int) -> dict[str, Any]:
        """Episode metrics from the point of view of ``seat`` (its partner is the other seat)."""
        n = max(self.steps, 1)
        ox, oy, _ = self.sim.obj_pos
        goal = self.route.goal
        partner, own = self.effort.metrics(1 - seat), self.effort.metrics(seat)
        return {
            "success": self.end_reason == "success",
            "end_reason": self.end_reason,
            "partner_effort": self.effort.mean_force(1 - seat),
            "own_effort": self.effort.mean_force(seat),
            **{f"partner_{name}": partner[name] for name in EFFORT_METRICS},
            **{f"own_{name}": own[name] for name in EFFORT_METRICS},
            "path_length": self.effort.path,
            "peak_force": self._peak_force,
            "mean_tilt_deg": self._tilt_sum / n,
            "max_tilt_deg": self._tilt_max,
            "displacement": self.start_distance - math.hypot(goal[0] - ox, goal[1] - oy),
            "idle_fraction": self._idle / n,
            "episode_time_s": self.steps * CONTROL_DT,
        }

    def snapshot(self, carriers: Sequence[tuple[str, int]]) -> CarryState:
        """A :class:`~palaestra.envs.carry.state.CarryState` of the episode.

        Args:
            carriers: ``(name, seat)`` of each carrier, in the order the snapshot lists them.

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        if not self.task:
            from gymnasium.error import ResetNeeded

            raise ResetNeeded("the carry episode has not started; call reset() first")
        sim = self.sim
        ox, oy, oz = sim.obj_pos
        gx, gy = self.route.goal
        return CarryState(
            steps=self.steps,
            time_s=self.steps * CONTROL_DT,
            done=self.done,
            end_reason=self.end_reason,
            object_position=(ox, oy, oz),
            object_orientation=tuple(sim.obj_quat),  # type: ignore[arg-type]
            object_velocity=tuple(sim.obj_vel),  # type: ignore[arg-type]
            tilt_deg=math.degrees(self.tilt),
            progress=self.progress,
            goal=(gx, gy),
            goal_distance=math.hypot(gx - ox, gy - oy),
            carriers=tuple(
                CarrierState(
                    name=name,
                    role="leader" if seat == 1 else "follower",
                    scripted=seat in self.proxies,
                    hand_position=tuple(sim.body_xy[seat]),  # type: ignore[arg-type]
                    hand_height=sim.hand_z[seat],
                    lift_height=sim.lift_height[seat],
                    applied_force=tuple(sim.grip_force[seat]),  # type: ignore[arg-type]
                )
                for name, seat in carriers
            ),
        )

    def close(self) -> None:
        """Release the physics client; later steps raise ResetNeeded, resets RuntimeError."""
        self.done = True
        self.sim.close()


def carrier_observation_space() -> Any:
    """The observation space of one carrier: a flat ``Box`` of :data:`OBS_NAMES`."""
    from gymnasium import spaces

    return spaces.Box(-np.inf, np.inf, shape=(len(OBS_NAMES),), dtype=np.float32)


def carrier_action_space() -> Any:
    """The action space of one carrier: walking velocity x, y and lift velocity in [-1, 1]."""
    from gymnasium import spaces

    return spaces.Box(-1.0, 1.0, shape=(3,), dtype=np.float32)


def window_for_render_mode(render_mode: str | None, allowed: list[str]) -> bool:
    """Validate ``render_mode``; return whether pybullet's window should open.

    Raises:
        ValueError: for a mode the env does not declare
            (:func:`~palaestra.envs.games.check_render_mode`).
        RuntimeError: for ``"human"`` without a display (pybullet's GUI would kill the
            process instead of raising).
    """
    import os

    check_render_mode(render_mode, allowed)
    if render_mode != "human":
        return False
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise RuntimeError(
            "render_mode='human' opens a pybullet window and needs a display, but neither "
            "DISPLAY nor WAYLAND_DISPLAY is set; use render_mode='rgb_array' on a headless machine"
        )
    return True


class CarryEnvBase(TaskChannel):
    """What both carry envs share: the task channel, rendering and closing.

    Subclasses set ``_task`` (a complete task), ``_episode`` (a :class:`CarryEpisode`),
    ``render_mode`` and ``render_size``.
    """

    task_space = CARRY_TASK_SPACE
    _task: dict[str, Any]
    _episode: CarryEpisode
    render_mode: str | None
    render_size: tuple[int, int]

    def _carriers(self) -> list[tuple[str, int]]:
        """``(name, seat)`` of each carrier, in the order :attr:`episode_state` lists them."""
        raise NotImplementedError

    @property
    def episode_state(self) -> CarryState:
        """A read-only snapshot of the episode: steps, time, the object's pose, the carriers.

        A new :class:`~palaestra.envs.carry.state.CarryState` at every access, which later
        steps do not change. It holds what the simulator knows (the object's pose in the
        world, the goal, both carriers' hands), for tools and tests; learners see only their
        observations. (Not ``state``: PettingZoo reserves ``state()`` for a global
        observation array, which wrappers call.)

        Raises:
            gymnasium.error.ResetNeeded: before the first reset.
        """
        return self._episode.snapshot(self._carriers())

    @property
    def physics_client(self) -> int:
        """The id of this env's pybullet physics client (disconnected by :meth:`close`)."""
        return self._episode.sim.client

    def render(self) -> np.ndarray | None:
        """An RGB frame in ``rgb_array`` mode; nothing in ``human`` mode (the window shows it)."""
        if self.render_mode == "rgb_array":
            return self._episode.sim.render(*self.render_size)
        if self.render_mode == "human":
            self._episode.sim.follow_camera()
        return None

    def close(self) -> None:
        """Release the physics client."""
        self._episode.close()
