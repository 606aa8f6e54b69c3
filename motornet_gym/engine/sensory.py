"""Sensory pipeline of the engine: delays, noise and the efference copy (torch only).

Delay semantics: a delay of ``d`` seconds (a multiple of ``dt``) makes the observation show the
reading from exactly ``d / dt`` steps earlier; ``0`` gives no lag. At reset the delay lines are
filled with the initial reading. MotorNet (Codol et al. 2024, doi:10.7554/eLife.88591) lags one
step *less* than its argument (its ``vision_delay = k dt`` shows the state from ``k - 1`` steps
earlier), so MotorNet's ``delay`` corresponds to our ``delay - dt``.

Noise is additive, Gaussian and independent per channel and step, drawn from the simulator's
``torch.Generator``: ``action_noise`` is added to the excitation before the effector (which then
clips it to ``[min_activation, 1]``), ``vision_noise`` and ``proprioception_noise`` to the delayed
readings, ``observation_noise`` to the sensory channels of the observation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

# Default delays (multiples of the default dt = 0.01 s).
# Proprioception 0.02 s: the short-latency stretch reflex of arm muscles starts ~20-25 ms after a
# muscle stretch (Pruszynski & Scott 2012, Exp Brain Res 218:341, doi:10.1007/s00221-012-3041-8).
DEFAULT_PROPRIOCEPTION_DELAY = 0.02
# Vision 0.07 s: afferent visual latency is ~50-70 ms, and visually driven corrections of a reach
# follow a hand or target jump after ~100 ms (review: Franklin & Wolpert 2011, Neuron 72:425,
# doi:10.1016/j.neuron.2011.10.006).
DEFAULT_VISION_DELAY = 0.07

_NOISES = ("action_noise", "proprioception_noise", "vision_noise", "observation_noise")
# Task cues: noiseless under a scalar observation_noise.
_CUES = ("target", "go_cue")


@dataclass(frozen=True, kw_only=True)
class SensoryConfig:
    """Delays, noise and efference copy of the observation.

    Noise stds are a number (every channel) or a sequence with one std per channel: ``action_noise``
    ``M`` values; ``proprioception_noise`` ``2M`` (lengths, then velocities); ``vision_noise`` 2;
    ``observation_noise`` one per observation element. A *number* ``observation_noise`` applies to
    the sensory channels (vision, proprioception, efference copy) only: the task cues (target, go
    cue) stay noiseless, as in MotorNet's ``RandomTargetReach``. Defaults are 0 (as MotorNet).

    Attributes:
        proprioception_delay: s, >= 0, a multiple of ``dt``.
        vision_delay: s, >= 0, a multiple of ``dt``.
        action_noise: std added to the excitation (dimensionless).
        proprioception_noise: std added to normalised fibre length and velocity.
        vision_noise: std added to the fingertip position, m.
        observation_noise: std added to observation elements.
        action_history: Number of past actions (clipped to [0, 1], before action noise) appended
            to the observation, oldest first; 0 = none.
    """

    proprioception_delay: float = DEFAULT_PROPRIOCEPTION_DELAY
    vision_delay: float = DEFAULT_VISION_DELAY
    action_noise: float | tuple[float, ...] = 0.0
    proprioception_noise: float | tuple[float, ...] = 0.0
    vision_noise: float | tuple[float, ...] = 0.0
    observation_noise: float | tuple[float, ...] = 0.0
    action_history: int = 0

    def __post_init__(self) -> None:
        for name in ("proprioception_delay", "vision_delay"):
            value = getattr(self, name)
            try:
                v = float(value)
            except (TypeError, ValueError):
                v = float("nan")
            if isinstance(value, bool) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0 s; got {value!r}")
            object.__setattr__(self, name, v)
        for name in _NOISES:
            object.__setattr__(self, name, _std_tuple(name, getattr(self, name)))
        h = self.action_history
        if isinstance(h, bool) or not isinstance(h, int) or h < 0:
            raise ValueError(f"action_history must be an integer >= 0; got {h!r}")


def _std_tuple(name: str, value: Any) -> tuple[float, ...]:
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


def delay_steps(name: str, delay: float, dt: float) -> int:
    """Number of steps in a delay; raise ``ValueError`` naming both values if not a multiple of dt."""
    k = round(delay / dt)
    if abs(k * dt - delay) > 1e-9 * max(1.0, delay):
        raise ValueError(f"{name} must be a multiple of dt={dt} s; got {delay}")
    return k


def std_vector(name: str, stds: tuple[float, ...], width: int, what: str) -> torch.Tensor:
    """``(width,)`` float64 stds from one value or ``width`` values (``what`` names the channels)."""
    if len(stds) not in (1, width):
        raise ValueError(f"{name} must be one std or {width} stds (one per {what}); got {len(stds)} values")
    return torch.tensor(stds if len(stds) == width else stds * width, dtype=torch.float64)


def fill_delay_line(reading: torch.Tensor, steps: int) -> torch.Tensor:
    """A delay line ``(B, steps + 1, C)`` holding ``reading`` ``(B, C)`` everywhere (reset)."""
    return reading[:, None, :].expand(-1, steps + 1, -1).clone()


def push(line: torch.Tensor, reading: torch.Tensor) -> torch.Tensor:
    """Append ``reading`` ``(B, C)`` and drop the oldest entry of ``line`` ``(B, L, C)``.

    The oldest entry ``line[:, 0]`` is the reading from ``L - 1`` steps ago, i.e. the delayed
    observation.
    """
    return torch.cat([line[:, 1:], reading[:, None, :]], dim=1)


def observation_std(
    config: SensoryConfig, parts: tuple[tuple[str, int], ...], n_muscles: int
) -> torch.Tensor:
    """Total noise std ``(O,)`` float64 of each observation element (see :class:`SensoryConfig`).

    Per channel, the modality's std (vision, proprioception) and the observation std combine as
    ``sqrt(s_mod**2 + s_obs**2)``: one draw with that std has the distribution of the two
    independent additive noises.
    """
    m = n_muscles
    proprio = std_vector("proprioception_noise", config.proprioception_noise, 2 * m, "length and velocity")
    own_parts = {
        "vision": std_vector("vision_noise", config.vision_noise, 2, "fingertip coordinate"),
        "proprioception_length": proprio[:m],
        "proprioception_velocity": proprio[m:],
    }
    zeros = torch.zeros
    own = torch.cat([own_parts.get(name, zeros(n, dtype=torch.float64)) for name, n in parts])
    size = sum(n for _, n in parts)
    if len(config.observation_noise) == 1:
        sensory = [float(name not in _CUES) for name, n in parts for _ in range(n)]
        obs = config.observation_noise[0] * torch.tensor(sensory, dtype=torch.float64)
    else:
        obs = std_vector("observation_noise", config.observation_noise, size, "observation element")
    return torch.sqrt(own**2 + obs**2)
