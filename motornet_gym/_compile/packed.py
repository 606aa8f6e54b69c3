"""A step's outputs as one ``(B, K)`` tensor with named columns; a packed state (torch only).

The numpy front ends (Gymnasium, SB3) need the observation, reward, truncation and ~15 info
entries of every step on the host. Converting them one by one costs a host copy and ~2-3 us of
Python per entry, more than the compiled step itself at batch 1 (and one device-to-host transfer
per entry on a GPU). :meth:`~motornet_gym.engine.Simulator.step_packed` instead returns them as the
columns of one tensor in the engine's dtype; :class:`Layout` says which columns hold what (the
front ends read a host copy back as numpy views, :mod:`motornet_gym.envs._common`). Integers
(the step counter) and booleans (truncation) are stored exactly as floats (integers up to 2**24
in float32).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch

__all__ = ["OUTPUTS", "Column", "Layout", "StatePacker", "entries_of"]

#: The packed columns that are step outputs rather than info entries (they come first).
OUTPUTS = ("observation", "reward", "terminated", "truncated")


class Column(NamedTuple):
    """Where one output lives in the packed tensor.

    Attributes:
        key: Top-level name (``"observation"``, ``"reward"``, ``"terminated"``, ``"truncated"``) or
            an info key.
        sub: Name inside a nested info dict (``cost_terms``, ``obs_parts``), else ``None``.
        start: First column.
        stop: One past the last column.
        shape: Per-environment shape (``()`` for a scalar).
        kind: ``"f"`` float, ``"i"`` integer, ``"b"`` boolean (stored as 0 / 1).
    """

    key: str
    sub: str | None
    start: int
    stop: int
    shape: tuple[int, ...]
    kind: str


Entry = tuple[str, "str | None", torch.Tensor]


class Layout:
    """The columns of a packed step output, fixed by the first step's tensors.

    Args:
        entries: ``(key, sub, tensor)`` with tensors ``(B, ...)``, in column order.
    """

    def __init__(self, entries: Sequence[Entry]) -> None:
        cols, start = [], 0
        for key, sub, t in entries:
            shape = tuple(int(s) for s in t.shape[1:])
            stop = start + math.prod(shape)
            kind = "b" if t.dtype == torch.bool else ("f" if t.is_floating_point() else "i")
            cols.append(Column(key, sub, start, stop, shape, kind))
            start = stop
        self.columns: tuple[Column, ...] = tuple(cols)
        self.width = start
        self._sizes = [c.stop - c.start for c in cols]
        self._nested = tuple(dict.fromkeys(c.key for c in cols if c.sub is not None))
        self._plans: dict[tuple[str, ...], list[Column]] = {}
        self._by_key = {(c.key, c.sub): c for c in cols}

    def __getitem__(self, key: str | tuple[str, str]) -> Column:
        """The column of ``key`` or ``(key, sub)``."""
        return self._by_key[key if isinstance(key, tuple) else (key, None)]

    def pack(self, entries: Sequence[Entry], dtype: torch.dtype) -> torch.Tensor:
        """``(B, K)`` in ``dtype``: the entries' values, flattened per environment, side by side."""
        b = entries[0][2].shape[0]
        parts = []
        for _, _, t in entries:  # no-op reshapes and casts skipped: this runs eagerly at resets
            if t.dim() != 2:
                t = t.reshape(b, -1)
            parts.append(t if t.dtype == dtype else t.to(dtype))
        return torch.cat(parts, dim=1)

    def torch_info(self, packed: torch.Tensor, skip: Sequence[str] = ()) -> dict[str, Any]:
        """Info dict of tensors (views of ``packed`` ``(B, K)`` for float columns)."""
        out: dict[str, Any] = {}
        b = packed.shape[0]
        for c, v in zip(self.columns, torch.split(packed, self._sizes, dim=1), strict=True):
            if c.key in skip:
                continue
            if len(c.shape) != 1:
                v = v.view(b, *c.shape)
            if c.kind == "i":
                v = v.to(torch.int64)
            elif c.kind == "b":
                v = v > 0.5
            put(out, c, v)
        return out

    def plan(self, skip: tuple[str, ...] = ()) -> list[Column]:
        """The columns whose key is not in ``skip`` (cached: readers call it every step)."""
        plan = self._plans.get(skip)
        if plan is None:
            plan = self._plans[skip] = [c for c in self.columns if c.key not in skip]
        return plan

    @property
    def nested(self) -> tuple[str, ...]:
        """Keys whose columns form a nested dict (``cost_terms``, ``obs_parts``)."""
        return self._nested


def put(out: dict[str, Any], c: Column, v: Any) -> None:
    """``out[c.key] = v``, or ``out[c.key][c.sub] = v`` for a nested column."""
    if c.sub is None:
        out[c.key] = v
    else:
        out.setdefault(c.key, {})[c.sub] = v


def entries_of(named: Mapping[str, Any]) -> list[Entry]:
    """``(key, sub, tensor)`` of a (one-level nested) dict of tensors, in its order."""
    out: list[Entry] = []
    for key, value in named.items():
        if isinstance(value, Mapping):
            out.extend((key, sub, t) for sub, t in value.items())
        else:
            out.append((key, None, value))
    return out


class StatePacker:
    """Packs a list of state tensors ``(B, ...)`` into one ``(B, S)`` tensor per dtype, and back.

    The frozen step takes and returns the state packed when the batch is small: each tensor in or
    out of a compiled call costs ~0.2-0.4 us of wrapping, ~10 us for a ~30-tensor state, more than
    the arithmetic of a batch-1 step. (At large batches separate contiguous tensors are faster:
    the kernels then vectorise over the batch, which a row-major packed state prevents.)

    Args:
        leaves: Example tensors, batch first.
    """

    def __init__(self, leaves: Sequence[torch.Tensor]) -> None:
        self.dtypes: list[torch.dtype] = []
        self._slots: list[tuple[int, int, int, tuple[int, ...]]] = []  # group, start, stop, shape
        widths: list[int] = []
        self._members: list[list[int]] = []
        for i, t in enumerate(leaves):
            if t.dtype not in self.dtypes:
                self.dtypes.append(t.dtype)
                widths.append(0)
                self._members.append([])
            g = self.dtypes.index(t.dtype)
            shape = tuple(int(s) for s in t.shape[1:])
            size = math.prod(shape)
            self._slots.append((g, widths[g], widths[g] + size, shape))
            self._members[g].append(i)
            widths[g] += size

    def pack(self, leaves: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """One ``(B, S_g)`` tensor per dtype, in :attr:`dtypes` order."""
        b = leaves[0].shape[0]
        return [torch.cat([leaves[i].reshape(b, -1) for i in members], dim=1) for members in self._members]

    def unpack(self, packed: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """The tensors back (views of ``packed``), in their original order."""
        b = packed[0].shape[0]
        return [packed[g][:, start:stop].reshape(b, *shape) for g, start, stop, shape in self._slots]
