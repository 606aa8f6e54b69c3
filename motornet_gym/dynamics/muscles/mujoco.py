"""Rigid-tendon MuJoCo Hill muscle (MotorNet ``MujocoHillMuscle``).

Curves of MuJoCo's ``muscle`` actuator (MuJoCo documentation, "Muscle actuators",
https://mujoco.readthedocs.io/en/stable/modeling.html#muscles; ``mju_muscleGain`` /
``mju_muscleBias`` in ``engine_util_misc.c``), with MotorNet 0.3.0's additions and units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..state import Geometry, MuscleState
from .base import Muscle, _per_muscle

MIN_FIBRE_LENGTH = 0.001  # m, lower clamp of the fibre length (as MotorNet)
SECOND_BUMP_MAX = 0.95  # upper end of MotorNet's small second force-length bump
SECOND_BUMP_GAIN = 0.15


def _bump(x: torch.Tensor, lo: torch.Tensor, mid: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """MuJoCo's skewed bump: piecewise quadratic, 0 outside ``(lo, hi)``, 1 at ``mid``."""
    left, right = 0.5 * (lo + mid), 0.5 * (mid + hi)
    u = torch.where(
        x < left,
        (x - lo) / (left - lo),
        torch.where(
            x < mid,
            (mid - x) / (mid - left),
            torch.where(x < right, (x - mid) / (right - mid), (hi - x) / (hi - right)),
        ),
    )
    half_sq = 0.5 * u * u
    y = torch.where((x < left) | (x >= right), half_sq, 1.0 - half_sq)
    return torch.where((x <= lo) | (x >= hi), torch.zeros_like(y), y)


class MujocoHillMuscle(Muscle):
    """Rigid-tendon Hill muscle with MuJoCo's force-length-velocity curves.

    With ``L = max(l_MT - l0_se, 0.001) / l0_ce`` and ``V = v_MT / vmax``:

    * passive, ``b = (1 + lmax) / 2``: 0 for ``L <= 1``; ``0.25 fpmax x^3`` with
      ``x = (L - 1) / (b - 1)`` for ``L <= b``; ``0.25 fpmax (1 + 3 x)`` with
      ``x = (L - b) / (b - 1)`` above (MuJoCo ``mju_muscleBias``);
    * active force-length: ``bump(L; lmin, 1, lmax) + 0.15 bump(L; lmin, (lmin + 0.95) / 2, 0.95)``
      (MuJoCo's bump plus MotorNet's small second bump);
    * force-velocity, ``c = fvmax - 1``: 0 for ``V <= -1``, ``(V + 1)^2`` for ``V <= 0``,
      ``fvmax - (c - V)^2 / c`` for ``V <= c``, ``fvmax`` above;
    * ``F = (a FL FV + passive_forces FP) F_max``, ``passive_force = passive_forces FP F_max``.

    Velocity units: MuJoCo normalises the fibre velocity by ``vmax * L0`` (``vmax`` in optimal
    lengths per second), but MotorNet divides by ``vmax`` alone, i.e. ``vmax = 1.5`` **m/s** for
    every muscle whatever its size (MotorNet bug 8). This class keeps MotorNet's choice for
    parity with MotorNet-trained policies and published results; the ``vmax`` buffer holds this
    absolute velocity, so proprioception also reports ``v_MT / vmax``. For MuJoCo's semantics pass
    ``vmax = 1.5 * optimal_fibre_length`` (per muscle).

    Args:
        max_isometric_force: ``(M,)`` or scalar, N.
        optimal_fibre_length: ``(M,)`` or scalar, m (``l0_ce``).
        tendon_slack_length: ``(M,)`` or scalar, m (``l0_se``).
        n_muscles: Number of muscles if every parameter is a scalar.
        fpmax: Passive force at ``L = b``, in units of ``F_max / 0.25`` as in MuJoCo (> 0). MotorNet
            calls it ``normalized_slack_muscle_length`` (default 1.3).
        lmin: Lower end of the active force-length range, in ``(0, 0.95)``, normalised.
        lmax: Upper end of the active force-length range, > 1, normalised.
        vmax: Velocity scale (see above), m/s, > 0; scalar or ``(M,)``.
        fvmax: Force at saturating lengthening velocity, in units of ``F_max`` (> 1).
        passive_forces: Gain on the passive force, >= 0.
        min_activation: Lower bound of activation, in ``[0, 1)``.
        tau_activation: s.
        tau_deactivation: s.
    """

    def __init__(
        self,
        max_isometric_force: float | Sequence[float],
        optimal_fibre_length: float | Sequence[float],
        tendon_slack_length: float | Sequence[float],
        *,
        n_muscles: int | None = None,
        fpmax: float | Sequence[float] = 1.3,
        lmin: float | Sequence[float] = 0.5,
        lmax: float | Sequence[float] = 1.6,
        vmax: float | Sequence[float] = 1.5,
        fvmax: float | Sequence[float] = 1.2,
        passive_forces: float = 1.0,
        min_activation: float = 0.0,
        tau_activation: float = 0.01,
        tau_deactivation: float = 0.04,
    ) -> None:
        super().__init__(
            max_isometric_force,
            optimal_fibre_length,
            tendon_slack_length,
            n_muscles=n_muscles,
            min_activation=min_activation,
            tau_activation=tau_activation,
            tau_deactivation=tau_deactivation,
        )
        n = self.n_muscles
        values = {"fpmax": fpmax, "lmin": lmin, "lmax": lmax, "vmax": vmax, "fvmax": fvmax}
        t = {k: _per_muscle(k, v, n) for k, v in values.items()}
        for name, bad, expected in (
            ("lmin", t["lmin"] >= SECOND_BUMP_MAX, f"< {SECOND_BUMP_MAX}"),
            ("lmax", t["lmax"] <= 1.0, "> 1"),
            ("fvmax", t["fvmax"] <= 1.0, "> 1"),
        ):
            if bool(bad.any()):
                msg = f"{name} must be {expected} for every muscle; got {values[name]!r}"
                raise ValueError(msg)
        try:
            pf = float(passive_forces)
        except (TypeError, ValueError):
            pf = math.nan
        if not (math.isfinite(pf) and pf >= 0.0):
            raise ValueError(f"passive_forces must be a finite number >= 0; got {passive_forces!r}")
        self.passive_forces = pf
        self.register_buffer("fpmax", t["fpmax"])
        self.register_buffer("lmin", t["lmin"])
        self.register_buffer("lmax", t["lmax"])
        self.register_buffer("fvmax", t["fvmax"])
        self.vmax = t["vmax"]

    def compute(
        self, activation: torch.Tensor, fibre_length: torch.Tensor, geometry: Geometry
    ) -> MuscleState:
        """Muscle outputs; ``fibre_length`` is ignored (derived from the geometry).

        Args:
            activation: ``(B, M)``; clipped to ``[min_activation, 1]`` as in MotorNet.
            fibre_length: ``(B, M)`` m, unused.
            geometry: Musculotendon length ``(B, M)`` m and velocity ``(B, M)`` m/s.

        Returns:
            :class:`MuscleState` with ``fibre_length = max(l_MT - l0_se, 0.001)`` m,
            ``fibre_velocity = v_MT`` m/s, ``force`` and ``passive_force`` in N.
        """
        l_mt, v_mt = geometry.musculotendon_length, geometry.musculotendon_velocity
        f_max = self.max_isometric_force.to(l_mt)
        l0_ce = self.optimal_fibre_length.to(l_mt)
        l0_se = self.tendon_slack_length.to(l_mt)
        lmin, lmax = self.lmin.to(l_mt), self.lmax.to(l_mt)
        fpmax, fvmax = self.fpmax.to(l_mt), self.fvmax.to(l_mt)
        a = self.clip_activation(activation)
        length = (l_mt - l0_se).clamp(min=MIN_FIBRE_LENGTH)
        x_len = length / l0_ce
        x_vel = v_mt / self.vmax.to(l_mt)

        b = 0.5 * (1.0 + lmax)
        x_lo = ((x_len - 1.0) / (b - 1.0)).clamp(min=0.0)
        x_hi = (x_len - b) / (b - 1.0)
        f_p = 0.25 * fpmax * torch.where(x_len <= b, x_lo**3, 1.0 + 3.0 * x_hi)

        one = torch.ones_like(lmin)
        f_l = _bump(x_len, lmin, one, lmax) + SECOND_BUMP_GAIN * _bump(
            x_len, lmin, 0.5 * (lmin + SECOND_BUMP_MAX), SECOND_BUMP_MAX * one
        )

        c = fvmax - 1.0
        f_v = torch.where(
            x_vel <= 0.0,
            (x_vel.clamp(min=-1.0) + 1.0) ** 2,
            torch.where(x_vel <= c, fvmax - (c - x_vel) ** 2 / c, fvmax),
        )
        passive = self.passive_forces * f_p
        return MuscleState(
            activation=a,
            fibre_length=length,
            fibre_velocity=v_mt,
            force=(a * f_l * f_v + passive) * f_max,
            passive_force=passive * f_max,
        )
