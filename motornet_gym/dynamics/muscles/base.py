"""Muscle base class: per-muscle parameters and first-order activation dynamics.

One muscle object holds the parameters of all ``M`` muscles of an effector as ``(M,)`` buffers and
computes every muscle at once (no Python loop over muscles).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..._validation import check_positive
from ..state import Geometry, MuscleState


def _per_muscle(name: str, value: float | Sequence[float], n: int) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64)
    if t.dim() == 0:
        t = t.expand(n).clone()
    if t.shape != (n,):
        raise ValueError(f"{name} must be a number or a sequence of {n} numbers; got {value!r}")
    if not bool(torch.isfinite(t).all()) or bool((t <= 0).any()):
        raise ValueError(f"{name} must be finite and > 0 for every muscle; got {value!r}")
    return t


class Muscle(nn.Module):
    """Base class of all muscle models.

    Activation dynamics (Thelen 2003, doi:10.1115/1.1531112; as in MuJoCo and MotorNet): excitation
    ``u`` and activation ``a`` are clipped to ``[min_activation, 1]`` and
    ``da/dt = (u - a) / tau`` with ``tau = tau_activation (0.5 + 1.5 a)`` when ``u > a`` and
    ``tau = tau_deactivation / (0.5 + 1.5 a)`` otherwise.

    Subclasses implement :meth:`compute`. Muscles with a compliant tendon set
    ``compliant_tendon = True``: their fibre length is a state variable integrated with the
    fibre velocity that :meth:`compute` returns.

    Extra state (e.g. fatigue): a model names its own variables in :attr:`extra_state_names`
    (``k`` names); the effector then carries them as ``MuscleState.extra`` ``(B, M, k)`` and every
    integrator advances them with :meth:`extra_state_derivative`. The model starts them with
    :meth:`initial_extra_state`, may bound them in :meth:`clip_extra_state` and reads them in
    :meth:`compute_state` (override it instead of :meth:`compute` to let them act on the force).
    Keep these methods free of Python branches on tensor values, like the rest of the step.

    Args:
        max_isometric_force: ``(M,)`` or scalar, N.
        optimal_fibre_length: ``(M,)`` or scalar, m (``l0_ce``).
        tendon_slack_length: ``(M,)`` or scalar, m (``l0_se``).
        n_muscles: Number of muscles ``M`` (inferred from the first sequence argument if omitted).
        min_activation: Lower bound of activation and excitation.
        tau_activation: Activation time constant, s.
        tau_deactivation: Deactivation time constant, s.

    Attributes:
        vmax: ``(M,)`` m/s, velocity used to normalise fibre velocity for proprioception.
    """

    compliant_tendon: bool = False
    #: Names of the model's extra state variables, one per slot of ``MuscleState.extra[..., k]``.
    extra_state_names: tuple[str, ...] = ()

    def __init__(
        self,
        max_isometric_force: float | Sequence[float],
        optimal_fibre_length: float | Sequence[float] = 1.0,
        tendon_slack_length: float | Sequence[float] = 1.0,
        *,
        n_muscles: int | None = None,
        min_activation: float = 0.0,
        tau_activation: float = 0.015,
        tau_deactivation: float = 0.05,
    ) -> None:
        super().__init__()
        if n_muscles is None:
            for v in (max_isometric_force, optimal_fibre_length, tendon_slack_length):
                if torch.as_tensor(v).dim() == 1:
                    n_muscles = len(v)  # type: ignore[arg-type]
                    break
            else:
                n_muscles = 1
        self.n_muscles = int(n_muscles)
        if not 0.0 <= float(min_activation) < 1.0:
            raise ValueError(f"min_activation must be in [0, 1); got {min_activation!r}")
        self.min_activation = float(min_activation)
        self.tau_activation = check_positive("tau_activation", tau_activation)
        self.tau_deactivation = check_positive("tau_deactivation", tau_deactivation)
        n = self.n_muscles
        self.register_buffer(
            "max_isometric_force", _per_muscle("max_isometric_force", max_isometric_force, n)
        )
        self.register_buffer(
            "optimal_fibre_length", _per_muscle("optimal_fibre_length", optimal_fibre_length, n)
        )
        self.register_buffer(
            "tendon_slack_length", _per_muscle("tendon_slack_length", tendon_slack_length, n)
        )
        self.register_buffer("vmax", torch.ones(n, dtype=torch.float64))

    def clip_activation(self, a: torch.Tensor) -> torch.Tensor:
        """Clip to ``[min_activation, 1]``."""
        return a.clamp(self.min_activation, 1.0)

    def activation_derivative(self, excitation: torch.Tensor, activation: torch.Tensor) -> torch.Tensor:
        """``da/dt`` ``(B, M)`` 1/s for excitation and activation ``(B, M)``."""
        u = self.clip_activation(excitation)
        a = self.clip_activation(activation)
        g = 0.5 + 1.5 * a
        rate = torch.where(u > a, 1.0 / (self.tau_activation * g), g / self.tau_deactivation)
        return (u - a) * rate

    def initial_fibre_length(self, geometry: Geometry) -> torch.Tensor:
        """Fibre length ``(B, M)`` m at rest for the given geometry (used at reset)."""
        return geometry.musculotendon_length - self.tendon_slack_length.to(geometry.musculotendon_length)

    def initial_extra_state(self, activation: torch.Tensor, geometry: Geometry) -> torch.Tensor:
        """Extra state ``(B, M, k)`` at reset, for the initial activation ``(B, M)``; zeros by default."""
        b, m = activation.shape
        return activation.new_zeros(b, m, len(self.extra_state_names))

    def extra_state_derivative(
        self, excitation: torch.Tensor, state: MuscleState, geometry: Geometry
    ) -> torch.Tensor:
        """Time derivative of ``state.extra`` ``(B, M, k)`` (units of the variable per s); 0 by default.

        Args:
            excitation: ``(B, M)`` in [0, 1], held over the step.
            state: The muscle state the derivative is evaluated at (its ``extra`` is a tensor).
            geometry: The musculotendon geometry at that state.
        """
        return torch.zeros_like(state.extra)

    def clip_extra_state(self, extra: torch.Tensor) -> torch.Tensor:
        """Bound ``extra`` ``(B, M, k)`` after each integration step; the identity by default."""
        return extra

    def compute_state(
        self,
        activation: torch.Tensor,
        fibre_length: torch.Tensor,
        extra: torch.Tensor,
        geometry: Geometry,
    ) -> MuscleState:
        """:meth:`compute` with the extra state ``(B, M, k)`` attached (what the effector calls).

        Models whose extra state changes the force override this method.
        """
        return self.compute(activation, fibre_length, geometry)._replace(extra=extra)

    def compute(
        self, activation: torch.Tensor, fibre_length: torch.Tensor, geometry: Geometry
    ) -> MuscleState:
        """Muscle outputs for a given activation ``(B, M)`` and geometry.

        Args:
            activation: ``(B, M)`` in ``[min_activation, 1]``.
            fibre_length: ``(B, M)`` m; used only by compliant-tendon muscles (rigid-tendon muscles
                derive it from the geometry).
            geometry: Musculotendon geometry.

        Returns:
            The full :class:`MuscleState`.
        """
        raise NotImplementedError

    def extra_repr(self) -> str:  # noqa: D102
        return f"n_muscles={self.n_muscles}, min_activation={self.min_activation}"


class ReluMuscle(Muscle):
    """Force proportional to activation: ``F = a F_max`` (MotorNet ``ReluMuscle``).

    There is no force-length, force-velocity or passive term. ``fibre_length`` and ``fibre_velocity``
    are the path length and its rate; ``optimal_fibre_length = vmax = 1`` so that proprioception
    reports raw path lengths (m) and velocities (m/s), as in MotorNet.

    Args:
        max_isometric_force: ``(M,)`` or scalar, N.
        n_muscles: Number of muscles (if ``max_isometric_force`` is a scalar).
        min_activation: Lower bound of activation (default 0).
        tau_activation: s (default 0.015).
        tau_deactivation: s (default 0.05).
    """

    def __init__(
        self,
        max_isometric_force: float | Sequence[float],
        *,
        n_muscles: int | None = None,
        min_activation: float = 0.0,
        tau_activation: float = 0.015,
        tau_deactivation: float = 0.05,
    ) -> None:
        super().__init__(
            max_isometric_force,
            1.0,
            1.0,
            n_muscles=n_muscles,
            min_activation=min_activation,
            tau_activation=tau_activation,
            tau_deactivation=tau_deactivation,
        )

    def initial_fibre_length(self, geometry: Geometry) -> torch.Tensor:  # noqa: D102
        return geometry.musculotendon_length

    def compute(self, activation, fibre_length, geometry):  # noqa: D102
        force = activation * self.max_isometric_force.to(activation)
        return MuscleState(
            activation=activation,
            fibre_length=geometry.musculotendon_length,
            fibre_velocity=geometry.musculotendon_velocity,
            force=force,
            passive_force=torch.zeros_like(force),
        )
