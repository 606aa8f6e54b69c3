"""Parity with the reference package (motornet 0.3.0): same initial joints, same excitations.

Errors are relative to the largest magnitude the reference reaches for that quantity over the
trajectory (so a velocity passing through zero does not blow up the ratio). While no joint is at a
limit the bound is 1e-5; overall (limits are hard and non-smooth) it is 1e-4.
"""

from __future__ import annotations

import pytest
import torch

from tests._reference import (
    excitation_sequence,
    our_effector,
    reference_effector,
    run_ours,
    run_reference,
)

# preset -> (excitation base, excitation amplitude). Hill arms co-contract around the base; the
# strong ReLU actuators get small commands so that trials spend time away from the joint limits.
CASES = {
    "point_mass_24": (0.0, 0.03),
    "arm24": (0.0, 0.002),
    "arm26_kistemaker": (0.1, 0.2),
    "arm26_thelen": (0.1, 0.2),
    "arm26_mujoco": (0.1, 0.2),
    "arm26_relu": (0.01, 0.03),
}


def _initial_joints(eff, batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 + seed)
    lb, ub = eff.pos_lower_bound.float(), eff.pos_upper_bound.float()
    # Start well inside the workspace so that most steps are away from the limits.
    return lb + (ub - lb) * (0.3 + 0.4 * torch.rand(batch, eff.dof, generator=g))


def _at_limit(eff, q: torch.Tensor) -> torch.Tensor:
    lb, ub = eff.pos_lower_bound.float(), eff.pos_upper_bound.float()
    return ((q <= lb + 1e-6) | (q >= ub - 1e-6)).any(-1)  # (T, B)


@pytest.mark.parametrize("kind", ["piecewise", "sine"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", list(CASES))
def test_matches_reference(name: str, seed: int, kind: str):
    ours, ref = our_effector(name), reference_effector(name)
    batch, steps = 6, 100
    q0 = _initial_joints(ours, batch, seed)
    base, amp = CASES[name]
    u = excitation_sequence(kind, steps, batch, ours.n_muscles, seed, amp, base)
    a = run_ours(ours, q0, u)
    b = run_reference(ref, q0, u)
    limit = _at_limit(ours, a["joint_pos"]) | _at_limit(ours, b["joint_pos"])
    # Once a trajectory touches a limit, later steps are judged by the overall bound only.
    touched = limit.cumsum(0) > 0
    free = ~touched
    assert free.float().mean() > 0.2, "test excitations drive too many trials into the limits"
    for key in a:
        scale = b[key].abs().amax(dim=0, keepdim=True).clamp_min(1e-3)
        err = (a[key] - b[key]).abs() / scale
        err = err.amax(dim=-1) if err.dim() == 3 else err
        assert err[free].max() < 1e-5, f"{key}: {err[free].max():.2e} while away from limits"
        assert err.max() < 1e-4, f"{key}: {err.max():.2e} overall"


@pytest.mark.parametrize("name", ["arm26_kistemaker", "point_mass_24"])
def test_loads_match_reference(name: str):
    ours, ref = our_effector(name), reference_effector(name)
    batch = 4
    q0 = _initial_joints(ours, batch, 7)
    base, amp = CASES[name]
    u = excitation_sequence("piecewise", 60, batch, ours.n_muscles, 7, amp, base)
    g = torch.Generator().manual_seed(3)
    endpoint = (torch.rand(batch, 2, generator=g) - 0.5) * (4.0 if name == "arm26_kistemaker" else 10.0)
    joint = (torch.rand(batch, ours.dof, generator=g) - 0.5) * (1.0 if name == "arm26_kistemaker" else 5.0)
    a = run_ours(ours, q0, u, endpoint_load=endpoint, joint_load=joint)
    b = run_reference(ref, q0, u, endpoint_load=endpoint, joint_load=joint)
    for key in ("joint_pos", "joint_vel", "fingertip_pos"):
        scale = b[key].abs().amax(dim=0, keepdim=True).clamp_min(1e-3)
        assert ((a[key] - b[key]).abs() / scale).max() < 1e-4, key
    # The loads must matter: without them the trajectory is different.
    c = run_ours(ours, q0, u)
    assert (c["joint_pos"] - a["joint_pos"]).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["arm26_kistemaker", "point_mass_24"])
def test_ministeps_match_reference(name: str):
    """n_ministeps > 1: the excitation is held over n Euler sub-steps of dt / n in both packages."""
    from motornet import effector as E
    from motornet import muscle as M

    from motornet_gym.dynamics import presets

    n = 4
    if name == "point_mass_24":
        ours, ref = presets.point_mass_24(n_ministeps=n), E.ReluPointMass24(n_ministeps=n)
    else:
        ours = presets.arm26(muscle="kistemaker", n_ministeps=n)
        ref = E.RigidTendonArm26(muscle=M.RigidTendonHillMuscle(), n_ministeps=n)
    batch = 4
    q0 = _initial_joints(ours, batch, 11)
    base, amp = CASES[name]
    u = excitation_sequence("sine", 60, batch, ours.n_muscles, 11, amp, base)
    a = run_ours(ours, q0, u)
    b = run_reference(ref, q0, u)
    free = ~(_at_limit(ours, a["joint_pos"]) | _at_limit(ours, b["joint_pos"])).cumsum(0).bool()
    assert free.float().mean() > 0.2
    for key in ("joint_pos", "joint_vel", "fingertip_pos"):
        scale = b[key].abs().amax(dim=0, keepdim=True).clamp_min(1e-3)
        err = ((a[key] - b[key]).abs() / scale).amax(dim=-1)
        assert err[free].max() < 1e-5, f"{key}: {err[free].max():.2e}"
    # and the sub-steps matter: one step of dt is a different trajectory
    single = presets.point_mass_24() if name == "point_mass_24" else presets.arm26(muscle="kistemaker")
    one = run_ours(single, q0, u)
    assert (one["joint_pos"] - a["joint_pos"]).abs().max() > 1e-6
