"""Behavioural metrics of reaching trials: endpoint accuracy, straightness, speed, jerk, effort, loads.

Every function is pure and numpy-only. Positions are fingertip paths in metres, time-major: one trial
is ``(T, 2)``, a batch of ``B`` trials is ``(T, B, 2)``. Functions marked *batched* accept either and
return a ``float`` for one trial or a ``(B,)`` array for a batch; points (``target``, ``start``,
``end``) are ``(2,)`` (shared by all trials) or ``(B, 2)``. Time ``t = k * dt`` is measured from the
first sample (``k = 0``). Degenerate cases (zero-length reach, no movement) give ``nan``, never an
exception, so a poor controller still gets a report; malformed arguments raise ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

Scalar = float | np.ndarray
"""``float`` for one trial, ``(B,)`` array for a batch."""


# ----------------------------------------------------------------------------------------- validation
#: Fraction of peak speed that delimits the primary movement for the shape measures (minimum-jerk
#: correlation, normalised jerk, movement time) in the evaluation and the phenomena checks: 10 %, the
#: usual segmentation criterion for noisy reaches (a 5 % window lets the few-cm/s jitter of a noisy
#: hand at rest into the reach: 0.48 vs 0.87 correlation on the same reaches).
MOVEMENT_FRACTION = 0.1


def _positive(name: str, value: float, allow_zero: bool = False) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0; got {value!r}")
    return v


def _path(name: str, pos: np.ndarray, min_steps: int = 1) -> tuple[np.ndarray, bool]:
    """Return ``pos`` as float ``(T, B, 2)`` and whether the input was batched."""
    a = np.asarray(pos, dtype=float)
    if a.ndim not in (2, 3) or a.shape[-1] != 2 or a.shape[0] < min_steps:
        raise ValueError(f"{name} must have shape (T, 2) or (T, B, 2) with T >= {min_steps}; got {a.shape}")
    return (a, True) if a.ndim == 3 else (a[:, None, :], False)


def _point(name: str, p: np.ndarray | Sequence[float], b: int, batched: bool) -> np.ndarray:
    """Return a point argument as ``(B, 2)``; ``(2,)`` broadcasts, ``(B, 2)`` needs batched input."""
    a = np.asarray(p, dtype=float)
    if a.shape == (2,):
        return np.broadcast_to(a, (b, 2))
    if batched and a.shape == (b, 2):
        return a
    expected = f"(2,) or ({b}, 2)" if batched else "(2,)"
    raise ValueError(f"{name} must have shape {expected}; got {a.shape}")


def _out(values: np.ndarray, batched: bool) -> Scalar:
    return values if batched else float(values[0])


def _distance(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pos - target[None], axis=-1)  # (T, B)


# ------------------------------------------------------------------------------------ endpoint error
def final_error(pos: np.ndarray, target: np.ndarray) -> Scalar:
    """Euclidean distance between the last sample and the target (batched).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)``, m.
        target: Target position, ``(2,)`` or ``(B, 2)``, m.

    Returns:
        ``||pos[T-1] - target||`` in m.
    """
    p, batched = _path("pos", pos)
    return _out(_distance(p[-1:], _point("target", target, p.shape[1], batched))[0], batched)


def hold_error(pos: np.ndarray, target: np.ndarray, window: int) -> Scalar:
    """Mean distance to the target over the last ``window`` samples (the hold period; batched).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)``, m.
        target: Target position, ``(2,)`` or ``(B, 2)``, m.
        window: Number of final samples averaged, ``1 <= window <= T``.

    Returns:
        Mean distance in m.
    """
    p, batched = _path("pos", pos)
    if isinstance(window, bool) or int(window) != window or not 1 <= window <= p.shape[0]:
        raise ValueError(f"window must be an integer in [1, T={p.shape[0]}]; got {window!r}")
    d = _distance(p[-int(window) :], _point("target", target, p.shape[1], batched))
    return _out(d.mean(0), batched)


def time_to_target(pos: np.ndarray, target: np.ndarray, radius: float, dt: float) -> Scalar:
    """First time after which the fingertip stays within ``radius`` of the target to the end (batched).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)``, m.
        target: Target position, ``(2,)`` or ``(B, 2)``, m.
        radius: Target radius, m (>= 0).
        dt: Sample interval, s.

    Returns:
        ``k * dt`` for the smallest ``k`` with ``||pos[j] - target|| <= radius`` for all ``j >= k``,
        in s; ``nan`` where the last sample is outside the radius.
    """
    p, batched = _path("pos", pos)
    radius, dt = _positive("radius", radius, allow_zero=True), _positive("dt", dt)
    inside = _distance(p, _point("target", target, p.shape[1], batched)) <= radius  # (T, B)
    outside_after = np.cumsum(~inside[::-1], axis=0)[::-1]  # samples outside from k to the end
    first = np.argmax(outside_after == 0, axis=0).astype(float)
    first[~inside[-1]] = np.nan
    return _out(first * dt, batched)


# ------------------------------------------------------------------------------------- straightness
def lateral_deviation(pos: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Signed perpendicular distance of each sample from the straight line ``start -> end``.

    ``d = u x (pos - start)`` with ``u`` the unit reach direction (2-D cross product), so positive
    is *left* of the reach direction (counter-clockwise of it). This is the lateral deviation of
    force-field studies (Shadmehr & Mussa-Ivaldi 1994, doi:10.1523/JNEUROSCI.14-05-03208.1994).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)``, m.
        start: Line start, ``(2,)`` or ``(B, 2)``, m.
        end: Line end, ``(2,)`` or ``(B, 2)``, m.

    Returns:
        ``(T,)`` or ``(T, B)`` signed distance in m; ``nan`` for trials with ``start == end``.
    """
    p, batched = _path("pos", pos)
    s = _point("start", start, p.shape[1], batched)
    e = _point("end", end, p.shape[1], batched)
    length = np.linalg.norm(e - s, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = (e - s) / length[:, None]
    u[length == 0] = np.nan
    r = p - s[None]
    d = u[None, :, 0] * r[..., 1] - u[None, :, 1] * r[..., 0]
    return d if batched else d[:, 0]


def max_perpendicular_deviation(
    pos: np.ndarray, start: np.ndarray | None = None, end: np.ndarray | None = None
) -> Scalar:
    """Maximum unsigned distance of the path from the straight line ``start -> end`` (batched).

    A classic straightness measure (e.g. Flash & Hogan 1985, doi:10.1523/JNEUROSCI.05-07-01688.1985).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)``, m.
        start: Line start, ``(2,)`` or ``(B, 2)``, m; default the first sample.
        end: Line end, ``(2,)`` or ``(B, 2)``, m; default the last sample.

    Returns:
        ``max_t |lateral_deviation|`` in m; ``nan`` for a zero-length line.
    """
    p, batched = _path("pos", pos)
    s = p[0] if start is None else _point("start", start, p.shape[1], batched)
    e = p[-1] if end is None else _point("end", end, p.shape[1], batched)
    return _out(np.abs(lateral_deviation(p, s, e)).max(0), batched)


def path_length_ratio(pos: np.ndarray) -> Scalar:
    """Path length divided by the straight-line distance from the first to the last sample (batched).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)`` with ``T >= 2``, m.

    Returns:
        Dimensionless ratio ``>= 1``; ``nan`` where first and last samples coincide.
    """
    p, batched = _path("pos", pos, min_steps=2)
    length = np.linalg.norm(np.diff(p, axis=0), axis=-1).sum(0)
    chord = np.linalg.norm(p[-1] - p[0], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(chord > 0, length / chord, np.nan)
    return _out(ratio, batched)


# ---------------------------------------------------------------------------------------- speed
def speed(pos: np.ndarray, dt: float) -> np.ndarray:
    """Tangential speed by second-order finite differences (``np.gradient``), same length as ``pos``.

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)`` with ``T >= 2``, m.
        dt: Sample interval, s.

    Returns:
        ``(T,)`` or ``(T, B)`` speed in m/s.
    """
    p, batched = _path("pos", pos, min_steps=2)
    v = np.linalg.norm(np.gradient(p, _positive("dt", dt), axis=0), axis=-1)
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
    duration, distance = _positive("duration", duration), _positive("distance", distance, allow_zero=True)
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
    return _out(out, batched)


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
    p, batched = _path("pos", pos, min_steps=4)
    dt = _positive("dt", dt)
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
    return _out(out, batched)


# ------------------------------------------------------------------------------------- muscles
def _activation(activation: np.ndarray) -> tuple[np.ndarray, bool]:
    a = np.asarray(activation, dtype=float)
    if a.ndim not in (2, 3) or a.shape[0] < 1 or a.shape[-1] < 1:
        raise ValueError(f"activation must have shape (T, M) or (T, B, M); got {a.shape}")
    return (a, True) if a.ndim == 3 else (a[:, None, :], False)


def effort(activation: np.ndarray) -> Scalar:
    """Sum over time and muscles of squared activation (batched).

    The quadratic effort term of optimal feedback control (Todorov & Jordan 2002,
    doi:10.1038/nn963); not multiplied by ``dt``.

    Args:
        activation: Muscle activation, ``(T, M)`` or ``(T, B, M)``, dimensionless in ``[0, 1]``.

    Returns:
        ``sum_t sum_m a^2``.
    """
    a, batched = _activation(activation)
    return _out((a**2).sum(axis=(0, 2)), batched)


def co_contraction_index(activation: np.ndarray, pairs: Sequence[tuple[int, int]]) -> Scalar:
    """Mean co-contraction index of antagonist pairs (batched).

    ``CCI = 2 min(a_i, a_j) / (a_i + a_j)`` per time step and pair (0 where both are 0), averaged over
    time and pairs (Falconer & Winter 1985, Electromyogr Clin Neurophysiol 25:135). 1 = equal
    co-activation, 0 = one muscle of the pair silent.

    Args:
        activation: Muscle activation, ``(T, M)`` or ``(T, B, M)``, >= 0.
        pairs: Antagonist muscle index pairs ``(i, j)``, at least one, each index in ``[0, M)``.

    Returns:
        Dimensionless index in ``[0, 1]``.
    """
    a, batched = _activation(activation)
    m = a.shape[-1]
    idx = np.asarray(pairs)
    if idx.ndim != 2 or idx.shape[0] < 1 or idx.shape[1] != 2 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"pairs must be a non-empty sequence of integer (i, j) pairs; got {pairs!r}")
    if idx.min() < 0 or idx.max() >= m:
        raise ValueError(f"pairs indices must be in [0, M={m}); got {pairs!r}")
    ai, aj = a[..., idx[:, 0]], a[..., idx[:, 1]]  # (T, B, P)
    total = ai + aj
    with np.errstate(invalid="ignore", divide="ignore"):
        cci = np.where(total > 0, 2.0 * np.minimum(ai, aj) / total, 0.0)
    return _out(cci.mean(axis=(0, 2)), batched)


# ----------------------------------------------------------------------------------------- loads
class PerturbationResponse(NamedTuple):
    """Response to a mechanical perturbation, relative to the unperturbed reference path.

    Attributes:
        max_deviation: Maximum distance from the reference after onset, m (``float`` or ``(B,)``).
        time_to_return: Time from onset until the deviation stays below the threshold, s; ``nan``
            if it never does (``float`` or ``(B,)``).
    """

    max_deviation: Scalar
    time_to_return: Scalar


def perturbation_response(
    pos: np.ndarray, reference_pos: np.ndarray, dt: float, onset_step: int, threshold: float = 0.005
) -> PerturbationResponse:
    """Maximum deviation from and return time to the unperturbed path (batched).

    Deviation is ``||pos(t) - reference_pos(t)||``, the same trial without the load, as in
    perturbation studies of feedback control (reviewed by Scott 2004, doi:10.1038/nrn1427). The
    return time is ``(k - onset_step) * dt`` for the smallest ``k >= onset_step`` after which the
    deviation stays below ``threshold`` (0 if it never exceeds it).

    Args:
        pos: Perturbed path, ``(T, 2)`` or ``(T, B, 2)``, m.
        reference_pos: Unperturbed path, same shape as ``pos`` (or ``(T, 2)`` shared by the batch), m.
        dt: Sample interval, s.
        onset_step: Sample index of perturbation onset, ``0 <= onset_step < T``.
        threshold: Return threshold, m (> 0).

    Returns:
        :class:`PerturbationResponse`.
    """
    p, batched = _path("pos", pos)
    r = np.asarray(reference_pos, dtype=float)
    allowed = [(p.shape[0], 2)] + ([p.shape] if batched else [])
    if r.shape not in allowed:
        expected = f"{p.shape} or ({p.shape[0]}, 2)" if batched else f"({p.shape[0]}, 2)"
        raise ValueError(f"reference_pos must have shape {expected}; got {r.shape}")
    r = r if r.ndim == 3 else r[:, None, :]
    dt, threshold = _positive("dt", dt), _positive("threshold", threshold)
    if isinstance(onset_step, bool) or int(onset_step) != onset_step or not 0 <= onset_step < p.shape[0]:
        raise ValueError(f"onset_step must be an integer in [0, T={p.shape[0]}); got {onset_step!r}")
    dev = np.linalg.norm(p - r, axis=-1)[int(onset_step) :]  # (T - onset, B)
    above = dev >= threshold
    above_after = np.cumsum(above[::-1], axis=0)[::-1]
    k = np.argmax(above_after == 0, axis=0).astype(float)
    k[above[-1]] = np.nan
    return PerturbationResponse(_out(dev.max(0), batched), _out(k * dt, batched))


class ForceFieldEffects(NamedTuple):
    """Signed maximum lateral deviations (m, positive = left of the reach) per trial.

    Attributes:
        null_deviation: Before the field (baseline), ``float`` or ``(B,)``.
        field_deviation: In the force field, ``float`` or ``(B,)``.
        aftereffect: In washout trials right after the field is removed, ``float`` or ``(B,)``;
            ``nan`` if no washout trials were given.
    """

    null_deviation: Scalar
    field_deviation: Scalar
    aftereffect: Scalar


def signed_max_deviation(pos: np.ndarray, start: np.ndarray, end: np.ndarray) -> Scalar:
    """Lateral deviation of largest magnitude, with its sign (batched; see :func:`lateral_deviation`)."""
    d = lateral_deviation(pos, start, end)
    d2 = d if d.ndim == 2 else d[:, None]
    idx = np.argmax(np.nan_to_num(np.abs(d2), nan=-1.0), axis=0)
    out = d2[idx, np.arange(d2.shape[1])]
    return out if d.ndim == 2 else float(out[0])


def force_field_effects(
    null_pos: np.ndarray,
    field_pos: np.ndarray,
    washout_pos: np.ndarray | None,
    start: np.ndarray,
    end: np.ndarray,
) -> ForceFieldEffects:
    """Lateral deviation in null and field trials and the after-effect once the field is removed.

    A curl field deflects the reach sideways (field deviation); adaptation shrinks it, and removing
    the field then gives a deviation of opposite sign, the after-effect that reveals an internal
    model of the field (Shadmehr & Mussa-Ivaldi 1994, doi:10.1523/JNEUROSCI.14-05-03208.1994). With
    a clockwise curl field (``motornet_gym.tasks.force_field``, ``"cw"``) the field deviation is
    negative (rightward) and the after-effect positive.

    Args:
        null_pos: Null-field paths, ``(T, 2)`` or ``(T, B, 2)``, m.
        field_pos: Force-field paths, same layout (any ``T``), m.
        washout_pos: Washout paths, same layout, m, or ``None``.
        start: Reach start, ``(2,)`` or ``(B, 2)`` (the same trials in every condition), m.
        end: Reach target, ``(2,)`` or ``(B, 2)``, m.

    Returns:
        :class:`ForceFieldEffects` of :func:`signed_max_deviation` per condition.
    """
    null = signed_max_deviation(null_pos, start, end)
    field = signed_max_deviation(field_pos, start, end)
    after = (
        signed_max_deviation(washout_pos, start, end)
        if washout_pos is not None
        else (np.full_like(null, np.nan) if isinstance(null, np.ndarray) else math.nan)
    )
    return ForceFieldEffects(null, field, after)
