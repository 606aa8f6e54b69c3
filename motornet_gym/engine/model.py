"""EpisodeModel: the pure step and reset functions of one task on one effector (torch only).

Per step, in this order: action noise is added to the action; the task's loads are computed from
the state before the step; the effector advances by ``dt``; the step counter increments; the task
updates its episode state (:meth:`~motornet_gym.tasks.Task.update`); the task's cost and
termination are evaluated on the new state; the sensory delay lines take the new readings; the
observation is composed from the task cues, the delayed readings (through the task's
:meth:`~motornet_gym.tasks.Task.observe` hook) and the efference copy, plus noise.

Nothing here has a host synchronisation or a branch on tensor values: these are the functions a
compiled step traces. :class:`~motornet_gym.engine.Simulator` adds the batch state, the random
generator, validation and the compiled fast path.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from .._validation import check_dtype
from ..dynamics import Effector, EffectorState
from ..tasks import Task
from ..tasks.contract import check_task_outputs, cue_sizes
from .sensory import delay_steps, fill_delay_line, observation_std, push, std_vector
from .types import Noise, SimState, SimulatorConfig, StepOutput

__all__ = ["SENSORY_PARTS", "EpisodeModel"]

#: Observation parts built by the engine (after the task cues), in order; ``action_history`` only
#: when the efference copy is on.
SENSORY_PARTS = ("vision", "proprioception_length", "proprioception_velocity", "action_history")


class EpisodeModel:
    """The pure functions of episodes of ``task`` on ``effector`` (see the module docstring).

    Args:
        effector: The limb (used as is when already on ``device`` in ``dtype``, else a converted copy).
        task: The task (likewise).
        config: Episode length, delays, noise and efference copy.
        device: Torch device; the effector's if ``None``.
        dtype: Floating dtype or its name; ``torch.get_default_dtype()`` if ``None``.

    Attributes:
        observation_parts: Ordered ``(name, size)`` of the observation: the task's cues (e.g.
            ``target`` (2), ``go_cue`` (1)), then ``vision`` (2), ``proprioception_length`` (M),
            ``proprioception_velocity`` (M), ``action_history`` (H M, if H > 0). The cue sizes are
            read off the task's own :meth:`~motornet_gym.tasks.Task.observation_extras` on a probe
            episode (declared once, by the task's code).
        observation_size: ``O``; action_size: ``M``; max_steps: steps per episode; dt: s.
    """

    def __init__(
        self,
        effector: Effector,
        task: Task,
        config: SimulatorConfig | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
    ) -> None:
        config = SimulatorConfig() if config is None else config
        if not isinstance(task, Task):
            raise TypeError(f"task must be a motornet_gym.tasks.Task; got {type(task).__name__}")
        dtype = check_dtype("dtype", dtype) or torch.get_default_dtype()
        device = torch.device(device) if device is not None else effector.pos_lower_bound.device
        if abs(task.dt - effector.dt) > 1e-12:
            raise ValueError(f"task dt {task.dt} s differs from effector dt {effector.dt} s")
        self.effector = _on(effector, device, dtype)
        self.task = _on(task, device, dtype)
        self.config = config
        self.device, self.dtype = device, dtype
        self.dt = effector.dt
        self.max_steps = delay_steps("episode_duration", config.episode_duration, self.dt)
        self.vision_steps = delay_steps("vision_delay", config.vision_delay, self.dt)
        self.proprioception_steps = delay_steps("proprioception_delay", config.proprioception_delay, self.dt)
        m = self.action_size = effector.n_muscles
        self.muscle_names = effector.muscle_names
        h = config.action_history
        sensory = (("vision", 2), ("proprioception_length", m), ("proprioception_velocity", m))
        sensory += (("action_history", h * m),) if h else ()
        probe = self.probe_task_state()  # one probe episode: cue sizes, then the contract checks
        self.observation_parts: tuple[tuple[str, int], ...] = cue_sizes(self.task, probe) + sensory
        self.observation_size = sum(n for _, n in self.observation_parts)
        self._action_std = std_vector("action_noise", config.action_noise, m, "muscle").to(device, dtype)
        self._obs_std = observation_std(config, self.observation_parts, m).to(device, dtype)
        self.draws_action_noise = bool((self._action_std > 0).any())
        self.draws_observation_noise = bool((self._obs_std > 0).any())
        muscle = effector.muscle
        self._inv_l0 = (1.0 / muscle.optimal_fibre_length).to(device=device, dtype=dtype)
        self._inv_vmax = (1.0 / muscle.vmax).to(device=device, dtype=dtype)
        check_task_outputs(self.task, *self._probe_step(probe), self.observation_parts)

    # ------------------------------------------------------------------ probe episode
    def probe_task_state(self) -> Any:
        """A batch-1 task state drawn with a fixed seed (for reading layouts and checking the task)."""
        gen = torch.Generator(device=self.device).manual_seed(0)
        return self.task.sample_initial(1, gen)

    def _probe_step(self, probe: Any) -> tuple[SimState, SimState, StepOutput]:
        noise = Noise(None, None)
        state = self.initial_from(probe, noise)
        zeros = state.effector.joint_pos.new_zeros(1, self.action_size)
        return (state, *self.transition(state, zeros, noise))

    # ------------------------------------------------------------------ readings and observation
    def _readings(self, eff: EffectorState) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mus = eff.muscle
        return eff.fingertip_pos, mus.fibre_length * self._inv_l0, mus.fibre_velocity * self._inv_vmax

    def compose(self, state: SimState, noise: Noise) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Observation ``(B, O)`` of a state whose delay lines are up to date, and the clean parts.

        The sensory channels go through the task's :meth:`~motornet_gym.tasks.Task.observe` hook
        (delayed ones for the observation, undelayed ones for the clean parts); noise is added last.
        """
        vision, length, velocity = self._readings(state.effector)
        task, step = self.task, state.step
        extras = dict(task.observation_extras(state.task, step))
        delayed = {
            "vision": state.vision[:, 0],
            "proprioception_length": state.proprioception_length[:, 0],
            "proprioception_velocity": state.proprioception_velocity[:, 0],
        }
        clean = {"vision": vision, "proprioception_length": length, "proprioception_velocity": velocity}
        if self.config.action_history:
            delayed["action_history"] = clean["action_history"] = state.action_history.flatten(1)
        delayed = {**extras, **task.observe(state.task, delayed, step)}
        clean = {**extras, **task.observe(state.task, clean, step)}
        obs = torch.cat([delayed[name] for name, _ in self.observation_parts], dim=-1)
        if noise.observation is not None:
            obs = obs + noise.observation
        return obs, clean

    # ------------------------------------------------------------------ reset
    def initial_from(self, task_state: Any, noise: Noise) -> SimState:
        """The first state of the episodes ``task_state`` describes (pure; no validation).

        Effector at rest activation in ``task_state.joint_pos``, delay lines filled with the first
        readings, no efference copy yet, step 0, and the first observation with
        ``noise.observation`` added.
        """
        b = task_state.joint_pos.shape[0]
        q = task_state.joint_pos.to(device=self.device, dtype=self.dtype)
        eff = self.effector.initial_state_unchecked(q, torch.zeros_like(q))
        vision, length, velocity = self._readings(eff)
        state = SimState(
            effector=eff,
            task=task_state,
            vision=fill_delay_line(vision, self.vision_steps),
            proprioception_length=fill_delay_line(length, self.proprioception_steps),
            proprioception_velocity=fill_delay_line(velocity, self.proprioception_steps),
            action_history=q.new_zeros(b, self.config.action_history, self.action_size),
            step=torch.zeros(b, dtype=torch.int64, device=self.device),
            observation=q.new_zeros(b, self.observation_size),
        )
        obs, _ = self.compose(state, noise)
        return state._replace(observation=obs)

    def resting_output(self, state: SimState) -> StepOutput:
        """Outputs describing ``state`` itself: cost with a zero action, no load, not terminated."""
        eff = state.effector
        zeros = eff.joint_pos.new_zeros(eff.joint_pos.shape[0], self.action_size)
        _, clean = self.compose(state, Noise(None, None))
        terms = self.task.cost(state.task, eff, zeros, state.step)
        load = eff.fingertip_pos.new_zeros(eff.fingertip_pos.shape)
        desired = self.task.desired_position(state.task, state.step)
        truncated = state.step >= self.max_steps
        return StepOutput(
            observation=state.observation,
            cost=self.task.total_cost(terms),
            cost_terms=terms,
            endpoint_load=load,
            clean_parts=clean,
            desired_pos=desired,
            terminated=torch.zeros_like(truncated),
            truncated=truncated,
        )

    # ------------------------------------------------------------------ step
    def transition(self, state: SimState, action: torch.Tensor, noise: Noise) -> tuple[SimState, StepOutput]:
        """The pure step function: ``(state, action, noise) -> (new state, outputs)``.

        Free of host syncs and data-dependent Python branches (the target of
        ``torch.compile(fullgraph=True)``).
        """
        command, excitation, endpoint_load, joint_load = self._begin(state, action, noise)
        eff = self.effector.step_unchecked(state.effector, excitation, endpoint_load, joint_load)
        return self._finish(state, eff, command, endpoint_load, noise)

    def _begin(
        self, state: SimState, action: torch.Tensor, noise: Noise
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Clipped command, noisy excitation and the task's loads for the coming step."""
        command = action.to(state.effector.joint_pos).clamp(0.0, 1.0)
        excitation = command if noise.action is None else command + noise.action
        endpoint_load, joint_load = self.task.loads(state.task, state.effector, state.step)
        return command, excitation, endpoint_load.to(command), joint_load

    def _finish(
        self,
        state: SimState,
        eff: EffectorState,
        command: torch.Tensor,
        endpoint_load: torch.Tensor,
        noise: Noise,
    ) -> tuple[SimState, StepOutput]:
        """Task update, cost, termination, delay lines and observation after the effector moved."""
        step = state.step + 1
        task_state = self.task.update(state.task, eff, step)
        terms = self.task.cost(task_state, eff, command, step)
        terminated = self.task.terminated(task_state, eff, step)
        vision, length, velocity = self._readings(eff)
        hist = state.action_history
        if self.config.action_history:
            hist = push(hist, command)
        new = state._replace(
            effector=eff,
            task=task_state,
            vision=push(state.vision, vision),
            proprioception_length=push(state.proprioception_length, length),
            proprioception_velocity=push(state.proprioception_velocity, velocity),
            action_history=hist,
            step=step,
        )
        obs, clean = self.compose(new, noise)
        out = StepOutput(
            observation=obs,
            cost=self.task.total_cost(terms),
            cost_terms=terms,
            endpoint_load=endpoint_load,
            clean_parts=clean,
            desired_pos=self.task.desired_position(task_state, step),
            terminated=terminated,
            truncated=step >= self.max_steps,
        )
        return new._replace(observation=obs), out

    def info(self, state: SimState, out: StepOutput) -> dict[str, Any]:
        """The info dict of a step (see :meth:`~motornet_gym.engine.Simulator.step`)."""
        eff = state.effector
        return {
            "fingertip_pos": eff.fingertip_pos,
            "fingertip_vel": eff.fingertip_vel,
            "target": state.task.target,
            "desired_pos": out.desired_pos,
            "joint_pos": eff.joint_pos,
            "joint_vel": eff.joint_vel,
            "activation": eff.muscle.activation,
            "force": eff.muscle.force,
            "endpoint_load": out.endpoint_load,
            "cost": out.cost,
            "cost_terms": out.cost_terms,
            "step": state.step,
            "obs_parts": out.clean_parts,
        }


def _on(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """``module`` itself if its floating buffers are on ``device`` in ``dtype``, else a converted copy.

    The caller's module is never modified (an effector may be shared by several simulators).
    """
    floats = [b for b in module.buffers() if b.is_floating_point()]
    if all(b.device == device and b.dtype == dtype for b in floats):
        return module
    return copy.deepcopy(module).to(device=device, dtype=dtype)
