"""Validation at the simulator's boundary: the action going in, the outputs coming out (torch only).

These run outside the hot path (:meth:`Simulator.step <motornet_gym.engine.Simulator.step>` only;
the front ends validate actions themselves and call ``step_unchecked``/``step_packed``), so they
may synchronise with the host.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["check_action", "check_step"]


def check_action(sim: Any, action: Any) -> torch.Tensor:
    """``action`` as a ``(B, M)`` tensor on the simulator's device and dtype, or a clear error.

    Raises:
        TypeError: If it is not a tensor.
        ValueError: On a wrong shape, a non-real dtype or a non-finite value (naming step, batch
            index and muscle).
    """
    shape = (sim.batch_size, sim.action_size)
    if not isinstance(action, torch.Tensor):
        raise TypeError(f"action must be a torch.Tensor of shape {shape}; got {type(action).__name__}")
    if tuple(action.shape) != shape:
        raise ValueError(f"action must have shape {shape}; got {tuple(action.shape)}")
    if not (action.is_floating_point() or action.dtype in (torch.int64, torch.int32, torch.bool)):
        raise ValueError(f"action must be a real tensor; got dtype {action.dtype}")
    action = action.to(device=sim.device, dtype=sim.dtype)
    finite = torch.isfinite(action)
    if not bool(finite.all()):
        b, j = torch.nonzero(~finite)[0].tolist()
        raise ValueError(
            f"action must be finite; got {action[b, j].item()} at step {int(sim.state.step[b])}, "
            f"batch index {b} (muscle {j})"
        )
    return action


def check_step(sim: Any, observation: torch.Tensor, reward: torch.Tensor) -> None:
    """Raise ``FloatingPointError`` naming the step and batch index if the simulation diverged.

    The cost sees the new state undelayed; the observation may show it only ``delay / dt`` steps
    later, so both are checked.
    """
    bad = ~(torch.isfinite(observation).all(-1) & torch.isfinite(reward))
    if bool(bad.any()):
        b = int(torch.nonzero(bad)[0, 0])
        raise FloatingPointError(
            f"the simulation diverged at step {int(sim.state.step[b])}, batch index {b}: "
            "non-finite cost or observation"
        )
