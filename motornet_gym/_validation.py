"""Argument checks at the public boundaries of every layer (never in the hot path; torch only).

The one set of validation helpers: each raises ``ValueError`` (or ``TypeError``) naming the
argument, what was expected and what was received.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch


def check_positive(name: str, value: float) -> float:
    """Return ``float(value)`` or raise ``ValueError`` naming the argument if it is not finite and > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number; got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return v


def check_choice(name: str, value: str, valid: Iterable[str]) -> str:
    """Return the lower-cased ``value`` if it is one of ``valid``, else raise listing the valid names."""
    valid = tuple(valid)
    key = str(value).lower()
    if key not in valid:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(map(repr, valid))}")
    return key


def check_batch_tensor(
    name: str, value: torch.Tensor, width: int, batch_size: int | None = None
) -> torch.Tensor:
    """Check a ``(B, width)`` floating tensor with finite entries and return it as 2-D.

    ``(1, width)`` and ``(width,)`` are accepted and broadcast over the batch.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, {width}); got {type(value).__name__}")
    if not value.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor; got dtype {value.dtype}")
    t = value.unsqueeze(0) if value.dim() == 1 else value
    ok_batch = batch_size is None or t.shape[0] in (1, batch_size)
    if t.dim() != 2 or t.shape[1] != width or not ok_batch:
        expected = f"(B, {width})" if batch_size is None else f"({batch_size}, {width}) or (1, {width})"
        raise ValueError(f"{name} must have shape {expected}; got {tuple(value.shape)}")
    if not bool(torch.isfinite(t).all()):
        bad = torch.nonzero(~torch.isfinite(t))[0].tolist()
        raise ValueError(f"{name} must be finite; got a non-finite value at index {tuple(bad)}")
    return t


def check_dtype(name: str, value: torch.dtype | str | None) -> torch.dtype | None:
    """A floating ``torch.dtype`` from itself or its name (``"float64"``, ``"torch.float32"``).

    ``None`` (the default dtype, decided by the caller) is returned as is.

    Raises:
        ValueError: Naming the argument, the accepted names and the value, if ``value`` is neither.
    """
    if value is None or isinstance(value, torch.dtype):
        dtype = value
    elif isinstance(value, str):
        dtype = getattr(torch, value.strip().removeprefix("torch."), None)
    else:
        dtype = None
    if value is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(
            f"{name} must be a floating-point torch.dtype; got {value!r} (its name, e.g. 'float64', "
            "is accepted too)"
        )
    return dtype


def check_non_negative(name: str, value: Any) -> float:
    """Return ``float(value)`` or raise ``ValueError`` if it is not a finite number >= 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return v


def check_range(name: str, value: Any, lower: float = 0.0) -> tuple[float, float]:
    """Validate a ``(low, high)`` pair with ``lower <= low <= high``, both finite."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers; got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lower <= lo <= hi):
        raise ValueError(f"{name} must satisfy {lower} <= low <= high (finite); got {value!r}")
    return lo, hi


def check_fraction(name: str, value: Any) -> float:
    """Validate a number in [0, 1]."""
    v = check_non_negative(name, value)
    if v > 1:
        raise ValueError(f"{name} must be in [0, 1]; got {value!r}")
    return v


def check_stds(name: str, value: Any) -> tuple[float, ...]:
    """Validate a std or a sequence of stds (all finite, >= 0); returns them as a tuple."""
    seq = value if isinstance(value, Sequence) and not isinstance(value, str) else (value,)
    if isinstance(value, torch.Tensor):
        seq = tuple(value.reshape(-1).tolist())
    try:
        out = tuple(float(v) for v in seq)
    except (TypeError, ValueError):
        out = ()
    if not out or any(isinstance(v, bool) for v in seq) or not all(math.isfinite(v) and v >= 0 for v in out):
        raise ValueError(
            f"{name} must be a std >= 0 or a sequence of stds >= 0 (one per channel); got {value!r}"
        )
    return out
