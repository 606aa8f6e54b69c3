"""Tasks: goals, loads (force fields, perturbations), observation cues and the one cost (torch only).

* :class:`Reach`: random start and target, uniform in joint space (MotorNet RandomTargetReach).
* :class:`CentreOut`: centre posture, 10 cm targets, go cue, catch trials; 8-target eval suite.
* :class:`ForceField`: centre-out in a curl field ``F = B v``, with force-channel probe trials.
* :class:`Perturbation`: centre-out and posture under transient endpoint pulses and constant loads.
"""

from .base import NEVER, LoadState, Task, TaskConfig, TaskState
from .centre_out import CentreOut, CentreOutConfig
from .force_field import ForceField, ForceFieldConfig
from .perturbation import Perturbation, PerturbationConfig
from .reach import Reach, ReachConfig

__all__ = [
    "NEVER",
    "CentreOut",
    "CentreOutConfig",
    "ForceField",
    "ForceFieldConfig",
    "LoadState",
    "Perturbation",
    "PerturbationConfig",
    "Reach",
    "ReachConfig",
    "Task",
    "TaskConfig",
    "TaskState",
]
