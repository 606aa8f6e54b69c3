"""Task base class: episode state, goals, loads, observation cues, termination and the cost.

A task holds constants only (an :class:`torch.nn.Module` whose buffers follow ``.to(device,
dtype)``); everything about one episode lives in its immutable episode state (:class:`TaskState`,
or the task's own NamedTuple type), which the task may update every step. The engine calls, in
this order, :meth:`Task.sample_initial` at reset, then at every step :meth:`Task.loads` (before
the effector moves), :meth:`Task.update`, :meth:`Task.cost` and :meth:`Task.terminated` (on the
new state), and :meth:`Task.observation_extras` and :meth:`Task.observe` (the observation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from .._validation import check_non_negative
from ..dynamics import Effector, EffectorState
from .state import LoadedTaskState, LoadState, TaskState, tree_map


@dataclass(frozen=True, kw_only=True)
class TaskConfig:
    """Cost weights shared by every task.

    Default weights: ``position`` 1 per metre and ``effort`` 0.1. The effort term is at most ~1.07
    per step for arm26 (every muscle fully active) and ~0.4 for uniformly random excitations (whose
    position term is ~0.35 m), so with 0.1 full co-contraction costs as much as being ~10 cm off
    target, random exploration pays ~10 % of its cost in effort, and a trained arm (activations
    ~0.05-0.2, effort term ~0.005-0.03) a few per cent: effort shapes the solution (no needless
    co-contraction) without making staying still worthwhile.

    Attributes:
        position_weight: Weight of the fingertip-to-desired distance (per m), >= 0.
        effort_weight: Weight of the squared force-weighted activation, >= 0.
        velocity_weight: Weight of the squared fingertip speed (per m^2/s^2), >= 0. 0 (the default)
            leaves the term out of the cost and of ``cost_weights``.
    """

    position_weight: float = 1.0
    effort_weight: float = 0.1
    velocity_weight: float = 0.0

    def __post_init__(self) -> None:
        for name in ("position_weight", "effort_weight", "velocity_weight"):
            check_non_negative(name, getattr(self, name))


class Task(nn.Module):
    """Base class of the tasks: episode state, goals, loads, cues, termination and cost.

    Subclasses set ``config_class``, ``has_go_cue``, ``target_relative`` (targets are drawn
    relative to the start, so a ``joint_pos`` reset option moves them along) and implement
    :meth:`sample_train` and :meth:`sample_eval`; they may override the per-step hooks
    :meth:`loads`, :meth:`update`, :meth:`cost`, :meth:`terminated`, :meth:`desired_position`,
    :meth:`observation_extras` and :meth:`observe`. ``docs/extending.md`` walks through a task.

    **Rules that keep a task compilable** (the per-step hooks run inside one compiled graph):

    1. No Python ``if``/``while`` on tensor values: select with ``torch.where`` (or arithmetic on
       masks); branch only on constants (config values, shapes).
    2. No host synchronisation: no ``.item()``, ``.tolist()``, ``bool(t)``, ``int(t)``, printing
       tensors or ``.cpu()`` of state tensors.
    3. Pure functions of their arguments: never write ``self`` or a buffer in a hook; everything
       that changes lives in the episode state that :meth:`update` returns.
    4. Fixed shapes: every state field stays batch first with the shape and dtype it had at reset;
       cues keep their sizes (they are read once, on a probe episode).

    The per-step hooks get the whole batch; ``step`` is the ``(B,)`` int64 step counter. Breaking
    rules 1-2 under ``compile=True`` raises an error that names them; ``compile="auto"`` warns once
    and stays eager. Breaking rule 4 or returning the wrong type fails when the simulator is built
    (a probe episode is checked, see :mod:`motornet_gym.tasks.contract`).

    Args:
        effector: The effector the task is defined for (read for its bounds, kinematics, ``dt``
            and muscle forces; never stepped here).
        config: Task configuration; the class default if omitted.

    Attributes:
        dt: Time step, s.
        cost_weights: Mapping term name -> weight.
        option_keys: Reset options the task accepts.
        eval_size: Number of trials of the evaluation suite.
    """

    config_class: ClassVar[type[TaskConfig]] = TaskConfig
    has_go_cue: ClassVar[bool] = False
    target_relative: ClassVar[bool] = False
    base_option_keys: ClassVar[tuple[str, ...]] = ("suite", "joint_pos", "target")

    def __init__(self, effector: Effector, config: TaskConfig | None = None) -> None:
        super().__init__()
        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise TypeError(f"config must be a {self.config_class.__name__}; got {type(config).__name__}")
        self.config = config
        self.skeleton = effector.skeleton
        self.dt = effector.dt
        self.dof = effector.dof
        self.n_muscles = effector.n_muscles
        self.register_buffer("pos_lower_bound", effector.pos_lower_bound.clone())
        self.register_buffer("pos_upper_bound", effector.pos_upper_bound.clone())
        fmax = effector.muscle.max_isometric_force.double()
        # Effort weighting of MotorNet's activation losses: a * F_max / mean(F_max). Constants are
        # built in float64 and cast to the inputs' dtype where used.
        self.register_buffer("force_weight", fmax / fmax.mean())
        weights = {"position": config.position_weight, "effort": config.effort_weight}
        if config.velocity_weight > 0:  # a constant of the task: the cost's branch below compiles
            weights["velocity"] = config.velocity_weight
        self.cost_weights: Mapping[str, float] = weights
        self.option_keys = self.base_option_keys + (("go_time",) if self.has_go_cue else ())
        self.eval_size = 1

    # ------------------------------------------------------------------ helpers
    @property
    def can_terminate(self) -> bool:
        """Whether the task overrides :meth:`terminated` (front ends skip checks for those that don't)."""
        return type(self).terminated is not Task.terminated

    @property
    def _ref(self) -> torch.Tensor:
        return self.pos_lower_bound

    def steps(self, seconds: float, name: str = "duration") -> int:
        """Number of steps in ``seconds``.

        Raises:
            ValueError: If ``seconds`` is not a multiple of ``dt`` (naming ``name`` and both values).
        """
        k = round(seconds / self.dt)
        if abs(k * self.dt - seconds) > 1e-9 * max(1.0, abs(seconds)):
            raise ValueError(f"{name} must be a multiple of dt={self.dt} s; got {seconds}")
        return k

    def fingertip(self, joint_pos: torch.Tensor) -> torch.Tensor:
        """Fingertip position ``(B, 2)`` m of joint configurations ``(B, D)``."""
        return self.skeleton.fingertip_position(joint_pos)

    def uniform_joint_pos(self, batch_size: int, generator: torch.Generator) -> torch.Tensor:
        """Joint positions ``(B, D)`` drawn uniformly within the effector's position bounds."""
        lb, ub = self.pos_lower_bound, self.pos_upper_bound
        u = torch.rand(batch_size, self.dof, generator=generator, dtype=lb.dtype, device=lb.device)
        return lb + (ub - lb) * u

    def no_loads(self, batch_size: int) -> LoadState:
        """A :class:`LoadState` without any load."""
        ref = self._ref
        zi = torch.zeros(batch_size, dtype=torch.int64, device=ref.device)
        return LoadState(
            background=ref.new_zeros(batch_size, 2),
            field=ref.new_zeros(batch_size, 2, 2),
            channel=torch.zeros(batch_size, dtype=torch.bool, device=ref.device),
            pulse=ref.new_zeros(batch_size, 2),
            pulse_onset=zi,
            pulse_offset=zi.clone(),
        )

    # ------------------------------------------------------------------ reset
    def sample_initial(
        self,
        batch_size: int,
        generator: torch.Generator,
        options: Mapping[str, Any] | None = None,
    ) -> TaskState:
        """Draw the episode parameters of ``batch_size`` episodes.

        Args:
            batch_size: ``B``.
            generator: Source of every random number (on the task's device).
            options: ``{"suite": "eval"}`` for the task's fixed evaluation trials (``B`` must be a
                multiple of :attr:`eval_size`; the suite is tiled), ``"joint_pos"`` ``(B, D)``
                initial joints, ``"target"`` ``(B, 2)`` m, and for tasks with a go cue
                ``"go_time"`` (s, a multiple of ``dt``; scalar or ``(B,)``).

        Returns:
            The :class:`TaskState`.

        Raises:
            ValueError: On an unknown option, a bad value or a batch size that does not fit the
                evaluation suite.
        """
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.option_keys))
        if unknown:
            raise ValueError(
                f"unknown reset option {unknown[0]!r} for {type(self).__name__}; "
                f"expected any of {', '.join(map(repr, self.option_keys))}"
            )
        suite = options.get("suite", "train")
        if suite not in ("train", "eval"):
            raise ValueError(f"options['suite'] must be 'train' or 'eval'; got {suite!r}")
        if suite == "eval":
            if batch_size % self.eval_size:
                raise ValueError(
                    f"batch_size must be a multiple of the evaluation suite size "
                    f"{self.eval_size} for options['suite']='eval'; got {batch_size}"
                )
            one = self.sample_eval()
            reps = batch_size // self.eval_size
            ts = tree_map(lambda t: t.repeat((reps,) + (1,) * (t.dim() - 1)), one)
        else:
            ts = self.sample_train(batch_size, generator)
        return self._apply_overrides(ts, options, batch_size)

    def _apply_overrides(self, ts: TaskState, options: Mapping[str, Any], batch_size: int) -> TaskState:
        ref = self._ref
        if "joint_pos" in options:
            q = _batch_option("joint_pos", options["joint_pos"], self.dof, batch_size, ref)
            lb, ub = self.pos_lower_bound, self.pos_upper_bound
            if bool(((q < lb) | (q > ub)).any()):
                raise ValueError(
                    f"options['joint_pos'] must lie within [{lb.tolist()}, {ub.tolist()}]; got {q.tolist()}"
                )
            start = self.fingertip(q)
            # Targets defined relative to the start (centre-out) move with it.
            target = ts.target + (start - ts.start) if self.target_relative else ts.target
            ts = ts._replace(joint_pos=q, start=start, target=target)
        if "target" in options:
            ts = ts._replace(target=_batch_option("target", options["target"], 2, batch_size, ref))
        if "go_time" in options:
            g = torch.as_tensor(options["go_time"], dtype=torch.float64).reshape(-1)
            steps = torch.round(g / self.dt)
            if (
                g.numel() not in (1, batch_size)
                or not bool(torch.isfinite(g).all())
                or bool((g < 0).any() | ((steps * self.dt - g).abs() > 1e-9).any())
            ):
                raise ValueError(
                    f"options['go_time'] must be a scalar or ({batch_size},) of times >= 0 that "
                    f"are multiples of dt={self.dt} s; got {options['go_time']!r}"
                )
            go = steps.to(torch.int64).to(ref.device).expand(batch_size).clone()
            ts = ts._replace(go_step=go, catch=torch.zeros_like(ts.catch))
        return ts

    def sample_train(self, batch_size: int, generator: torch.Generator) -> Any:
        """Episode states ``(B, ...)`` of ``batch_size`` training episodes, drawn from ``generator``."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample_train")

    def sample_eval(self) -> Any:
        """The :attr:`eval_size` episode states of the fixed evaluation suite (deterministic)."""
        raise NotImplementedError(f"{type(self).__name__} must implement sample_eval")

    @staticmethod
    def with_loads(task_state: TaskState, load: LoadState) -> LoadedTaskState:
        """``task_state``'s fields plus ``load``."""
        return LoadedTaskState(**task_state._asdict(), load=load)

    # ------------------------------------------------------------------ per step
    def loads(
        self, task_state: TaskState, effector_state: EffectorState, step: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """External loads applied during the coming step (held constant over it).

        Args:
            task_state: The episode's :class:`TaskState`.
            effector_state: State before the step.
            step: ``(B,)`` int64, index of the coming step (0 for the first).

        Returns:
            ``endpoint_load`` ``(B, 2)`` N and ``joint_load`` ``(B, D)`` N m or ``None``. The base
            task applies none.
        """
        return effector_state.fingertip_pos.new_zeros(effector_state.fingertip_pos.shape), None

    def update(self, task_state: Any, effector_state: EffectorState, step: torch.Tensor) -> Any:
        """The episode state after a step (called after the effector moved, before :meth:`cost`).

        Override to keep episode state that changes: a target that jumps when the hand crosses a
        line, a flag set on contact. Return the same NamedTuple type, every field with the shape
        and dtype it had (use ``task_state._replace(...)`` and ``torch.where``).

        Args:
            task_state: The episode state before the step.
            effector_state: State after the step.
            step: ``(B,)`` int64 step counter after the step.
        """
        return task_state

    def terminated(self, task_state: Any, effector_state: EffectorState, step: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool: the episode reached a terminal state with this step (none by default).

        Gymnasium's ``terminated`` (the MDP ended: an obstacle hit, a target reached and held);
        running out of time is ``truncated`` and handled by the engine. The cost of the terminating
        step counts; the rollout masks later ones and the vector envs reset the episode.
        """
        return torch.zeros(step.shape, dtype=torch.bool, device=step.device)

    def observe(
        self, task_state: Any, parts: Mapping[str, torch.Tensor], step: torch.Tensor
    ) -> Mapping[str, torch.Tensor]:
        """Transform the sensory channels before noise is added (identity by default).

        ``parts`` holds ``vision`` ``(B, 2)`` m (the fingertip as seen), ``proprioception_length``
        and ``proprioception_velocity`` ``(B, M)``, and ``action_history`` ``(B, H M)`` when on;
        return the same keys and shapes (e.g. a rotated cursor: rotate ``vision`` about the start).
        It is applied to the delayed channels of the observation and to the undelayed clean parts
        in the info (``obs_parts``).
        """
        return parts

    def desired_position(self, task_state: TaskState, step: torch.Tensor) -> torch.Tensor:
        """Desired fingertip position ``(B, 2)`` m: the start before the go cue, the target after."""
        go = (step >= task_state.go_step)[:, None]
        return torch.where(go, task_state.target, task_state.start)

    def cost(
        self,
        task_state: TaskState,
        effector_state: EffectorState,
        action: torch.Tensor,
        step: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The named cost terms ``(B,)`` of one step (reward = minus their weighted sum).

        Terms:
            ``position``: Euclidean distance (m) from the fingertip to :meth:`desired_position`.
            ``effort``: mean over muscles of ``(activation * F_max / mean(F_max))**2``, the
            force-weighted activation of MotorNet's activation losses (Codol et al. 2024,
            doi:10.7554/eLife.88591).
            ``velocity`` (only when ``velocity_weight > 0``): squared fingertip speed (m^2/s^2), a
            damping cost on the hand's motion.

        Args:
            task_state: The episode's :class:`TaskState`.
            effector_state: State after the step.
            action: ``(B, M)`` excitation the policy sent (unused by the default terms).
            step: ``(B,)`` int64 step counter after the step.
        """
        desired = self.desired_position(task_state, step)
        # vector_norm's gradient at a zero distance is 0 (no NaN), so no epsilon is needed.
        position = torch.linalg.vector_norm(effector_state.fingertip_pos - desired, dim=-1)
        activation = effector_state.muscle.activation
        effort = ((activation * self.force_weight.to(activation)) ** 2).mean(-1)
        terms = {"position": position, "effort": effort}
        if "velocity" in self.cost_weights:
            terms["velocity"] = (effector_state.fingertip_vel**2).sum(-1)
        return terms

    def total_cost(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum ``(B,)`` of the cost terms."""
        total = None
        for name, w in self.cost_weights.items():
            t = terms[name] * w
            total = t if total is None else total + t
        assert total is not None
        return total

    def observation_extras(self, task_state: Any, step: torch.Tensor) -> tuple[tuple[str, torch.Tensor], ...]:
        """Task cues of the observation, in order: ``(name, (B, n) tensor)`` pairs.

        ``target`` ``(B, 2)`` m and, for tasks with a go cue, ``go_cue`` ``(B, 1)`` (0 before the go
        cue, 1 from ``go_step`` on). Cues are shown without delay or noise by default. The engine
        reads the names and sizes off this method on a probe episode (the layout is declared here
        only).
        """
        if not self.has_go_cue:
            return (("target", task_state.target),)
        go = (step >= task_state.go_step).to(task_state.target.dtype)[:, None]
        return (("target", task_state.target), ("go_cue", go))


def _batch_option(name: str, value: Any, width: int, batch_size: int, ref: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(value).to(dtype=ref.dtype, device=ref.device)
    if t.dim() == 1:
        t = t[None]
    if t.dim() != 2 or t.shape[1] != width or t.shape[0] not in (1, batch_size):
        raise ValueError(
            f"options[{name!r}] must have shape ({batch_size}, {width}) or ({width},); "
            f"got {tuple(torch.as_tensor(value).shape)}"
        )
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"options[{name!r}] must be finite; got {value!r}")
    return t.expand(batch_size, width).clone()
