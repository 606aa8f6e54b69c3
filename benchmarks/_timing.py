"""Shared timing helpers for the benchmarks (medians of interleaved repeats, one torch thread)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping


def _rate(fn: Callable[[], None], work: float, min_time: float) -> float:
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return work * calls / dt


def median_rate(fn: Callable[[], None], work: float, repeats: int = 5, min_time: float = 0.2) -> float:
    """Median over ``repeats`` of ``work * calls / seconds`` for ``fn``; each repeat runs >= ``min_time``."""
    fn()  # warm-up
    return statistics.median(_rate(fn, work, min_time) for _ in range(repeats))


def interleaved_rates(
    fns: Mapping[str, Callable[[], None]], work: float, repeats: int = 5, min_time: float = 0.2
) -> dict[str, list[float]]:
    """Rates (``work * calls / s``) of every function, measured in ``repeats`` interleaved rounds.

    Each round runs every function once for ``min_time`` s, in turn, so that load from other
    processes on shared cores falls on all sides alike; compare sides with :func:`ratio`.
    """
    for fn in fns.values():
        fn()  # warm-up
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            rates[name].append(_rate(fn, work, min_time))
    return rates


def median(rates: list[float]) -> float:
    """Median of one side's rates."""
    return statistics.median(rates)


def ratio(rates: list[float], base: list[float]) -> float:
    """Median over rounds of ``rates[i] / base[i]`` (paired: both measured in the same round)."""
    return statistics.median(r / b for r, b in zip(rates, base, strict=True))


def ratio_cell(rates: dict, name: object, base: object | None) -> str:
    """``"  12.3x"``: the paired ratio of ``rates[name]`` to ``rates[base]`` (``"-"`` without a base)."""
    if base is None or base not in rates:
        return f"{'-':>7}"
    return f"{ratio(rates[name], rates[base]):>6.1f}x"


def fmt_rate(x: float) -> str:
    """Human-readable steps/s."""
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"
