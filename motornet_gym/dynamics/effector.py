"""Effector: a skeleton driven by muscles through a musculotendon geometry.

``Effector.step(state, excitation) -> state`` is a pure function of its inputs: it never mutates
the state it is given and the module holds only constants.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._validation import check_batch_tensor, check_dtype, check_positive
from .geometry import MuscleGeometry
from .integrators import ContinuousState, Integrator, get_integrator
from .muscles import Muscle
from .skeletons import Skeleton
from .state import EffectorState, Geometry


class Effector(nn.Module):
    """A muscle-driven skeleton.

    Args:
        skeleton: The rigid-body model.
        muscle: One muscle object holding all ``M`` muscles.
        geometry: Maps joint state to musculotendon lengths, velocities and moment arms.
        dt: Time step of :meth:`step`, s.
        n_ministeps: Integration sub-steps per :meth:`step` (each ``dt / n_ministeps`` long).
        integrator: ``"euler"`` (MotorNet's scheme, default) or ``"rk4"`` (classical); see
            :mod:`motornet_gym.dynamics.integrators`.
        damping: Joint damping, N m s/rad (or N s/m for the point mass).
        pos_lower_bound: ``D`` joint lower limits; defaults to the skeleton's.
        pos_upper_bound: ``D`` joint upper limits; defaults to the skeleton's.
        vel_bound: Joint speed limit (absolute), rad/s or m/s.
        muscle_names: Optional names, one per muscle.
        dtype: Floating dtype of the constants (``torch.get_default_dtype()`` if ``None``). Build in
            float64 for float64 work: converting a float32 effector with ``.double()`` keeps the
            float32-rounded constants.

    Attributes:
        n_muscles: ``M``.
        dof: ``D``.
    """

    def __init__(
        self,
        skeleton: Skeleton,
        muscle: Muscle,
        geometry: MuscleGeometry,
        *,
        dt: float = 0.01,
        n_ministeps: int = 1,
        integrator: str = "euler",
        damping: float = 0.0,
        pos_lower_bound: Sequence[float] | None = None,
        pos_upper_bound: Sequence[float] | None = None,
        vel_bound: float = 1000.0,
        muscle_names: Sequence[str] | None = None,
        dtype: torch.dtype | str | None = None,
    ) -> None:
        super().__init__()
        if geometry.n_muscles != muscle.n_muscles:
            raise ValueError(f"geometry has {geometry.n_muscles} muscles but muscle has {muscle.n_muscles}")
        self.skeleton = skeleton
        self.muscle = muscle
        self.geometry = geometry
        self.dt = check_positive("dt", dt)
        if not isinstance(n_ministeps, int) or n_ministeps < 1:
            raise ValueError(f"n_ministeps must be an integer >= 1; got {n_ministeps!r}")
        self.n_ministeps = n_ministeps
        self.integrator: Integrator = get_integrator(integrator)
        self.damping = float(damping)
        self.n_muscles = muscle.n_muscles
        self.dof = skeleton.dof
        lb = skeleton.default_pos_lower_bound if pos_lower_bound is None else pos_lower_bound
        ub = skeleton.default_pos_upper_bound if pos_upper_bound is None else pos_upper_bound
        lb_t = torch.as_tensor(lb, dtype=torch.float64)
        ub_t = torch.as_tensor(ub, dtype=torch.float64)
        if lb_t.shape != (self.dof,) or ub_t.shape != (self.dof,) or bool((lb_t >= ub_t).any()):
            raise ValueError(
                f"pos_lower_bound and pos_upper_bound must be {self.dof} numbers with lower < upper; "
                f"got {list(lb)} and {list(ub)}"
            )
        self.register_buffer("pos_lower_bound", lb_t)
        self.register_buffer("pos_upper_bound", ub_t)
        self.vel_bound = check_positive("vel_bound", vel_bound)
        names = [f"muscle_{i}" for i in range(self.n_muscles)] if muscle_names is None else list(muscle_names)
        if len(names) != self.n_muscles:
            raise ValueError(f"muscle_names must have {self.n_muscles} entries; got {len(names)}")
        self.muscle_names = tuple(names)
        dtype = check_dtype("dtype", dtype) or torch.get_default_dtype()
        self.to(dtype)

    # ------------------------------------------------------------------ public API
    @property
    def minidt(self) -> float:
        """Integration sub-step, s."""
        return self.dt / self.n_ministeps

    def initial_state(self, joint_pos: torch.Tensor, joint_vel: torch.Tensor | None = None) -> EffectorState:
        """State at rest activation for the given joint configuration.

        Args:
            joint_pos: ``(B, D)`` rad (arm) or m (point mass), inside the position bounds.
            joint_vel: ``(B, D)``; zeros if omitted.

        Returns:
            The effector state; muscles at ``min_activation`` and forces consistent with the
            geometry.

        Raises:
            ValueError: On a wrong shape, a non-finite value or a position outside the bounds.
        """
        q = self.check_joint_pos(joint_pos)
        if joint_vel is None:
            qd = torch.zeros_like(q)
        else:
            qd = check_batch_tensor("joint_vel", joint_vel, self.dof).to(q).expand_as(q)
        return self.initial_state_unchecked(q, qd)

    def check_joint_pos(self, joint_pos: torch.Tensor) -> torch.Tensor:
        """``joint_pos`` ``(B, D)`` validated (shape, finite, inside the position bounds).

        Raises:
            ValueError: Naming the offending batch index and joint.
        """
        q = check_batch_tensor("joint_pos", joint_pos, self.dof)
        lb, ub = self.pos_lower_bound.to(q), self.pos_upper_bound.to(q)
        outside = (q < lb) | (q > ub)
        if bool(outside.any()):
            b, j = torch.nonzero(outside)[0].tolist()
            raise ValueError(
                f"joint_pos must lie within [{lb.tolist()}, {ub.tolist()}]; got {q[b].tolist()} "
                f"at batch index {b} (joint {j})"
            )
        return q

    def initial_state_unchecked(self, joint_pos: torch.Tensor, joint_vel: torch.Tensor) -> EffectorState:
        """:meth:`initial_state` without validation (``(B, D)`` each), free of host syncs."""
        geom = self.geometry(joint_pos, joint_vel)
        a = torch.full_like(geom.musculotendon_length, self.muscle.min_activation)
        lf = self.muscle.initial_fibre_length(geom)
        extra = self.muscle.initial_extra_state(a, geom)
        return self.assemble(ContinuousState(joint_pos, joint_vel, a, lf, extra), muscle_geometry=geom)

    def step(
        self,
        state: EffectorState,
        excitation: torch.Tensor,
        endpoint_load: torch.Tensor | None = None,
        joint_load: torch.Tensor | None = None,
    ) -> EffectorState:
        """Advance the state by ``dt`` with excitation and loads held constant.

        Args:
            state: Current state (not modified).
            excitation: ``(B, M)`` in [0, 1]; values are clipped to ``[min_activation, 1]``.
            endpoint_load: ``(B, 2)`` or ``(1, 2)`` N, force applied at the fingertip.
            joint_load: ``(B, D)`` or ``(1, D)`` N m, generalised force applied at the joints.

        Returns:
            The new state.

        Raises:
            ValueError: On a wrong shape or a non-finite excitation or load.
        """
        b = state.joint_pos.shape[0]
        u = check_batch_tensor("excitation", excitation, self.n_muscles, b)
        ep = None if endpoint_load is None else check_batch_tensor("endpoint_load", endpoint_load, 2, b)
        jl = None if joint_load is None else check_batch_tensor("joint_load", joint_load, self.dof, b)
        return self.step_unchecked(state, u, ep, jl)

    def step_unchecked(
        self,
        state: EffectorState,
        excitation: torch.Tensor,
        endpoint_load: torch.Tensor | None = None,
        joint_load: torch.Tensor | None = None,
    ) -> EffectorState:
        """:meth:`step` without input validation: the hot path for callers that validated already.

        Free of host synchronisation and data-dependent branches, so it can be ``torch.compile``-d
        with ``fullgraph=True``.
        """
        q = state.joint_pos
        ep = q.new_zeros(1, 2) if endpoint_load is None else endpoint_load.to(q)
        jl = q.new_zeros(1, self.dof) if joint_load is None else joint_load.to(q)
        u = excitation.to(q)
        h = self.minidt
        for _ in range(self.n_ministeps):
            state = self.integrator.step(self, state, u, ep, jl, h)
        return state

    # ------------------------------------------------------------------ integrator interface
    def continuous(self, s: EffectorState) -> ContinuousState:
        """The integrated variables of a state."""
        return ContinuousState(
            s.joint_pos, s.joint_vel, s.muscle.activation, s.muscle.fibre_length, s.muscle.extra
        )

    def derivative(
        self,
        s: EffectorState,
        excitation: torch.Tensor,
        endpoint_load: torch.Tensor,
        joint_load: torch.Tensor,
    ) -> ContinuousState:
        """Time derivative of the continuous state, using the forces and moment arms stored in ``s``.

        Generalised force ``tau = -sum_m F_m r_m + joint_load - damping q'`` (MotorNet's sign
        convention: a muscle with a negative moment arm drives the joint positive).
        """
        tau = -(s.muscle.force[:, None, :] * s.geometry.moment_arm).sum(-1)
        tau = tau + joint_load - self.damping * s.joint_vel
        qdd = self.skeleton.acceleration(s.joint_pos, s.joint_vel, tau, endpoint_load)
        adot = self.muscle.activation_derivative(excitation, s.muscle.activation)
        mus = self.muscle
        # No extra state: no ops on the empty (B, M, 0) tensor (a per-model constant, not a value).
        edot = (
            mus.extra_state_derivative(excitation, s.muscle, s.geometry)
            if mus.extra_state_names
            else s.muscle.extra
        )
        return ContinuousState(s.joint_vel, qdd, adot, s.muscle.fibre_velocity, edot)

    def apply_limits(self, x: ContinuousState) -> ContinuousState:
        """Clip activation (and the muscle's extra state), then apply joint limits in MotorNet's order.

        Clamp the speed, zero the velocity pointing out of a limit that was reached, clamp position.
        """
        lb, ub = self.pos_lower_bound.to(x.joint_pos), self.pos_upper_bound.to(x.joint_pos)
        q, qd = x.joint_pos, x.joint_vel.clamp(-self.vel_bound, self.vel_bound)
        out = ((qd < 0) & (q <= lb)) | ((qd > 0) & (q >= ub))
        qd = torch.where(out, torch.zeros_like(qd), qd)
        q = torch.minimum(torch.maximum(q, lb), ub)
        a = self.muscle.clip_activation(x.activation)
        extra = self.muscle.clip_extra_state(x.extra) if self.muscle.extra_state_names else x.extra
        return ContinuousState(q, qd, a, x.fibre_length, extra)

    def assemble(self, x: ContinuousState, muscle_geometry: Geometry | None = None) -> EffectorState:
        """Build a full state from the continuous variables.

        Args:
            x: Continuous state.
            muscle_geometry: Geometry to compute muscle outputs with; defaults to the geometry at
                ``x`` (the Euler scheme passes the pre-step geometry, as MotorNet does).
        """
        geom = self.geometry(x.joint_pos, x.joint_vel)
        mgeom = geom if muscle_geometry is None else muscle_geometry
        muscle = self.muscle.compute_state(x.activation, x.fibre_length, x.extra, mgeom)
        tip_pos, tip_vel = self.skeleton.fingertip(x.joint_pos, x.joint_vel)
        return EffectorState(x.joint_pos, x.joint_vel, tip_pos, tip_vel, muscle, geom)

    def extra_repr(self) -> str:  # noqa: D102
        return (
            f"n_muscles={self.n_muscles}, dof={self.dof}, dt={self.dt}, "
            f"n_ministeps={self.n_ministeps}, integrator={self.integrator.name!r}"
        )
