"""Simulator: a batch of episodes of one task on one effector, stateful and differentiable (torch only).

The one implementation behind every front end (Gymnasium env, vector env, SB3 VecEnv, rollout).
The step itself is :meth:`EpisodeModel.transition <motornet_gym.engine.EpisodeModel.transition>`
(its module docstring gives the order of a step); the simulator adds the batch state, the random
generator, validation at the boundary and the compiled fast path.

**Which entry point when.** :meth:`Simulator.reset` / :meth:`Simulator.step` for scripts and
anything that wants checks and a dict of outputs; :meth:`Simulator.reset_where` to restart some
episodes of the batch (vector envs); :meth:`Simulator.transition` (pure: state in, state out) to
build your own loop or graph. The Gymnasium and SB3 front ends use
:meth:`Simulator.step_unchecked` / :meth:`Simulator.step_packed` (validated actions; all outputs in
one tensor for a single host copy), which pick the compiled fast path when it applies.

The hot path has no ``.item()``, no host synchronisation and no branch on tensor values; which
noises are drawn is decided at construction. With ``compile=True`` the step runs through
``torch.compile`` when it records gradients and through a frozen inference graph otherwise; the
default ``compile="auto"`` switches to it after :data:`AUTO_COMPILE_STEPS` eager steps. Noise is
drawn eagerly by :meth:`Simulator.draw_noise`, so the same seed gives the same trajectory compiled
or not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from .._compile import fastpath
from .._compile.compiled_step import FROZEN_UNCHECKED_MAX_BATCH, MAX_FUSED_STAGES, CompiledStep
from .._compile.packed import OUTPUTS, Layout, entries_of
from ..dynamics import Effector
from ..tasks import Task
from ..tasks.contract import check_task_state
from ._auto import AUTO_COMPILE_STEPS, AutoSwitch
from ._checks import check_action, check_step
from ._reset import check_seed, sample_rows, sample_task, where_rows
from .model import EpisodeModel
from .types import Noise, SimState, SimulatorConfig, StepOutput

__all__ = ["AUTO_COMPILE_STEPS", "MAX_FUSED_STAGES", "Simulator"]


class Simulator(EpisodeModel):
    """A batch of ``B`` episodes of one task on one effector.

    Args:
        effector: The limb (used as is when already on ``device`` in ``dtype``, else a converted copy;
            never mutated, so it may be shared).
        task: The task (moved likewise).
        config: Episode length, delays, noise and efference copy.
        batch_size: ``B``.
        device: Torch device; the effector's if ``None``.
        dtype: Floating dtype or its name (``"float64"``); ``torch.get_default_dtype()`` if ``None``
            (float64 works end to end).
        env_id: Registered id this simulator was made from, if any.
        compile: ``"auto"`` (the default): eager for the first :data:`AUTO_COMPILE_STEPS` steps,
            then compiled; ``True``: compiled from the first step (~1-10 s per batch size, dtype
            and device; inductor's disk cache makes later ones fast); ``False``: never. One
            ``torch.compile(fullgraph=True)`` graph per step (one per sub-step above
            :data:`MAX_FUSED_STAGES` stages); steps recording no gradient run a frozen graph.
            Without a compiler, or if compiling fails under ``"auto"``: one warning, eager steps.

    Attributes:
        compiled: Whether the step actually runs compiled now (False if ``compile=False``, before
            ``compile="auto"`` has switched, or if no compiler was found). The observation layout
            and sizes are :class:`~motornet_gym.engine.EpisodeModel`'s.
    """

    def __init__(
        self,
        effector: Effector,
        task: Task,
        config: SimulatorConfig | None = None,
        *,
        batch_size: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        env_id: str | None = None,
        compile: bool | str = "auto",
    ) -> None:
        if not (isinstance(compile, bool) or compile == "auto"):
            raise ValueError(f"compile must be True, False or 'auto'; got {compile!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
        super().__init__(effector, task, config, device=device, dtype=dtype)
        self.env_id, self.batch_size = env_id, batch_size
        self._generator = torch.Generator(device=self.device)
        self._generator.seed()
        # The state is held as a SimState, or (after a frozen step) in the frozen step's input
        # form ``_compiled.flat``; the SimState is rebuilt from it on demand.
        self._state: SimState | None = None
        self._layout: Layout | None = None
        self._carries_grad = False
        self._compiled = self._new_compiled() if compile is True else None
        self.compiled = self._compiled is not None
        self._auto = AutoSwitch() if compile == "auto" else None

    def _new_compiled(self) -> CompiledStep | None:
        return CompiledStep.create(self, self.batch_size, self.draw_noise, self.pack_step)

    # ------------------------------------------------------------------ properties
    @property
    def state(self) -> SimState:
        """The current :class:`SimState` (immutable; raises before the first :meth:`reset`)."""
        if self._state is None:
            if self._compiled is None or self._compiled.flat is None:
                raise RuntimeError("call reset() before reading the state or stepping")
            self._state = self._compiled.materialize()
        return self._state

    def _set_state(self, state: SimState) -> None:
        self._state = state
        if self._compiled is not None:
            self._compiled.flat = None

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

    def draw_noise(self, batch_size: int | None = None) -> Noise:
        """Draw the noise of one step (skipping the stds that are 0 everywhere)."""
        b = self.batch_size if batch_size is None else batch_size
        kw = {"generator": self._generator, "device": self.device, "dtype": self.dtype}
        a = torch.randn(b, self.action_size, **kw) * self._action_std if self.draws_action_noise else None
        o = (
            torch.randn(b, self.observation_size, **kw) * self._obs_std
            if self.draws_observation_noise
            else None
        )
        return Noise(a, o)

    # ------------------------------------------------------------------ compile="auto"
    def _auto_call(self, kind: str, fn: Any, *args: Any) -> Any:
        auto = self._auto
        out = auto.call(kind, self._compiled is not None, fn, args, self._drop_compiled, self._generator)
        if auto.done:
            self._auto = None  # compiled (or eager) for good: no more bookkeeping
        return out

    def _auto_count(self) -> None:
        if self._auto.count():
            self._compiled = self._new_compiled()
            self.compiled = self._compiled is not None
            if self._compiled is None:
                self._auto = None  # no compiler: eager for good

    def _drop_compiled(self) -> None:
        c = self._compiled
        state = c.materialize() if self._state is None and c.flat is not None else self._state
        self._compiled, self.compiled = None, False
        if state is not None:
            self._set_state(state)

    # ------------------------------------------------------------------ reset
    def _initial(
        self, batch_size: int, options: Mapping[str, Any] | None, seeds: tuple[int | None, ...] | None = None
    ) -> SimState:
        if seeds is None:
            task_state = sample_task(self.task, batch_size, self._generator, options)
            self.effector.check_joint_pos(task_state.joint_pos)
            noise = self.draw_noise(batch_size)
        else:
            task_state, noise = sample_rows(self, seeds, options)
        check_task_state(self.task, task_state, batch_size)
        if self._auto is not None:
            return self._auto_call("reset", self._initial_state, task_state, noise)
        return self._initial_state(task_state, noise)

    def _initial_state(self, task_state: Any, noise: Noise) -> SimState:
        if self._compiled is not None:
            state = self._compiled.initial(task_state, noise)
            if state is not None:
                return state
        return self.initial_from(task_state, noise)

    def load_state(self, state: SimState) -> None:
        """Continue from ``state`` (e.g. a saved :attr:`state`, to resume training exactly).

        The generator is left as it is (restore it with ``generator.set_state``).

        Raises:
            ValueError: If ``state``'s batch size is not :attr:`batch_size`.
        """
        if tuple(state.step.shape) != (self.batch_size,):
            raise ValueError(f"state must have batch size {self.batch_size}; got {tuple(state.step.shape)}")
        self._set_state(fastpath.distinct_leaves(state))
        self._carries_grad = fastpath.any_requires_grad(state)

    def current_info(self) -> dict[str, Any]:
        """The info dict of the current state, as :meth:`reset` reports it.

        For envs just restarted by :meth:`reset_where` this is their reset info. ``cost`` and
        ``cost_terms`` are evaluated on the current state with a zero action; ``endpoint_load`` is 0.
        """
        state = self.state
        return self.info(state, self.resting_output(state))

    def reset(
        self, seed: int | Sequence[int | None] | None = None, options: Mapping[str, Any] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Start ``B`` new episodes.

        A reset that raises changes nothing: the previous episodes (and the generator) are intact.

        Args:
            seed: Seeds the simulator's generator (same seed -> bit-identical trajectories, noise
                included); ``None`` continues the current stream. A sequence of ``B`` seeds seeds
                each episode: episode ``i`` starts exactly as a batch-1 reset with ``seed[i]`` (and
                the same options) would (a ``None`` entry continues the stream); the one generator
                of the batch is then left where the last episode's draw left it, so the step noise
                (if any) and later resets follow from the whole list, not from ``seed[i]`` alone.
            options: Task options, e.g. ``{"suite": "eval"}`` (``B`` a multiple of the suite size),
                ``{"suite": "eval", "trial": k}`` (trial ``k`` of the suite in every episode),
                ``{"joint_pos": (B, D)}``, ``{"target": (B, 2)}``, ``{"go_time": s}`` (see
                :meth:`Task.sample_initial`). With a sequence of seeds the options go to each
                episode's batch-1 draw, so give them unbatched.

        Returns:
            ``observation`` ``(B, O)`` and the info dict (see :meth:`step`).

        Raises:
            ValueError: On a bad seed or an unknown or invalid option.
        """
        self._restart(seed, options)
        return self.state.observation, self.current_info()

    def reset_packed(
        self, seed: int | Sequence[int | None] | None = None, options: Mapping[str, Any] | None = None
    ) -> torch.Tensor:
        """:meth:`reset` with its outputs in one tensor, as :meth:`step_packed` packs a step's.

        Returns:
            ``(B, K)`` with the columns of :attr:`layout`: the first observation and the reset info
            (as :meth:`current_info`); ``reward`` holds minus the cost of the first state with a
            zero action, ``truncated`` 0.
        """
        self._restart(seed, options)
        # The frozen initial graph packs the first state's outputs with it (compiled reset).
        packed = None if self._compiled is None else self._compiled.take_initial_packed()
        return self.current_packed() if packed is None else packed

    def current_packed(self) -> torch.Tensor:
        """:meth:`current_info` with the observation, in one ``(B, K)`` tensor of :attr:`layout`.

        As :meth:`reset_packed` returns it: ``reward`` holds minus the cost of the current state
        with a zero action, ``truncated`` 0. For rows just restarted by :meth:`reset_where` this is
        their reset output (the vector env's autoreset reads it).
        """
        state = self.state
        return self.pack_step(state, self.resting_output(state))

    def _restart(self, seed: Any, options: Mapping[str, Any] | None) -> None:
        seed = check_seed(seed, self.batch_size)
        saved = self._generator.get_state()
        try:  # a reset that raises leaves the generator (and the episodes) as they were
            if isinstance(seed, int):
                self._generator.manual_seed(seed)
            state = self._initial(self.batch_size, options, seed if isinstance(seed, tuple) else None)
        except BaseException:
            self._generator.set_state(saved)
            raise
        self._set_state(fastpath.distinct_leaves(state))
        self._carries_grad = fastpath.any_requires_grad(self.state)

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
        saved = self._generator.get_state()
        try:
            fresh = self._initial(self.batch_size, options)
        except BaseException:
            self._generator.set_state(saved)
            raise
        mask = mask.to(self.device)
        self._set_state(fastpath.distinct_leaves(where_rows(mask, fresh, self.state)))
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
            (the task's :meth:`~motornet_gym.tasks.Task.terminated`), ``truncated`` ``(B,)`` bool
            (the step counter has reached :attr:`max_steps`), and ``info``: tensors
            ``fingertip_pos``, ``fingertip_vel``,
            ``target``, ``desired_pos`` ``(B, 2)``, ``joint_pos``, ``joint_vel`` ``(B, D)``,
            ``activation``, ``force`` ``(B, M)``, ``endpoint_load`` ``(B, 2)`` N, ``cost`` ``(B,)``,
            ``cost_terms`` (name -> ``(B,)``), ``step`` ``(B,)`` int64, ``obs_parts`` (clean parts).
            Episodes are not reset automatically.

        Raises:
            ValueError: On a wrong action shape or a non-finite action (naming step and batch index).
            FloatingPointError: If the simulation diverges (naming step and batch index).
        """
        if self._state is None and (self._compiled is None or self._compiled.flat is None):
            raise RuntimeError("call reset() before reading the state or stepping")
        out = self.step_unchecked(check_action(self, action))
        check_step(self, out[0], out[1])
        return out

    def step_unchecked(
        self, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """:meth:`step` without validating the action (for callers that validated it already)."""
        if self._auto is not None:
            self._auto_count()
            if self._auto is not None:
                return self._auto_call("step", self._step_unchecked, action)
        return self._step_unchecked(action)

    def _step_unchecked(
        self, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        c = self._compiled
        if (
            c is not None
            and self.batch_size < FROZEN_UNCHECKED_MAX_BATCH
            and c.frozen_applies(action, self._carries_grad)
        ):
            packed, terminated, truncated = self._step_frozen(action)
            layout = self.layout
            info = layout.torch_info(packed, skip=OUTPUTS)
            reward = packed[:, layout["reward"].start]
            obs = c.observation_leaf
            if obs is None:
                col = layout["observation"]
                obs = packed[:, col.start : col.stop]
            return obs, reward, terminated, truncated, info
        new, out = self._advance(self.state, action, self.draw_noise())
        self._set_state(new)
        return out.observation, -out.cost, out.terminated, out.truncated, self.info(new, out)

    def step_packed(self, action: torch.Tensor) -> torch.Tensor:
        """:meth:`step_unchecked` with every output in one tensor (the numpy front ends' path).

        Args:
            action: ``(B, M)`` validated excitations (as for :meth:`step_unchecked`).

        Returns:
            ``(B, K)`` in :attr:`dtype`, a fresh tensor (the simulator keeps no reference to it),
            whose columns :attr:`layout` names: ``observation``, ``reward``, ``terminated`` and
            ``truncated`` (0 / 1), then the info entries of :meth:`step` (``step`` exact as a float).
        """
        if self._auto is not None:
            self._auto_count()
            if self._auto is not None:
                return self._auto_call("step", self._step_packed, action)
        return self._step_packed(action)

    def _step_packed(self, action: torch.Tensor) -> torch.Tensor:
        if self._compiled is not None and self._compiled.frozen_applies(action, self._carries_grad):
            return self._step_frozen(action)[0]
        new, out = self._advance(self.state, action, self.draw_noise())
        self._set_state(new)
        return self.pack_step(new, out)

    def _step_frozen(self, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Packed output, terminated and truncated ``(B,)`` of a frozen step."""
        packed, terminated, truncated, fallback = self._compiled.step_frozen(action, self._state)
        if fallback is None:
            self._state = None  # held in the compiled step's ``flat``
        else:
            self._set_state(fallback)
        self._carries_grad = False
        return packed, terminated, truncated

    def pack_step(self, new: SimState, out: StepOutput) -> torch.Tensor:
        """The packed ``(B, K)`` outputs of a step (see :meth:`step_packed`); fixes :attr:`layout`."""
        outputs = zip(OUTPUTS, (out.observation, -out.cost, out.terminated, out.truncated), strict=True)
        entries = [(name, None, t) for name, t in outputs] + entries_of(self.info(new, out))
        if self._layout is None:
            self._layout = Layout(entries)
        return self._layout.pack(entries, self.dtype)

    def _advance(self, state: SimState, action: torch.Tensor, noise: Noise) -> tuple[SimState, StepOutput]:
        """:meth:`transition`, through the guarded compiled graphs when :attr:`compiled`."""
        if self._compiled is None:
            return self.transition(state, action, noise)
        new, out, self._carries_grad = self._compiled.advance(state, action, noise, self._carries_grad)
        return new, out

    def __repr__(self) -> str:
        return (
            f"Simulator(env_id={self.env_id!r}, batch_size={self.batch_size}, dt={self.dt}, "
            f"max_steps={self.max_steps}, observation_size={self.observation_size}, "
            f"action_size={self.action_size}, device={self.device}, dtype={self.dtype})"
        )
