"""Rigid-tendon Thelen (2003) Hill muscle (MotorNet ``RigidTendonHillMuscleThelen``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..state import Geometry, MuscleState
from .base import Muscle, _per_muscle

K_PE = 5.0  # exponential shape factor of the passive curve (Thelen 2003, eq. 3)
STRAIN_PE = 0.6  # passive strain at F_max (Thelen 2003, young adults)
GAMMA = 0.45  # width of the Gaussian active force-length curve (Thelen 2003, eq. 4)
A_F = 0.25  # force-velocity shape factor (Thelen 2003, eq. 6)
F_LEN = 1.4  # maximum normalised lengthening force (Thelen 2003, eq. 6)
MIN_FIBRE_LENGTH = 0.001  # m, lower clamp of the fibre length (as MotorNet)


class RigidTendonHillMuscleThelen(Muscle):
    """Rigid-tendon Hill muscle with the curves of Thelen (2003), doi:10.1115/1.1531112.

    With ``l = max(l_MT - l0_se, 0.001)`` m, ``v = v_MT`` m/s and ``vmax = 10 l0_ce`` m/s:

    * passive (eq. 3):
      ``f_pe = max((exp(k_pe (l - l0_pe) / (0.6 l0_ce)) - 1) / (exp(k_pe) - 1), 0)``
      with ``k_pe = 5`` and ``l0_pe = nsl * l0_ce``;
    * active force-length (eq. 4): ``f_l = exp(-(l / l0_ce - 1)^2 / 0.45)``;
    * force-velocity (eq. 6 solved for force, ``A_f = 0.25``, ``f_len = 1.4``):
      ``v <= 0``: ``f_v = A_f (3 a vmax + 4 v + vmax) / (A_f vmax (3 a + 1) - 4 v)``;
      ``v > 0``: ``f_v = (c (3 a + 1) + 8 f_len (A_f + 1) v) / (c (3 a + 1) + 8 (A_f + 1) v)``
      with ``c = A_f vmax (f_len - 1)``; ``f_v = 1`` at ``v = 0``, ``f_v -> f_len`` as
      ``v -> inf`` and ``f_v = 0`` at ``v = -vmax (1 + 3 a) / 4``; ``f_v`` is clipped at 0;
    * ``F = (a f_l f_v + f_pe) F_max``, ``passive_force = f_pe F_max``.

    Args:
        max_isometric_force: ``(M,)`` or scalar, N.
        optimal_fibre_length: ``(M,)`` or scalar, m (``l0_ce``).
        tendon_slack_length: ``(M,)`` or scalar, m (``l0_se``).
        n_muscles: Number of muscles if every parameter is a scalar.
        normalized_slack_muscle_length: ``l0_pe / l0_ce`` (scalar or ``(M,)``), > 0.
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
        normalized_slack_muscle_length: float | Sequence[float] = 1.0,
        min_activation: float = 0.001,
        tau_activation: float = 0.015,
        tau_deactivation: float = 0.05,
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
        nsl = _per_muscle("normalized_slack_muscle_length", normalized_slack_muscle_length, self.n_muscles)
        self.register_buffer("slack_fibre_length", nsl * self.optimal_fibre_length)  # l0_pe, m
        self.vmax = 10.0 * self.optimal_fibre_length

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
        l_mt, v = geometry.musculotendon_length, geometry.musculotendon_velocity
        f_max = self.max_isometric_force.to(l_mt)
        l0_ce = self.optimal_fibre_length.to(l_mt)
        l0_se = self.tendon_slack_length.to(l_mt)
        l0_pe = self.slack_fibre_length.to(l_mt)
        vmax = self.vmax.to(l_mt)
        a = self.clip_activation(activation)
        length = (l_mt - l0_se).clamp(min=MIN_FIBRE_LENGTH)
        f_pe = ((torch.exp(K_PE / STRAIN_PE * (length - l0_pe) / l0_ce) - 1.0) / math.expm1(K_PE)).clamp(
            min=0.0
        )
        f_l = torch.exp(-((length / l0_ce - 1.0) ** 2) / GAMMA)
        a3p1 = 3.0 * a + 1.0
        # Each branch sees only its own side of v = 0, so the unused one stays finite.
        v_c = v.clamp(max=0.0)
        f_conc = A_F * (a3p1 * vmax + 4.0 * v_c) / (A_F * vmax * a3p1 - 4.0 * v_c)
        v_e = v.clamp(min=0.0)
        c = A_F * vmax * (F_LEN - 1.0)
        f_ecc = (c * a3p1 + 8.0 * F_LEN * (A_F + 1.0) * v_e) / (c * a3p1 + 8.0 * (A_F + 1.0) * v_e)
        f_v = torch.where(v <= 0.0, f_conc, f_ecc).clamp(min=0.0)
        return MuscleState(
            activation=a,
            fibre_length=length,
            fibre_velocity=v,
            force=(a * f_l * f_v + f_pe) * f_max,
            passive_force=f_pe * f_max,
        )
