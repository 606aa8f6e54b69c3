"""The episode-state types of the built-in tasks (immutable NamedTuples of batch-first tensors).

A task's own state type is any NamedTuple that starts with :class:`TaskState`'s fields; see
``docs/extending.md``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch

__all__ = ["NEVER", "LoadState", "LoadedTaskState", "TaskState", "tree_map"]

#: ``go_step`` of a trial whose go cue never comes (catch / posture trials).
NEVER = 2**62


class LoadState(NamedTuple):
    """Per-episode parameters of the external loads (of the tasks that apply loads).

    Attributes:
        background: ``(B, 2)`` N, constant endpoint force over the whole episode.
        field: ``(B, 2, 2)`` N s/m, velocity-dependent field ``F = field @ fingertip_vel``.
        channel: ``(B,)`` bool, force-channel trial (the field is replaced by a stiff channel).
        pulse: ``(B, 2)`` N, endpoint force of the transient pulse.
        pulse_onset: ``(B,)`` int64, first step during which the pulse acts.
        pulse_offset: ``(B,)`` int64, first step during which it no longer acts.
    """

    background: torch.Tensor
    field: torch.Tensor
    channel: torch.Tensor
    pulse: torch.Tensor
    pulse_onset: torch.Tensor
    pulse_offset: torch.Tensor


class TaskState(NamedTuple):
    """The episode state of the built-in tasks without loads (drawn at reset).

    A task's own state type is any NamedTuple with these fields first, then its own (batch-first
    tensors or NamedTuples of them), e.g. ``class JumpState(NamedTuple): joint_pos: Tensor; start:
    Tensor; target: Tensor; go_step: Tensor; catch: Tensor; jumped: Tensor``.

    Attributes:
        joint_pos: ``(B, D)`` rad (m for the point mass), initial joint configuration.
        start: ``(B, 2)`` m, initial fingertip position (the desired position before the go cue).
        target: ``(B, 2)`` m, target shown to the policy (the desired position after the go cue).
        go_step: ``(B,)`` int64, step from which the go cue is on (``NEVER`` on catch trials).
        catch: ``(B,)`` bool, catch trial: the target is shown but the go cue never comes.
    """

    joint_pos: torch.Tensor
    start: torch.Tensor
    target: torch.Tensor
    go_step: torch.Tensor
    catch: torch.Tensor


class LoadedTaskState(NamedTuple):
    """:class:`TaskState` plus the episode's loads (the force-field and perturbation tasks).

    Attributes:
        joint_pos, start, target, go_step, catch: As in :class:`TaskState`.
        load: :class:`LoadState`.
    """

    joint_pos: torch.Tensor
    start: torch.Tensor
    target: torch.Tensor
    go_step: torch.Tensor
    catch: torch.Tensor
    load: LoadState


def tree_map(fn: Any, tree: Any) -> Any:
    """``fn`` applied to every tensor of a (nested) NamedTuple, fields matched by name."""
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    return type(tree)(**{k: tree_map(fn, v) for k, v in tree._asdict().items()})
