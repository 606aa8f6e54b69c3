"""A user task defined outside the package (tests only): own state, update, termination, observe.

Importing this module registers ``usertest/Jump-v0`` (and it is importable as
``"tests._user_tasks:usertest/Jump-v0"``, Gymnasium's module form).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

import motornet_gym as mg
from motornet_gym.dynamics import presets
from motornet_gym.tasks import CentreOut

ENV_ID = "usertest/Jump-v0"
ROTATION = math.radians(30.0)


class JumpState(NamedTuple):
    joint_pos: torch.Tensor
    start: torch.Tensor
    target: torch.Tensor
    go_step: torch.Tensor
    catch: torch.Tensor
    jumped: torch.Tensor  # (B,) bool: the target has jumped
    end_step: torch.Tensor  # (B,) int64: the episode terminates after this step


class JumpTask(CentreOut):
    """Centre-out; the target turns 90 degrees once the hand is 1 mm from the start; the cursor is
    rotated 30 degrees about the start; each episode terminates at a drawn step (3..6)."""

    def _extend(self, ts, end_step):
        b = ts.joint_pos.shape[0]
        jumped = torch.zeros(b, dtype=torch.bool, device=ts.joint_pos.device)
        return JumpState(**ts._asdict(), jumped=jumped, end_step=end_step)

    def sample_train(self, batch_size, generator):
        ts = super().sample_train(batch_size, generator)
        end = torch.randint(3, 7, (batch_size,), generator=generator, device=ts.joint_pos.device)
        return self._extend(ts, end)

    def sample_eval(self):
        ts = super().sample_eval()
        return self._extend(ts, torch.full_like(ts.go_step, 5))

    def update(self, task_state, effector_state, step):
        moved = torch.linalg.vector_norm(effector_state.fingertip_pos - task_state.start, dim=-1) > 1e-3
        jump = moved & ~task_state.jumped
        d = task_state.target - task_state.start
        turned = task_state.start + torch.stack([-d[:, 1], d[:, 0]], dim=-1)
        target = torch.where(jump[:, None], turned, task_state.target)
        return task_state._replace(target=target, jumped=task_state.jumped | jump)

    def terminated(self, task_state, effector_state, step):
        return step >= task_state.end_step

    def observe(self, task_state, parts, step):
        c, s = math.cos(ROTATION), math.sin(ROTATION)
        rel = parts["vision"] - task_state.start
        rotated = torch.stack([c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1]], dim=-1)
        return {**parts, "vision": task_state.start + rotated}


if ENV_ID not in mg.ENV_SPECS:
    mg.register(
        ENV_ID, effector=presets.arm26, task=JumpTask, description="test task", go_cue_range=(0.0, 0.0)
    )
