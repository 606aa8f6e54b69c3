"""Shared timing helper for the benchmarks (median of repeats, one torch thread)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_rate(fn: Callable[[], None], work: float, repeats: int = 5, min_time: float = 0.2) -> float:
    """Median over ``repeats`` of ``work * calls / seconds`` for ``fn``; each repeat runs >= ``min_time``."""
    fn()  # warm-up
    rates = []
    for _ in range(repeats):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            dt = time.perf_counter() - t0
            if dt >= min_time:
                break
        rates.append(work * calls / dt)
    return statistics.median(rates)


def fmt_rate(x: float) -> str:
    """Human-readable steps/s."""
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"
