"""Responses to loads: perturbation deviation and return time, curl-field deviations and after-effects.

See :mod:`motornet_gym.analysis.metrics` for the array conventions (time-major ``(T, 2)`` or ``(T, B, 2)``
paths in m, *batched* functions, ``nan`` for degenerate trials).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._checks import Scalar, path_array, per_trial, positive
from .straightness import lateral_deviation


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
    p, batched = path_array("pos", pos)
    r = np.asarray(reference_pos, dtype=float)
    allowed = [(p.shape[0], 2)] + ([p.shape] if batched else [])
    if r.shape not in allowed:
        expected = f"{p.shape} or ({p.shape[0]}, 2)" if batched else f"({p.shape[0]}, 2)"
        raise ValueError(f"reference_pos must have shape {expected}; got {r.shape}")
    r = r if r.ndim == 3 else r[:, None, :]
    dt, threshold = positive("dt", dt), positive("threshold", threshold)
    if isinstance(onset_step, bool) or int(onset_step) != onset_step or not 0 <= onset_step < p.shape[0]:
        raise ValueError(f"onset_step must be an integer in [0, T={p.shape[0]}); got {onset_step!r}")
    dev = np.linalg.norm(p - r, axis=-1)[int(onset_step) :]  # (T - onset, B)
    above = dev >= threshold
    above_after = np.cumsum(above[::-1], axis=0)[::-1]
    k = np.argmax(above_after == 0, axis=0).astype(float)
    k[above[-1]] = np.nan
    return PerturbationResponse(per_trial(dev.max(0), batched), per_trial(k * dt, batched))


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
