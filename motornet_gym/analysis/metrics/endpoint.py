"""Endpoint accuracy: final and hold error, time to target.

See :mod:`motornet_gym.analysis.metrics` for the array conventions (time-major ``(T, 2)`` or ``(T, B, 2)``
paths in m, *batched* functions, ``nan`` for degenerate trials).
"""

from __future__ import annotations

import numpy as np

from ._checks import Scalar, distance_to, path_array, per_trial, point_array, positive


def final_error(pos: np.ndarray, target: np.ndarray) -> Scalar:
    """Euclidean distance between the last sample and the target (batched).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)``, m.
        target: Target position, ``(2,)`` or ``(B, 2)``, m.

    Returns:
        ``||pos[T-1] - target||`` in m.
    """
    p, batched = path_array("pos", pos)
    return per_trial(distance_to(p[-1:], point_array("target", target, p.shape[1], batched))[0], batched)


def hold_error(pos: np.ndarray, target: np.ndarray, window: int) -> Scalar:
    """Mean distance to the target over the last ``window`` samples (the hold period; batched).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)``, m.
        target: Target position, ``(2,)`` or ``(B, 2)``, m.
        window: Number of final samples averaged, ``1 <= window <= T``.

    Returns:
        Mean distance in m.
    """
    p, batched = path_array("pos", pos)
    if isinstance(window, bool) or int(window) != window or not 1 <= window <= p.shape[0]:
        raise ValueError(f"window must be an integer in [1, T={p.shape[0]}]; got {window!r}")
    d = distance_to(p[-int(window) :], point_array("target", target, p.shape[1], batched))
    return per_trial(d.mean(0), batched)


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
    p, batched = path_array("pos", pos)
    radius, dt = positive("radius", radius, allow_zero=True), positive("dt", dt)
    inside = distance_to(p, point_array("target", target, p.shape[1], batched)) <= radius  # (T, B)
    outside_after = np.cumsum(~inside[::-1], axis=0)[::-1]  # samples outside from k to the end
    first = np.argmax(outside_after == 0, axis=0).astype(float)
    first[~inside[-1]] = np.nan
    return per_trial(first * dt, batched)
