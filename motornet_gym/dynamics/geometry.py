"""Musculotendon geometry: path lengths, their rates and moment arms, vectorised over muscles.

Three models:

* :class:`PathGeometry` — each muscle is a polyline of fixation points attached to bodies. Length is
  the sum of segment lengths; the moment arm is ``sum_s (dP_s/dq)^T u_s`` with ``u_s`` the unit
  vector along segment ``s`` (Sherman, Seth & Delp 2013, "What is a moment arm?",
  doi:10.1115/DETC2013-13633). Segments are summed per muscle with one matrix product (no loop).
* :class:`PolynomialGeometry` — the lumped arm26 model of MotorNet (Codol et al. 2024), with
  ``l = a0 + sum_j (a1_j + a2_j d_j) d_j``, ``d = q - a3``.
* :class:`ConstantMomentArmGeometry` — fixed moment arms and zero path length/velocity (MotorNet's
  ``FreePointMass24`` and ``Reacher``).

All return a :class:`~motornet_gym.dynamics.state.Geometry` with ``moment_arm = d l / d q``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .skeletons import Skeleton
from .state import Geometry


class MuscleGeometry(nn.Module):
    """Base class: ``forward(joint_pos (B, D), joint_vel (B, D)) -> Geometry``."""

    n_muscles: int

    def forward(self, joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> Geometry:  # noqa: D102
        raise NotImplementedError


class PathGeometry(MuscleGeometry):
    """Muscle paths made of fixation points on the skeleton's bodies.

    Args:
        skeleton: The skeleton whose bodies the points are attached to.
        paths: One entry per muscle, a sequence of ``(body, (x, y))`` fixation points (at least two),
            ``body`` 0 for the world, 1.. for the skeleton's bodies; coordinates in m in the body's
            frame (first axis along the bone from its proximal joint).
    """

    def __init__(self, skeleton: Skeleton, paths: Sequence[Sequence[tuple[int, Sequence[float]]]]):
        super().__init__()
        if len(paths) == 0:
            raise ValueError("paths must list at least one muscle; got an empty sequence")
        body, coords, seg_start, seg_muscle = [], [], [], []
        for m, path in enumerate(paths):
            if len(path) < 2:
                raise ValueError(f"paths[{m}] must have at least 2 fixation points; got {len(path)}")
            for k, (b, xy) in enumerate(path):
                if len(xy) != skeleton.space_dim:
                    raise ValueError(
                        f"paths[{m}][{k}] coordinates must have {skeleton.space_dim} entries; got {xy!r}"
                    )
                if k > 0:
                    seg_start.append(len(body) - 1)
                    seg_muscle.append(m)
                body.append(int(b))
                coords.append([float(v) for v in xy])
        self.skeleton = skeleton
        self.n_muscles = len(paths)
        seg = torch.tensor(seg_start, dtype=torch.long)
        self.register_buffer("body", torch.tensor(body, dtype=torch.long), persistent=False)
        self.register_buffer("coords", torch.tensor(coords, dtype=torch.float64), persistent=False)
        self.register_buffer("seg_start", seg, persistent=False)
        self.register_buffer("seg_end", seg + 1, persistent=False)
        to_muscle = torch.zeros(len(seg_start), self.n_muscles, dtype=torch.float64)
        to_muscle[torch.arange(len(seg_start)), torch.tensor(seg_muscle)] = 1.0
        self.register_buffer("segment_to_muscle", to_muscle, persistent=False)  # (S, M)

    def forward(self, joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> Geometry:  # noqa: D102
        pos, jac = self.skeleton.point_kinematics(joint_pos, self.body, self.coords)
        vel = torch.einsum("bpcd,bd->bpc", jac, joint_vel)
        dpos = pos[:, self.seg_end] - pos[:, self.seg_start]  # (B, S, 2)
        djac = jac[:, self.seg_end] - jac[:, self.seg_start]  # (B, S, 2, D)
        dvel = vel[:, self.seg_end] - vel[:, self.seg_start]
        seg_len = torch.linalg.vector_norm(dpos, dim=-1)  # (B, S)
        unit = dpos / seg_len[..., None]
        seg_vel = (unit * dvel).sum(-1)
        seg_arm = torch.einsum("bsc,bscd->bsd", unit, djac)  # (B, S, D)
        w = self.segment_to_muscle.to(joint_pos.dtype)
        length = seg_len @ w
        velocity = seg_vel @ w
        moment_arm = torch.einsum("bsd,sm->bdm", seg_arm, w)
        return Geometry(length, velocity, moment_arm)


class PolynomialGeometry(MuscleGeometry):
    """Lumped polynomial geometry (MotorNet ``RigidTendonArm26``; Codol et al. 2024).

    ``d = q - a3``, ``l = a0 + sum_j (a1_j + a2_j d_j) d_j``, ``r_j = a1_j + 2 a2_j d_j``,
    ``v = sum_j r_j q'_j``.

    Args:
        a0: ``(M,)`` m, path length at ``q = a3``.
        a1: ``(D, M)`` m, linear coefficients.
        a2: ``(D, M)`` m/rad, quadratic coefficients.
        a3: ``(D,)`` rad, expansion point.
    """

    def __init__(self, a0: Sequence[float], a1, a2, a3: Sequence[float]):
        super().__init__()
        a0_t = torch.as_tensor(a0, dtype=torch.float64)
        a1_t = torch.as_tensor(a1, dtype=torch.float64)
        a2_t = torch.as_tensor(a2, dtype=torch.float64)
        a3_t = torch.as_tensor(a3, dtype=torch.float64)
        m, d = a0_t.shape[0], a3_t.shape[0]
        if a1_t.shape != (d, m) or a2_t.shape != (d, m):
            raise ValueError(
                f"a1 and a2 must have shape ({d}, {m}); got {tuple(a1_t.shape)} and {tuple(a2_t.shape)}"
            )
        self.n_muscles = m
        self.register_buffer("a0", a0_t, persistent=False)
        self.register_buffer("a1", a1_t, persistent=False)
        self.register_buffer("a2", a2_t, persistent=False)
        self.register_buffer("a3", a3_t, persistent=False)

    def forward(self, joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> Geometry:  # noqa: D102
        dt = joint_pos.dtype
        a1, a2 = self.a1.to(dt), self.a2.to(dt)
        d = (joint_pos - self.a3.to(dt))[:, :, None]  # (B, D, 1)
        length = self.a0.to(dt) + ((a1 + a2 * d) * d).sum(1)
        moment_arm = a1 + 2 * a2 * d  # (B, D, M)
        velocity = (joint_vel[:, :, None] * moment_arm).sum(1)
        return Geometry(length, velocity, moment_arm)


class ConstantMomentArmGeometry(MuscleGeometry):
    """Fixed moment arms ``(D, M)`` m; path length and velocity are zero.

    Args:
        moment_arm: ``(D, M)`` m.
    """

    def __init__(self, moment_arm) -> None:
        super().__init__()
        r = torch.as_tensor(moment_arm, dtype=torch.float64)
        if r.dim() != 2:
            raise ValueError(f"moment_arm must have shape (D, M); got {tuple(r.shape)}")
        self.n_muscles = r.shape[1]
        self.register_buffer("moment_arm", r, persistent=False)

    def forward(self, joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> Geometry:  # noqa: D102
        b = joint_pos.shape[0]
        zeros = joint_pos.new_zeros(b, self.n_muscles)
        r = self.moment_arm.to(joint_pos.dtype).expand(b, -1, -1)
        return Geometry(zeros, zeros, r)
