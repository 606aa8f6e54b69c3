"""Kistemaker Hill-type muscles with a rigid or a compliant tendon.

MotorNet's ``RigidTendonHillMuscle`` and ``CompliantTendonHillMuscle``.

Equations of Kistemaker, van Soest & Bobbert (2006), "Is equilibrium point control feasible for
fast goal-directed single-joint movements?", J Neurophysiol 95:2898-2912,
doi:10.1152/jn.00983.2005, as used by Kistemaker, Wong & Gribble (2010), J Neurophysiol
104:2985-2994, doi:10.1152/jn.00483.2010, with MotorNet 0.3.0's constants: force-length width
0.66, ``k_pe = 1 / (1.66 - l0_pe / l0_ce)^2``, tendon stiffness ``k_se = 1 / 0.04^2`` (4 % strain
at ``F_max``), eccentric asymptote slope ``s_as = 0.001``, ``q_crit = 0.3``, ``vmax = 10 l0_ce``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..state import Geometry, MuscleState
from .base import Muscle, _per_muscle

S_AS = 0.001  # slope of the eccentric force-velocity asymptote (normalised units)
FL_WIDTH_SQ = 0.66**2  # squared width of the parabolic force-length curve
K_SE = 1.0 / 0.04**2  # tendon stiffness: f_se = K_SE * strain^2 (F_max at 4 % strain)
Q_CRIT = 0.3  # activation below which b_rel decreases (Kistemaker 2006, App. A)
MIN_FL = 0.01  # lower bound of the active force-length factor
_KPE_LIMIT = 1.66  # k_pe = 1 / (1.66 - normalized_slack_muscle_length)^2


def force_length(l_n: torch.Tensor) -> torch.Tensor:
    """Active force-length factor ``max(1 - (l_n - 1)^2 / 0.66^2, 0.01)`` of a normalised length."""
    return (1.0 - (l_n - 1.0) ** 2 / FL_WIDTH_SQ).clamp(min=MIN_FL)


def _hill_constants(a: torch.Tensor, f_l: torch.Tensor, l_n: torch.Tensor):
    """``a_rel``, ``b_rel`` and the concentric slope ``d0 = dF/dv_n`` at ``v_n = 0``."""
    a_rel = torch.where(l_n > 1.0, 0.41 * f_l, torch.full_like(f_l, 0.41))
    b_low = 5.2 * (1.0 - 0.9 * (a - Q_CRIT) / (0.005 - Q_CRIT)) ** 2
    b_rel = torch.where(a < Q_CRIT, b_low, torch.full_like(a, 5.2))
    d0 = a * (f_l + a_rel) / b_rel
    return a_rel, b_rel, d0


def _parse_slack(name: str, value: float | Sequence[float], n: int) -> torch.Tensor:
    t = _per_muscle(name, value, n)
    if bool((t >= _KPE_LIMIT).any()):
        raise ValueError(f"{name} must be < {_KPE_LIMIT} (k_pe = 1/(1.66 - {name})^2); got {value!r}")
    return t


class RigidTendonHillMuscle(Muscle):
    """Rigid-tendon Kistemaker Hill muscle (MotorNet ``RigidTendonHillMuscle``).

    With ``l = max(l_MT - l0_se, 0)``, ``l_n = l / l0_ce`` and ``v_n = v_MT / vmax``
    (``vmax = 10 l0_ce`` m/s):

    * passive: ``f_pe = k_pe max((l - l0_pe) / l0_ce, 0)^2``, ``l0_pe = nsl * l0_ce``, not capped;
    * force-length: ``f_l = max(1 - (l_n - 1)^2 / 0.66^2, 0.01)``;
    * ``a_rel = 0.41 f_l`` if ``l_n > 1`` else ``0.41``; ``b_rel = 5.2`` for ``a >= 0.3``, else
      ``5.2 (1 - 0.9 (a - 0.3) / (0.005 - 0.3))^2``;
    * concentric (``v_n < 0``), Hill's hyperbola:
      ``F_act = (v_n a a_rel + a f_l b_rel) / (b_rel - v_n)``;
    * eccentric (``v_n >= 0``), Kistemaker 2006's hyperbola with slope ``2 d0`` at ``v_n = 0``
      (``d0 = a (f_l + a_rel) / b_rel``, the concentric slope) and asymptote slope ``s_as``;
      evaluated as ``(h (3 v D - 2 h - s_as v) + s_as D v^2) / (v D - h)`` with ``h = a f_l / 2``,
      ``D = s_as - 2 d0``, which is MotorNet's ``p1/p2/p3`` form multiplied through by ``D``
      (equal wherever MotorNet's is finite, and finite at ``D = 0``);
    * ``F = (max(F_act, 0) + f_pe) F_max``.

    Like MotorNet, at very low activation on the flat part of ``f_l`` (e.g. ``a = 0.001``,
    ``f_l = 0.01``) ``D > 0`` and the eccentric branch has a pole at ``v_n = h / D`` (a few cm/s);
    it is kept for parity.

    Args:
        max_isometric_force: ``(M,)`` or scalar, N.
        optimal_fibre_length: ``(M,)`` or scalar, m (``l0_ce``).
        tendon_slack_length: ``(M,)`` or scalar, m (``l0_se``).
        n_muscles: Number of muscles if every parameter is a scalar.
        normalized_slack_muscle_length: ``l0_pe / l0_ce`` (scalar or ``(M,)``), in ``(0, 1.66)``.
        min_activation: Lower bound of activation, in ``(0, 1)`` (the eccentric branch is 0/0 at
            ``a = 0, v = 0``).
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
        normalized_slack_muscle_length: float | Sequence[float] = 1.4,
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
        if not self.min_activation > 0.0:
            raise ValueError(f"min_activation must be > 0 for {type(self).__name__}; got {min_activation!r}")
        nsl = _parse_slack("normalized_slack_muscle_length", normalized_slack_muscle_length, self.n_muscles)
        self.register_buffer("slack_fibre_length", nsl * self.optimal_fibre_length)  # l0_pe, m
        self.register_buffer("passive_stiffness", 1.0 / (_KPE_LIMIT - nsl) ** 2)  # k_pe
        self.vmax = 10.0 * self.optimal_fibre_length

    def _params(self, x: torch.Tensor):
        return (
            self.max_isometric_force.to(x),
            self.optimal_fibre_length.to(x),
            self.tendon_slack_length.to(x),
            self.slack_fibre_length.to(x),
            self.passive_stiffness.to(x),
            self.vmax.to(x),
        )

    def compute(
        self, activation: torch.Tensor, fibre_length: torch.Tensor, geometry: Geometry
    ) -> MuscleState:
        """Muscle outputs; ``fibre_length`` is ignored (derived from the geometry).

        Args:
            activation: ``(B, M)``; clipped to ``[min_activation, 1]`` as in MotorNet.
            fibre_length: ``(B, M)`` m, unused.
            geometry: Musculotendon length ``(B, M)`` m and velocity ``(B, M)`` m/s.

        Returns:
            :class:`MuscleState` with ``fibre_length = max(l_MT - l0_se, 0)`` m,
            ``fibre_velocity = v_MT`` m/s, ``force`` and ``passive_force`` in N.
        """
        l_mt, v_mt = geometry.musculotendon_length, geometry.musculotendon_velocity
        f_max, l0_ce, l0_se, l0_pe, k_pe, vmax = self._params(l_mt)
        a = self.clip_activation(activation)
        length = (l_mt - l0_se).clamp(min=0.0)
        l_n = length / l0_ce
        v_n = v_mt / vmax
        f_pe = k_pe * ((length - l0_pe) / l0_ce).clamp(min=0.0) ** 2
        f_l = force_length(l_n)
        a_rel, b_rel, d0 = _hill_constants(a, f_l, l_n)
        fa = a * f_l
        # Each branch sees only its own side of v_n = 0: the unused one stays finite (no NaN grads).
        v_c = v_n.clamp(max=0.0)
        conc = (v_c * a * a_rel + fa * b_rel) / (b_rel - v_c)
        v_e = v_n.clamp(min=0.0)
        h = 0.5 * fa
        dd = S_AS - 2.0 * d0
        ecc = (h * (3.0 * v_e * dd - 2.0 * h - S_AS * v_e) + S_AS * dd * v_e**2) / (v_e * dd - h)
        f_act = torch.where(v_n < 0.0, conc, ecc).clamp(min=0.0)
        return MuscleState(
            activation=a,
            fibre_length=length,
            fibre_velocity=v_mt,
            force=(f_act + f_pe) * f_max,
            passive_force=f_pe * f_max,
        )


class CompliantTendonHillMuscle(RigidTendonHillMuscle):
    """Compliant-tendon Kistemaker Hill muscle (MotorNet ``CompliantTendonHillMuscle``).

    The fibre length ``l`` (m) is a state variable. With tendon length ``l_T = l_MT - l``:

    * tendon: ``f_se = min(k_se max((l_T - l0_se) / l0_se, 0)^2, 1)``, ``k_se = 625``;
    * passive fibre: ``f_pe`` as in :class:`RigidTendonHillMuscle` (not capped);
    * contractile force ``F_act = max(f_se - f_pe, 0)`` (force balance with a massless fibre);
    * fibre velocity: the Kistemaker force-velocity relation of :class:`RigidTendonHillMuscle`
      solved for ``v_n`` at ``F_act`` (Hill's hyperbola for ``F_act < a f_l``, the eccentric
      quadratic's larger root otherwise), returned in m/s as ``v_n * vmax``;
    * ``force = f_se F_max`` (the tendon force), ``passive_force = f_pe F_max``.

    Differences from MotorNet 0.3.0, on purpose:

    * Units (its bug 1): MotorNet integrates the *normalised* length with the velocity
      normalised by ``vmax = 10 l0_ce`` (``l_n += dt v_n``), so the fibre moves 10x slower than
      the velocity it reports. Here ``compute`` returns ``dl/dt`` in m/s and the effector integrates
      ``l += dt * fibre_velocity``; reported and actual rates agree.
    * ``a_rel`` branch (its bug 7): MotorNet's compliant class uses ``a_rel = 0.41 f_l`` for
      ``l_n < 1``, the opposite of its rigid class; here both use ``l_n > 1``, so the compliant
      and rigid models share one force-velocity relation.
    * Activation is clipped to ``[min_activation, 1]`` and ``min_activation >= 0.002`` is
      required: then ``s_as - 2 d0 < 0`` for every ``f_l >= 0.01``, the eccentric root is unique
      and ``compute`` is finite for every input. The quadratic is solved in the cancellation-free
      form for either sign of its linear coefficient.

    Stiffness: a short tendon makes the fibre ODE stiff. In an isometric test with arm26's rigid
    parameters, ``-d v / d l`` reaches about 1.7e4 1/s at equilibrium for ``l0_se = 0.039`` m and far
    more in transients near a slack tendon, so explicit schemes need steps of ~70 us there. With the
    ``compliant_arm26`` preset's tendons (``l0_se >= 0.07`` m) classical RK4 at 0.2 ms sub-steps
    (its default) stays within 4e-4 rad of 0.05 ms sub-steps over 0.6 s of random co-contraction,
    while 1 ms sub-steps drift by over 1 rad.

    Like MotorNet, ``F_act = 0`` (slack tendon) gives a finite shortening velocity
    ``v_n = -b_rel f_l / a_rel``; nothing stops a fibre whose path stays shorter than ``l0_se``
    from shortening further.

    Args:
        max_isometric_force: ``(M,)`` or scalar, N.
        optimal_fibre_length: ``(M,)`` or scalar, m (``l0_ce``).
        tendon_slack_length: ``(M,)`` or scalar, m (``l0_se``).
        n_muscles: Number of muscles if every parameter is a scalar.
        normalized_slack_muscle_length: ``l0_pe / l0_ce``, in ``(0, 1.66)``.
        min_activation: Lower bound of activation, in ``[0.002, 1)``.
        tau_activation: s.
        tau_deactivation: s.
    """

    compliant_tendon = True

    def __init__(
        self,
        max_isometric_force: float | Sequence[float],
        optimal_fibre_length: float | Sequence[float],
        tendon_slack_length: float | Sequence[float],
        *,
        n_muscles: int | None = None,
        normalized_slack_muscle_length: float | Sequence[float] = 1.4,
        min_activation: float = 0.01,
        tau_activation: float = 0.015,
        tau_deactivation: float = 0.05,
    ) -> None:
        if not 0.002 <= float(min_activation) < 1.0:
            raise ValueError(
                f"min_activation must be in [0.002, 1) for CompliantTendonHillMuscle (below it the "
                f"eccentric force-velocity branch has a pole); got {min_activation!r}"
            )
        super().__init__(
            max_isometric_force,
            optimal_fibre_length,
            tendon_slack_length,
            n_muscles=n_muscles,
            normalized_slack_muscle_length=normalized_slack_muscle_length,
            min_activation=min_activation,
            tau_activation=tau_activation,
            tau_deactivation=tau_deactivation,
        )

    def initial_fibre_length(self, geometry: Geometry) -> torch.Tensor:
        """MotorNet's piecewise initial fibre length ``(B, M)`` m (passive equilibrium).

        ``0.001 l0_ce`` if ``l_MT < l0_se`` (all slack taken by the tendon); ``l_MT - l0_se`` if
        ``l_MT < l0_se + l0_pe`` (neither element stretched); otherwise the length at which the
        quadratic tendon and passive-fibre forces are equal,
        ``l = (sqrt(k_se) l0_ce (l_MT - l0_se) + sqrt(k_pe) l0_pe l0_se)
        / (sqrt(k_se) l0_ce + sqrt(k_pe) l0_se)``, which is MotorNet's closed form with the
        removable singularity at ``k_pe l0_se^2 = k_se l0_ce^2`` cancelled. MotorNet returns -1
        for ``l_MT < 0``; here such lengths fall in the first branch.
        """
        l_mt = geometry.musculotendon_length
        _, l0_ce, l0_se, l0_pe, k_pe, _ = self._params(l_mt)
        r_se, r_pe = math.sqrt(K_SE) * l0_ce, k_pe.sqrt() * l0_se
        balanced = (r_se * (l_mt - l0_se) + r_pe * l0_pe) / (r_se + r_pe)
        unstretched = torch.where(l_mt < l0_se + l0_pe, l_mt - l0_se, balanced)
        return torch.where(l_mt < l0_se, 0.001 * l0_ce, unstretched)

    def compute(
        self, activation: torch.Tensor, fibre_length: torch.Tensor, geometry: Geometry
    ) -> MuscleState:
        """Muscle outputs and fibre velocity at a given fibre length.

        Args:
            activation: ``(B, M)``; clipped to ``[min_activation, 1]``.
            fibre_length: ``(B, M)`` m, contractile-element length (state variable).
            geometry: Musculotendon length ``(B, M)`` m (the velocity is not used).

        Returns:
            :class:`MuscleState` with ``fibre_velocity = dl/dt`` in m/s, ``force`` (tendon force)
            and ``passive_force`` in N.
        """
        l_mt = geometry.musculotendon_length
        f_max, l0_ce, l0_se, l0_pe, k_pe, vmax = self._params(l_mt)
        a = self.clip_activation(activation)
        l_n = fibre_length / l0_ce
        strain = ((l_mt - fibre_length - l0_se) / l0_se).clamp(min=0.0)
        f_se = (K_SE * strain**2).clamp(max=1.0)
        f_pe = k_pe * ((fibre_length - l0_pe) / l0_ce).clamp(min=0.0) ** 2
        f_ce = (f_se - f_pe).clamp(min=0.0)
        f_l = force_length(l_n)
        a_rel, b_rel, d0 = _hill_constants(a, f_l, l_n)
        fa = a * f_l
        # Concentric: invert Hill's hyperbola (denominator >= a a_rel > 0).
        f_c = torch.minimum(f_ce, fa)
        v_conc = b_rel * (f_c - fa) / (f_c + a * a_rel)
        # Eccentric: larger root of s v^2 + bq v + cq = 0 (Kistemaker 2006 eccentric hyperbola).
        f_e = torch.maximum(f_ce, fa)
        h = 0.5 * fa
        p1 = h / (2.0 * d0 - S_AS)  # > 0 because 2 d0 > s_as (min_activation >= 0.002)
        bq = p1 * S_AS + 3.0 * h - f_e
        cq = p1 * (2.0 * h - f_e)  # <= 0, so root >= |bq| and bq + root > 0 (bq > 0 if cq = 0)
        root = (bq * bq - 4.0 * S_AS * cq).sqrt()
        v_ecc = torch.where(bq > 0.0, -2.0 * cq / (bq + root), (root - bq) / (2.0 * S_AS))
        v_n = torch.where(f_ce < fa, v_conc, v_ecc)
        return MuscleState(
            activation=a,
            fibre_length=fibre_length,
            fibre_velocity=v_n * vmax,
            force=f_se * f_max,
            passive_force=f_pe * f_max,
        )
