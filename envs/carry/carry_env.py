"""``palaestra/Carry-v0``: one learning carrier and a scripted human partner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from palaestra.envs.carry.core import (
    CarryEnvBase,
    CarryEpisode,
    RewardWeights,
    carrier_action_space,
    carrier_observation_space,
    reward_weights_from,
    validate_action,
    window_for_render_mode,
)

__all__ = ["CarryEnv"]

MAX_STEPS_LIMIT = 2000


class CarryEnv(CarryEnvBase, gym.Env):
    """Carry an object together with a human partner, feeling where they want to go.

    ## Description
    After COLA ("Learning Human-Humanoid Coordination for Collaborative Object Carrying",
    2025). A learning carrier and a scripted human proxy hold the two handles of a rigid
    object (a box, a table or a stretcher) and move it along a route: straight, through a
    turn, or up a ramp. The learner sees proprioception only: its own motion, the force and
    torque at its grip, and the object's tilt as felt through the grip. As ``leader`` it is
    also told where the goal is; as ``follower`` it must infer the partner's intention from
    the forces it feels. One policy can learn both roles (the role is in the observation).

    The world is simulated by pybullet (``DIRECT`` mode, one physics client per env, so envs
    in one process never interfere). The controller runs at 50 Hz; each step advances the
    physics by 3 substeps of 6.7 ms. A carrier is a mobile base with a vertical lift: its legs
    track the commanded walking velocity with bounded strength (robot 400 N, human 200 N),
    its arms are a damper (300 N s/m) with 0.2 m of reach, and its two hands hold the handle
    either side of the object's long axis (roll is held, pitch and yaw are free).

    How the load is borne is the task's ``partner_load`` knob
    (:mod:`palaestra.envs.carry.compliance`). ``rigid`` (the default): both lifts are
    servos and both grips pins, so statics fix each carrier's share of the weight (half,
    while level). ``compliant``, after COLA's scripted human: the partner holds its handle
    through a vertical spring-damper (800 N/m, 170 N s/m, at most 300 N) about its
    comfortable height plus a feed-forward of half the weight, and the learner's grip also
    passes pitch torque up to ``grip_torque_limit`` (default 87 N m), so by holding its end
    higher the learner takes load off the partner; a partner who feels the load rise lets
    it go, one who feels it sink holds harder. On a slope, the learner's grip holds the
    object level, so the partner's spring, which keeps its hands at its own comfortable
    height uphill, bears more unless the learner raises its end. Observations do not change:
    the learner feels its partner only through its own grip (its torque reading includes
    the pitch torque it passes).

    ``env.unwrapped.episode_state`` is a read-only snapshot of the episode
    (:class:`~palaestra.envs.carry.state.CarryState`: steps, simulated time, the object's
    pose, tilt and distance to the goal, both carriers' hands, named ``learner`` and
    ``partner``), for tools and evaluation; ``env.unwrapped.physics_client`` is the id of its
    pybullet client.

    ## Action Space
    ``Box(-1, 1, (3,), float32)``: walking velocity forward and left (1 = 1 m/s) and lift
    velocity (1 = 0.3 m/s), in the carrier's frame, whose x axis points from the carrier
    towards the object. Finite values outside [-1, 1] are clipped; NaN, inf, a wrong shape
    or a non-numeric dtype raise ``ValueError``.

    ## Observation Space
    ``Box(-inf, inf, (19,), float32)``, in the carrier's frame (x towards the object, y to
    its left, z up), entries named in ``palaestra.envs.carry.OBS_NAMES`` (indices by name in
    ``OBS_INDEX``; both, with the scales below, in :mod:`palaestra.envs.carry.layout`, which
    does not import pybullet):

    | index | entry | unit |
    | --- | --- | --- |
    | 0-1 | base velocity x, y | m/s |
    | 2 | lift height minus the nominal 0.9 m | m |
    | 3 | lift velocity (relative to the ground) | m/s |
    | 4-6 | force the object exerts on the hands | 100 N |
    | 7-9 | torque the object exerts about the grip centre | 10 N m |
    | 10-11 | object roll (right side lower > 0) and pitch (far end lower > 0) | rad |
    | 12-14 | previous action | |
    | 15 | role: +1 leader, -1 follower | |
    | 16-17 | unit vector from the object's centre to the goal (leader only, else 0) | |
    | 18 | distance from the object's centre to the goal (leader only, else 0) | m |

    ## Rewards
    Each step: ``10 * progress`` (metres the object's centre advanced along the route)
    ``- 0.5 * |horizontal grip force| / 100 N - 2 * tilt (rad) - 0.05 * |a_t - a_{t-1}|^2``;
    ``+10`` on success, ``-10`` on a drop. As leader the force weight is ``0.1``
    (``leader_force``): a leader must pull its partner along, and at ``0.5`` every metre led
    would cost more than it earns. Weights are set with ``reward_weights``; its
    ``partner_effort`` weight (0 by default) also charges the partner's COLA effort.

    ## Starting State
    The object is level at rest with its handles 0.9 m above the ground, its long axis along
    the route's start; the leader holds the front handle, the follower the back one.

    ## Episode End
    Terminated on success (the object's centre within 0.25 m of the goal, horizontally) or
    on a drop: tilt beyond 30 degrees, the object touching the ground, or a grip force
    beyond 600 N (low-pass filtered over 0.1 s, so single-substep impulses do not count).
    Truncated after ``max_steps`` steps (default 1500, at most 2000). The last step's
    ``info`` holds ``success``, ``end_reason`` (``success``, ``drop_tilt``,
    ``drop_height``, ``grip_overload`` or ``time_limit``), ``partner_effort`` (mean force
    magnitude the partner applies to the object, N; at least half the object's weight when
    level on the rigid task), ``own_effort``, ``partner_horizontal_force`` (its horizontal
    part: the pushing and pulling, without the load), the effort metrics of
    :mod:`palaestra.envs.carry.effort` for the partner (``partner_cola_effort``: COLA's
    ``mean(|F_xy| + |F_z|)``; ``partner_vertical_force``; ``partner_interaction_force``:
    ``mean(|F_xy| + |F_z - s W|)``, the force beyond holding its static share ``s W``;
    ``partner_guiding_force_per_m``: ``sum |F_xy| dt / L``, N s/m; ``partner_impulse_per_m``;
    ``partner_work``: ``sum |F . dp|`` over its hand's path, J) and the same with ``own_``
    for the learner, ``path_length`` (``L``, m the object's centre travelled; the per-metre
    metrics are NaN below 1 mm), ``peak_force`` (the
    largest 0.1 s-filtered grip force of either carrier, N),
    ``mean_tilt_deg``, ``max_tilt_deg``, ``displacement`` (m gained towards the goal),
    ``idle_fraction`` (share of steps the object did not move), ``episode_time_s`` and
    ``difficulty``. Stepping after the end raises ``gymnasium.error.ResetNeeded``.

    ## Tasks and difficulty
    A task is a dict of the knobs in ``env.unwrapped.task_space`` (object, route,
    route_length, turn_angle_deg, slope_deg, mass_scale, partner_speed, partner_noise,
    intention_change_rate, role, partner_load, grip_torque_limit), given by
    ``reset(options={"task": task})`` or ``env.set_task(task)`` (it applies from the next
    reset, which suits vector-env autoreset). Missing knobs take their defaults; an unknown
    key or out-of-range value raises ``ValueError`` naming the key and its range.
    ``task_space.difficulty(task)`` scores a task in [0, 1].

    ## Arguments
    * ``render_mode``: ``None``, ``"rgb_array"`` (uint8 H x W x 3 from pybullet's software
      renderer) or ``"human"`` (a pybullet window; raises ``RuntimeError`` without a display).
    * ``task``: the task used until another is set (default: every knob's default).
    * ``max_steps``: step limit, at most 2000.
    * ``reward_weights``: a :class:`~palaestra.envs.carry.core.RewardWeights`, or a mapping
      of some of its weights (an unknown name raises ``ValueError``).
    * ``render_width``, ``render_height``: size of ``rgb_array`` frames.

    ## Version History
    * v0: first version. Grip forces are the mean constraint force over the substeps (they
      were the last substep's, which under-read the load while a lift moved); the
      ``partner_load`` and ``grip_torque_limit`` knobs and the effort metrics joined later,
      with the defaults keeping every earlier metric.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array", "human"], "render_fps": 50}

    def __init__(
        self,
        render_mode: str | None = None,
        task: Mapping[str, Any] | None = None,
        max_steps: int = 1500,
        reward_weights: RewardWeights | Mapping[str, float] | None = None,
        render_width: int = 320,
        render_height: int = 240,
    ) -> None:
        gui = window_for_render_mode(render_mode, self.metadata["render_modes"])
        if not 1 <= int(max_steps) <= MAX_STEPS_LIMIT:
            raise ValueError(f"max_steps must be in [1, {MAX_STEPS_LIMIT}], got {max_steps}")
        self.render_mode = render_mode
        self.render_size = (int(render_width), int(render_height))
        self.observation_space = carrier_observation_space()
        self.action_space = carrier_action_space()
        self._task = self.task_space.validate(task)
        self._episode = CarryEpisode(int(max_steps), reward_weights_from(reward_weights), gui=gui)
        self._learner = 0

    def _carriers(self) -> list[tuple[str, int]]:
        return [("learner", self._learner), ("partner", 1 - self._learner)]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``options={"task": {...}}`` sets the task first."""
        super().reset(seed=seed)
        self._set_task_from_options(options)
        self._learner = 1 if self._task["role"] == "leader" else 0
        self._episode.reset(self._task, self.np_random, scripted={1 - self._learner})
        if self.render_mode == "human":
            self.render()
        return self._episode.observation(self._learner), {
            "difficulty": self.task_space.difficulty(self._task)
        }

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance 0.02 s with the learner's ``action``."""
        episode = self._episode
        if episode.done:
            raise gym.error.ResetNeeded(
                "Carry-v0: the episode has ended (or never started); call reset() before step()"
            )
        clipped = validate_action("Carry-v0 learner", action)
        rewards, terminated, truncated = episode.step({self._learner: clipped})
        info: dict[str, Any] = {}
        if terminated or truncated:
            info = episode.metrics(self._learner)
            info["difficulty"] = self.task_space.difficulty(self._task)
        if self.render_mode == "human":
            self.render()
        return (
            episode.observation(self._learner),
            rewards[self._learner],
            terminated,
            truncated,
            info,
        )
