"""``MotorEnv``: one registered task as a single :class:`gymnasium.Env` over a batch-1 engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, SupportsFloat

import gymnasium as gym
import numpy as np
import torch

from ..registry import ENV_SPECS, make_simulator
from ._common import (
    ActionBuffer,
    HostStep,
    TrailBuffer,
    action_space,
    check_finite,
    fast_action,
    host_reset,
    host_step_one,
    observation_space,
    validate_action,
)
from .rendering import HumanWindow, LimbFrame, LimbRenderer

if TYPE_CHECKING:
    from ..engine import Simulator

__all__ = ["MotorEnv"]

RENDER_MODES = ("human", "rgb_array")


class MotorEnv(gym.Env[np.ndarray, np.ndarray]):
    """A muscle-driven limb reaching for targets (one registered task, one episode at a time).

    A policy sends an excitation to each muscle of an effector (a point mass pulled by four
    muscles, or a two-joint arm with six lumped muscles) and sees the target, delayed vision of the
    fingertip and delayed proprioception of the muscles. The physics, the task and the cost live in
    the torch engine (:func:`motornet_gym.make_simulator`); this class is a thin numpy adapter over
    a batch-1 :class:`~motornet_gym.engine.Simulator`, so every front end runs the same model.

    ## Action Space

    ``Box(0, 1, (n_muscles,), float32)``: the excitation of each muscle, in the order of
    ``env.unwrapped.simulator.effector.muscle_names``. Out-of-range actions are **clipped** to
    [0, 1] (the muscles then clip to ``[min_activation, 1]``); non-finite actions and actions of
    the wrong shape raise ``ValueError``.

    | Num | Action (arm26 ids)               | Min | Max |
    |-----|----------------------------------|-----|-----|
    | 0   | pectoralis excitation            | 0   | 1   |
    | 1   | deltoid excitation               | 0   | 1   |
    | 2   | brachioradialis excitation       | 0   | 1   |
    | 3   | tricepslat excitation            | 0   | 1   |
    | 4   | biceps excitation                | 0   | 1   |
    | 5   | tricepslong excitation           | 0   | 1   |

    ``motornet/PointMassReach-v0`` has four muscles: UpperRight, UpperLeft, LowerRight, LowerLeft.

    ## Observation Space

    ``Box(-inf, inf, (O,), float32)`` (noise makes every element unbounded), the concatenation of
    the engine's named parts ``env.unwrapped.simulator.observation_parts``, in this order:

    | Part                          | Size        | Meaning                                    | Unit |
    |-------------------------------|-------------|--------------------------------------------|------|
    | ``target``                    | 2           | target position shown to the policy        | m    |
    | ``go_cue``                    | 1           | 0 before the go cue, 1 after (tasks with   | -    |
    |                               |             | one: centre-out, force field, perturbation) |      |
    | ``vision``                    | 2           | fingertip position ``vision_delay`` s ago  | m    |
    | ``proprioception_length``     | n_muscles   | fibre length / optimal fibre length,       | -    |
    |                               |             | ``proprioception_delay`` s ago             |      |
    | ``proprioception_velocity``   | n_muscles   | fibre velocity / max shortening velocity,  | -    |
    |                               |             | ``proprioception_delay`` s ago             |      |
    | ``action_history``            | k n_muscles | the last ``k`` actions (``action_history``) | -    |

    With default settings ``O`` is 16 for the arm26 ids (17 with a go cue) and 12 for the point
    mass. Gaussian noise of the configured standard deviations is added by the engine.

    ## Reward

    ``reward = -cost``, with the task's one cost function (the backprop loss uses the same): a
    weighted sum of named terms, at least ``position`` (distance from the fingertip to the desired
    position, m) and ``effort`` (squared activation weighted by max isometric force / its mean).
    The terms of each step are in ``info["cost_terms"]``.

    ## Starting State

    Drawn by the task from the generator seeded by ``reset(seed=...)``: for reaching, start and
    target configurations uniform in joint space; for centre-out tasks, a centre posture and a
    target on a circle. ``reset(options=...)`` accepts the task's options, e.g. ``"joint_pos"``
    ``(D,)``, ``"target"`` ``(2,)`` m, ``"suite": "eval"`` with ``"trial": k`` for trial ``k``
    (default 0) of the task's evaluation suite (``simulator.task.eval_size`` trials), and
    ``"go_time"`` (s) for tasks with a go cue; unknown options raise ``ValueError``. A reset that
    raises leaves the env as it was (the previous episode, if any, can go on).

    ## Episode End

    * Truncation: after ``episode_duration / dt`` steps (100 by default), decided by the engine
      so that every front end agrees; it is the source of truth. The time limit is never
      reported as termination.
    * ``gym.spec(id).max_episode_steps`` is that default length (100 steps), so, by Gymnasium's
      rules, ``gym.make(id)`` wraps the env in ``TimeLimit(100)``: it ends default episodes on the
      same step as the engine, and shorter ones (``episode_duration < 1`` s) end first in the
      engine. A ``TimeLimit`` can only end an episode earlier, and Gymnasium adds it without
      seeing ``episode_duration``: for episodes longer than the default pass the length to
      ``gym.make`` too, ``gym.make(id, episode_duration=1.5, max_episode_steps=150)`` (or
      ``max_episode_steps=-1``: no ``TimeLimit``, the engine alone ends them). Such an env warns
      when it is built. ``gym.make_vec`` caps episodes the same way (it passes the registered
      ``max_episode_steps`` to :class:`~motornet_gym.envs.MotorVectorEnv`); the SB3 VecEnv and
      :func:`~motornet_gym.make_simulator` follow ``episode_duration`` alone.
    * Termination: ``terminated`` is True when the task ends the episode
      (:meth:`~motornet_gym.tasks.Task.terminated`; the built-in tasks never do). Reset then.

    ## Arguments

    ```python
    import gymnasium as gym
    import motornet_gym

    env = gym.make("motornet/Arm26Reach-v0", render_mode="rgb_array", episode_duration=1.0,
                   proprioception_delay=0.02, vision_delay=0.05, action_noise=0.0)
    ```

    * ``env_id``: the registered id of the task (``gymnasium.make`` passes it).
    * ``render_mode``: ``None``, ``"rgb_array"`` (headless, ``(render_size, render_size, 3)``
      uint8) or ``"human"`` (a pygame window at ``1 / dt`` frames per second).
    * ``render_size``: frame width and height in pixels (default 400).
    * ``device``, ``dtype``: where and in which precision the engine runs (a torch.dtype or its
      name, ``"float64"``; observations are float32 whatever ``dtype``).
    * every other keyword goes to :func:`motornet_gym.make_simulator`: ``proprioception_delay``,
      ``vision_delay`` (s, multiples of ``dt``), ``action_noise``, ``proprioception_noise``,
      ``vision_noise``, ``observation_noise`` (std), ``dt``, ``integrator``,
      ``episode_duration`` (s), ``action_history`` and task-specific ones. Unknown keywords raise.

    ## Info

    numpy copies of the engine's info, without the batch dimension: ``fingertip_pos``,
    ``fingertip_vel``, ``target``, ``joint_pos``, ``joint_vel``, ``activation``, ``force``,
    ``endpoint_load``, ``cost``, ``cost_terms`` (dict), ``step`` and ``obs_parts`` (dict of the
    clean observation parts).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 100}

    def __init__(
        self,
        env_id: str,
        *,
        render_mode: str | None = None,
        render_size: int = 400,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        **kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}; got {render_mode!r}")
        self.env_id = env_id
        self.simulator: Simulator = make_simulator(env_id, batch_size=1, device=device, dtype=dtype, **kwargs)
        sim = self.simulator
        self.observation_space = observation_space(sim.observation_size)
        self.action_space = action_space(sim.action_size)
        self.metadata = {**type(self).metadata, "render_fps": max(1, round(1.0 / sim.dt))}
        default_steps = ENV_SPECS[sim.env_id].max_episode_steps
        if sim.max_steps > default_steps:
            gym.logger.warn(
                f"{sim.env_id}: episodes last {sim.max_steps} steps (episode_duration / dt), more than "
                f"the registered max_episode_steps={default_steps}; gym.make ends them after "
                f"{default_steps} steps unless it is given max_episode_steps={sim.max_steps} (or -1)"
            )
        self.render_mode = render_mode
        self.render_size = render_size
        self._device = torch.device(sim.device)
        self._dtype = sim.dtype
        self._action_shape = (sim.action_size,)
        self._action_buffer = ActionBuffer(sim.action_size, sim.dtype) if self._device.type == "cpu" else None
        self._info: dict[str, Any] | None = None
        self._renderer: LimbRenderer | None = None
        self._window: HumanWindow | None = None
        self._trail = TrailBuffer((0,))

    @property
    def dt(self) -> float:
        """Time step, s."""
        return self.simulator.dt

    @property
    def max_episode_steps(self) -> int:
        """Steps after which the engine truncates an episode."""
        return self.simulator.max_steps

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``seed`` seeds the engine's generator (and ``np_random``).

        ``options={"suite": "eval"}`` runs trial ``options.get("trial", 0)`` of the task's
        evaluation suite. A reset that raises (bad option, bad seed) leaves the env as it was: the
        previous episode can go on, or, before any reset, ``step`` asks for one.
        """
        if options and options.get("suite") == "eval" and "trial" not in options:
            options = {**options, "trial": 0}
        host = host_reset(self.simulator, seed=seed, options=options)
        super().reset(seed=seed)
        self._finish(host)
        return host.observation[0], self._info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Advance by ``dt``; see the class docstring for the action and the outputs."""
        if self._info is None:
            raise RuntimeError("call reset() before step()")
        u = None if self._action_buffer is None else self._action_buffer.fill(action)
        if u is None:
            u = fast_action(action, self._action_shape, self._device, self._dtype)
        if u is None:  # not a finite float array of the right shape: validate (and raise) slowly
            u = validate_action(action, self._action_shape, self._device, self._dtype)
        obs, reward, terminated, truncated, info = host_step_one(self.simulator, u)
        self._record(info, reset=False)
        return obs, reward, terminated, truncated, info

    def _finish(self, host: HostStep) -> None:
        """Sets the info of a reset from its host copy (one host copy in all)."""
        info = host.info_row(0)
        check_finite(host.observation, info["step"])
        self._record(info, reset=True)

    def _record(self, info: dict[str, Any], *, reset: bool) -> None:
        """Keep the info of a reset or step, and draw it in human mode."""
        self._info = info
        if self.render_mode is not None:
            if reset:
                self._trail.clear()
            self._trail.append(info["fingertip_pos"][None])
            if self.render_mode == "human":
                self.render()

    def render(self) -> np.ndarray | None:
        """Draw the current state.

        Returns:
            An RGB frame ``(render_size, render_size, 3)`` uint8 in ``"rgb_array"`` mode; None in
            ``"human"`` mode (the frame goes to the window).
        """
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        if self._info is None:
            raise RuntimeError("call reset() before render()")
        if self._renderer is None:
            self._renderer = LimbRenderer(self.simulator.effector, size=self.render_size)
        i = self._info
        frame = self._renderer.draw(
            LimbFrame(i["joint_pos"], i["target"], i["activation"], i["endpoint_load"],
                      self._trail.trail(0))
        )  # fmt: skip
        if self.render_mode == "human":
            if self._window is None:
                self._window = HumanWindow(self.env_id)
            self._window.show(frame, self.metadata["render_fps"])
            return None
        return frame

    def close(self) -> None:
        """Close the render window, if any (safe to call twice)."""
        if self._window is not None:
            self._window.close()
            self._window = None
