"""Tasks: episode state, goals, loads, observation cues, termination and the cost (torch only).

Subclass :class:`Task` for your own experiment (``docs/extending.md``); :mod:`.contract` says
what the engine checks of a task.

* :class:`Reach`: random start and target, uniform in joint space (MotorNet RandomTargetReach).
* :class:`CentreOut`: centre posture, 10 cm targets, go cue, catch trials; 8-target eval suite.
* :class:`ForceField`: centre-out in a curl field ``F = B v``, with force-channel probe trials.
* :class:`Perturbation`: centre-out and posture under transient endpoint pulses and constant loads.
"""

from .base import Task, TaskConfig
from .centre_out import CentreOut, CentreOutConfig
from .force_field import ForceField, ForceFieldConfig
from .perturbation import Perturbation, PerturbationConfig
from .reach import Reach, ReachConfig
from .state import NEVER, LoadedTaskState, LoadState, TaskState, tree_map

__all__ = [
    "NEVER",
    "CentreOut",
    "CentreOutConfig",
    "ForceField",
    "ForceFieldConfig",
    "LoadState",
    "LoadedTaskState",
    "Perturbation",
    "PerturbationConfig",
    "Reach",
    "ReachConfig",
    "Task",
    "TaskConfig",
    "TaskState",
    "tree_map",
]
