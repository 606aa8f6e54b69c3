"""Argument checks and array layouts shared by the metrics.

See :mod:`motornet_gym.analysis.metrics` for the array conventions (time-major ``(T, 2)`` or ``(T, B, 2)``
paths in m, *batched* functions, ``nan`` for degenerate trials).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Scalar = float | np.ndarray
"""``float`` for one trial, ``(B,)`` array for a batch."""


def positive(name: str, value: float, allow_zero: bool = False) -> float:
    """``value`` as a finite float ``> 0`` (``>= 0`` with ``allow_zero``), else ``ValueError`` naming it."""
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0; got {value!r}")
    return v


def path_array(name: str, pos: np.ndarray, min_steps: int = 1) -> tuple[np.ndarray, bool]:
    """Return ``pos`` as float ``(T, B, 2)`` and whether the input was batched."""
    a = np.asarray(pos, dtype=float)
    if a.ndim not in (2, 3) or a.shape[-1] != 2 or a.shape[0] < min_steps:
        raise ValueError(f"{name} must have shape (T, 2) or (T, B, 2) with T >= {min_steps}; got {a.shape}")
    return (a, True) if a.ndim == 3 else (a[:, None, :], False)


def point_array(name: str, p: np.ndarray | Sequence[float], b: int, batched: bool) -> np.ndarray:
    """Return a point argument as ``(B, 2)``; ``(2,)`` broadcasts, ``(B, 2)`` needs batched input."""
    a = np.asarray(p, dtype=float)
    if a.shape == (2,):
        return np.broadcast_to(a, (b, 2))
    if batched and a.shape == (b, 2):
        return a
    expected = f"(2,) or ({b}, 2)" if batched else "(2,)"
    raise ValueError(f"{name} must have shape {expected}; got {a.shape}")


def per_trial(values: np.ndarray, batched: bool) -> Scalar:
    """``(B,)`` values as returned by a batched metric: the array, or a ``float`` for one trial."""
    return values if batched else float(values[0])


def distance_to(pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(T, B)`` distance, m, of ``(T, B, 2)`` positions to ``(B, 2)`` points."""
    return np.linalg.norm(pos - target[None], axis=-1)
