"""Integration schemes for :class:`~motornet_gym.dynamics.effector.Effector`, through one registry.

Each scheme advances an :class:`~motornet_gym.dynamics.state.EffectorState` by ``dt`` seconds with
the excitation and loads held constant. They operate on the effector's continuous state
``x = (q, q', a, l_fibre, extra)`` via three effector methods: ``derivative(state, ...)``,
``assemble(x, muscle_geometry=None)`` and ``apply_limits(x, ...)``.

* ``"euler"`` reproduces MotorNet's update order exactly (Codol et al. 2024,
  doi:10.7554/eLife.88591): the derivatives are evaluated at the stored state (muscle forces as
  stored, moment arms of the current geometry); the muscle state is advanced and its force
  recomputed with the geometry from *before* the step; joint velocities are advanced with the new
  acceleration and positions with the *old* velocity; then joint limits; then the geometry at the
  new joints. It is first order.
* ``"rk4"`` is the classical fourth-order Runge-Kutta scheme on the whole continuous state with
  forces consistent with the geometry at every stage, then activation clipping and joint limits.
  MotorNet's "rk4" is not classical (chained stages, positions advanced with the start-of-step
  velocity), so its trajectories differ from ours by design.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

import torch

from .._validation import check_choice
from .state import EffectorState


class ContinuousState(NamedTuple):
    """The integrated variables.

    Attributes:
        joint_pos: ``(B, D)``.
        joint_vel: ``(B, D)``.
        activation: ``(B, M)``.
        fibre_length: ``(B, M)`` m.
        extra: ``(B, M, k)``, the muscle model's extra state (``MuscleState.extra``).
    """

    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    activation: torch.Tensor
    fibre_length: torch.Tensor
    extra: torch.Tensor


class Integrable(Protocol):
    """What an integrator needs of an effector (:class:`~motornet_gym.dynamics.effector.Effector`)."""

    def continuous(self, s: EffectorState) -> ContinuousState: ...  # noqa: D102

    def derivative(  # noqa: D102
        self,
        s: EffectorState,
        excitation: torch.Tensor,
        endpoint_load: torch.Tensor,
        joint_load: torch.Tensor,
    ) -> ContinuousState: ...

    def apply_limits(self, x: ContinuousState) -> ContinuousState: ...  # noqa: D102

    def assemble(self, x: ContinuousState, muscle_geometry=None) -> EffectorState: ...  # noqa: D102


def _axpy(x: ContinuousState, h: float, k: ContinuousState) -> ContinuousState:
    """``x + h k`` field by field; an empty field (a muscle without extra state) passes through."""
    return ContinuousState(
        **{
            name: xi if xi.numel() == 0 else xi + h * getattr(k, name)  # a shape, not a value: no sync
            for name, xi in x._asdict().items()
        }
    )


def euler_step(
    eff: Integrable,
    s: EffectorState,
    u: torch.Tensor,
    endpoint_load: torch.Tensor,
    joint_load: torch.Tensor,
    dt: float,
) -> EffectorState:
    """One explicit Euler step in MotorNet's order (see module docstring)."""
    x = eff.continuous(s)
    k = eff.derivative(s, u, endpoint_load, joint_load)
    x1 = _axpy(x, dt, k)
    # Positions advance with the old velocity, which _axpy already did (k.joint_pos = q').
    x1 = eff.apply_limits(x1)
    return eff.assemble(x1, muscle_geometry=s.geometry)


def rk4_step(
    eff: Integrable,
    s: EffectorState,
    u: torch.Tensor,
    endpoint_load: torch.Tensor,
    joint_load: torch.Tensor,
    dt: float,
) -> EffectorState:
    """One classical fourth-order Runge-Kutta step on the whole continuous state."""
    x0 = eff.continuous(s)

    def f(x: ContinuousState) -> ContinuousState:
        return eff.derivative(eff.assemble(x), u, endpoint_load, joint_load)

    k1 = f(x0)
    k2 = f(_axpy(x0, dt / 2, k1))
    k3 = f(_axpy(x0, dt / 2, k2))
    k4 = f(_axpy(x0, dt, k3))
    k = ContinuousState(
        **{
            name: a
            if a.numel() == 0
            else (a + 2 * getattr(k2, name) + 2 * getattr(k3, name) + getattr(k4, name)) / 6
            for name, a in k1._asdict().items()
        }
    )
    x1 = eff.apply_limits(_axpy(x0, dt, k))
    return eff.assemble(x1)


class Integrator(NamedTuple):
    """A registered integrator: its name, step function and order of accuracy."""

    name: str
    step: Callable[..., EffectorState]
    order: int


#: Registered integrators by name.
INTEGRATORS: dict[str, Integrator] = {
    "euler": Integrator("euler", euler_step, 1),
    "rk4": Integrator("rk4", rk4_step, 4),
}


def get_integrator(name: str) -> Integrator:
    """Resolve an integrator name (case-insensitive): ``"euler"`` or ``"rk4"``.

    Raises:
        ValueError: If the name is unknown; the message lists the valid names.
    """
    return INTEGRATORS[check_choice("integrator", str(name).lower(), INTEGRATORS)]
