"""Muscle models, each vectorised over all muscles of an effector."""

from .base import Muscle, ReluMuscle
from .kistemaker import CompliantTendonHillMuscle, RigidTendonHillMuscle
from .mujoco import MujocoHillMuscle
from .thelen import RigidTendonHillMuscleThelen

__all__ = [
    "CompliantTendonHillMuscle",
    "MujocoHillMuscle",
    "Muscle",
    "ReluMuscle",
    "RigidTendonHillMuscle",
    "RigidTendonHillMuscleThelen",
]
