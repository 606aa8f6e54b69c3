"""Path straightness: signed lateral deviation, maximum perpendicular deviation, path-length ratio.

See :mod:`motornet_gym.analysis.metrics` for the array conventions (time-major ``(T, 2)`` or ``(T, B, 2)``
paths in m, *batched* functions, ``nan`` for degenerate trials).
"""

from __future__ import annotations

import numpy as np

from ._checks import Scalar, path_array, per_trial, point_array


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
    p, batched = path_array("pos", pos)
    s = point_array("start", start, p.shape[1], batched)
    e = point_array("end", end, p.shape[1], batched)
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
    p, batched = path_array("pos", pos)
    s = p[0] if start is None else point_array("start", start, p.shape[1], batched)
    e = p[-1] if end is None else point_array("end", end, p.shape[1], batched)
    return per_trial(np.abs(lateral_deviation(p, s, e)).max(0), batched)


def path_length_ratio(pos: np.ndarray) -> Scalar:
    """Path length divided by the straight-line distance from the first to the last sample (batched).

    Args:
        pos: Fingertip path, ``(T, 2)`` or ``(T, B, 2)`` with ``T >= 2``, m.

    Returns:
        Dimensionless ratio ``>= 1``; ``nan`` where first and last samples coincide.
    """
    p, batched = path_array("pos", pos, min_steps=2)
    length = np.linalg.norm(np.diff(p, axis=0), axis=-1).sum(0)
    chord = np.linalg.norm(p[-1] - p[0], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(chord > 0, length / chord, np.nan)
    return per_trial(ratio, batched)
