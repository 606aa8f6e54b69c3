"""Speed profile and smoothness: speed, its peak, minimum-jerk template and correlation, normalised jerk.

See :mod:`motornet_gym.analysis.metrics` for the array conventions (time-major ``(T, 2)`` or ``(T, B, 2)``
paths in m, *batched* functions, ``nan`` for degenerate trials).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import Scalar, path_array, per_trial, positive

#: Fraction of peak speed that delimits the primary movement for the shape measures (minimum-jerk
#: correlation, normalised jerk, movement time) in the evaluation and the phenomena checks: 10 %, the
#: usual segmentation criterion for noisy reaches (a 5 % window lets the few-cm/s jitter of a noisy
#: hand at rest into the reach: 0.48 vs 0.87 correlation on the same reaches).
MOVEMENT_FRACTION = 0.1


def speed(pos: np.ndarray, dt: float) -> np.ndarray:
    """Tangential speed by second-order finite differences (``np.gradient``), same length as ``pos``.

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)`` with ``T >= 2``, m.
        dt: Sample interval, s.

    Returns:
        ``(T,)`` or ``(T, B)`` speed in m/s.
    """
    p, batched = path_array("pos", pos, min_steps=2)
    v = np.linalg.norm(np.gradient(p, positive("dt", dt), axis=0), axis=-1)
    return v if batched else v[:, 0]


def peak_speed(pos: np.ndarray, dt: float) -> Scalar:
    """Maximum tangential speed, m/s (batched; see :func:`speed`)."""
    v = speed(pos, dt)
    return v.max(0) if v.ndim == 2 else float(v.max())


def time_to_peak_speed(pos: np.ndarray, dt: float) -> Scalar:
    """Time of the (first) maximum tangential speed, s from the first sample (batched)."""
    v = speed(pos, dt)
    k = np.argmax(v, axis=0) * float(dt)
    return k if v.ndim == 2 else float(k)


def _minimum_jerk_shape(tau: np.ndarray) -> np.ndarray:
    """Normalised minimum-jerk speed ``30 tau^2 (1 - tau)^2`` (Flash & Hogan 1985, eq. 2 derivative)."""
    return 30.0 * tau**2 * (1.0 - tau) ** 2


def minimum_jerk_speed(n: int, duration: float, distance: float) -> np.ndarray:
    """Speed profile of the minimum-jerk point-to-point movement.

    ``x(t) = L (10 tau^3 - 15 tau^4 + 6 tau^5)``, ``tau = t / D``, so
    ``v(t) = (L / D) 30 tau^2 (1 - tau)^2`` (Flash & Hogan 1985, doi:10.1523/JNEUROSCI.05-07-01688.1985).

    Args:
        n: Number of samples (>= 2), evenly spaced over ``[0, duration]`` inclusive.
        duration: Movement duration ``D``, s.
        distance: Movement amplitude ``L``, m.

    Returns:
        ``(n,)`` speed in m/s; zero at both ends, peak ``1.875 L / D`` at mid-movement.
    """
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise ValueError(f"n must be an integer >= 2; got {n!r}")
    duration, distance = positive("duration", duration), positive("distance", distance, allow_zero=True)
    return distance / duration * _minimum_jerk_shape(np.linspace(0.0, 1.0, int(n)))


def primary_movement(speed_profile: np.ndarray, fraction: float) -> tuple[int, int]:
    """First and last sample index of the primary movement of one speed profile ``(T,)``.

    The contiguous run of samples around the speed peak whose speed exceeds ``fraction * peak``: the
    onset is the first sample after the last sub-threshold sample before the peak, the offset the last
    sample before the first sub-threshold sample after it (a common movement-segmentation rule, e.g.
    a 5% of peak-velocity criterion).
    """
    s = np.asarray(speed_profile, dtype=float)
    peak = int(np.argmax(s))
    below = s <= fraction * s[peak]
    before = np.flatnonzero(below[:peak])
    after = np.flatnonzero(below[peak:])
    i0 = int(before[-1]) + 1 if before.size else 0
    i1 = peak + int(after[0]) - 1 if after.size else len(s) - 1
    return i0, i1


def minimum_jerk_correlation(pos: np.ndarray, dt: float, onset_speed: float = 0.05) -> Scalar:
    """Pearson correlation of the observed speed profile with the minimum-jerk profile (batched).

    The movement is the primary submovement: the contiguous samples around the speed peak whose speed
    is above ``onset_speed * peak`` (so a slow drift or corrective oscillation after the main reach
    does not stretch it; see :func:`primary_movement`). Its onset and offset times are the linearly
    interpolated threshold crossings. The template is the minimum-jerk profile (Flash & Hogan 1985,
    doi:10.1523/JNEUROSCI.05-07-01688.1985) whose speed is
    above the same fraction of its peak over exactly that interval: its relative speed
    ``16 tau^2 (1 - tau)^2`` crosses ``c = onset_speed`` at ``tau0 = (1 - sqrt(1 - sqrt(c))) / 2``, so
    the window maps to ``tau in [tau0, 1 - tau0]``. A minimum-jerk reach therefore scores 1 for any
    threshold. The template's distance only scales it and leaves the correlation unchanged.

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)`` with ``T >= 2``, m.
        dt: Sample interval, s.
        onset_speed: Threshold as a fraction of peak speed, in ``(0, 1)``.

    Returns:
        Dimensionless ``r`` in ``[-1, 1]``; ``nan`` when the path never moves or the movement spans
        fewer than 3 samples.
    """
    c = float(onset_speed)
    if not 0.0 < c < 1.0:
        raise ValueError(f"onset_speed must be a fraction in (0, 1); got {onset_speed!r}")
    v = speed(pos, dt)
    batched = v.ndim == 2
    v = v if batched else v[:, None]
    tau0 = (1.0 - math.sqrt(1.0 - math.sqrt(c))) / 2.0
    out = np.full(v.shape[1], np.nan)
    for b in range(v.shape[1]):
        s = v[:, b]
        thr = c * s.max()
        if s.max() <= 0:
            continue
        i0, i1 = primary_movement(s, c)
        if i1 - i0 < 2:
            continue
        t_on = i0 - 1 + (thr - s[i0 - 1]) / (s[i0] - s[i0 - 1]) if i0 > 0 else 0.0
        last = len(s) - 1
        t_off = i1 + (s[i1] - thr) / (s[i1] - s[i1 + 1]) if i1 < last else float(last)
        k = np.arange(i0, i1 + 1)
        template = _minimum_jerk_shape(tau0 + (1.0 - 2.0 * tau0) * (k - t_on) / (t_off - t_on))
        obs = s[i0 : i1 + 1]
        if np.ptp(obs) > 0:
            out[b] = np.corrcoef(obs, template)[0, 1]
    return per_trial(out, batched)


def normalised_jerk(pos: np.ndarray, dt: float, onset_speed: float | None = None) -> Scalar:
    """Dimensionless (normalised) jerk, ``sqrt(0.5 * integral |d^3x/dt^3|^2 dt * D^5 / L^2)`` (batched).

    Teulings et al. 1997 (doi:10.1080/00222899709600836), ``D`` the duration and ``L`` the path
    length. Scale-free: independent of amplitude and duration; a minimum-jerk reach gives
    ``sqrt(360) = 18.97`` (its squared jerk integrates to ``720 L^2 / D^5``). Jerk is the third
    finite difference, centred on the ``T - 3`` interior sample intervals; the first and last
    intervals take their neighbour's value, so the midpoint sum times ``dt`` spans the whole
    duration (second-order accurate: 0.6% low for a minimum-jerk reach in 100 samples).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)`` with ``T >= 4``, m.
        dt: Sample interval, s.
        onset_speed: If given (fraction of peak speed in ``(0, 1)``), restrict to the samples from
            the primary movement (:func:`primary_movement`; excludes pre-movement and hold time,
            which otherwise inflate ``D^5``). Default: the whole path.

    Returns:
        Dimensionless jerk; ``nan`` for a path of zero length or a movement under 4 samples.
    """
    p, batched = path_array("pos", pos, min_steps=4)
    dt = positive("dt", dt)
    if onset_speed is not None and not 0.0 < float(onset_speed) < 1.0:
        raise ValueError(f"onset_speed must be None or a fraction in (0, 1); got {onset_speed!r}")
    v = np.linalg.norm(np.gradient(p, dt, axis=0), axis=-1)
    out = np.full(p.shape[1], np.nan)
    for b in range(p.shape[1]):
        seg = p[:, b]
        if onset_speed is not None:
            if v[:, b].max() > 0:
                i0, i1 = primary_movement(v[:, b], float(onset_speed))
                seg = seg[i0 : i1 + 1]
            else:
                seg = seg[:0]
        if len(seg) < 4:
            continue
        length = np.linalg.norm(np.diff(seg, axis=0), axis=-1).sum()
        if length <= 0:
            continue
        jerk_sq = (np.linalg.norm(np.diff(seg, n=3, axis=0), axis=-1) / dt**3) ** 2
        integral = (jerk_sq.sum() + jerk_sq[0] + jerk_sq[-1]) * dt
        duration = (len(seg) - 1) * dt
        out[b] = math.sqrt(0.5 * integral * duration**5 / length**2)
    return per_trial(out, batched)
