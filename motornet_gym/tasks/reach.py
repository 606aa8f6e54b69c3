"""Reach: random start and random target, both uniform in joint space (MotorNet ``RandomTargetReach``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..dynamics import Effector
from .base import Task, TaskConfig
from .state import TaskState


@dataclass(frozen=True, kw_only=True)
class ReachConfig(TaskConfig):
    """Configuration of :class:`Reach`.

    Attributes:
        eval_size: Number of trials of the evaluation suite (a fixed draw, seed ``eval_seed``).
        eval_seed: Seed of the evaluation suite's private generator.
    """

    eval_size: int = 32
    eval_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.eval_size, int) or self.eval_size < 1:
            raise ValueError(f"eval_size must be an integer >= 1; got {self.eval_size!r}")
        if not isinstance(self.eval_seed, int):
            raise ValueError(f"eval_seed must be an integer; got {self.eval_seed!r}")


class Reach(Task):
    """Reach from a random start to a random target; no go cue (the target is the goal from t = 0).

    Start joints and target joints are drawn uniformly within the effector's joint limits, and the
    target is the fingertip of the target joints, so targets are uniform in joint space, not in
    Cartesian space (as MotorNet's ``RandomTargetReach``; Codol et al. 2024,
    doi:10.7554/eLife.88591). For the point mass, joint space is the Cartesian box [-1, 1]^2 m.

    Evaluation suite (``options={"suite": "eval"}``): ``eval_size`` start/target pairs drawn once
    from a private generator seeded with ``eval_seed`` (on the CPU, so identical on every device).
    """

    config_class = ReachConfig
    config: ReachConfig

    def __init__(self, effector: Effector, config: ReachConfig | None = None) -> None:
        super().__init__(effector, config)
        self.eval_size = self.config.eval_size

    def sample_train(self, batch_size: int, generator: torch.Generator) -> TaskState:
        """Training episodes: see :meth:`Task.sample_train`."""
        q0 = self.uniform_joint_pos(batch_size, generator)
        q1 = self.uniform_joint_pos(batch_size, generator)
        return self._state(q0, q1)

    def sample_eval(self) -> TaskState:
        """The evaluation suite: see :meth:`Task.sample_eval`."""
        """Training episodes: see :meth:`Task.sample_train`."""
        gen = torch.Generator(device="cpu").manual_seed(self.config.eval_seed)
        lb, ub = self.pos_lower_bound.cpu(), self.pos_upper_bound.cpu()
        u = torch.rand(2, self.eval_size, self.dof, generator=gen, dtype=torch.float64)
        q = (lb.double() + (ub - lb).double() * u).to(self._ref)
        return self._state(q[0], q[1])

    def _state(self, q0: torch.Tensor, q1: torch.Tensor) -> TaskState:
        b = q0.shape[0]
        tips = self.fingertip(torch.cat([q0, q1]))  # one batch of small ops instead of two
        return TaskState(
            joint_pos=q0,
            start=tips[:b],
            target=tips[b:],
            go_step=torch.zeros(b, dtype=torch.int64, device=q0.device),
            catch=torch.zeros(b, dtype=torch.bool, device=q0.device),
        )
