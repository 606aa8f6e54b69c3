"""Centre-out reaching and posture under transient endpoint force pulses and constant loads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import check_fraction, check_non_negative, check_range
from ..dynamics import Effector, EffectorState
from .centre_out import CentreOut, CentreOutConfig
from .state import NEVER, LoadedTaskState

_SIDES = ("left", "right")
_SUITES = ("pulse", "posture")


@dataclass(frozen=True, kw_only=True)
class PerturbationConfig(CentreOutConfig):
    """Configuration of :class:`Perturbation`.

    Pulse defaults (measured on arm26, default Euler at dt = 0.01 s, zero excitation, evaluation
    suite against the same trials without a pulse): the default evaluation pulse (10 N for 50 ms,
    an impulse of 0.5 N s) displaces the untrained fingertip by 0.8 cm at the end of the pulse and
    by 2.9 cm on average (1.5-4.0 cm across the 8 directions) 100 ms after its onset; the passive
    arm has no restoring force, so it keeps drifting (12-37 cm by the end of the episode). The
    training range (up to 15 N, 30-100 ms) spans these sizes. The constant background load follows
    MotorNet-TF's ``RandomTargetReachWithLoads`` (3 N).

    Attributes:
        pulse_probability: Fraction of training trials with a pulse.
        pulse_magnitude_range: ``(low, high)`` N, training pulse magnitude (uniform).
        pulse_duration_range: ``(low, high)`` s, training pulse duration (uniform on the dt grid).
        pulse_onset_range: ``(low, high)`` s from trial start, training onset (uniform on the dt
            grid): before the go cue it perturbs posture, after it the reach.
        background_load_range: ``(low, high)`` N, magnitude of a constant endpoint load in a
            uniformly random direction (training only; 0 in the evaluation suite).
        eval_pulse_magnitude: N.
        eval_pulse_duration: s.
        eval_pulse_delay: s after the go cue at which the evaluation pulse starts.
        eval_pulse_side: ``"left"``: the reach direction rotated +90 deg (counter-clockwise),
            ``"right"``: rotated -90 deg.
        eval_suite: ``"pulse"``: the centre-out reaches with the evaluation pulse. ``"posture"``:
            the load paradigm of preferred-direction studies (monkey M1 and networks: Lillicrap &
            Scott 2013, doi:10.1016/j.neuron.2012.12.033): hold the start (no go cue, target =
            start) against a constant endpoint load of ``eval_load_magnitude`` in ``n_targets``
            evenly spaced directions (0 rad first, counter-clockwise); no pulse.
        eval_load_magnitude: N, the load of the posture suite.
    """

    pulse_probability: float = 0.5
    pulse_magnitude_range: tuple[float, float] = (0.0, 15.0)
    pulse_duration_range: tuple[float, float] = (0.03, 0.1)
    pulse_onset_range: tuple[float, float] = (0.05, 0.7)
    background_load_range: tuple[float, float] = (0.0, 3.0)
    eval_pulse_magnitude: float = 10.0
    eval_pulse_duration: float = 0.05
    eval_pulse_delay: float = 0.1
    eval_pulse_side: str = "left"
    eval_suite: str = "pulse"
    eval_load_magnitude: float = 3.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fraction("pulse_probability", self.pulse_probability)
        for name in (
            "pulse_magnitude_range",
            "pulse_duration_range",
            "pulse_onset_range",
            "background_load_range",
        ):
            object.__setattr__(self, name, check_range(name, getattr(self, name)))
        if self.eval_suite not in _SUITES:
            raise ValueError(f"eval_suite must be one of {_SUITES}; got {self.eval_suite!r}")
        for name in (
            "eval_pulse_magnitude",
            "eval_pulse_duration",
            "eval_pulse_delay",
            "eval_load_magnitude",
        ):
            check_non_negative(name, getattr(self, name))
        if self.eval_pulse_side not in _SIDES:
            raise ValueError(f"eval_pulse_side must be one of {_SIDES}; got {self.eval_pulse_side!r}")


class Perturbation(CentreOut):
    """Centre-out reaching (and holding, on catch trials) under transient square force pulses.

    A pulse is a constant endpoint force ``pulse`` (N) acting during the steps
    ``pulse_onset <= k < pulse_offset`` (step ``k`` covers ``[k dt, (k + 1) dt)``); a constant
    background endpoint load acts throughout. Training draws the pulse direction uniformly, its
    magnitude, duration and onset from the configured ranges, with probability
    ``pulse_probability``. Evaluation suite (size ``n_targets``): the centre-out targets with a
    fixed pulse orthogonal to the reach direction, ``eval_pulse_delay`` after the go cue, and no
    background load; or, with ``eval_suite="posture"``, holding the start against constant loads in
    ``n_targets`` directions (the load paradigm of preferred-direction studies).
    """

    config_class = PerturbationConfig
    config: PerturbationConfig

    def __init__(self, effector: Effector, config: PerturbationConfig | None = None) -> None:
        super().__init__(effector, config)
        cfg = self.config
        self.duration_steps = (
            self.steps(cfg.pulse_duration_range[0], "pulse_duration_range[0]"),
            self.steps(cfg.pulse_duration_range[1], "pulse_duration_range[1]"),
        )
        self.onset_steps = (
            self.steps(cfg.pulse_onset_range[0], "pulse_onset_range[0]"),
            self.steps(cfg.pulse_onset_range[1], "pulse_onset_range[1]"),
        )
        self.eval_delay_steps = self.steps(cfg.eval_pulse_delay, "eval_pulse_delay")
        self.eval_duration_steps = self.steps(cfg.eval_pulse_duration, "eval_pulse_duration")

    def sample_train(self, batch_size: int, generator: torch.Generator) -> LoadedTaskState:
        """Training episodes: see :meth:`Task.sample_train`."""
        ts = super().sample_train(batch_size, generator)
        ref = self._ref
        cfg = self.config
        kw = {"generator": generator, "dtype": ref.dtype, "device": ref.device}
        u = torch.rand(batch_size, 5, **kw)
        dev = ref.device

        def polar(magnitude: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
            return magnitude[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], -1)

        lo, hi = cfg.pulse_magnitude_range
        on = (u[:, 0] < cfg.pulse_probability).to(ref.dtype)
        pulse = polar(on * (lo + (hi - lo) * u[:, 1]), 2 * math.pi * u[:, 2])
        blo, bhi = cfg.background_load_range
        background = polar(blo + (bhi - blo) * u[:, 3], 2 * math.pi * u[:, 4])
        onset = torch.randint(
            self.onset_steps[0], self.onset_steps[1] + 1, (batch_size,), generator=generator, device=dev
        )
        duration = torch.randint(
            self.duration_steps[0], self.duration_steps[1] + 1, (batch_size,), generator=generator, device=dev
        )
        load = self.no_loads(batch_size)._replace(
            background=background, pulse=pulse, pulse_onset=onset, pulse_offset=onset + duration
        )
        return self.with_loads(ts, load)

    def sample_eval(self) -> LoadedTaskState:
        """The evaluation suite: see :meth:`Task.sample_eval`."""
        ts = super().sample_eval()
        cfg = self.config
        if cfg.eval_suite == "posture":
            n = ts.target.shape[0]
            angle = torch.arange(n, dtype=ts.start.dtype, device=ts.start.device) * (2 * math.pi / n)
            load = cfg.eval_load_magnitude * torch.stack([torch.cos(angle), torch.sin(angle)], -1)
            hold = ts._replace(
                target=ts.start.clone(),
                go_step=torch.full_like(ts.go_step, NEVER),
                catch=torch.ones_like(ts.catch),
            )
            return self.with_loads(hold, self.no_loads(n)._replace(background=load))
        direction = ts.target - ts.start
        direction = direction / torch.sqrt((direction * direction).sum(-1, keepdim=True))
        sign = 1.0 if cfg.eval_pulse_side == "left" else -1.0
        orth = sign * torch.stack([-direction[:, 1], direction[:, 0]], dim=-1)
        onset = ts.go_step + self.eval_delay_steps
        load = self.no_loads(ts.target.shape[0])._replace(
            pulse=cfg.eval_pulse_magnitude * orth,
            pulse_onset=onset,
            pulse_offset=onset + self.eval_duration_steps,
        )
        return self.with_loads(ts, load)

    def _apply_overrides(self, ts: LoadedTaskState, options, batch_size: int) -> LoadedTaskState:
        """As :meth:`Task._apply_overrides`, keeping the evaluation pulse timed from the go cue.

        In the evaluation suite a new ``go_time`` moves the pulse with the cue; training pulses have
        absolute onsets and stay where they were drawn.
        """
        new = super()._apply_overrides(ts, options, batch_size)
        if "go_time" in options and options.get("suite") == "eval":
            shift = new.go_step - ts.go_step
            ld = new.load
            load = ld._replace(pulse_onset=ld.pulse_onset + shift, pulse_offset=ld.pulse_offset + shift)
            new = new._replace(load=load)
        return new

    def loads(
        self, task_state: LoadedTaskState, effector_state: EffectorState, step: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Background load plus the pulse while ``pulse_onset <= step < pulse_offset``."""
        ld = task_state.load
        active = ((step >= ld.pulse_onset) & (step < ld.pulse_offset))[:, None]
        return ld.background + torch.where(active, ld.pulse, torch.zeros_like(ld.pulse)), None
