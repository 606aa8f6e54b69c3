"""Rigid-body skeletons: a 2-D point mass and a planar two-joint arm.

A skeleton knows its mass properties and kinematics only. It maps generalised forces to
accelerations and joint states to Cartesian positions; muscles and geometry live elsewhere.
The planar chain of any number of links is :class:`~motornet_gym.dynamics.planar_arm.NLinkArm`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import check_positive


class Skeleton(nn.Module):
    """Base class. Subclasses set ``dof``, ``space_dim`` and the default position bounds.

    Attributes:
        dof: Number of degrees of freedom ``D``.
        space_dim: Dimension of the Cartesian workspace (2).
        default_pos_lower_bound: ``D`` lower joint limits (rad or m).
        default_pos_upper_bound: ``D`` upper joint limits (rad or m).
    """

    dof: int = 2
    space_dim: int = 2
    default_pos_lower_bound: tuple[float, ...] = (-1.0, -1.0)
    default_pos_upper_bound: tuple[float, ...] = (1.0, 1.0)

    def acceleration(
        self,
        joint_pos: torch.Tensor,
        joint_vel: torch.Tensor,
        generalised_force: torch.Tensor,
        endpoint_load: torch.Tensor,
    ) -> torch.Tensor:
        """Joint acceleration ``(B, D)`` from generalised force ``(B, D)`` and endpoint force ``(B, 2)`` N."""
        raise NotImplementedError

    def fingertip(
        self, joint_pos: torch.Tensor, joint_vel: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Cartesian endpoint position ``(B, 2)`` m and velocity ``(B, 2)`` m/s."""
        raise NotImplementedError

    def fingertip_position(self, joint_pos: torch.Tensor) -> torch.Tensor:
        """Cartesian endpoint position ``(B, 2)`` m only (cheaper than :meth:`fingertip`)."""
        return self.fingertip(joint_pos, torch.zeros_like(joint_pos))[0]

    def segments(self, joint_pos: torch.Tensor) -> torch.Tensor:
        """The skeleton as a chain of points, for drawing (renderers use only this).

        Args:
            joint_pos: ``(B, D)``.

        Returns:
            ``(B, K + 1, 2)`` m: the base, then the far end of each of the ``K`` rigid links in
            order, the last point being the fingertip. A skeleton without links (a point mass)
            returns ``K = 0``: the single point where it is.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement segments(joint_pos) -> (B, K + 1, 2) to be drawn"
        )

    def point_kinematics(
        self, joint_pos: torch.Tensor, body: torch.Tensor, coords: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """World position and joint Jacobian of points fixed to bodies.

        Args:
            joint_pos: ``(B, D)``.
            body: ``(P,)`` integer body index of each point (0 = world).
            coords: ``(P, 2)`` m, coordinates of each point in its body's frame.

        Returns:
            ``pos`` ``(B, P, 2)`` m and ``jac`` ``(B, P, 2, D)`` = ``d pos / d joint_pos``.
        """
        raise NotImplementedError


class PointMass(Skeleton):
    """A point mass moving in the plane, with no gravity and no friction.

    The joint coordinates are the Cartesian position (m); ``acceleration = (F_gen + F_endpoint) / m``.

    Args:
        mass: Mass in kg.
    """

    dof = 2
    space_dim = 2
    default_pos_lower_bound = (-1.0, -1.0)
    default_pos_upper_bound = (1.0, 1.0)

    def __init__(self, mass: float = 1.0) -> None:
        super().__init__()
        self.mass = check_positive("mass", mass)

    def acceleration(self, joint_pos, joint_vel, generalised_force, endpoint_load):  # noqa: D102
        return (generalised_force + endpoint_load) / self.mass

    def fingertip(self, joint_pos, joint_vel):  # noqa: D102
        return joint_pos, joint_vel

    def segments(self, joint_pos):  # noqa: D102
        return joint_pos[:, None, :]

    def point_kinematics(self, joint_pos, body, coords):  # noqa: D102
        moving = (body != 0).to(joint_pos.dtype)  # (P,)
        pos = coords.to(joint_pos) + moving[:, None] * joint_pos[:, None, :]
        eye = torch.eye(2, dtype=joint_pos.dtype, device=joint_pos.device)
        jac = (moving[:, None, None] * eye).expand(joint_pos.shape[0], -1, -1, -1)
        return pos, jac


class TwoDofArm(Skeleton):
    """Planar two-link arm (shoulder and elbow), horizontal, no gravity.

    Equations of motion ``M(q) q'' = tau + J^T F_endpoint - C(q, q')`` with the inertia matrix and
    Coriolis terms of a two-link chain (e.g. Li & Todorov 2004; parameter values of the MotorNet arm,
    Codol et al. 2024, eLife, doi:10.7554/eLife.88591). ``q = (shoulder, elbow)``, the elbow angle
    relative to the upper arm; the shoulder is at the origin.

    Args:
        m1: Upper-arm mass (kg).
        m2: Forearm mass (kg).
        l1g: Distance shoulder -> upper-arm centre of mass (m).
        l2g: Distance elbow -> forearm centre of mass (m).
        i1: Upper-arm inertia about its centre of mass (kg m^2).
        i2: Forearm inertia about its centre of mass (kg m^2).
        l1: Upper-arm length (m).
        l2: Forearm length (m).
        viscosity: Joint viscosity (N m s/rad), added to the Coriolis vector.
        pos_lower_bound: Default joint lower limits (rad).
        pos_upper_bound: Default joint upper limits (rad).
    """

    dof = 2
    space_dim = 2

    def __init__(
        self,
        m1: float = 1.864572,
        m2: float = 1.534315,
        l1g: float = 0.180496,
        l2g: float = 0.181479,
        i1: float = 0.013193,
        i2: float = 0.020062,
        l1: float = 0.309,
        l2: float = 0.26,
        viscosity: float = 0.0,
        pos_lower_bound: tuple[float, float] = (0.0, 0.0),
        pos_upper_bound: tuple[float, float] = (math.radians(140), math.radians(160)),
    ) -> None:
        super().__init__()
        for name, v in dict(m1=m1, m2=m2, l1g=l1g, l2g=l2g, i1=i1, i2=i2, l1=l1, l2=l2).items():
            check_positive(name, v)
        self.m1, self.m2, self.l1g, self.l2g = float(m1), float(m2), float(l1g), float(l2g)
        self.i1, self.i2, self.l1, self.l2 = float(i1), float(i2), float(l1), float(l2)
        self.viscosity = float(viscosity)
        self.default_pos_lower_bound = tuple(float(v) for v in pos_lower_bound)
        self.default_pos_upper_bound = tuple(float(v) for v in pos_upper_bound)
        # M11 = c11 + m11 cos q2, M12 = c12 + m12 cos q2, M22 = c22.
        self._c11 = m1 * l1g**2 + i1 + m2 * (l2g**2 + l1**2) + i2
        self._c12 = m2 * l2g**2 + i2
        self._m11 = 2 * m2 * l1 * l2g
        self._m12 = m2 * l1 * l2g

    def _jacobian(self, q: torch.Tensor) -> tuple[torch.Tensor, ...]:
        q1, q12 = q[:, 0], q[:, 0] + q[:, 1]
        s1, c1, s12, c12 = torch.sin(q1), torch.cos(q1), torch.sin(q12), torch.cos(q12)
        j11 = -self.l1 * s1 - self.l2 * s12
        j12 = -self.l2 * s12
        j21 = self.l1 * c1 + self.l2 * c12
        j22 = self.l2 * c12
        return j11, j12, j21, j22

    def acceleration(self, joint_pos, joint_vel, generalised_force, endpoint_load):  # noqa: D102
        qd1, qd2 = joint_vel[:, 0], joint_vel[:, 1]
        s2, c2 = torch.sin(joint_pos[:, 1]), torch.cos(joint_pos[:, 1])
        h = self._m12 * s2
        cor1 = -h * (2 * qd1 + qd2) * qd2 + self.viscosity * qd1
        cor2 = h * qd1 * qd1 + self.viscosity * qd2
        j11, j12, j21, j22 = self._jacobian(joint_pos)
        fx, fy = endpoint_load[:, 0], endpoint_load[:, 1]
        r1 = generalised_force[:, 0] + j11 * fx + j21 * fy - cor1
        r2 = generalised_force[:, 1] + j12 * fx + j22 * fy - cor2
        m11 = self._c11 + self._m11 * c2
        m12 = self._c12 + self._m12 * c2
        m22 = self._c12
        inv_det = 1.0 / (m11 * m22 - m12 * m12)
        a1 = (m22 * r1 - m12 * r2) * inv_det
        a2 = (m11 * r2 - m12 * r1) * inv_det
        return torch.stack([a1, a2], dim=-1)

    def fingertip(self, joint_pos, joint_vel):  # noqa: D102
        pos = self.fingertip_position(joint_pos)
        j11, j12, j21, j22 = self._jacobian(joint_pos)
        qd1, qd2 = joint_vel[:, 0], joint_vel[:, 1]
        vel = torch.stack([j11 * qd1 + j12 * qd2, j21 * qd1 + j22 * qd2], dim=-1)
        return pos, vel

    def segments(self, joint_pos):  # noqa: D102
        q1, q12 = joint_pos[:, 0], joint_pos[:, 0] + joint_pos[:, 1]
        elbow = torch.stack([self.l1 * torch.cos(q1), self.l1 * torch.sin(q1)], dim=-1)
        hand = elbow + torch.stack([self.l2 * torch.cos(q12), self.l2 * torch.sin(q12)], dim=-1)
        return torch.stack([torch.zeros_like(elbow), elbow, hand], dim=1)

    def fingertip_position(self, joint_pos):  # noqa: D102
        q1, q12 = joint_pos[:, 0], joint_pos[:, 0] + joint_pos[:, 1]
        return torch.stack(
            [
                self.l1 * torch.cos(q1) + self.l2 * torch.cos(q12),
                self.l1 * torch.sin(q1) + self.l2 * torch.sin(q12),
            ],
            dim=-1,
        )

    def point_kinematics(self, joint_pos, body, coords):  # noqa: D102
        # A point with coordinates c in the frame of a bone whose absolute angle is theta and whose
        # origin is o sits at o + R(theta) c; bone 1 (upper arm) has theta = q1 and o = 0, bone 2
        # (forearm) has theta = q1 + q2 and o = elbow; bone 0 is the world.
        dtype, device = joint_pos.dtype, joint_pos.device
        coords = coords.to(dtype=dtype, device=device)
        q1 = joint_pos[:, 0:1]  # (B, 1)
        on1 = (body == 1).to(dtype)
        on2 = (body == 2).to(dtype)
        on_bone = on1 + on2
        theta = q1 * on1 + (q1 + joint_pos[:, 1:2]) * on2  # (B, P)
        c, s = torch.cos(theta), torch.sin(theta)
        cx, cy = coords[:, 0], coords[:, 1]
        rx = c * cx - s * cy  # R(theta) c
        ry = s * cx + c * cy
        elbow_x = self.l1 * torch.cos(q1)
        elbow_y = self.l1 * torch.sin(q1)
        world = 1.0 - on_bone
        x = world * cx + on_bone * rx + on2 * elbow_x
        y = world * cy + on_bone * ry + on2 * elbow_y
        pos = torch.stack([x, y], dim=-1)
        # d(R c)/d theta = (-ry, rx); the elbow moves with q1 only.
        dx_dq1 = on_bone * -ry + on2 * -elbow_y
        dy_dq1 = on_bone * rx + on2 * elbow_x
        dx_dq2 = on2 * -ry
        dy_dq2 = on2 * rx
        jac = torch.stack(
            [torch.stack([dx_dq1, dx_dq2], dim=-1), torch.stack([dy_dq1, dy_dq2], dim=-1)], dim=-2
        )
        return pos, jac
