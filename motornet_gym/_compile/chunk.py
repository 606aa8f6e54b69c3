"""Several policy-and-simulator steps as one compiled graph (``rollout(..., fuse_steps=K)``).

A differentiable rollout through the guarded step records, per time step, one compiled autograd
node for the simulator plus the policy's own ops; their fixed per-call cost (guards, the autograd
wrapper, dozens of state tensors in and out, forward and backward) is most of a backprop batch on
the CPU at small batches. :func:`policy_chunk` unrolls ``K`` steps of ``policy`` then the model's
pure ``transition`` into one function, so one compiled call (and one backward call) covers ``K``
steps. It reaches the simulator only through its public pure methods (``transition``, ``info``)
and the policy only by calling it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from . import fastpath

__all__ = ["RECORDED_INFO", "compiled_chunk", "policy_chunk"]

#: Info entries of a step that a chunk records (``Trajectory``'s fields besides the policy's).
RECORDED_INFO = (
    "fingertip_pos",
    "fingertip_vel",
    "target",
    "desired_pos",
    "joint_pos",
    "joint_vel",
    "activation",
    "force",
    "endpoint_load",
)

Chunk = Callable[..., tuple[Any, Any, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]]


def policy_chunk(
    model: Any, policy: Any, state: Any, hidden: Any, observation: torch.Tensor, noises: Any, steps: int
) -> tuple[Any, Any, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``K = steps`` steps of ``policy`` then ``model.transition``, the records stacked.

    Args:
        model: The simulator (its pure ``transition(state, action, noise)`` and ``info``).
        policy: ``policy(obs, hidden) -> (action, hidden)``.
        state: The simulator state before the first step.
        hidden: The policy's hidden state (or ``None``).
        observation: ``(B, O)`` the observation the first action responds to.
        noises: A ``Noise`` whose fields are ``(K, B, n)`` (step ``i``'s draws at ``[i]``) or
            ``None``. (Stacked rather than a tuple of ``K``: guards on a tuple's length fail when
            chunks of several lengths share the compiled function.)
        steps: ``K``.

    Returns:
        ``(state, hidden, observation, records, cost_terms)`` after the ``K`` steps; ``records``
        maps ``observation`` (the one acted on), ``action``, ``hidden`` (if not ``None``), ``cost``,
        ``terminated`` and :data:`RECORDED_INFO` to ``(K, B, ...)`` tensors, ``cost_terms`` the
        task's cost terms to ``(K, B)``.
    """
    rec: dict[str, list[torch.Tensor]] = {}
    terms: dict[str, list[torch.Tensor]] = {}

    def put(d: dict[str, list[torch.Tensor]], k: str, v: torch.Tensor) -> None:
        d.setdefault(k, []).append(v)

    for i in range(steps):
        noise = type(noises)(*[None if x is None else x[i] for x in noises])
        action, hidden = policy(observation, hidden)
        put(rec, "observation", observation)
        put(rec, "action", action)
        if hidden is not None:
            put(rec, "hidden", hidden)
        state, out = model.transition(state, action, noise)
        info = model.info(state, out)
        put(rec, "cost", out.cost)
        put(rec, "terminated", out.terminated)
        for k in RECORDED_INFO:
            put(rec, k, info[k])
        for k, v in out.cost_terms.items():
            put(terms, k, v)
        observation = out.observation
    stacked = {k: torch.stack(v) for k, v in rec.items()}
    return state, hidden, observation, stacked, {k: torch.stack(v) for k, v in terms.items()}


_COMPILED: dict[tuple[str, bool], Chunk | None] = {}


def compiled_chunk(device: torch.device, batch_size: int) -> Chunk | None:
    """:func:`policy_chunk` compiled (one graph per chunk length), or ``None`` without a compiler.

    One compiled function per device type and threading regime; dynamo keeps one graph per
    simulator, policy, chunk length and ``requires_grad`` pattern under it.
    """
    key = (torch.device(device).type, batch_size >= fastpath.PARALLEL_MIN_BATCH)
    if key not in _COMPILED:
        _COMPILED[key] = fastpath.compile_step(policy_chunk, device, batch_size)
    return _COMPILED[key]
