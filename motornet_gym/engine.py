"""Simulator: effector + task + sensory pipeline, batch-first and differentiable (torch only).

The one implementation behind every front end (Gymnasium env, vector env, SB3 VecEnv, rollout).
Per step, in this order: action noise is added to the action; the task's loads are computed from
the state before the step; the effector advances by ``dt``; the step counter increments; the task's
cost is evaluated on the new state; the sensory delay lines take the new readings; the observation
is composed from the task cues, the delayed readings and the efference copy, plus noise.

The hot path (:meth:`Simulator.transition`) has no ``.item()``, no host synchronisation and no
branch on tensor values; which noises are drawn is decided at construction. With ``compile=True``
the step runs through ``torch.compile`` when it records gradients and through a frozen inference
graph otherwise (see :mod:`motornet_gym.fastpath` and :meth:`Simulator.step_packed`); noise is still
drawn eagerly by :meth:`Simulator.draw_noise`, so the same seed gives the same trajectory compiled
or not.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from . import fastpath
from .dynamics import Effector, EffectorState
from .packed import Layout, StatePacker, entries_of
from .sensory import SensoryConfig, delay_steps, fill_delay_line, observation_std, push, std_vector
from .tasks import Task, TaskState


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig(SensoryConfig):
    """Episode length plus the sensory configuration (see :class:`~motornet_gym.sensory.SensoryConfig`).

    Attributes:
        episode_duration: s, > 0, a multiple of ``dt`` (1 s, as MotorNet's ``max_ep_duration``).
    """

    episode_duration: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        d = self.episode_duration
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
            raise ValueError(f"episode_duration must be a finite number > 0 s; got {d!r}")


#: Batches below this size give the frozen step its state packed into one tensor per dtype (see
#: :class:`~motornet_gym.packed.StatePacker`); larger ones pass the state's tensors separately.
#: Measured, arm26 :meth:`Simulator.step_packed`, one thread (us, packed / separate): B = 1 17.9 /
#: 24.5, B = 16 21.5 / 26.6, B = 64 25.9 / 29.7, B = 128 33.3 / 36.0, B = 256 46 / 44.
PACKED_STATE_MAX_BATCH = 256

#: :meth:`Simulator.step_unchecked` runs the frozen step below this batch, the guarded compiled
#: step (whose info dict refers to the state's own tensors) from it on: at large batches memory
#: traffic dominates, and the frozen step's packed output doubles the writes. Measured, arm26,
#: one thread (M env-steps/s, frozen / guarded): B = 1024 7.2 / 7.0, B = 4096 10.8 / 10.7,
#: B = 16384 6.7 / 8.6. (:meth:`Simulator.step_packed` always runs frozen.)
FROZEN_UNCHECKED_MAX_BATCH = 8192

#: Most derivative evaluations per step (``n_ministeps x integrator order``) compiled as one graph.
MAX_FUSED_STAGES = 16


class SimState(NamedTuple):
    """Everything an episode needs, immutable (``B`` envs, ``M`` muscles).

    Attributes:
        effector: :class:`~motornet_gym.dynamics.EffectorState`.
        task: :class:`~motornet_gym.tasks.TaskState`.
        vision: ``(B, Kv + 1, 2)`` m, clean fingertip readings, oldest first (``Kv`` delay steps).
        proprioception_length: ``(B, Kp + 1, M)`` fibre length / optimal fibre length, oldest first.
        proprioception_velocity: ``(B, Kp + 1, M)`` fibre velocity / vmax, oldest first.
        action_history: ``(B, H, M)`` last ``H`` actions clipped to [0, 1], oldest first.
        step: ``(B,)`` int64 steps taken in the episode.
        observation: ``(B, O)`` the last observation returned.
    """

    effector: EffectorState
    task: TaskState
    vision: torch.Tensor
    proprioception_length: torch.Tensor
    proprioception_velocity: torch.Tensor
    action_history: torch.Tensor
    step: torch.Tensor
    observation: torch.Tensor


class Noise(NamedTuple):
    """Noise samples of one step (``None`` when the std is 0 everywhere).

    Attributes:
        action: ``(B, M)`` added to the action.
        observation: ``(B, O)`` added to the observation.
    """

    action: torch.Tensor | None
    observation: torch.Tensor | None


class StepOutput(NamedTuple):
    """Outputs of :meth:`Simulator.transition` besides the new state.

    Attributes:
        observation: ``(B, O)``.
        cost: ``(B,)`` weighted sum of ``cost_terms``.
        cost_terms: name -> ``(B,)``.
        endpoint_load: ``(B, 2)`` N applied during the step.
        clean_parts: name -> ``(B, n)`` noise-free, undelayed observation parts.
        desired_pos: ``(B, 2)`` m, where the task wants the fingertip after the step.
        truncated: ``(B,)`` bool, the step counter has reached ``max_steps``.
    """

    observation: torch.Tensor
    cost: torch.Tensor
    cost_terms: dict[str, torch.Tensor]
    endpoint_load: torch.Tensor
    clean_parts: dict[str, torch.Tensor]
    desired_pos: torch.Tensor
    truncated: torch.Tensor


class Simulator:
    """A batch of ``B`` episodes of one task on one effector.

    Args:
        effector: The limb (used as is when already on ``device`` in ``dtype``, else a converted copy;
            never mutated, so it may be shared).
        task: The task (moved likewise).
        config: Episode length, delays, noise and efference copy.
        batch_size: ``B``.
        device: Torch device; the effector's if ``None``.
        dtype: Floating dtype; ``torch.get_default_dtype()`` if ``None`` (float64 works end to end).
        env_id: Registered id this simulator was made from, if any.
        compile: Run the step through ``torch.compile`` (``fullgraph=True``, ``dynamic=False``):
            one fused graph for the whole step (action clipping and noise, task loads, effector,
            cost, delay lines, observation). Effectors with many integration stages
            (``n_ministeps x order`` > :data:`MAX_FUSED_STAGES`, e.g. the compliant arm's 50 RK4
            sub-steps) compile one sub-step and the rest of the step as separate graphs instead,
            because unrolling them makes compilation take many minutes. Steps that record no
            gradient (under ``no_grad``, or with nothing requiring grad) run a *frozen* graph
            instead (:func:`~motornet_gym.fastpath.freeze`: traced once, no guards, state and
            outputs packed; see :meth:`step_packed`), fused effectors only. The first step
            compiles (~1-10 s per batch size, dtype and device; inductor's disk cache makes
            later ones fast). Without a C++ compiler (CPU) or Triton (CUDA) a warning is shown
            once and the step runs eagerly. Results match the eager step to float rounding.

    Attributes:
        observation_parts: Ordered ``(name, size)`` of the observation: ``target`` (2),
            ``go_cue`` (1, tasks with a go cue), ``vision`` (2), ``proprioception_length`` (M),
            ``proprioception_velocity`` (M), ``action_history`` (H M, if H > 0).
        observation_size: ``O``; action_size: ``M``; max_steps: steps per episode; dt: s.
        compiled: Whether the step actually runs compiled (False if ``compile=False`` or no
            compiler was found).
    """

    def __init__(
        self,
        effector: Effector,
        task: Task,
        config: SimulatorConfig | None = None,
        *,
        batch_size: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        env_id: str | None = None,
        compile: bool = False,
    ) -> None:
        config = SimulatorConfig() if config is None else config
        if not isinstance(compile, bool):
            raise ValueError(f"compile must be True or False; got {compile!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating-point torch.dtype; got {dtype}")
        device = torch.device(device) if device is not None else effector.pos_lower_bound.device
        if abs(task.dt - effector.dt) > 1e-12:
            raise ValueError(f"task dt {task.dt} s differs from effector dt {effector.dt} s")
        self.effector = _on(effector, device, dtype)
        self.task = _on(task, device, dtype)
        self.config, self.env_id = config, env_id
        self.batch_size, self.device, self.dtype = batch_size, device, dtype
        self.dt = effector.dt
        self.max_steps = delay_steps("episode_duration", config.episode_duration, self.dt)
        self.vision_steps = delay_steps("vision_delay", config.vision_delay, self.dt)
        self.proprioception_steps = delay_steps("proprioception_delay", config.proprioception_delay, self.dt)
        m = self.action_size = effector.n_muscles
        self.muscle_names = effector.muscle_names
        h = config.action_history
        parts = task.observation_extra_parts() + (
            ("vision", 2),
            ("proprioception_length", m),
            ("proprioception_velocity", m),
        )
        self.observation_parts: tuple[tuple[str, int], ...] = parts + (
            (("action_history", h * m),) if h else ()
        )
        self.observation_size = sum(n for _, n in self.observation_parts)
        self._action_std = std_vector("action_noise", config.action_noise, m, "muscle").to(device, dtype)
        self._obs_std = observation_std(config, self.observation_parts, m).to(device, dtype)
        self._draw_action = bool((self._action_std > 0).any())
        self._draw_obs = bool((self._obs_std > 0).any())
        muscle = effector.muscle
        self._inv_l0 = (1.0 / muscle.optimal_fibre_length).to(device=device, dtype=dtype)
        self._inv_vmax = (1.0 / muscle.vmax).to(device=device, dtype=dtype)
        self._generator = torch.Generator(device=device)
        self._generator.seed()
        # The state is held as a SimState, or (after a frozen step) as the frozen step's state
        # inputs ``_flat``: its leaves, or those packed by ``_packer``; each is derived from the
        # other on demand.
        self._state: SimState | None = None
        self._flat: list[torch.Tensor] | None = None
        self._spec: fastpath.TreeSpec = None
        self._packer: StatePacker | None = None
        self._layout: Layout | None = None
        self._carries_grad = False
        self._fused = self._split = None
        self._frozen: Any = None  # None: not built yet; False: unavailable
        self._frozen_initial: Any = None  # likewise, for the effector's initial state
        if compile:
            self._compile()
        self.compiled = self._fused is not None or self._split is not None

    # ------------------------------------------------------------------ properties
    @property
    def state(self) -> SimState:
        """The current :class:`SimState` (immutable; raises before the first :meth:`reset`)."""
        if self._state is None:
            if self._flat is None:
                raise RuntimeError("call reset() before reading the state or stepping")
            leaves = self._flat if self._packer is None else self._packer.unpack(self._flat)
            self._state = fastpath.unflatten(self._spec, leaves)
        return self._state

    def _set_state(self, state: SimState) -> None:
        self._state, self._flat = state, None

    @property
    def layout(self) -> Layout:
        """Columns of :meth:`step_packed`'s output (fixed after the first step; raises before it)."""
        if self._layout is None:
            raise RuntimeError("the packed layout is known after the first step")
        return self._layout

    @property
    def generator(self) -> torch.Generator:
        """The ``torch.Generator`` every random draw uses (on :attr:`device`)."""
        return self._generator

    # ------------------------------------------------------------------ noise and readings
    def draw_noise(self, batch_size: int | None = None) -> Noise:
        """Draw the noise of one step (skipping the stds that are 0 everywhere)."""
        b = self.batch_size if batch_size is None else batch_size
        kw = {"generator": self._generator, "device": self.device, "dtype": self.dtype}
        a = torch.randn(b, self.action_size, **kw) * self._action_std if self._draw_action else None
        o = torch.randn(b, self.observation_size, **kw) * self._obs_std if self._draw_obs else None
        return Noise(a, o)

    def _readings(self, eff: EffectorState) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mus = eff.muscle
        return eff.fingertip_pos, mus.fibre_length * self._inv_l0, mus.fibre_velocity * self._inv_vmax

    def _compose(self, state: SimState, noise: Noise) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Observation ``(B, O)`` of a state whose delay lines are up to date, and the clean parts."""
        vision, length, velocity = self._readings(state.effector)
        extras = self.task.observation_extras(state.task, state.step)
        delayed = dict(extras)
        delayed["vision"] = state.vision[:, 0]
        delayed["proprioception_length"] = state.proprioception_length[:, 0]
        delayed["proprioception_velocity"] = state.proprioception_velocity[:, 0]
        clean = dict(extras)
        clean.update(vision=vision, proprioception_length=length, proprioception_velocity=velocity)
        if self.config.action_history:
            hist = state.action_history.flatten(1)
            delayed["action_history"] = clean["action_history"] = hist
        obs = torch.cat([delayed[name] for name, _ in self.observation_parts], dim=-1)
        if noise.observation is not None:
            obs = obs + noise.observation
        return obs, clean

    # ------------------------------------------------------------------ reset
    def _initial(self, batch_size: int, options: Mapping[str, Any] | None) -> SimState:
        task_state = self.task.sample_initial(batch_size, self._generator, options)
        eff = self._initial_effector(task_state.joint_pos)
        vision, length, velocity = self._readings(eff)
        step = torch.zeros(batch_size, dtype=torch.int64, device=self.device)
        hist = eff.joint_pos.new_zeros(batch_size, self.config.action_history, self.action_size)
        state = SimState(
            effector=eff,
            task=task_state,
            vision=fill_delay_line(vision, self.vision_steps),
            proprioception_length=fill_delay_line(length, self.proprioception_steps),
            proprioception_velocity=fill_delay_line(velocity, self.proprioception_steps),
            action_history=hist,
            step=step,
            observation=eff.joint_pos.new_zeros(batch_size, self.observation_size),
        )
        obs, _ = self._compose(state, self.draw_noise(batch_size))
        return state._replace(observation=obs)

    def _initial_effector(self, joint_pos: torch.Tensor) -> EffectorState:
        """``effector.initial_state(joint_pos)``, through a frozen graph when compiled.

        ~15 us instead of ~230 us eagerly for arm26 at B = 1 (the validation stays eager); used
        when no gradient is asked of ``joint_pos``.
        """
        if (
            self._fused is None
            or self._frozen_initial is False
            or joint_pos.shape[0] != self.batch_size
            or (joint_pos.requires_grad and torch.is_grad_enabled())
        ):
            return self.effector.initial_state(joint_pos)
        eff = self.effector
        q = eff.check_joint_pos(joint_pos).to(device=self.device, dtype=self.dtype).contiguous()
        if self._frozen_initial is None:
            example = eff.initial_state_unchecked(q, torch.zeros_like(q))
            spec = fastpath.tree_spec(example)
            fn = fastpath.freeze(
                lambda x: tuple(fastpath.flatten(eff.initial_state_unchecked(x, torch.zeros_like(x)))),
                [q],
                self.device,
                self.batch_size,
            )
            self._frozen_initial = False if fn is None else (fn, spec)
            return example
        fn, spec = self._frozen_initial
        return fastpath.unflatten(spec, fn(q))

    def _resting_output(self, state: SimState) -> StepOutput:
        """Outputs describing ``state`` itself: cost with a zero action, no load."""
        eff = state.effector
        zeros = eff.joint_pos.new_zeros(eff.joint_pos.shape[0], self.action_size)
        _, clean = self._compose(state, Noise(None, None))
        terms = self.task.cost(state.task, eff, zeros, state.step)
        load = eff.fingertip_pos.new_zeros(eff.fingertip_pos.shape)
        desired = self.task.desired_position(state.task, state.step)
        truncated = state.step >= self.max_steps
        return StepOutput(
            state.observation, self.task.total_cost(terms), terms, load, clean, desired, truncated
        )

    def current_info(self) -> dict[str, Any]:
        """The info dict of the current state, as :meth:`reset` reports it.

        For envs just restarted by :meth:`reset_where` this is their reset info. ``cost`` and
        ``cost_terms`` are evaluated on the current state with a zero action; ``endpoint_load`` is 0.
        """
        state = self.state
        return self._info(state, self._resting_output(state))

    def reset(
        self, seed: int | None = None, options: Mapping[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Start ``B`` new episodes.

        Args:
            seed: Seeds the simulator's generator (same seed -> bit-identical trajectories, noise
                included); ``None`` continues the current stream.
            options: Task options, e.g. ``{"suite": "eval"}``, ``{"joint_pos": (B, D)}``,
                ``{"target": (B, 2)}``, ``{"go_time": s}`` (see :meth:`Task.sample_initial`).

        Returns:
            ``observation`` ``(B, O)`` and the info dict (see :meth:`step`).

        Raises:
            ValueError: On a bad seed or an unknown or invalid option.
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
                raise ValueError(f"seed must be an integer >= 0 or None; got {seed!r}")
            self._generator.manual_seed(int(seed))
        self._set_state(fastpath.distinct_leaves(self._initial(self.batch_size, options)))
        self._carries_grad = fastpath.any_requires_grad(self.state)
        return self.state.observation, self.current_info()

    def reset_where(self, mask: torch.Tensor, options: Mapping[str, Any] | None = None) -> torch.Tensor:
        """Restart the episodes where ``mask`` is True, leave the others untouched.

        New episode parameters, effector states, delay lines, efference copies and step counters
        are drawn for the whole batch (so the generator's consumption does not depend on the mask)
        and selected with one ``torch.where``; there is no host synchronisation per env.

        Args:
            mask: ``(B,)`` bool.
            options: As in :meth:`reset`.

        Returns:
            The observation ``(B, O)``: fresh for the reset envs, the last one for the others.
        """
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.shape != (self.batch_size,):
            got = (
                f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
            )
            raise ValueError(f"mask must be a bool tensor of shape ({self.batch_size},); got {got}")
        fresh = self._initial(self.batch_size, options)
        mask = mask.to(self.device)
        self._set_state(fastpath.distinct_leaves(_where(mask, fresh, self.state)))
        self._carries_grad = fastpath.any_requires_grad(self.state)
        return self.state.observation

    # ------------------------------------------------------------------ step
    def step(
        self, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Advance every episode by ``dt``.

        Args:
            action: ``(B, M)`` muscle excitations; values outside [0, 1] are clipped (the effector
                then clips to ``[min_activation, 1]``); non-finite values are an error.

        Returns:
            ``observation`` ``(B, O)``, ``reward`` ``(B,)`` = -cost, ``terminated`` ``(B,)`` bool
            (always False: no task terminates), ``truncated`` ``(B,)`` bool (the step counter has
            reached :attr:`max_steps`), and ``info``: tensors ``fingertip_pos``, ``fingertip_vel``,
            ``target``, ``desired_pos`` ``(B, 2)``, ``joint_pos``, ``joint_vel`` ``(B, D)``,
            ``activation``, ``force`` ``(B, M)``, ``endpoint_load`` ``(B, 2)`` N, ``cost`` ``(B,)``,
            ``cost_terms`` (name -> ``(B,)``), ``step`` ``(B,)`` int64, ``obs_parts`` (clean parts).
            Episodes are not reset automatically.

        Raises:
            ValueError: On a wrong action shape or a non-finite action (naming step and batch index).
            FloatingPointError: If the simulation diverges (naming step and batch index).
        """
        if self._state is None and self._flat is None:
            raise RuntimeError("call reset() before reading the state or stepping")
        action = self._check_action(action)
        out = self.step_unchecked(action)
        # The cost sees the new state undelayed; the observation may show it only d/dt steps later.
        bad = ~(torch.isfinite(out[0]).all(-1) & torch.isfinite(out[1]))
        if bool(bad.any()):
            b = int(torch.nonzero(bad)[0, 0])
            raise FloatingPointError(
                f"the simulation diverged at step {int(self.state.step[b])}, batch index {b}: "
                "non-finite cost or observation"
            )
        return out

    def _check_action(self, action: Any) -> torch.Tensor:
        shape = (self.batch_size, self.action_size)
        if not isinstance(action, torch.Tensor):
            raise TypeError(f"action must be a torch.Tensor of shape {shape}; got {type(action).__name__}")
        if tuple(action.shape) != shape:
            raise ValueError(f"action must have shape {shape}; got {tuple(action.shape)}")
        if not (action.is_floating_point() or action.dtype in (torch.int64, torch.int32, torch.bool)):
            raise ValueError(f"action must be a real tensor; got dtype {action.dtype}")
        action = action.to(device=self.device, dtype=self.dtype)
        finite = torch.isfinite(action)
        if not bool(finite.all()):
            b, j = torch.nonzero(~finite)[0].tolist()
            raise ValueError(
                f"action must be finite; got {action[b, j].item()} at step {int(self.state.step[b])}, "
                f"batch index {b} (muscle {j})"
            )
        return action

    def step_unchecked(
        self, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """:meth:`step` without validating the action (for callers that validated it already)."""
        terminated = torch.zeros(self.batch_size, dtype=torch.bool, device=self.device)
        if self.batch_size < FROZEN_UNCHECKED_MAX_BATCH and self._frozen_applies(action):
            packed, truncated = self._step_frozen(action)
            layout = self.layout
            info = layout.torch_info(packed, skip=("observation", "reward", "truncated"))
            reward = packed[:, layout["reward"].start]
            obs = layout["observation"]
            if self._packer is None:  # the state's leaves: SimState.observation is the last
                return self._flat[-1], reward, terminated, truncated, info
            return packed[:, obs.start : obs.stop], reward, terminated, truncated, info
        new, out = self._advance(self.state, action, self.draw_noise())
        self._set_state(new)
        return out.observation, -out.cost, terminated, out.truncated, self._info(new, out)

    def step_packed(self, action: torch.Tensor) -> torch.Tensor:
        """:meth:`step_unchecked` with every output in one tensor (the numpy front ends' path).

        Args:
            action: ``(B, M)`` validated excitations (as for :meth:`step_unchecked`).

        Returns:
            ``(B, K)`` in :attr:`dtype`, a fresh tensor (the simulator keeps no reference to it),
            whose columns :attr:`layout` names: ``observation``, ``reward``, ``truncated`` (0 / 1),
            then the info entries of :meth:`step` (``step`` exact as a float).
        """
        if self._frozen_applies(action):
            return self._step_frozen(action)[0]
        new, out = self._advance(self.state, action, self.draw_noise())
        self._set_state(new)
        return self._pack(new, out)

    def _pack(self, new: SimState, out: StepOutput) -> torch.Tensor:
        entries = [("observation", None, out.observation), ("reward", None, -out.cost),
                   ("truncated", None, out.truncated), *entries_of(self._info(new, out))]  # fmt: skip
        if self._layout is None:
            self._layout = Layout(entries)
        return self._layout.pack(entries, self.dtype)

    # ------------------------------------------------------------------ frozen inference step
    def _frozen_applies(self, action: torch.Tensor) -> bool:
        """Whether this step runs through the frozen graph (compiled, fused, no gradient recorded)."""
        if self._fused is None or self._frozen is False:
            return False
        return not (torch.is_grad_enabled() and (action.requires_grad or self._carries_grad))

    def _step_frozen(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance through :func:`fastpath.freeze`'s graph; returns the packed output and truncation.

        The graph maps the state's leaves, the action and the drawn noises to the new leaves, the
        packed output and the truncation flags; it is built on the first call. If inductor cannot
        compile it (see :func:`fastpath.freeze`), the guarded compiled step is used from then on.
        """
        if self._flat is None:
            state = self.state
            # The frozen graph was built for dense tensors of the first call's layout and checks
            # nothing: inputs must match it (a transposed reset option would be read wrongly).
            leaves = [t.contiguous() for t in fastpath.flatten(state)]
            # The observation is the last leaf (step_unchecked returns it).
            if self._spec is None:
                self._spec = fastpath.tree_spec(state)
                if self.batch_size < PACKED_STATE_MAX_BATCH:
                    self._packer = StatePacker(leaves)
            self._flat = leaves if self._packer is None else self._packer.pack(leaves)
        if action.dtype != self.dtype or action.device != self.device:  # see above
            action = action.to(device=self.device, dtype=self.dtype)
        if not action.is_contiguous():
            action = action.contiguous()
        args = [*self._flat, action]
        if self._draw_action or self._draw_obs:
            noise = self.draw_noise()
            args.extend(t for t in noise if t is not None)
        else:
            noise = Noise(None, None)
        if self._frozen is None:
            self._frozen = self._freeze(args) or False
            if self._frozen is False:
                with torch.no_grad():
                    new, out = self._advance(self.state, action, noise)
                self._set_state(new)
                return self._pack(new, out), out.truncated
        outs = self._frozen(*args)
        n = len(self._flat)
        self._flat, self._state = outs[:n], None
        self._carries_grad = False
        return outs[n], outs[n + 1]

    def _freeze(self, example: list[torch.Tensor]) -> Any:
        spec, n, packer = self._spec, len(self._flat or ()), self._packer
        draw_action, draw_obs = self._draw_action, self._draw_obs

        def step(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            rest = iter(xs[n + 1 :])
            noise = Noise(next(rest) if draw_action else None, next(rest) if draw_obs else None)
            leaves = xs[:n] if packer is None else packer.unpack(xs[:n])
            new, out = self.transition(fastpath.unflatten(spec, leaves), xs[n], noise)
            new_leaves = fastpath.flatten(new)
            new_flat = new_leaves if packer is None else packer.pack(new_leaves)
            return (*new_flat, self._pack(new, out), out.truncated)

        return fastpath.freeze(step, example, self.device, self.batch_size)

    def transition(self, state: SimState, action: torch.Tensor, noise: Noise) -> tuple[SimState, StepOutput]:
        """The pure step function: ``(state, action, noise) -> (new state, outputs)``.

        Does not touch ``self``'s state or generator; free of host syncs and data-dependent Python
        branches (the target of ``torch.compile(fullgraph=True)``).
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
        """Cost, delay lines and observation after the effector moved from ``state`` to ``eff``."""
        step = state.step + 1
        terms = self.task.cost(state.task, eff, command, step)
        vision, length, velocity = self._readings(eff)
        hist = state.action_history
        if self.config.action_history:
            hist = push(hist, command)
        new = SimState(
            effector=eff,
            task=state.task,
            vision=push(state.vision, vision),
            proprioception_length=push(state.proprioception_length, length),
            proprioception_velocity=push(state.proprioception_velocity, velocity),
            action_history=hist,
            step=step,
            observation=state.observation,
        )
        obs, clean = self._compose(new, noise)
        desired = self.task.desired_position(state.task, step)
        out = StepOutput(
            obs, self.task.total_cost(terms), terms, endpoint_load, clean, desired, step >= self.max_steps
        )
        return new._replace(observation=obs), out

    # ------------------------------------------------------------------ compiled path
    def _compile(self) -> None:
        """Set up the compiled step (see the ``compile`` argument); leave it eager without a compiler."""
        eff = self.effector
        if eff.n_ministeps * eff.integrator.order <= MAX_FUSED_STAGES:
            self._fused = fastpath.compile_step(type(self).transition, self.device, self.batch_size)
        else:
            begin = fastpath.compile_step(type(self)._begin, self.device, self.batch_size)
            if begin is not None:
                self._split = (
                    begin,
                    fastpath.compile_step(fastpath.ministep, self.device, self.batch_size),
                    fastpath.compile_step(type(self)._finish, self.device, self.batch_size),
                )
        if self._fused is not None or self._split is not None:
            kw = {"device": self.device, "dtype": self.dtype}
            self._zero_noise = Noise(
                torch.zeros(self.batch_size, self.action_size, **kw),
                torch.zeros(self.batch_size, self.observation_size, **kw),
            )

    def _advance(self, state: SimState, action: torch.Tensor, noise: Noise) -> tuple[SimState, StepOutput]:
        """:meth:`transition`, compiled when :attr:`compiled`.

        The compiled graphs are specialised on which inputs require grad, so their pattern is kept
        fixed: a noise that is off is a zero tensor (adding 0 changes nothing), and when gradients
        are recorded every floating leaf of the dynamic state requires grad (reset states are
        wrapped as leaves); otherwise the step runs under ``no_grad``. One compilation then serves
        the whole episode and later ones.
        """
        if not self.compiled:
            return self.transition(state, action, noise)
        zero = self._zero_noise
        noise = Noise(
            zero.action if noise.action is None else noise.action,
            zero.observation if noise.observation is None else noise.observation,
        )
        if torch.is_grad_enabled() and (action.requires_grad or self._carries_grad):
            self._carries_grad = True
            return self._run_compiled(_require_grad(state), action, noise)
        self._carries_grad = False
        with torch.no_grad():
            return self._run_compiled(state, action, noise)

    def _run_compiled(
        self, state: SimState, action: torch.Tensor, noise: Noise
    ) -> tuple[SimState, StepOutput]:
        if self._fused is not None:
            return self._fused(self, state, action, noise)
        begin, ministep, finish = self._split
        command, excitation, endpoint_load, joint_load = begin(self, state, action, noise)
        eff, q = self.effector, state.effector.joint_pos
        joint_load = q.new_zeros(1, eff.dof) if joint_load is None else joint_load
        s = state.effector
        for _ in range(eff.n_ministeps):
            s = ministep(eff, s, excitation, endpoint_load, joint_load)
        return finish(self, state, s, command, endpoint_load, noise)

    def _info(self, state: SimState, out: StepOutput) -> dict[str, Any]:
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

    def __repr__(self) -> str:
        return (
            f"Simulator(env_id={self.env_id!r}, batch_size={self.batch_size}, dt={self.dt}, "
            f"max_steps={self.max_steps}, observation_size={self.observation_size}, "
            f"action_size={self.action_size}, device={self.device}, dtype={self.dtype})"
        )


def _on(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """``module`` itself if its floating buffers are on ``device`` in ``dtype``, else a converted copy.

    The caller's module is never modified (an effector may be shared by several simulators).
    """
    floats = [b for b in module.buffers() if b.is_floating_point()]
    if all(b.device == device and b.dtype == dtype for b in floats):
        return module
    return copy.deepcopy(module).to(device=device, dtype=dtype)


def _where(mask: torch.Tensor, new: Any, old: Any) -> Any:
    """Select ``new`` where ``mask`` ``(B,)`` is True, ``old`` elsewhere, over nested NamedTuples."""
    if isinstance(new, torch.Tensor):
        return torch.where(mask.view((-1,) + (1,) * (new.dim() - 1)), new, old)
    return type(new)(*(_where(mask, n, o) for n, o in zip(new, old, strict=True)))


def _require_grad(state: SimState) -> SimState:
    """``state`` with every floating leaf of its dynamic parts requiring grad (task and step as is).

    See :func:`~motornet_gym.fastpath.with_grad`: the compiled step then always sees the same
    ``requires_grad`` pattern, from the reset state on.
    """
    g = fastpath.with_grad
    return state._replace(
        effector=g(state.effector),
        vision=g(state.vision),
        proprioception_length=g(state.proprioception_length),
        proprioception_velocity=g(state.proprioception_velocity),
        action_history=g(state.action_history),
        observation=g(state.observation),
    )
