"""Differentiable musculoskeletal dynamics in PyTorch (no Gymnasium here).

Skeletons, muscles, musculotendon geometry, integrators and effectors; batch-first tensors in SI
units; dtype and device follow the inputs.
"""

from . import presets
from .effector import Effector
from .geometry import ConstantMomentArmGeometry, MuscleGeometry, PathGeometry, PolynomialGeometry
from .integrators import INTEGRATORS, get_integrator
from .muscles import (
    CompliantTendonHillMuscle,
    MujocoHillMuscle,
    Muscle,
    ReluMuscle,
    RigidTendonHillMuscle,
    RigidTendonHillMuscleThelen,
)
from .planar_arm import NLinkArm
from .skeletons import PointMass, Skeleton, TwoDofArm
from .state import EffectorState, Geometry, MuscleState

__all__ = [
    "INTEGRATORS",
    "CompliantTendonHillMuscle",
    "ConstantMomentArmGeometry",
    "Effector",
    "EffectorState",
    "Geometry",
    "MujocoHillMuscle",
    "Muscle",
    "MuscleGeometry",
    "MuscleState",
    "NLinkArm",
    "PathGeometry",
    "PointMass",
    "PolynomialGeometry",
    "ReluMuscle",
    "RigidTendonHillMuscle",
    "RigidTendonHillMuscleThelen",
    "Skeleton",
    "TwoDofArm",
    "get_integrator",
    "presets",
]
