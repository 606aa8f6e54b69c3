"""Ready-made effectors with the parameters of MotorNet 0.3.0.

Codol et al. 2024, eLife, doi:10.7554/eLife.88591.

=====================  ===========================================================  ==========
preset                 model                                                        MotorNet
=====================  ===========================================================  ==========
``point_mass_24``      1 kg point mass, 4 ReLU muscles in an "X" (anchors at ±2 m)  ``ReluPointMass24``
``free_point_mass_24`` 1 kg point mass, 4 constant-moment-arm actuators             ``FreePointMass24``
``arm24``              arm26 skeleton, 4 constant-moment-arm actuators              ``Reacher``
``arm26``              two-joint arm, 6 lumped muscles, polynomial geometry         ``RigidTendonArm26``
``compliant_arm26``    arm26 with compliant-tendon Kistemaker muscles               ``CompliantTendonArm26``
=====================  ===========================================================  ==========
"""

from __future__ import annotations

import math

import torch

from .._validation import check_choice
from .effector import Effector
from .geometry import ConstantMomentArmGeometry, PathGeometry, PolynomialGeometry
from .muscles import (
    CompliantTendonHillMuscle,
    MujocoHillMuscle,
    Muscle,
    ReluMuscle,
    RigidTendonHillMuscle,
    RigidTendonHillMuscleThelen,
)
from .skeletons import PointMass, TwoDofArm

__all__ = [
    "ARM26_MUSCLES",
    "arm24",
    "arm26",
    "arm26_skeleton",
    "compliant_arm26",
    "free_point_mass_24",
    "point_mass_24",
]

#: Muscle names of the arm26 model, in order.
ARM26_MUSCLES = ("pectoralis", "deltoid", "brachioradialis", "tricepslat", "biceps", "tricepslong")
# Per-muscle parameters of MotorNet's RigidTendonArm26 (reference doc §5.2).
_ARM26_FMAX = (838.0, 1207.0, 1422.0, 1549.0, 414.0, 603.0)  # N
_ARM26_L0_CE = (0.134, 0.140, 0.092, 0.093, 0.137, 0.127)  # m, optimal fibre length
_ARM26_L0_SE = (0.039, 0.066, 0.172, 0.187, 0.204, 0.217)  # m, tendon slack length (rigid)
_ARM26_L0_SE_COMPLIANT = (0.070, 0.070, 0.172, 0.187, 0.204, 0.217)
_ARM26_A0 = (0.151, 0.2322, 0.2859, 0.2355, 0.3329, 0.2989)  # m
_ARM26_A0_COMPLIANT = (0.182, 0.2362, 0.2859, 0.2355, 0.3329, 0.2989)
_ARM26_A1 = ((-0.03, 0.03, 0.0, 0.0, -0.03, 0.03), (0.0, 0.0, -0.014, 0.025, -0.016, 0.03))  # m
_ARM26_A2 = ((0.0,) * 6, (0.0, 0.0, -0.004, -0.0022, -0.0057, -0.0032))  # m/rad
_ARM26_A3 = (math.pi / 2, 0.0)  # rad
# Joint limits of the arm26 effectors: shoulder [0, 135] deg, elbow [0, 155] deg.
_ARM26_LOWER = (0.0, 0.0)
_ARM26_UPPER = (math.radians(135.0), math.radians(155.0))

_RIGID_MUSCLES: dict[str, type[Muscle]] = {
    "kistemaker": RigidTendonHillMuscle,
    "thelen": RigidTendonHillMuscleThelen,
    "mujoco": MujocoHillMuscle,
    "relu": ReluMuscle,
}


def arm26_skeleton() -> TwoDofArm:
    """The arm used by MotorNet's arm26 effectors (after Nijhof & Kouwenhoven 2000).

    m = (1.82, 1.43) kg, centre-of-mass distances (0.135, 0.165) m, inertias (0.051, 0.057) kg m^2,
    lengths (0.309, 0.333) m; joint limits shoulder [0, 135] deg and elbow [0, 155] deg.
    """
    return TwoDofArm(
        m1=1.82, m2=1.43, l1g=0.135, l2g=0.165, i1=0.051, i2=0.057, l1=0.309, l2=0.333,
        pos_lower_bound=_ARM26_LOWER, pos_upper_bound=_ARM26_UPPER,
    )  # fmt: skip


def point_mass_24(
    *, max_isometric_force: float = 500.0, mass: float = 1.0, dt: float = 0.01,
    n_ministeps: int = 1, integrator: str = "euler", dtype: torch.dtype | None = None,
) -> Effector:  # fmt: skip
    """1 kg point mass in [-1, 1]^2 m pulled by four ReLU muscles in an "X" (MotorNet ``ReluPointMass24``).

    Muscles (in order) UpperRight, UpperLeft, LowerRight, LowerLeft run from world anchors at
    (2, 2), (-2, 2), (2, -2), (-2, -2) m to the mass; each has ``max_isometric_force`` N.
    """
    skeleton = PointMass(mass=mass)
    anchors = ((2.0, 2.0), (-2.0, 2.0), (2.0, -2.0), (-2.0, -2.0))
    geometry = PathGeometry(skeleton, [[(0, a), (1, (0.0, 0.0))] for a in anchors])
    muscle = ReluMuscle(max_isometric_force, n_muscles=4)
    return Effector(
        skeleton, muscle, geometry, dt=dt, n_ministeps=n_ministeps, integrator=integrator,
        muscle_names=("UpperRight", "UpperLeft", "LowerRight", "LowerLeft"), dtype=dtype,
    )  # fmt: skip


def free_point_mass_24(
    *, muscle: str = "relu", max_isometric_force: float = 1000.0, dt: float = 0.01,
    n_ministeps: int = 1, integrator: str = "euler", dtype: torch.dtype | None = None,
) -> Effector:  # fmt: skip
    """1 kg point mass in [-0.6, 0.6]^2 m with four actuators along the axes (MotorNet ``FreePointMass24``).

    Constant moment arms (m): r (-1, 0), u (0, -1), l (1, 0), d (0, 1); path length and velocity 0,
    so only ``muscle="relu"`` is meaningful.
    """
    muscle_obj = _make_muscle(muscle, max_isometric_force, 4, (1.0,) * 4, (1.0,) * 4)
    geometry = ConstantMomentArmGeometry(((-1.0, 0.0, 1.0, 0.0), (0.0, -1.0, 0.0, 1.0)))
    return Effector(
        PointMass(mass=1.0), muscle_obj, geometry, dt=dt, n_ministeps=n_ministeps,
        integrator=integrator, pos_lower_bound=(-0.6, -0.6), pos_upper_bound=(0.6, 0.6),
        muscle_names=("r", "u", "l", "d"), dtype=dtype,
    )  # fmt: skip


def arm24(
    *, muscle: str = "relu", max_isometric_force: float = 1000.0, dt: float = 0.01,
    n_ministeps: int = 1, integrator: str = "euler", dtype: torch.dtype | None = None,
) -> Effector:  # fmt: skip
    """arm26 skeleton with four constant-moment-arm actuators (MotorNet ``Reacher``).

    Moment arms (m) on (shoulder, elbow): sf (-1, 0), se (1, 0), ef (0, -1), ee (0, 1).
    """
    muscle_obj = _make_muscle(muscle, max_isometric_force, 4, (1.0,) * 4, (1.0,) * 4)
    geometry = ConstantMomentArmGeometry(((-1.0, 1.0, 0.0, 0.0), (0.0, 0.0, -1.0, 1.0)))
    return Effector(
        arm26_skeleton(), muscle_obj, geometry, dt=dt, n_ministeps=n_ministeps,
        integrator=integrator, muscle_names=("sf", "se", "ef", "ee"), dtype=dtype,
    )  # fmt: skip


def arm26(
    muscle: str = "kistemaker",
    *,
    dt: float = 0.01,
    n_ministeps: int = 1,
    integrator: str = "euler",
    dtype: torch.dtype | None = None,
) -> Effector:
    """Two-joint arm with six lumped muscles and polynomial geometry (MotorNet ``RigidTendonArm26``).

    Args:
        muscle: ``"kistemaker"`` (rigid-tendon Hill muscle of Kistemaker et al. 2010, default),
            ``"thelen"`` (Thelen 2003), ``"mujoco"`` (MuJoCo's FLV curves) or ``"relu"``.
        dt: Time step, s.
        n_ministeps: Integration sub-steps per step.
        integrator: ``"euler"`` or ``"rk4"``.
        dtype: Floating dtype of the constants (default dtype if ``None``).
    """
    key = check_choice("muscle", muscle, _RIGID_MUSCLES)
    muscle_obj = _make_muscle(key, _ARM26_FMAX, 6, _ARM26_L0_CE, _ARM26_L0_SE)
    geometry = PolynomialGeometry(_ARM26_A0, _ARM26_A1, _ARM26_A2, _ARM26_A3)
    return Effector(
        arm26_skeleton(), muscle_obj, geometry, dt=dt, n_ministeps=n_ministeps,
        integrator=integrator, muscle_names=ARM26_MUSCLES, dtype=dtype,
    )  # fmt: skip


def compliant_arm26(
    *, dt: float = 0.01, n_ministeps: int = 50, integrator: str = "rk4", dtype: torch.dtype | None = None
) -> Effector:
    """arm26 with compliant-tendon Kistemaker muscles (MotorNet ``CompliantTendonArm26``).

    Tendon slack length 0.070 m for pectoralis and deltoid, ``a0`` 0.182 and 0.2362 m for them.
    The fibre-length ODE is stiff once its units are right (MotorNet integrates it 10x too slowly,
    which hides part of the stiffness). MotorNet integrates this model with its (non-classical)
    "rk4" at 0.2 ms; we default to classical RK4 with ``n_ministeps=50`` sub-steps of 0.2 ms per
    10 ms step: measured over 0.6 s of random co-contraction from 8 starts, 0.2 ms sub-steps stay
    within 4e-4 rad of 0.05 ms sub-steps, while 1 ms sub-steps drift by over 1 rad.
    """
    muscle_obj = CompliantTendonHillMuscle(_ARM26_FMAX, _ARM26_L0_CE, _ARM26_L0_SE_COMPLIANT)
    geometry = PolynomialGeometry(_ARM26_A0_COMPLIANT, _ARM26_A1, _ARM26_A2, _ARM26_A3)
    return Effector(
        arm26_skeleton(), muscle_obj, geometry, dt=dt, n_ministeps=n_ministeps,
        integrator=integrator, muscle_names=ARM26_MUSCLES, dtype=dtype,
    )  # fmt: skip


def _make_muscle(name: str, fmax, n: int, l0_ce, l0_se) -> Muscle:
    key = check_choice("muscle", name, _RIGID_MUSCLES)
    if key == "relu":
        return ReluMuscle(fmax, n_muscles=n)
    return _RIGID_MUSCLES[key](fmax, l0_ce, l0_se, n_muscles=n)
