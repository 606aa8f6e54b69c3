"""The engine's data types: configuration, episode state, noise samples and step outputs (torch only)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from ..dynamics import EffectorState
from .sensory import SensoryConfig

__all__ = ["Noise", "SimState", "SimulatorConfig", "StepOutput"]


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig(SensoryConfig):
    """Episode length plus the sensory configuration (see :class:`~motornet_gym.engine.SensoryConfig`).

    Attributes:
        episode_duration: s, > 0, a multiple of ``dt`` (1 s, as MotorNet's ``max_ep_duration``).
    """

    episode_duration: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        d = self.episode_duration
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
            raise ValueError(f"episode_duration must be a finite number > 0 s; got {d!r}")


class SimState(NamedTuple):
    """Everything an episode needs, immutable (``B`` envs, ``M`` muscles).

    Attributes:
        effector: :class:`~motornet_gym.dynamics.EffectorState`.
        task: The task's episode state (:class:`~motornet_gym.tasks.TaskState` or the task's own type).
        vision: ``(B, Kv + 1, 2)`` m, clean fingertip readings, oldest first (``Kv`` delay steps).
        proprioception_length: ``(B, Kp + 1, M)`` fibre length / optimal fibre length, oldest first.
        proprioception_velocity: ``(B, Kp + 1, M)`` fibre velocity / vmax, oldest first.
        action_history: ``(B, H, M)`` last ``H`` actions clipped to [0, 1], oldest first.
        step: ``(B,)`` int64 steps taken in the episode.
        observation: ``(B, O)`` the last observation returned.
    """

    effector: EffectorState
    task: Any
    vision: torch.Tensor
    proprioception_length: torch.Tensor
    proprioception_velocity: torch.Tensor
    action_history: torch.Tensor
    step: torch.Tensor
    observation: torch.Tensor


class Noise(NamedTuple):
    """Noise samples of one step (``None`` when the std is 0 everywhere).

    Attributes:
        action: ``(B, M)`` added to the action.
        observation: ``(B, O)`` added to the observation.
    """

    action: torch.Tensor | None
    observation: torch.Tensor | None


class StepOutput(NamedTuple):
    """Outputs of :meth:`Simulator.transition` besides the new state.

    Attributes:
        observation: ``(B, O)``.
        cost: ``(B,)`` weighted sum of ``cost_terms``.
        cost_terms: name -> ``(B,)``.
        endpoint_load: ``(B, 2)`` N applied during the step.
        clean_parts: name -> ``(B, n)`` noise-free, undelayed observation parts.
        desired_pos: ``(B, 2)`` m, where the task wants the fingertip after the step.
        terminated: ``(B,)`` bool, the task ended the episode with this step.
        truncated: ``(B,)`` bool, the step counter has reached ``max_steps``.
    """

    observation: torch.Tensor
    cost: torch.Tensor
    cost_terms: dict[str, torch.Tensor]
    endpoint_load: torch.Tensor
    clean_parts: dict[str, torch.Tensor]
    desired_pos: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
