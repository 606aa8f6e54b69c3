"""A planar chain of ``n`` rigid links (shoulder, elbow, wrist, ...), horizontal, without gravity.

Equations of motion of an open planar chain (e.g. Spong, Hutchinson & Vidyasagar 2006, "Robot
Modeling and Control", ch. 7, Lagrange's equations). With absolute link angles ``theta = S q``
(``S`` the lower-triangular matrix of ones, ``q`` the joint angles relative to the proximal link)
and, for link ``k``, ``a_ki = l_i`` if ``i < k``, ``a_kk = c_k`` (centre-of-mass distance), else 0,
the kinetic energy is ``T = 1/2 theta'^T M_abs theta'`` with

    ``M_abs_ij = G_ij cos(theta_i - theta_j) + delta_ij I_i``,  ``G_ij = sum_k m_k a_ki a_kj``,

and Lagrange's equations in absolute angles read ``M_abs theta'' + (G o sin(theta_i - theta_j))
theta'^2 = Q_abs``. In joint coordinates (generalised forces ``tau = S^T Q_abs``):

    ``S^T M_abs S q'' = tau + J^T F_endpoint - viscosity q' - S^T (G o sin Delta) theta'^2``.

The arm lies in the horizontal plane, so gravity does no work (as in MotorNet's arm26, Codol et al.
2024, doi:10.7554/eLife.88591). With ``n = 2`` this is :class:`~.skeletons.TwoDofArm`'s model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .._validation import check_positive
from .skeletons import Skeleton


def _per_link(name: str, values: Sequence[float], n: int) -> tuple[float, ...]:
    vals = tuple(values)
    if len(vals) != n:
        raise ValueError(f"{name} must have one value per link ({n}); got {list(vals)}")
    return tuple(check_positive(f"{name}[{i}]", v) for i, v in enumerate(vals))


#: Up to this many links the mass matrix is solved by an unrolled Cholesky factorisation (elementwise
#: operations that inductor fuses; its linalg kernels fall back to an unfused proxy executor).
UNROLLED_SOLVE_MAX_LINKS = 4


def _solve_spd(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve ``a x = b`` for symmetric positive definite ``a`` ``(B, n, n)`` and ``b`` ``(B, n)``."""
    n = a.shape[-1]
    if n > UNROLLED_SOLVE_MAX_LINKS:
        return torch.linalg.solve(a, b)
    low: list[list[torch.Tensor]] = [[] for _ in range(n)]  # low[i][k], k <= i: Cholesky factor
    for j in range(n):
        diag = torch.sqrt(a[:, j, j] - sum((low[j][k] ** 2 for k in range(j)), torch.zeros_like(b[:, 0])))
        low[j].append(diag)
        for i in range(j + 1, n):
            dot = sum((low[i][k] * low[j][k] for k in range(j)), torch.zeros_like(b[:, 0]))
            low[i].append((a[:, i, j] - dot) / diag)
    y: list[torch.Tensor] = []
    for i in range(n):
        y.append((b[:, i] - sum((low[i][k] * y[k] for k in range(i)), torch.zeros_like(b[:, 0]))) / low[i][i])
    x: list[torch.Tensor] = [torch.zeros_like(b[:, 0])] * n
    for i in reversed(range(n)):
        acc = sum((low[k][i] * x[k] for k in range(i + 1, n)), torch.zeros_like(b[:, 0]))
        x[i] = (y[i] - acc) / low[i][i]
    return torch.stack(x, dim=-1)


class NLinkArm(Skeleton):
    """Planar arm of ``n`` links joined by revolute joints; the first joint is at the origin.

    ``joint_pos`` ``(B, n)`` rad: the first angle from the world x axis, every other one relative to
    the previous link, counter-clockwise positive. Body ``k`` (``1..n``) of
    :meth:`point_kinematics` is link ``k``, its frame at its proximal joint with x along the link.

    Args:
        lengths: ``n`` link lengths, m.
        masses: ``n`` link masses, kg.
        com: ``n`` distances proximal joint -> link centre of mass, m.
        inertias: ``n`` link moments of inertia about their centre of mass (vertical axis), kg m^2.
        pos_lower_bound: ``n`` default lower joint limits, rad.
        pos_upper_bound: ``n`` default upper joint limits, rad.
        viscosity: Joint viscosity, N m s/rad.

    Attributes:
        n_links: ``n`` (also ``dof``).
    """

    space_dim = 2

    def __init__(
        self,
        lengths: Sequence[float],
        masses: Sequence[float],
        com: Sequence[float],
        inertias: Sequence[float],
        pos_lower_bound: Sequence[float],
        pos_upper_bound: Sequence[float],
        viscosity: float = 0.0,
    ) -> None:
        super().__init__()
        n = len(tuple(lengths))
        if n < 1:
            raise ValueError(f"lengths must list at least one link; got {list(lengths)}")
        self.n_links = self.dof = n
        self.lengths = _per_link("lengths", lengths, n)
        self.masses = _per_link("masses", masses, n)
        self.com = _per_link("com", com, n)
        self.inertias = _per_link("inertias", inertias, n)
        for name, b in (("pos_lower_bound", pos_lower_bound), ("pos_upper_bound", pos_upper_bound)):
            if len(tuple(b)) != n:
                raise ValueError(f"{name} must have one value per joint ({n}); got {list(b)}")
        self.default_pos_lower_bound = tuple(float(v) for v in pos_lower_bound)
        self.default_pos_upper_bound = tuple(float(v) for v in pos_upper_bound)
        self.viscosity = float(viscosity)
        lever = torch.zeros(n, n, dtype=torch.float64)  # a_ki
        for k in range(n):
            lever[k, :k] = torch.tensor(self.lengths[:k], dtype=torch.float64)
            lever[k, k] = self.com[k]
        m = torch.tensor(self.masses, dtype=torch.float64)
        self.register_buffer("coupling", torch.einsum("k,ki,kj->ij", m, lever, lever), persistent=False)
        self.register_buffer("inertia", torch.diag(torch.tensor(self.inertias, dtype=torch.float64)), False)
        self.register_buffer("length", torch.tensor(self.lengths, dtype=torch.float64), persistent=False)
        self.register_buffer("chain", torch.tril(torch.ones(n, n, dtype=torch.float64)), persistent=False)

    # ------------------------------------------------------------------ kinematics
    def _theta(self, joint_pos: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(joint_pos, dim=-1)  # (B, n) absolute link angles

    def segments(self, joint_pos):  # noqa: D102
        theta = self._theta(joint_pos)
        ln = self.length.to(joint_pos)
        steps = torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1) * ln[:, None]  # (B, n, 2)
        origin = joint_pos.new_zeros(joint_pos.shape[0], 1, 2)
        return torch.cat([origin, origin + torch.cumsum(steps, dim=1)], dim=1)

    def fingertip_position(self, joint_pos):  # noqa: D102
        return self.segments(joint_pos)[:, -1]

    def fingertip(self, joint_pos, joint_vel):  # noqa: D102
        theta, thd = self._theta(joint_pos), self._theta(joint_vel)
        ln = self.length.to(joint_pos)
        pos = (torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1) * ln[:, None]).sum(1)
        w = ln * thd
        vel = torch.stack([-(w * torch.sin(theta)).sum(-1), (w * torch.cos(theta)).sum(-1)], dim=-1)
        return pos, vel

    def point_kinematics(self, joint_pos, body, coords):  # noqa: D102
        dtype, n = joint_pos.dtype, self.n_links
        coords = coords.to(dtype=dtype, device=joint_pos.device)
        theta = self._theta(joint_pos)  # (B, n)
        chain = self.segments(joint_pos)  # (B, n + 1, 2); chain[:, k - 1] is link k's origin
        link = (body - 1).clamp(min=0)  # (P,) 0-based link of each point (0 for world points too)
        on_bone = (body > 0).to(dtype)  # (P,)
        th = theta[:, link]  # (B, P)
        c, s = torch.cos(th), torch.sin(th)
        cx, cy = coords[:, 0], coords[:, 1]
        rx, ry = c * cx - s * cy, s * cx + c * cy  # R(theta) c
        origin = chain[:, link]  # (B, P, 2)
        pos = torch.stack(
            [cx + on_bone * (origin[..., 0] + rx - cx), cy + on_bone * (origin[..., 1] + ry - cy)], dim=-1
        )
        # d pos / d theta_i: l_i (-sin, cos) theta_i for every link i proximal to the point's link
        # (it moves the link's origin), (-ry, rx) for the point's own link, 0 for distal links.
        idx = torch.arange(n, device=body.device)
        proximal = ((idx[None, :] < link[:, None]) & (body[:, None] > 0)).to(dtype)  # (P, n)
        own = ((idx[None, :] == link[:, None]) & (body[:, None] > 0)).to(dtype)  # (P, n)
        ln = self.length.to(joint_pos)
        perp = torch.stack([-torch.sin(theta), torch.cos(theta)], dim=-2) * ln  # (B, 2, n)
        own_d = torch.stack([-ry, rx], dim=-1)  # (B, P, 2)
        jac_theta = perp[:, None] * proximal[None, :, None, :] + own_d[..., None] * own[None, :, None, :]
        jac = jac_theta @ self.chain.to(joint_pos)  # d/dq_j = sum_{i >= j} d/dtheta_i
        return pos, jac

    # ------------------------------------------------------------------ dynamics
    def mass_matrix(self, joint_pos: torch.Tensor) -> torch.Tensor:
        """Joint-space inertia matrix ``S^T M_abs S`` ``(B, n, n)`` kg m^2 at ``joint_pos`` ``(B, n)`` rad."""
        theta = self._theta(joint_pos)
        delta = theta[:, :, None] - theta[:, None, :]
        m_abs = self.coupling.to(joint_pos) * torch.cos(delta) + self.inertia.to(joint_pos)
        s = self.chain.to(joint_pos)
        return s.T @ m_abs @ s

    def acceleration(self, joint_pos, joint_vel, generalised_force, endpoint_load):  # noqa: D102
        theta, thd = self._theta(joint_pos), self._theta(joint_vel)
        delta = theta[:, :, None] - theta[:, None, :]
        g = self.coupling.to(joint_pos)
        s = self.chain.to(joint_pos)
        m_abs = g * torch.cos(delta) + self.inertia.to(joint_pos)
        centripetal = ((g * torch.sin(delta)) @ (thd * thd)[..., None])[..., 0]  # (B, n), abs coords
        ln = self.length.to(joint_pos)
        fx, fy = endpoint_load[:, 0:1], endpoint_load[:, 1:2]
        q_endpoint = ln * (-torch.sin(theta) * fx + torch.cos(theta) * fy)  # J_theta^T F, (B, n)
        rhs_abs = q_endpoint - centripetal
        rhs = generalised_force - self.viscosity * joint_vel + (rhs_abs[:, None, :] @ s)[:, 0]
        return _solve_spd(s.T @ m_abs @ s, rhs)

    def extra_repr(self) -> str:  # noqa: D102
        return f"n_links={self.n_links}, lengths={self.lengths}"
