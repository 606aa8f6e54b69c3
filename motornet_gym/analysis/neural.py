"""Network-activity metrics: dimensionality, representational similarity and directional tuning.

Pure numpy functions on sample-major arrays: ``(N samples, D units)`` (flatten time and trials into
``N`` first, e.g. ``h.reshape(-1, h.shape[-1])`` for ``(T, B, H)`` hidden states).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def _matrix(name: str, x: np.ndarray, min_rows: int = 2) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 2 or a.shape[0] < min_rows or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape (N, D) with N >= {min_rows}, D >= 1; got {a.shape}")
    return a


def participation_ratio(x: np.ndarray) -> float:
    """Participation ratio, a linear dimensionality of the activity.

    ``PR = (sum_i lambda_i)^2 / sum_i lambda_i^2`` over the eigenvalues ``lambda_i`` of the sample
    covariance (Gao et al. 2017, bioRxiv doi:10.1101/214262; as used for network activity by
    Recanatesi et al.). ``1 <= PR <= D``: 1 for rank-1 activity, ``D`` for isotropic.

    Args:
        x: Activity, ``(N samples, D units)``, ``N >= 2``.

    Returns:
        Dimensionless ratio; ``nan`` for constant activity.
    """
    a = _matrix("x", x)
    a = a - a.mean(0)
    lam = np.clip(np.linalg.eigvalsh(a.T @ a / (a.shape[0] - 1)), 0.0, None)
    sq = float((lam**2).sum())
    return float(lam.sum() ** 2 / sq) if sq > 0 else math.nan


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment between two representations of the same samples.

    ``CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` with columns of ``X`` and ``Y`` centred
    (Kornblith et al. 2019, arXiv:1905.00414, eq. 5 with linear kernels). 1 for identical
    representations, invariant to orthogonal transforms and isotropic scaling of either (not to
    arbitrary invertible linear maps), near 0 for independent ones.

    Args:
        x: First representation, ``(N, D1)`` (e.g. one controller's hidden states).
        y: Second representation of the same ``N`` samples, ``(N, D2)``.

    Returns:
        Similarity in ``[0, 1]``; ``nan`` if either is constant.
    """
    a, b = _matrix("x", x), _matrix("y", y)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"x and y must have the same number of samples N; got x {a.shape}, y {b.shape}")
    a, b = a - a.mean(0), b - b.mean(0)
    den = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    return float(np.linalg.norm(b.T @ a) ** 2 / den) if den > 0 else math.nan


class CosineTuning(NamedTuple):
    """Cosine tuning fit ``r = baseline + modulation cos(theta - preferred_direction)`` per unit.

    Attributes:
        baseline: ``(U,)`` mean rate, units of ``rates``.
        modulation: ``(U,)`` tuning depth (>= 0), units of ``rates``.
        preferred_direction: ``(U,)`` rad in ``[-pi, pi)``.
        r2: ``(U,)`` coefficient of determination of the fit (``nan`` for a constant unit).
    """

    baseline: np.ndarray
    modulation: np.ndarray
    preferred_direction: np.ndarray
    r2: np.ndarray


def _wrap(theta: np.ndarray) -> np.ndarray:
    """Wrap angles (rad) to ``[-pi, pi)``."""
    return (np.asarray(theta, dtype=float) + np.pi) % (2 * np.pi) - np.pi


def cosine_tuning(rates: np.ndarray, directions: np.ndarray) -> CosineTuning:
    """Least-squares cosine tuning of each unit to movement direction.

    Regresses rates on ``[1, cos theta, sin theta]`` (Georgopoulos et al. 1982,
    doi:10.1523/JNEUROSCI.02-11-01527.1982); ``modulation = hypot(b_cos, b_sin)`` and
    ``preferred_direction = atan2(b_sin, b_cos)``. The distribution of preferred directions is the
    comparison of Lillicrap & Scott 2013 (doi:10.1016/j.neuron.2012.12.033).

    Args:
        rates: Activity per trial, ``(N trials, U units)`` (e.g. mean hidden state over a window).
        directions: Reach direction per trial, ``(N,)``, rad; at least 3 distinct directions.

    Returns:
        :class:`CosineTuning`.
    """
    r = _matrix("rates", rates, min_rows=3)
    th = np.asarray(directions, dtype=float)
    if th.shape != (r.shape[0],):
        raise ValueError(f"directions must have shape ({r.shape[0]},) to match rates; got {th.shape}")
    design = np.stack([np.ones_like(th), np.cos(th), np.sin(th)], axis=1)
    if np.linalg.matrix_rank(design) < 3:
        raise ValueError("directions must contain at least 3 distinct angles (mod 2 pi) to fit cosine tuning")
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)  # (3, U)
    resid = ((r - design @ coef) ** 2).sum(0)
    total = ((r - r.mean(0)) ** 2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(total > 0, 1.0 - resid / total, np.nan)
    return CosineTuning(
        baseline=coef[0],
        modulation=np.hypot(coef[1], coef[2]),
        preferred_direction=_wrap(np.arctan2(coef[2], coef[1])),
        r2=r2,
    )


def _angles(name: str, pd: np.ndarray) -> np.ndarray:
    a = np.asarray(pd, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must have shape (U,); got {a.shape}")
    return _wrap(a[np.isfinite(a)])


def preferred_direction_histogram(pd: np.ndarray, bins: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of preferred directions over ``[-pi, pi)`` (Lillicrap & Scott 2013, fig. 2).

    Args:
        pd: Preferred directions, ``(U,)``, rad (wrapped to ``[-pi, pi)``; non-finite entries dropped).
        bins: Number of equal-width bins (>= 1).

    Returns:
        ``(counts (bins,), bin_edges (bins + 1,))``, edges in rad from ``-pi`` to ``pi``.
    """
    if isinstance(bins, bool) or int(bins) != bins or bins < 1:
        raise ValueError(f"bins must be an integer >= 1; got {bins!r}")
    return np.histogram(_angles("pd", pd), bins=int(bins), range=(-np.pi, np.pi))


def bimodality_index(pd: np.ndarray) -> float:
    """Resultant length of doubled preferred directions, ``|mean(exp(2 i theta))|``.

    Axial (doubled-angle) circular statistics: 1 when all directions lie on one axis (two opposite
    clusters, the bimodal distribution Lillicrap & Scott 2013 report, doi:10.1016/j.neuron.2012.12.033,
    as in monkey M1), ~0 for uniform directions.

    Args:
        pd: Preferred directions, ``(U,)``, rad; non-finite entries dropped.

    Returns:
        Index in ``[0, 1]``; ``nan`` if no finite direction.
    """
    a = _angles("pd", pd)
    return float(np.abs(np.exp(2j * a).mean())) if a.size else math.nan
