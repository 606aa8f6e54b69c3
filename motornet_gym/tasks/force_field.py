"""Centre-out reaching in a velocity-dependent (curl) force field, with force-channel probe trials."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..dynamics import Effector, EffectorState
from .base import check_fraction, check_non_negative
from .centre_out import CentreOut, CentreOutConfig
from .state import LoadedTaskState, TaskState, tree_map

_DIRECTIONS = ("cw", "ccw")


@dataclass(frozen=True, kw_only=True)
class ForceFieldConfig(CentreOutConfig):
    """Configuration of :class:`ForceField`.

    Attributes:
        field_strength: ``b`` in N s/m (>= 0; 0 = null field). Default 13 N s/m, the curl field of
            Thoroughman & Shadmehr 2000 (Nature 407:742, doi:10.1038/35037588).
        field_direction: ``"cw"``: ``B = b [[0, 1], [-1, 0]]`` (force = velocity rotated 90 deg
            clockwise); ``"ccw"``: ``B = b [[0, -1], [1, 0]]``.
        field_matrix: Any 2x2 ``B`` (N s/m), row-major ``((Bxx, Bxy), (Byx, Byy))``; overrides
            ``field_strength`` and ``field_direction`` when given.
        channel_trial_fraction: Fraction of training trials run in a force channel instead of the
            field (probe trials).
        channel_stiffness: Channel wall stiffness, N/m.
        channel_damping: Channel wall damping, N s/m. Force channels (Scheidt et al. 2000,
            J Neurophysiol 84:853, doi:10.1152/jn.2000.84.2.853) are stiff springs across the
            start-target line; 5000 N/m and 100 N s/m hold a 20 N lateral push to 4 mm and keep
            explicit Euler at dt = 0.01 s stable for endpoint masses >= ~0.4 kg (arm26's smallest
            effective endpoint mass is ~0.85 kg; the point mass is 1 kg).
    """

    field_strength: float = 13.0
    field_direction: str = "cw"
    field_matrix: tuple[tuple[float, float], tuple[float, float]] | None = None
    channel_trial_fraction: float = 0.0
    channel_stiffness: float = 5000.0
    channel_damping: float = 100.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_non_negative("field_strength", self.field_strength)
        if self.field_direction not in _DIRECTIONS:
            raise ValueError(f"field_direction must be one of {_DIRECTIONS}; got {self.field_direction!r}")
        if self.field_matrix is not None:
            try:
                m = tuple(tuple(float(v) for v in row) for row in self.field_matrix)
            except (TypeError, ValueError):
                m = ()
            if len(m) != 2 or any(len(r) != 2 for r in m) or not all(math.isfinite(v) for r in m for v in r):
                raise ValueError(
                    f"field_matrix must be a 2x2 nested sequence of finite numbers (N s/m); "
                    f"got {self.field_matrix!r}"
                )
            object.__setattr__(self, "field_matrix", m)
        check_fraction("channel_trial_fraction", self.channel_trial_fraction)
        check_non_negative("channel_stiffness", self.channel_stiffness)
        check_non_negative("channel_damping", self.channel_damping)


class ForceField(CentreOut):
    """Centre-out reaching in a velocity-dependent force field ``F = B v`` (fingertip velocity).

    The field acts over the whole trial. On channel trials the field is replaced by a force
    channel along the start-target line: ``F = -(k e + c v_perp) n`` with ``n`` the unit normal of
    the line, ``e`` the lateral deviation (m) and ``v_perp`` the lateral velocity; the channel force
    (``info["endpoint_load"]``) measures the lateral force the controller produces (a probe of
    feedforward adaptation).

    Evaluation suite (size ``2 n_targets``): the ``n_targets`` centre-out trials in the field,
    then the same targets in the channel.
    """

    config_class = ForceFieldConfig
    config: ForceFieldConfig

    def __init__(self, effector: Effector, config: ForceFieldConfig | None = None) -> None:
        super().__init__(effector, config)
        cfg = self.config
        if cfg.field_matrix is not None:
            field = torch.tensor(cfg.field_matrix, dtype=torch.float64)
        else:
            sign = 1.0 if cfg.field_direction == "cw" else -1.0
            field = sign * cfg.field_strength * torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
        # Kept in float64 and cast to the task's dtype where used.
        self.register_buffer("field_matrix", field)
        self.eval_size = 2 * cfg.n_targets

    def _with_field(self, ts: TaskState, channel: torch.Tensor) -> LoadedTaskState:
        b = channel.shape[0]
        load = self.no_loads(b)._replace(
            field=self.field_matrix.to(self._ref).expand(b, 2, 2).clone(), channel=channel
        )
        return self.with_loads(ts, load)

    def sample_train(self, batch_size: int, generator: torch.Generator) -> LoadedTaskState:
        """Training episodes: see :meth:`Task.sample_train`."""
        ts = super().sample_train(batch_size, generator)
        ref = self._ref
        u = torch.rand(batch_size, generator=generator, dtype=ref.dtype, device=ref.device)
        return self._with_field(ts, u < self.config.channel_trial_fraction)

    def sample_eval(self) -> LoadedTaskState:
        """The evaluation suite: see :meth:`Task.sample_eval`."""
        """Training episodes: see :meth:`Task.sample_train`."""
        one = super().sample_eval()
        n = self.config.n_targets
        two = tree_map(lambda t: torch.cat([t, t]), one)
        channel = torch.arange(2 * n, device=self._ref.device) >= n
        return self._with_field(two, channel)

    def loads(
        self, task_state: LoadedTaskState, effector_state: EffectorState, step: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``B v`` in the field, the channel force on channel trials, plus the background load."""
        ld = task_state.load
        vel = effector_state.fingertip_vel
        field_force = (ld.field @ vel[:, :, None])[:, :, 0]
        line = task_state.target - task_state.start
        unit = line / torch.sqrt((line * line).sum(-1, keepdim=True) + 1e-24)
        normal = torch.stack([-unit[:, 1], unit[:, 0]], dim=-1)
        lateral = ((effector_state.fingertip_pos - task_state.start) * normal).sum(-1)
        lateral_vel = (vel * normal).sum(-1)
        k, c = self.config.channel_stiffness, self.config.channel_damping
        channel_force = -(k * lateral + c * lateral_vel)[:, None] * normal
        force = torch.where(ld.channel[:, None], channel_force, field_force)
        return force + ld.background, None
