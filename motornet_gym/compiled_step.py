"""The compiled forms of a simulator's step (``compile=True``; torch only).

:class:`CompiledStep` belongs to one :class:`~motornet_gym.engine.Simulator` and runs its pure
:meth:`~motornet_gym.engine.Simulator.transition` in one of two compiled forms
(:mod:`motornet_gym.fastpath`):

* **guarded** (``torch.compile(fullgraph=True)``) whenever gradients are recorded: one graph for the
  whole step, or, for effectors with many integration stages (the compliant arm's 50 RK4
  sub-steps), a begin / one sub-step / finish graph each, because unrolling them makes compilation
  take many minutes;
* **frozen** (:func:`~motornet_gym.fastpath.freeze`) for every other step of a fused effector, and
  for the first state at reset (after the task's eager sampling). Between frozen steps the state
  stays in the frozen graph's input form (:attr:`CompiledStep.flat`: the state's tensors, or below
  :data:`PACKED_STATE_MAX_BATCH` those packed one per dtype); the simulator rebuilds its
  :class:`~motornet_gym.sim_types.SimState` from it only when asked.

It reads and writes the simulator's state and gradient flag directly (a helper of the engine, not
a public type).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import torch

from . import fastpath
from .packed import StatePacker
from .sim_types import Noise, SimState, StepOutput
from .tasks import TaskState

if TYPE_CHECKING:
    from .engine import Simulator

__all__ = [
    "AUTO_COMPILE_STEPS",
    "FROZEN_UNCHECKED_MAX_BATCH",
    "MAX_FUSED_STAGES",
    "PACKED_STATE_MAX_BATCH",
    "AutoCompile",
    "CompiledStep",
]

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

#: ``compile="auto"``: steps a simulator runs eagerly before switching to the compiled step. Set at
#: the break-even of a process's first switch with a warm inductor cache (compile time / per-step
#: saving), so a run pays at most about twice what the better choice in hindsight costs (the
#: ski-rental argument). Measured, arm26 (point mass), one thread, first switch of a fresh process
#: (most of it importing and initialising inductor; the frozen step and the frozen reset included):
#: no_grad B = 1: 5.9-6.1 s (5.4 s), eager 0.77-1.36 ms/step (0.46), compiled 0.02-0.03 ms (0.02):
#: break-even 4.5k-8.0k steps (12k); with gradients (GRU 32 policy) B = 1: 4.7 s, 3.3 vs 0.8
#: ms/step: 1.9k steps. Later switches in the same process cost 0.4-1.7 s (break-even 300-930
#: steps at B = 64-1024). A cold cache costs 3-5x more (10-25 s): those runs repay it later.
AUTO_COMPILE_STEPS = 5000

#: Most derivative evaluations per step (``n_ministeps x integrator order``) compiled as one graph.
MAX_FUSED_STAGES = 16


class CompiledStep:
    """Guarded and frozen compiled steps of ``sim``; build with :meth:`create`.

    Attributes:
        fused: Whether the whole step is one graph (else begin / sub-step / finish graphs, and no
            frozen step).
        flat: The frozen step's state inputs while the state lives in that form, else ``None``.
        frozen: The frozen step, ``None`` before its first use, ``False`` if inductor failed on it.
    """

    def __init__(self, sim: Simulator, fused: Any, split: tuple[Any, Any, Any] | None) -> None:
        self.sim = sim
        self._fused, self._split = fused, split
        self.fused = fused is not None
        kw = {"device": sim.device, "dtype": sim.dtype}
        self._zero_noise = Noise(
            torch.zeros(sim.batch_size, sim.action_size, **kw),
            torch.zeros(sim.batch_size, sim.observation_size, **kw),
        )
        self.flat: list[torch.Tensor] | None = None
        self._spec: fastpath.TreeSpec = None
        self.packer: StatePacker | None = None
        self.frozen: Any = None
        self.frozen_initial: Any = None  # likewise, for the first state at reset

    @classmethod
    def create(cls, sim: Simulator) -> CompiledStep | None:
        """The compiled step of ``sim``, or ``None`` without a compiler (one warning per process)."""
        eff, dev, b = sim.effector, sim.device, sim.batch_size
        if eff.n_ministeps * eff.integrator.order <= MAX_FUSED_STAGES:
            fused = fastpath.compile_step(type(sim).transition, dev, b)
            return None if fused is None else cls(sim, fused, None)
        begin = fastpath.compile_step(type(sim)._begin, dev, b)
        if begin is None:
            return None
        split = (
            begin,
            fastpath.compile_step(fastpath.ministep, dev, b),
            fastpath.compile_step(type(sim)._finish, dev, b),
        )
        return cls(sim, None, split)

    # ------------------------------------------------------------------ state representation
    def materialize(self) -> SimState:
        """The :class:`SimState` of :attr:`flat` (views of it)."""
        leaves = self.flat if self.packer is None else self.packer.unpack(self.flat)
        return fastpath.unflatten(self._spec, leaves)

    @property
    def observation_leaf(self) -> torch.Tensor | None:
        """The current observation ``(B, O)`` if the state is held as separate tensors, else None."""
        if self.flat is None or self.packer is not None:
            return None
        return self.flat[-1]  # SimState.observation is the last field

    # ------------------------------------------------------------------ guarded
    def advance(self, state: SimState, action: torch.Tensor, noise: Noise) -> tuple[SimState, StepOutput]:
        """:meth:`Simulator.transition` through the guarded graphs.

        The graphs are specialised on which inputs require grad, so their pattern is kept fixed: a
        noise that is off is a zero tensor (adding 0 changes nothing), and when gradients are
        recorded every floating leaf of the dynamic state requires grad (reset states are wrapped
        as leaves); otherwise the step runs under ``no_grad``. One compilation then serves the whole
        episode and later ones.
        """
        sim, zero = self.sim, self._zero_noise
        noise = Noise(
            zero.action if noise.action is None else noise.action,
            zero.observation if noise.observation is None else noise.observation,
        )
        if torch.is_grad_enabled() and (action.requires_grad or sim._carries_grad):
            sim._carries_grad = True
            return self._run_guarded(_require_grad(state), action, noise)
        sim._carries_grad = False
        with torch.no_grad():
            return self._run_guarded(state, action, noise)

    def _run_guarded(
        self, state: SimState, action: torch.Tensor, noise: Noise
    ) -> tuple[SimState, StepOutput]:
        sim = self.sim
        if self._fused is not None:
            return self._fused(sim, state, action, noise)
        begin, ministep, finish = self._split
        command, excitation, endpoint_load, joint_load = begin(sim, state, action, noise)
        eff, q = sim.effector, state.effector.joint_pos
        joint_load = q.new_zeros(1, eff.dof) if joint_load is None else joint_load
        s = state.effector
        for _ in range(eff.n_ministeps):
            s = ministep(eff, s, excitation, endpoint_load, joint_load)
        return finish(sim, state, s, command, endpoint_load, noise)

    # ------------------------------------------------------------------ frozen
    def frozen_applies(self, action: torch.Tensor) -> bool:
        """Whether this step runs through the frozen graph (fused, no gradient recorded)."""
        if not self.fused or self.frozen is False:
            return False
        return not (torch.is_grad_enabled() and (action.requires_grad or self.sim._carries_grad))

    def step_frozen(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance through the frozen graph; returns the packed output and the truncation flags.

        The graph maps the state's inputs, the action and the drawn noises to the new state
        inputs, the packed output and the truncation flags; it is built on the first call. If
        inductor cannot compile it (see :func:`fastpath.freeze`), the guarded step is used from then
        on.
        """
        sim = self.sim
        if self.flat is None:
            state = sim.state
            # The frozen graph was built for dense tensors of the first call's layout and checks
            # nothing: inputs must match it (a transposed reset option would be read wrongly).
            leaves = [t.contiguous() for t in fastpath.flatten(state)]
            if self._spec is None:
                self._spec = fastpath.tree_spec(state)
                if sim.batch_size < PACKED_STATE_MAX_BATCH:
                    self.packer = StatePacker(leaves)
            self.flat = leaves if self.packer is None else self.packer.pack(leaves)
        if action.dtype != sim.dtype or action.device != sim.device:  # see above
            action = action.to(device=sim.device, dtype=sim.dtype)
        if not action.is_contiguous():
            action = action.contiguous()
        args = [*self.flat, action]
        if sim._draw_action or sim._draw_obs:
            noise = sim.draw_noise()
            args.extend(t for t in noise if t is not None)
        else:
            noise = Noise(None, None)
        if self.frozen is None:
            self.frozen = self._freeze(args) or False
            if self.frozen is False:
                with torch.no_grad():
                    new, out = self.advance(sim.state, action, noise)
                sim._set_state(new)
                return sim._pack(new, out), out.truncated
        outs = self.frozen(*args)
        n = len(self.flat)
        self.flat, sim._state = outs[:n], None
        sim._carries_grad = False
        return outs[n], outs[n + 1]

    def _freeze(self, example: list[torch.Tensor]) -> Any:
        sim, spec, n, packer = self.sim, self._spec, len(self.flat or ()), self.packer
        draw_action, draw_obs = sim._draw_action, sim._draw_obs

        def step(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            rest = iter(xs[n + 1 :])
            noise = Noise(next(rest) if draw_action else None, next(rest) if draw_obs else None)
            leaves = xs[:n] if packer is None else packer.unpack(xs[:n])
            new, out = sim.transition(fastpath.unflatten(spec, leaves), xs[n], noise)
            new_leaves = fastpath.flatten(new)
            new_flat = new_leaves if packer is None else packer.pack(new_leaves)
            return (*new_flat, sim._pack(new, out), out.truncated)

        return fastpath.freeze(step, example, sim.device, sim.batch_size)

    def initial(self, task_state: TaskState, noise: Noise) -> SimState | None:
        """:meth:`Simulator.initial_from` through a frozen graph, or ``None`` where it does not apply.

        ~40 us instead of ~200 us eagerly for arm26 at B = 1 (the task's sampling and the
        validation stay eager). Applies to fused effectors at the simulator's batch size when no
        gradient is asked of the task state (reset options that require grad run eagerly).
        """
        sim = self.sim
        leaves = fastpath.flatten(task_state)
        if (
            not self.fused
            or self.frozen_initial is False
            or leaves[0].shape[0] != sim.batch_size
            or (torch.is_grad_enabled() and any(t.requires_grad for t in leaves))
        ):
            return None
        # Dense inputs of the traced layout (the graph checks nothing; options may be strided).
        args = [t.contiguous() for t in leaves]
        if noise.observation is not None:
            args.append(noise.observation)
        if self.frozen_initial is None:
            spec_in, n = fastpath.tree_spec(task_state), len(leaves)
            state = sim.initial_from(task_state, noise)
            spec_out = fastpath.tree_spec(state)

            def initial(*xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
                obs_noise = xs[n] if len(xs) > n else None
                task = fastpath.unflatten(spec_in, xs[:n])
                return tuple(fastpath.flatten(sim.initial_from(task, Noise(None, obs_noise))))

            fn = fastpath.freeze(initial, args, sim.device, sim.batch_size)
            self.frozen_initial = False if fn is None else (fn, spec_out)
            return state
        fn, spec_out = self.frozen_initial
        return fastpath.unflatten(spec_out, fn(*args))


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


_warned_auto = False


class AutoCompile:
    """``compile="auto"`` for one simulator: eager steps first, then the compiled step.

    :meth:`count` is called before every step; after ``after_steps`` (default
    :data:`AUTO_COMPILE_STEPS`) it builds the simulator's :class:`CompiledStep` (``None`` without a
    compiler: one warning, eager from then on). Until a compiled step and a compiled reset have each
    succeeded once, :meth:`call` runs them under a guard: if compiling fails (e.g. a user task with
    a data-dependent branch), it warns once per process, restores the random generator and runs the
    call eagerly, for good.
    """

    def __init__(self, sim: Simulator, after_steps: int | None = None) -> None:
        self.sim = sim
        self.steps_left = AUTO_COMPILE_STEPS if after_steps is None else after_steps
        self.pending = {"step", "reset"}  # compiled calls not yet known to work

    def count(self) -> None:
        """Count one step; the step after the first ``after_steps`` switches to the compiled step."""
        if self.steps_left == 0:
            sim = self.sim
            sim._compiled = CompiledStep.create(sim)
            sim.compiled = sim._compiled is not None
            if sim._compiled is None:
                sim._auto = None  # eager for good: no more bookkeeping
        self.steps_left -= 1

    def call(self, kind: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)``, guarded while a compiled ``kind`` ("step" or "reset") has not yet succeeded."""
        sim = self.sim
        if sim._compiled is None or kind not in self.pending:  # before the switch, or a kind that worked
            return fn(*args)
        rng = sim.generator.get_state()
        try:
            out = fn(*args)
        except Exception as err:  # noqa: BLE001  (any compile failure: stay eager, as documented)
            global _warned_auto
            if not _warned_auto:
                _warned_auto = True
                warnings.warn(
                    f"compile='auto': compiling the simulator step failed ({type(err).__name__}: {err}); "
                    "the simulator stays eager (same results, slower). This warning is shown once per "
                    "process.",
                    RuntimeWarning,
                    stacklevel=4,
                )
            c = sim._compiled
            state = c.materialize() if sim._state is None and c.flat is not None else sim._state
            sim._compiled, sim.compiled = None, False
            if state is not None:
                sim._set_state(state)
            sim._auto = None
            sim.generator.set_state(rng)
            return fn(*args)
        self.pending.discard(kind)
        if not self.pending:
            sim._auto = None  # compiled for good: no more bookkeeping
        return out
