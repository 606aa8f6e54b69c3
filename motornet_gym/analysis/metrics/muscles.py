"""Muscle measures: effort (summed squared activation) and antagonist co-contraction.

See :mod:`motornet_gym.analysis.metrics` for the array conventions (time-major ``(T, 2)`` or ``(T, B, 2)``
paths in m, *batched* functions, ``nan`` for degenerate trials).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._checks import Scalar, per_trial


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
    return per_trial((a**2).sum(axis=(0, 2)), batched)


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
    return per_trial(cci.mean(axis=(0, 2)), batched)
