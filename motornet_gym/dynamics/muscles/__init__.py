"""Muscle models, each vectorised over all muscles of an effector."""

from .base import Muscle, ReluMuscle

__all__ = ["Muscle", "ReluMuscle"]
