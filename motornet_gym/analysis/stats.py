"""Aggregation of a metric over seeds: mean, interquartile mean and percentile-bootstrap intervals.

Following Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice"
(arXiv:2108.13264): report robust point estimates (IQM) with bootstrap confidence intervals, not
single runs. Randomness is explicit: the bootstrap takes a ``seed`` and uses its own generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of the values (all entries, flattened).

    Drops ``floor(n / 4)`` values from each end of the sorted data and averages the rest, like
    ``scipy.stats.trim_mean(x, 0.25)`` used by ``rliable`` (Agarwal et al. 2021, arXiv:2108.13264).
    ``nan`` propagates as in ``np.mean``; use :func:`summarize` for nan-aware aggregation.

    Args:
        x: Values, any shape.

    Returns:
        The interquartile mean; ``nan`` for empty input or input containing ``nan``.
    """
    a = np.asarray(x, dtype=float).ravel()
    if a.size == 0 or np.isnan(a).any():
        return math.nan
    cut = a.size // 4
    return float(np.sort(a)[cut : a.size - cut].mean())


def bootstrap_ci(
    x: np.ndarray,
    stat: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap ``1 - alpha`` confidence interval of ``stat`` (Efron & Tibshirani 1993).

    Resamples the values with replacement ``n_boot`` times, applies ``stat`` to each resample and
    returns the ``alpha / 2`` and ``1 - alpha / 2`` percentiles (Agarwal et al. 2021,
    arXiv:2108.13264, use the same interval over runs).

    Args:
        x: Values (e.g. one metric per seed), any shape, flattened.
        stat: Statistic of a 1-D sample, e.g. ``np.mean`` or :func:`iqm`.
        n_boot: Number of bootstrap resamples (>= 1).
        alpha: Two-sided miscoverage in ``(0, 1)``; 0.05 gives a 95% interval.
        seed: Seed of the resampling generator.

    Returns:
        ``(low, high)``; ``(nan, nan)`` for empty input, ``(x, x)`` for a single value.
    """
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1; got {n_boot!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha!r}")
    a = np.asarray(x, dtype=float).ravel()
    if a.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    samples = a[rng.integers(0, a.size, size=(int(n_boot), a.size))]
    if stat is np.mean:
        boot = samples.mean(axis=1)
    else:
        boot = np.array([stat(s) for s in samples], dtype=float)
    low, high = np.percentile(boot, [50.0 * alpha, 100.0 * (1.0 - alpha / 2.0)])
    return float(low), float(high)


def summarize(
    x: np.ndarray, *, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
) -> dict[str, float | int]:
    """Nan-aware summary of a metric over seeds (or trials), ready for ``results.json``.

    Non-finite values (``nan``, ``inf``: undefined metrics, failed seeds) are ignored.

    Args:
        x: Values, any shape, flattened.
        n_boot: Bootstrap resamples for the interval of the mean.
        alpha: Two-sided miscoverage of the interval (0.05: 95%).
        seed: Seed of the bootstrap.

    Returns:
        ``{"mean", "iqm", "ci_low", "ci_high", "n"}``: the mean, interquartile mean and percentile
        bootstrap interval of the mean (floats, ``nan`` when ``n == 0``) over the ``n`` finite values.
    """
    a = np.asarray(x, dtype=float).ravel()
    a = a[np.isfinite(a)]
    low, high = bootstrap_ci(a, np.mean, n_boot=n_boot, alpha=alpha, seed=seed)
    mean = float(a.mean()) if a.size else math.nan
    return {"mean": mean, "iqm": iqm(a), "ci_low": low, "ci_high": high, "n": int(a.size)}
