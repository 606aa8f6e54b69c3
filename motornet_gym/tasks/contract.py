"""What the engine requires of a task, checked once on a probe episode (torch only).

:class:`~motornet_gym.engine.EpisodeModel` draws a batch-1 episode with a fixed seed when it is
built, takes one step with a zero action and checks the task's outputs here, so a task that breaks
the contract fails when its simulator (or its registered id, see :func:`motornet_gym.register`) is
built, with a message naming the task, the hook or field, what was expected and what was received.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

__all__ = ["REQUIRED_FIELDS", "check_batch_first", "check_task_outputs", "check_task_state", "cue_sizes"]

#: Fields every task state has (a task's own state type lists them first, then its own).
REQUIRED_FIELDS = ("joint_pos", "start", "target", "go_step", "catch")

_SENSORY = ("vision", "proprioception_length", "proprioception_velocity", "action_history")


def _leaves(tree: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        out = []
        for name in tree._fields:
            out.extend(_leaves(getattr(tree, name), f"{path}.{name}"))
        return out
    return [(path, tree)]


def check_batch_first(task: Any, state: Any, batch_size: int, what: str = "task state") -> None:
    """Raise if a leaf of ``state`` is no tensor or its first dimension is not ``batch_size``."""
    name = type(task).__name__
    for path, leaf in _leaves(state, "state"):
        if not isinstance(leaf, torch.Tensor):
            raise TypeError(
                f"{name}: {what} field {path} must be a torch.Tensor (batch first); got {type(leaf).__name__}"
            )
        if leaf.dim() == 0 or leaf.shape[0] != batch_size:
            raise ValueError(
                f"{name}: {what} field {path} must be batch first, shape ({batch_size}, ...); "
                f"got {tuple(leaf.shape)}"
            )


def check_task_state(task: Any, state: Any, batch_size: int) -> None:
    """Raise unless ``state`` is a NamedTuple with :data:`REQUIRED_FIELDS` and batch-first tensors."""
    name = type(task).__name__
    fields = getattr(state, "_fields", None)
    if not isinstance(state, tuple) or fields is None:
        raise TypeError(f"{name}: the task state must be a NamedTuple; got {type(state).__name__}")
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        raise TypeError(
            f"{name}: the task state {type(state).__name__} lacks field {missing[0]!r}; every task state "
            f"has {', '.join(REQUIRED_FIELDS)} (then its own fields)"
        )
    check_batch_first(task, state, batch_size)
    dof = task.dof
    for field, shape in (
        ("joint_pos", (batch_size, dof)),
        ("target", (batch_size, 2)),
        ("start", (batch_size, 2)),
    ):
        got = tuple(getattr(state, field).shape)
        if got != shape:
            raise ValueError(f"{name}: task state field {field} must have shape {shape}; got {got}")


def cue_sizes(task: Any, probe: Any) -> tuple[tuple[str, int], ...]:
    """Names and sizes of the task's observation cues, read off ``observation_extras`` on ``probe``."""
    name = type(task).__name__
    check_task_state(task, probe, 1)
    step = torch.zeros(1, dtype=torch.int64, device=probe.joint_pos.device)
    cues = task.observation_extras(probe, step)
    out: list[tuple[str, int]] = []
    for item in cues:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise TypeError(f"{name}.observation_extras must return (name, tensor) pairs; got {item!r}")
        key, t = item
        if key in _SENSORY or key in dict(out):
            raise ValueError(f"{name}.observation_extras: cue name {key!r} is taken; use another name")
        if not isinstance(t, torch.Tensor) or t.dim() != 2 or t.shape[0] != 1:
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(
                f"{name}.observation_extras: cue {key!r} must have shape (B, n); got {got} for B=1"
            )
        out.append((key, int(t.shape[1])))
    return tuple(out)


def check_task_outputs(
    task: Any, before: Any, after: Any, out: Any, parts: Sequence[tuple[str, int]]
) -> None:
    """Check one probe step: the updated state, ``terminated``, the cost terms and ``observe``."""
    name = type(task).__name__
    if type(after.task) is not type(before.task):
        raise TypeError(
            f"{name}.update must return a {type(before.task).__name__}; got {type(after.task).__name__}"
        )
    for (path, a), (_, b) in zip(_leaves(before.task, "state"), _leaves(after.task, "state"), strict=True):
        if not isinstance(b, torch.Tensor) or b.shape != a.shape or b.dtype != a.dtype:
            got = f"{b.dtype} {tuple(b.shape)}" if isinstance(b, torch.Tensor) else type(b).__name__
            raise ValueError(
                f"{name}.update: field {path} must keep its dtype and shape "
                f"{a.dtype} {tuple(a.shape)}; got {got}"
            )
    t = out.terminated
    if not isinstance(t, torch.Tensor) or t.dtype != torch.bool or tuple(t.shape) != (1,):
        got = f"{t.dtype} {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{name}.terminated must return a (B,) bool tensor; got {got} for B=1")
    _check_terms(name, out.cost_terms, task.cost_weights)
    sizes = dict(parts)
    for key, value in out.clean_parts.items():
        want = (1, sizes.get(key, -1))
        if not isinstance(value, torch.Tensor) or tuple(value.shape) != want:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{name}.observe: part {key!r} must keep shape {want}; got {got}")
    if set(out.clean_parts) != set(sizes):
        raise ValueError(
            f"{name}.observe must return the parts it was given ({', '.join(sorted(sizes))}); "
            f"got {', '.join(sorted(out.clean_parts))}"
        )


def _check_terms(name: str, terms: Any, weights: Mapping[str, float]) -> None:
    if not isinstance(terms, Mapping):
        raise TypeError(f"{name}.cost must return a dict of (B,) tensors; got {type(terms).__name__}")
    for key in weights:
        t = terms.get(key)
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != (1,):
            got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(
                f"{name}.cost: term {key!r} (in cost_weights) must have shape (B,); got {got} for B=1"
            )
