"""Centre-out reaching with a go cue and catch trials."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import check_fraction, check_range
from ..dynamics import Effector
from .base import Task, TaskConfig
from .state import NEVER, TaskState


@dataclass(frozen=True, kw_only=True)
class CentreOutConfig(TaskConfig):
    """Configuration of :class:`CentreOut`.

    Attributes:
        centre_joint_pos: Start posture ``(D,)`` (rad, or m for the point mass); ``None`` = the
            middle of the joint range (as MotorNet-TF's ``CentreOutReach``).
        reach_distance: Radius of the target circle, m (10 cm, as MotorNet-TF).
        go_cue_range: ``(low, high)`` s, training go-cue time drawn uniformly on the dt grid
            (MotorNet-TF's ``CentreOutReach`` uses (0.05, 0.25) s).
        catch_trial_fraction: Fraction of training trials whose go cue never comes (the arm must
            hold the start while the target is shown). 0.5, as MotorNet-TF's ``CentreOutReach``:
            with 0.2, trained networks anticipate the cue and are already moving when it comes.
        n_targets: Number of evenly spaced evaluation targets (0 rad first, counter-clockwise).
        eval_go_time: Go-cue time of the evaluation trials, s.
    """

    centre_joint_pos: tuple[float, ...] | None = None
    reach_distance: float = 0.1
    go_cue_range: tuple[float, float] = (0.05, 0.25)
    catch_trial_fraction: float = 0.5
    n_targets: int = 8
    eval_go_time: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.centre_joint_pos is not None:
            try:
                c = tuple(float(v) for v in self.centre_joint_pos)
            except (TypeError, ValueError):
                raise ValueError(
                    f"centre_joint_pos must be a sequence of numbers or None; got {self.centre_joint_pos!r}"
                ) from None
            object.__setattr__(self, "centre_joint_pos", c)
        d = float(self.reach_distance)
        if not math.isfinite(d) or d <= 0:
            raise ValueError(f"reach_distance must be a finite number > 0 m; got {self.reach_distance!r}")
        object.__setattr__(self, "go_cue_range", check_range("go_cue_range", self.go_cue_range))
        check_fraction("catch_trial_fraction", self.catch_trial_fraction)
        if not isinstance(self.n_targets, int) or self.n_targets < 1:
            raise ValueError(f"n_targets must be an integer >= 1; got {self.n_targets!r}")
        g = float(self.eval_go_time)
        if not math.isfinite(g) or g < 0:
            raise ValueError(f"eval_go_time must be a finite number >= 0 s; got {self.eval_go_time!r}")


class CentreOut(Task):
    """Reach from a fixed centre posture to targets on a circle, after a go cue.

    The target is shown from the start of the trial; the ``go_cue`` observation switches from 0 to
    1 at the go time. The desired position (see :meth:`Task.cost`) is the start before the cue and
    the target after it. Catch trials show a target but never give the cue (hold the start).

    Training: uniform random direction, go time uniform on the dt grid within ``go_cue_range``,
    a ``catch_trial_fraction`` of catch trials. Evaluation suite (``{"suite": "eval"}``, size
    ``n_targets``): target ``i`` at angle ``2 pi i / n_targets`` (counter-clockwise from +x), go
    cue at ``eval_go_time``, no catch trial.
    """

    config_class = CentreOutConfig
    config: CentreOutConfig
    has_go_cue = True
    target_relative = True

    def __init__(self, effector: Effector, config: CentreOutConfig | None = None) -> None:
        super().__init__(effector, config)
        cfg = self.config
        lb, ub = self.pos_lower_bound, self.pos_upper_bound
        if cfg.centre_joint_pos is None:
            centre = 0.5 * (lb + ub)
        else:
            centre = torch.tensor(cfg.centre_joint_pos, dtype=torch.float64)
            lb, ub = lb.double(), ub.double()
            if centre.shape != (self.dof,) or bool(((centre < lb) | (centre > ub)).any()):
                raise ValueError(
                    f"centre_joint_pos must be {self.dof} values within "
                    f"[{lb.tolist()}, {ub.tolist()}]; got {cfg.centre_joint_pos!r}"
                )
        self.register_buffer("centre_joint_pos", centre)
        self.eval_size = cfg.n_targets
        self.go_low = self.steps(cfg.go_cue_range[0], "go_cue_range[0]")
        self.go_high = self.steps(cfg.go_cue_range[1], "go_cue_range[1]")

    def sample_train(self, batch_size: int, generator: torch.Generator) -> TaskState:
        """Training episodes: see :meth:`Task.sample_train`."""
        ref = self._ref
        kw = {"generator": generator, "dtype": ref.dtype, "device": ref.device}
        angle = 2 * math.pi * torch.rand(batch_size, **kw)
        go = torch.randint(
            self.go_low, self.go_high + 1, (batch_size,), generator=generator, device=ref.device
        )
        catch = torch.rand(batch_size, **kw) < self.config.catch_trial_fraction
        return self._state(angle, go, catch)

    def sample_eval(self) -> TaskState:
        """The evaluation suite: see :meth:`Task.sample_eval`."""
        """Training episodes: see :meth:`Task.sample_train`."""
        ref = self._ref
        n = self.config.n_targets
        angle = 2 * math.pi * torch.arange(n, dtype=ref.dtype, device=ref.device) / n
        go = torch.full((n,), self.steps(self.config.eval_go_time, "eval_go_time"), device=ref.device)
        return self._state(angle, go, torch.zeros(n, dtype=torch.bool, device=ref.device))

    def _state(self, angle: torch.Tensor, go: torch.Tensor, catch: torch.Tensor) -> TaskState:
        b = angle.shape[0]
        q0 = self.centre_joint_pos.to(self._ref).expand(b, self.dof).clone()
        start = self.fingertip(q0)
        direction = torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)
        go_step = torch.where(catch, torch.full_like(go, NEVER), go)
        return TaskState(
            joint_pos=q0,
            start=start,
            target=start + self.config.reach_distance * direction,
            go_step=go_step,
            catch=catch,
        )
