"""Immutable state containers of the dynamics layer.

Every field is a batch-first tensor in SI units. ``B`` is the batch size, ``D`` the number of
degrees of freedom of the skeleton and ``M`` the number of muscles.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Geometry(NamedTuple):
    """Musculotendon geometry at one joint configuration.

    Attributes:
        musculotendon_length: ``(B, M)`` m, length of each muscle-tendon path.
        musculotendon_velocity: ``(B, M)`` m/s, time derivative of the path length.
        moment_arm: ``(B, D, M)`` m, ``d(musculotendon_length)/d(joint_pos)``. A muscle pulling with
            force ``F`` exerts the generalised force ``-F * moment_arm`` on each joint.
    """

    musculotendon_length: torch.Tensor
    musculotendon_velocity: torch.Tensor
    moment_arm: torch.Tensor


class MuscleState(NamedTuple):
    """State of all muscles of an effector.

    Attributes:
        activation: ``(B, M)`` dimensionless in ``[min_activation, 1]``.
        fibre_length: ``(B, M)`` m, contractile-element length (for ``ReluMuscle``: the path length).
        fibre_velocity: ``(B, M)`` m/s, time derivative of ``fibre_length``.
        force: ``(B, M)`` N, force the muscle applies to the skeleton (tendon force).
        passive_force: ``(B, M)`` N, passive (parallel elastic) part of the fibre force.
        extra: ``(B, M, k)``, the muscle model's own state variables, named by
            :attr:`Muscle.extra_state_names <motornet_gym.dynamics.muscles.Muscle.extra_state_names>`
            (units are the model's), integrated with the rest of the state. ``k = 0`` for the
            built-in models. In an :class:`EffectorState` it is always a tensor; ``None`` only in what
            a model's :meth:`~motornet_gym.dynamics.muscles.Muscle.compute` returns before the
            effector attaches it.
    """

    activation: torch.Tensor
    fibre_length: torch.Tensor
    fibre_velocity: torch.Tensor
    force: torch.Tensor
    passive_force: torch.Tensor
    extra: torch.Tensor | None = None


class EffectorState(NamedTuple):
    """Full state of an effector (skeleton + muscles + geometry).

    Attributes:
        joint_pos: ``(B, D)`` rad for an arm, m for a point mass.
        joint_vel: ``(B, D)`` rad/s, or m/s.
        fingertip_pos: ``(B, 2)`` m, Cartesian endpoint position.
        fingertip_vel: ``(B, 2)`` m/s, Cartesian endpoint velocity.
        muscle: :class:`MuscleState`.
        geometry: :class:`Geometry` at ``joint_pos``/``joint_vel``.
    """

    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    fingertip_pos: torch.Tensor
    fingertip_vel: torch.Tensor
    muscle: MuscleState
    geometry: Geometry
