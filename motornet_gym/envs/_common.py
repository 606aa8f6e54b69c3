"""Helpers shared by the front ends: spaces, action validation, tensors to numpy, trails.

Used by :mod:`motornet_gym.envs` and :mod:`motornet_gym.sb3`; nothing here knows physics or cost.
"""

from __future__ import annotations

import math
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces

from .._compile.packed import OUTPUTS, Layout
from .rendering import LimbFrame

__all__ = [
    "ActionBuffer",
    "HostStep",
    "TrailBuffer",
    "action_space",
    "check_finite",
    "check_reset_mask",
    "fast_action",
    "frame_from_info",
    "host_reset",
    "host_rows",
    "host_step_one",
    "host_step",
    "info_to_numpy",
    "masked_info",
    "observation_space",
    "packed_batch_info",
    "packed_row_info",
    "render_indices",
    "to_host",
    "to_numpy",
    "validate_action",
    "where_info",
]

#: Info keys the renderer reads.
RENDER_KEYS = ("joint_pos", "fingertip_pos", "target", "activation", "endpoint_load")


def observation_space(observation_size: int) -> spaces.Box:
    """``Box(-inf, inf, (O,), float32)``: observation noise makes every element unbounded."""
    return spaces.Box(-np.inf, np.inf, (observation_size,), np.float32)


def action_space(n_muscles: int) -> spaces.Box:
    """``Box(0, 1, (M,), float32)``: muscle excitations."""
    return spaces.Box(0.0, 1.0, (n_muscles,), np.float32)


def validate_action(
    action: Any, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Check an action's shape and finiteness, clip it to [0, 1] and move it to the engine.

    Args:
        action: Array-like (numpy array, list, torch tensor) of excitations.
        shape: Expected shape, ``(M,)`` for a single env or ``(N, M)`` for a batch.
        device: Engine device.
        dtype: Engine dtype.

    Returns:
        A tensor of shape ``(N, M)`` (``(1, M)`` for a single env) on ``device`` with ``dtype``.

    Raises:
        ValueError: On a wrong shape, a non-numeric dtype or a non-finite entry.
    """
    if isinstance(action, torch.Tensor):
        action = action.detach().cpu().numpy()
    arr = np.asarray(action)
    if arr.shape != shape:
        raise ValueError(
            f"action must have shape {shape} (batch of muscle excitations in [0, 1]); got shape {arr.shape}"
        )
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"action must be numeric; got dtype {arr.dtype}")
    finite = np.isfinite(arr)
    if not finite.all():
        idx = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise ValueError(f"action must be finite (excitations in [0, 1]); got {arr[idx]!r} at index {idx}")
    arr = np.clip(arr, 0.0, 1.0)
    t = torch.from_numpy(np.ascontiguousarray(arr)).to(device=device, dtype=dtype)
    return t.reshape(-1, shape[-1])


class ActionBuffer:
    """A persistent ``(1, M)`` CPU engine tensor the single env copies each finite action into.

    :meth:`fill` is :func:`fast_action` for one environment on a CPU engine at a few hundred ns:
    no tensor is created per step (the engine copies the action before it returns, so reusing the
    buffer is safe), and finiteness is checked on the Python sum of the values (finite iff every
    value is, barring an overflow of the sum, which only sends the action to the slow check).
    """

    def __init__(self, n_muscles: int, dtype: torch.dtype) -> None:
        self.tensor = torch.zeros(1, n_muscles, dtype=dtype)
        self._np = self.tensor.numpy()[0]
        self.shape = (n_muscles,)

    def fill(self, action: Any) -> torch.Tensor | None:
        """The buffer holding ``action``, or ``None`` unless it is a finite float array ``(M,)``."""
        if type(action) is not np.ndarray or action.shape != self.shape or action.dtype.kind != "f":
            return None
        if not math.isfinite(sum(action.tolist())):
            return None
        self._np[:] = action
        return self.tensor


def fast_action(
    action: Any, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype
) -> torch.Tensor | None:
    """:func:`validate_action`'s fast path: a finite float numpy array of ``shape`` as ``(N, M)``.

    Returns ``None`` for anything else (other types, shapes or dtypes, non-contiguous or read-only
    arrays, non-finite entries); the caller then runs :func:`validate_action`, which converts or
    raises. No clipping here: the engine clips to [0, 1] itself, and reads the (possibly shared)
    memory before returning.
    """
    if type(action) is not np.ndarray or action.shape != shape or action.dtype.kind != "f":
        return None
    if not (action.flags.c_contiguous and action.flags.writeable):  # torch.from_numpy needs both
        return None
    if not np.isfinite(action).all():
        return None
    t = torch.from_numpy(action).reshape(-1, shape[-1])
    return t if t.dtype == dtype and device.type == "cpu" else t.to(device=device, dtype=dtype)


class HostStep(NamedTuple):
    """A packed step (or reset) output copied to the host once, with its outputs split off.

    The front ends' one view of the engine's fast path: :func:`host_step` / :func:`host_reset`
    make it, :meth:`info_row`, :meth:`info_batch` and :meth:`column` read it; the packed layout
    stays behind it.

    Attributes:
        layout: The simulator's packed layout (columns of ``rows``).
        rows: ``(N, K)`` the whole copy, engine dtype (info columns are read from it).
        observation: ``(N, O)`` float32, C-contiguous.
        reward: ``(N,)`` engine dtype.
        terminated: ``(N,)`` bool.
        truncated: ``(N,)`` bool.
    """

    layout: Layout
    rows: np.ndarray
    observation: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray

    def info_row(self, i: int = 0) -> dict[str, Any]:
        """The info dict of environment ``i`` (views of :attr:`rows`; see :func:`packed_row_info`)."""
        return packed_row_info(self.layout, self.rows[i])

    def info_batch(self) -> dict[str, Any]:
        """The info dict of every environment, batch first (see :func:`packed_batch_info`)."""
        return packed_batch_info(self.layout, self.rows)

    def column(self, key: str) -> np.ndarray:
        """``(N,)`` or ``(N, n)`` view of one info entry's columns (e.g. ``"step"``)."""
        c = self.layout[key]
        return self.rows[:, c.start] if c.stop == c.start + 1 else self.rows[:, c.start : c.stop]


def host_step(sim: Any, action: torch.Tensor) -> HostStep:
    """Step ``sim`` with validated actions ``(N, M)`` and copy every output to the host once."""
    packed = sim.step_packed(action)  # (before reading the layout: the first step fixes it)
    return to_host(sim.layout, packed)


def host_step_one(sim: Any, action: torch.Tensor) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
    """:func:`host_step` of a batch-1 simulator, as ``MotorEnv.step`` returns it.

    ``(observation (O,) float32, reward, terminated, truncated, info)`` from one host copy, without
    the batch axis (the per-step cost of a single env is mostly Python: nothing is built twice).
    Raises ``FloatingPointError`` as :func:`check_finite` if the observation is not finite.
    """
    packed = sim.step_packed(action)
    layout = sim.layout
    row = _host_array(packed)[0]
    c = layout["observation"]
    obs = row[c.start : c.stop].astype(np.float32)  # a copy, C-contiguous
    info = packed_row_info(layout, row)
    # The sum of float32 values in float64 is finite iff every value is (no overflow is possible).
    if not math.isfinite(sum(obs.tolist())):
        check_finite(obs[None], info["step"])
    return (
        obs,
        float(row[layout["reward"].start]),
        bool(row[layout["terminated"].start] > 0.5),
        bool(row[layout["truncated"].start] > 0.5),
        info,
    )


def host_reset(sim: Any, seed: Any = None, options: Any = None) -> HostStep:
    """Reset ``sim`` and copy the first observation and the reset info to the host once."""
    packed = sim.reset_packed(seed=seed, options=options)
    return to_host(sim.layout, packed)


def to_host(layout: Layout, packed: torch.Tensor) -> HostStep:
    """One host copy of ``packed`` ``(N, K)`` (see :meth:`Simulator.step_packed`), split."""
    return host_rows(layout, _host_array(packed))


def _host_array(packed: torch.Tensor) -> np.ndarray:
    """The numpy view (a copy off the CPU) of a packed output, detached."""
    return (packed.detach() if packed.requires_grad else packed).cpu().numpy()


def host_rows(layout: Layout, rows: np.ndarray) -> HostStep:
    """:class:`HostStep` of packed rows ``(N, K)`` already on the host (a buffer nothing else uses)."""
    c = layout["observation"]
    return HostStep(
        layout,
        rows,
        np.ascontiguousarray(rows[:, c.start : c.stop], dtype=np.float32),
        rows[:, layout["reward"].start],
        rows[:, layout["terminated"].start] > 0.5,
        rows[:, layout["truncated"].start] > 0.5,
    )


def packed_row_info(layout: Layout, row: np.ndarray) -> dict[str, Any]:
    """The info dict of one environment from a host copy of a packed step row ``(K,)``.

    Array entries are views of ``row`` (a fresh buffer the engine keeps no reference to); scalars
    are numpy scalars (``step`` ``np.int64``). Hot: every single-env step runs it, so it runs a
    reader generated once per layout (:func:`_row_reader`: one dict display with the columns as
    constants, ~3x faster than looping over the columns).
    """
    reader = _ROW_READERS.get(layout)
    if reader is None:
        reader = _ROW_READERS[layout] = _row_reader(layout)
    return reader(row)


_ROW_READERS: weakref.WeakKeyDictionary[Layout, Callable[[np.ndarray], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _row_reader(layout: Layout) -> Callable[[np.ndarray], dict[str, Any]]:
    """``row -> info`` as one generated expression (tested equal to a loop over the columns)."""

    def value(c: Any) -> str:
        if not c.shape:
            v = f"row[{c.start}]"
            return v if c.kind == "f" else (f"int64({v})" if c.kind == "i" else f"({v} > 0.5)")
        v = f"row[{c.start}:{c.stop}]"
        if len(c.shape) > 1:
            v = f"{v}.reshape({c.shape!r})"
        return v if c.kind == "f" else (f"{v}.astype(int64)" if c.kind == "i" else f"({v} > 0.5)")

    plan = layout.plan(OUTPUTS)
    items = []
    for key in layout.nested:
        inner = ", ".join(f"{c.sub!r}: {value(c)}" for c in plan if c.key == key and c.sub is not None)
        items.append(f"{key!r}: {{{inner}}}")
    items += [f"{c.key!r}: {value(c)}" for c in plan if c.sub is None and c.key not in layout.nested]
    source = f"def read(row):\n    return {{{', '.join(items)}}}\n"
    namespace: dict[str, Any] = {"int64": np.int64}
    exec(compile(source, "<packed_row_info>", "exec"), namespace)  # noqa: S102  (columns only)
    return namespace["read"]


def packed_batch_info(layout: Layout, rows: np.ndarray) -> dict[str, Any]:
    """The info dict of every environment from a host copy of packed step rows ``(N, K)``.

    Arrays with the batch first (views of ``rows``, a fresh buffer; ``step`` int64).
    """
    out: dict[str, Any] = {key: {} for key in layout.nested}
    n = rows.shape[0]
    for key, sub, start, stop, shape, kind in layout.plan(OUTPUTS):
        v: Any = rows[:, start] if not shape else rows[:, start:stop]
        if len(shape) > 1:
            v = v.reshape(n, *shape)
        if kind != "f":
            v = v.astype(np.int64) if kind == "i" else v > 0.5
        if sub is None:
            out[key] = v
        else:
            out[key][sub] = v
    return out


def check_finite(obs: np.ndarray, step: Any) -> None:
    """Raise ``FloatingPointError`` naming the step and batch index if ``obs`` ``(N, O)`` diverged."""
    finite = np.isfinite(obs)
    if not finite.all():
        b = int(np.argwhere(~finite.all(-1))[0, 0])
        s = np.asarray(step).reshape(-1)
        s_b = int(s[b if s.size > 1 else 0])
        raise FloatingPointError(
            f"the simulation diverged at step {s_b}, batch index {b}: non-finite observation"
        )


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A numpy copy of a tensor (never a view of engine memory)."""
    t = t.detach()
    if t.device.type == "cpu":
        return t.numpy().copy()
    return t.cpu().numpy()


def info_to_numpy(info: Mapping[str, Any], batch_size: int) -> dict[str, Any]:
    """Convert a (nested) engine info dict to numpy copies with the batch first.

    Values without a leading batch dimension (e.g. a scalar step counter) are broadcast to
    ``(batch_size, ...)``, so every leaf is an array of length ``batch_size`` as Gymnasium's vector
    info layout requires.
    """
    out: dict[str, Any] = {}
    for key, value in info.items():
        if isinstance(value, Mapping):
            out[key] = info_to_numpy(value, batch_size)
            continue
        arr = to_numpy(value) if isinstance(value, torch.Tensor) else np.asarray(value)
        if arr.ndim == 0 or arr.shape[0] != batch_size:
            arr = np.broadcast_to(arr, (batch_size, *arr.shape)).copy()
        out[key] = arr
    return out


class TrailBuffer:
    """Recent fingertip positions of the sub-environments being rendered.

    Args:
        indices: Sub-environment indices to track.
        length: Number of positions kept per sub-environment.
    """

    def __init__(self, indices: Sequence[int], length: int = 100) -> None:
        self.indices = tuple(indices)
        self._trails = {i: deque(maxlen=length) for i in self.indices}

    def clear(self, mask: np.ndarray | None = None) -> None:
        """Forget the trails of the sub-environments where ``mask`` is True (all if None)."""
        for i, trail in self._trails.items():
            if mask is None or bool(mask[i]):
                trail.clear()

    def append(self, fingertip_pos: np.ndarray) -> None:
        """Record ``fingertip_pos`` ``(N, 2)`` m of the tracked sub-environments."""
        for i, trail in self._trails.items():
            trail.append(np.array(fingertip_pos[i], dtype=np.float64))

    def trail(self, index: int) -> np.ndarray:
        """``(T, 2)`` m, oldest first (empty for a sub-environment that is not tracked)."""
        t = self._trails.get(index)
        return np.stack(t) if t else np.zeros((0, 2))


def frame_from_info(info: Mapping[str, np.ndarray], index: int, trail: np.ndarray) -> LimbFrame:
    """The :class:`LimbFrame` of sub-environment ``index`` from a batched numpy info dict."""
    return LimbFrame(
        joint_pos=info["joint_pos"][index],
        target=info["target"][index],
        activation=info["activation"][index],
        endpoint_load=info["endpoint_load"][index],
        trail=trail,
    )


# ----------------------------------------------------------------------------- vector env helpers
def render_indices(render_envs: int | Sequence[int], num_envs: int) -> tuple[int, ...]:
    if isinstance(render_envs, int) and not isinstance(render_envs, bool):
        if not 1 <= render_envs <= num_envs:
            raise ValueError(f"render_envs must be in [1, {num_envs}]; got {render_envs}")
        return tuple(range(render_envs))
    idx = tuple(int(i) for i in render_envs)
    if not idx or any(not 0 <= i < num_envs for i in idx):
        raise ValueError(
            f"render_envs must be a non-empty sequence of indices in [0, {num_envs}); got {render_envs!r}"
        )
    return idx


def check_reset_mask(mask: Any, num_envs: int) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (num_envs,):
        raise ValueError(
            f"options['reset_mask'] must be a numpy bool array of shape ({num_envs},); got "
            f"{type(mask).__name__} {getattr(mask, 'dtype', '')} {np.shape(mask)}"
        )
    if not mask.any():
        raise ValueError("options['reset_mask'] must contain at least one True; got all False")
    return mask.copy()


def masked_info(info: dict[str, Any], mask: np.ndarray) -> dict[str, Any]:
    """Gymnasium's vector info layout: every key gets a ``"_<key>"`` boolean mask."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        out[key] = masked_info(value, mask) if isinstance(value, dict) else value
        out[f"_{key}"] = mask.copy()
    return out


def where_info(mask: torch.Tensor, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """Rows of ``new`` where ``mask`` ``(B,)`` is True, of ``old`` elsewhere; keys of ``old``."""
    out: dict[str, Any] = {}
    for key, value in old.items():
        if key not in new:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = where_info(mask, new[key], value)
        else:
            m = mask.view((-1,) + (1,) * (value.dim() - 1))
            out[key] = torch.where(m, new[key].to(value.dtype), value)
    return out
