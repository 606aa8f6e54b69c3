"""The compiled forms of a simulator's step (``compile=True``; torch only).

:class:`CompiledStep` belongs to one :class:`~motornet_gym.engine.Simulator` and runs its model's
pure :meth:`~motornet_gym.engine.EpisodeModel.transition` in one of two compiled forms
(:mod:`._compile.fastpath <motornet_gym._compile.fastpath>`):

* **guarded** (``torch.compile(fullgraph=True)``) whenever gradients are recorded: one graph for the
  whole step, or, for effectors with many integration stages (the compliant arm's 50 RK4
  sub-steps), a begin / one sub-step / finish graph each, because unrolling them makes compilation
  take many minutes;
* **frozen** (:func:`~motornet_gym._compile.fastpath.freeze`) for every other step of a fused effector, and
  for the first state at reset (after the task's eager sampling). Between frozen steps the state
  stays in the frozen graph's input form (:attr:`CompiledStep.flat`: the state's tensors, or below
  :data:`PACKED_STATE_MAX_BATCH` those packed one per dtype); the simulator rebuilds its
  :class:`~motornet_gym.engine.SimState` from it only when asked.

It gets the model and callables from the simulator and returns values (new states, outputs, the
gradient flag); it never writes the simulator's attributes, and it knows the engine's state only
as a tree of tensors whose fields it finds by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from . import fastpath
from .packed import StatePacker

__all__ = [
    "FROZEN_UNCHECKED_MAX_BATCH",
    "MAX_FUSED_STAGES",
    "PACKED_STATE_MAX_BATCH",
    "CompiledStep",
    "require_grad",
]

# The engine's types, seen from here as trees of tensors (this package sits below the engine).
SimState = Any  # motornet_gym.engine.SimState
StepOutput = Any  # motornet_gym.engine.StepOutput
Noise = Any  # motornet_gym.engine.Noise (fields ``action`` and ``observation``, each a tensor or None)

#: Batches below this size give the frozen step its state packed into one tensor per dtype (see
#: :class:`~motornet_gym._compile.packed.StatePacker`); larger ones pass the state's tensors separately.
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


class CompiledStep:
    """Guarded and frozen compiled steps of a simulator's model; build with :meth:`create`.

    Attributes:
        fused: Whether the whole step is one graph (else begin / sub-step / finish graphs, and no
            frozen step).
        flat: The frozen step's state inputs while the state lives in that form, else ``None``.
        frozen: The frozen step, ``None`` before its first use, ``False`` if inductor failed on it.
    """

    def __init__(
        self,
        model: Any,
        batch_size: int,
        draw_noise: Callable[[], Noise],
        pack: Callable[[SimState, StepOutput], torch.Tensor],
        fused: Any,
        split: tuple[Any, Any, Any] | None,
    ) -> None:
        self.model, self.batch_size = model, batch_size
        self._draw_noise, self._pack = draw_noise, pack
        self._fused, self._split = fused, split
        self.fused = fused is not None
        kw = {"device": model.device, "dtype": model.dtype}
        self._zero_action = torch.zeros(batch_size, model.action_size, **kw)
        self._zero_observation = torch.zeros(batch_size, model.observation_size, **kw)
        self._obs_index: int | None = None
        self.flat: list[torch.Tensor] | None = None
        self._spec: fastpath.TreeSpec = None
        self.packer: StatePacker | None = None
        self.frozen: Any = None
        self.frozen_initial: Any = None  # likewise, for the first state at reset
        #: The packed reset output (``pack(state, model.resting_output(state))``) of the state the
        #: last :meth:`initial` call made through the frozen graph, else ``None``; see
        #: :meth:`take_initial_packed`.
        self._initial_packed: torch.Tensor | None = None

    @classmethod
    def create(
        cls,
        model: Any,
        batch_size: int,
        draw_noise: Callable[[], Noise],
        pack: Callable[[SimState, StepOutput], torch.Tensor],
    ) -> CompiledStep | None:
        """The compiled step of an :class:`~motornet_gym.engine.EpisodeModel`, or ``None``.

        ``None`` without a compiler (one warning per process).

        Args:
            model: Provides ``transition``, ``_begin``, ``_finish``, ``initial_from``, ``effector``,
                ``device``, ``dtype``, ``action_size``, ``observation_size``.
            batch_size: ``B`` the graphs are specialised on.
            draw_noise: Draws one step's noise (the simulator's generator).
            pack: ``(new state, outputs) -> (B, K)`` packed outputs of a step.
        """
        eff, dev, b = model.effector, model.device, batch_size
        if eff.n_ministeps * eff.integrator.order <= MAX_FUSED_STAGES:
            fused = fastpath.compile_step(type(model).transition, dev, b)
            return None if fused is None else cls(model, b, draw_noise, pack, fused, None)
        begin = fastpath.compile_step(type(model)._begin, dev, b)
        if begin is None:
            return None
        split = (
            begin,
            fastpath.compile_step(fastpath.ministep, dev, b),
            fastpath.compile_step(type(model)._finish, dev, b),
        )
        return cls(model, b, draw_noise, pack, None, split)

    # ------------------------------------------------------------------ state representation
    def materialize(self) -> SimState:
        """The :class:`SimState` of :attr:`flat` (views of it)."""
        leaves = self.flat if self.packer is None else self.packer.unpack(self.flat)
        return fastpath.unflatten(self._spec, leaves)

    @property
    def observation_leaf(self) -> torch.Tensor | None:
        """The current observation ``(B, O)`` if the state is held as separate tensors, else None."""
        if self.flat is None or self.packer is not None or self._obs_index is None:
            return None
        return self.flat[self._obs_index]

    # ------------------------------------------------------------------ guarded
    def advance(
        self, state: SimState, action: torch.Tensor, noise: Noise, carries_grad: bool
    ) -> tuple[SimState, StepOutput, bool]:
        """The model's ``transition`` through the guarded graphs; also returns the new gradient flag.

        ``carries_grad``: whether the state records gradients (from a reset with options that
        require grad, or an earlier step that did).

        The graphs are specialised on which inputs require grad, so their pattern is kept fixed: a
        noise that is off is a zero tensor (adding 0 changes nothing), and when gradients are
        recorded every floating leaf of the dynamic state requires grad (reset states are wrapped
        as leaves); otherwise the step runs under ``no_grad``. One compilation then serves the whole
        episode and later ones.
        """
        noise = noise._replace(
            action=self._zero_action if noise.action is None else noise.action,
            observation=self._zero_observation if noise.observation is None else noise.observation,
        )
        if torch.is_grad_enabled() and (action.requires_grad or carries_grad):
            return (*self._run_guarded(require_grad(state), action, noise), True)
        with torch.no_grad():
            return (*self._run_guarded(state, action, noise), False)

    def _run_guarded(
        self, state: SimState, action: torch.Tensor, noise: Noise
    ) -> tuple[SimState, StepOutput]:
        model = self.model
        try:
            if self._fused is not None:
                return self._fused(model, state, action, noise)
            return self._run_split(state, action, noise)
        except Exception as err:
            explained = _explain(model.task, err)
            if explained is err:
                raise
            raise explained from err

    def _run_split(self, state: SimState, action: torch.Tensor, noise: Noise) -> tuple[SimState, StepOutput]:
        model = self.model
        begin, ministep, finish = self._split
        command, excitation, endpoint_load, joint_load = begin(model, state, action, noise)
        eff, q = model.effector, state.effector.joint_pos
        joint_load = q.new_zeros(1, eff.dof) if joint_load is None else joint_load
        s = state.effector
        for _ in range(eff.n_ministeps):
            s = ministep(eff, s, excitation, endpoint_load, joint_load)
        return finish(model, state, s, command, endpoint_load, noise)

    # ------------------------------------------------------------------ frozen
    def frozen_applies(self, action: torch.Tensor, carries_grad: bool) -> bool:
        """Whether this step runs through the frozen graph (fused, no gradient recorded)."""
        if not self.fused or self.frozen is False:
            return False
        return not (torch.is_grad_enabled() and (action.requires_grad or carries_grad))

    def step_frozen(
        self, action: torch.Tensor, state: SimState | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, SimState | None]:
        """Advance through the frozen graph: packed output, ``(B,)`` terminated, truncated, new state.

        ``None``: the new state is held in :attr:`flat`. If inductor could not compile the graph,
        the packed output of a guarded step and its new state (the guarded step is used from then
        on).

        Args:
            action: ``(B, M)``.
            state: The current state, or ``None`` while it is held in :attr:`flat`.
        """
        model = self.model
        if self.flat is None:
            # The frozen graph was built for dense tensors of the first call's layout and checks
            # nothing: inputs must match it (a transposed reset option would be read wrongly).
            leaves = [t.contiguous() for t in fastpath.flatten(state)]
            if self._spec is None:
                self._spec = fastpath.tree_spec(state)
                self._obs_index = next(
                    i for i, t in enumerate(fastpath.flatten(state)) if t is state.observation
                )
                if self.batch_size < PACKED_STATE_MAX_BATCH:
                    self.packer = StatePacker(leaves)
            self.flat = leaves if self.packer is None else self.packer.pack(leaves)
        if action.dtype != model.dtype or action.device != model.device:  # see above
            action = action.to(device=model.device, dtype=model.dtype)
        if not action.is_contiguous():
            action = action.contiguous()
        args = [*self.flat, action]
        noise = self._draw_noise()
        args.extend(t for t in (noise.action, noise.observation) if t is not None)
        if self.frozen is None:
            self.frozen = self._freeze(args, noise) or False
            if self.frozen is False:
                current = self.materialize() if state is None else state
                self.flat = None
                with torch.no_grad():
                    new, out, _ = self.advance(current, action, noise, False)
                return self._pack(new, out), out.terminated, out.truncated, new
        outs = self.frozen(*args)
        n = len(self.flat)
        self.flat = list(outs[:n])
        return outs[n], outs[n + 1], outs[n + 2], None

    def _freeze(self, example: list[torch.Tensor], noise_example: Noise) -> Any:
        model, spec, n, packer, pack = self.model, self._spec, len(self.flat or ()), self.packer, self._pack
        draw_action, draw_obs = noise_example.action is not None, noise_example.observation is not None

        def step(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            rest = iter(xs[n + 1 :])
            noise = noise_example._replace(
                action=next(rest) if draw_action else None, observation=next(rest) if draw_obs else None
            )
            leaves = xs[:n] if packer is None else packer.unpack(xs[:n])
            new, out = model.transition(fastpath.unflatten(spec, leaves), xs[n], noise)
            new_leaves = fastpath.flatten(new)
            new_flat = new_leaves if packer is None else packer.pack(new_leaves)
            return (*new_flat, pack(new, out), out.terminated, out.truncated)

        return fastpath.freeze(step, example, model.device, self.batch_size)

    def initial(self, task_state: Any, noise: Noise) -> SimState | None:
        """The model's ``initial_from`` through a frozen graph, or ``None`` where it does not apply.

        ~40 us instead of ~200 us eagerly for arm26 at B = 1 (the task's sampling and the
        validation stay eager). Applies to fused effectors at the simulator's batch size when no
        gradient is asked of the task state (reset options that require grad run eagerly).
        """
        model = self.model
        self._initial_packed = None
        leaves = fastpath.flatten(task_state)
        if (
            not self.fused
            or self.frozen_initial is False
            or leaves[0].shape[0] != self.batch_size
            or (torch.is_grad_enabled() and any(t.requires_grad for t in leaves))
        ):
            return None
        # Dense inputs of the traced layout (the graph checks nothing; options may be strided).
        args = [t.contiguous() for t in leaves]
        if noise.observation is not None:
            args.append(noise.observation)
        if self.frozen_initial is None:
            spec_in, n = fastpath.tree_spec(task_state), len(leaves)
            state = model.initial_from(task_state, noise)
            spec_out = fastpath.tree_spec(state)
            pack = self._pack

            def initial(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
                obs_noise = xs[n] if len(xs) > n else None
                task = fastpath.unflatten(spec_in, xs[:n])
                first = model.initial_from(task, noise._replace(action=None, observation=obs_noise))
                return (*fastpath.flatten(first), pack(first, model.resting_output(first)))

            fn = fastpath.freeze(initial, args, model.device, self.batch_size)
            self.frozen_initial = False if fn is None else (fn, spec_out)
            return state
        fn, spec_out = self.frozen_initial
        *leaves_out, self._initial_packed = fn(*args)
        return fastpath.unflatten(spec_out, leaves_out)

    def take_initial_packed(self) -> torch.Tensor | None:
        """The packed reset output of the last :meth:`initial` state, once (``None`` if eager)."""
        packed, self._initial_packed = self._initial_packed, None
        return packed


def require_grad(state: SimState) -> SimState:
    """``state`` with every floating leaf of its dynamic parts requiring grad (task and step as is).

    See :func:`~motornet_gym._compile.fastpath.with_grad`: the compiled step then always sees the
    same ``requires_grad`` pattern, from the reset state on.
    """
    g = fastpath.with_grad
    return state._replace(**{k: g(v) for k, v in state._asdict().items() if k not in ("task", "step")})


#: Rules of :class:`~motornet_gym.tasks.Task` a failed compilation most likely broke.
_RULES = (
    "a task hook must not branch in Python on tensor values (use torch.where) and must not call "
    ".item(), .tolist(), bool()/int() of a tensor or print tensors (see the Task docstring, 'Rules "
    "that keep a task compilable')"
)


def _explain(task: Any, err: Exception) -> Exception:
    """A compile error of the step, with the task rule it most likely broke (others unchanged)."""
    text = f"{type(err).__name__}: {err}"
    markers = (
        "data-dependent",
        "Data-dependent",
        "Unsupported",
        "graph break",
        "item()",
        "GuardOnDataDependent",
    )
    if not any(m in text for m in markers):
        return err
    first = text.splitlines()[0][:300]
    return RuntimeError(
        f"{type(task).__name__}: the step could not be compiled (compile=True); {_RULES}. "
        f"Use compile=False to run it eagerly. Compiler said: {first}"
    )
