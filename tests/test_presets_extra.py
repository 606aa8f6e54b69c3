"""Presets and helpers that had no test of their own: free_point_mass_24, antagonist_pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motornet_gym.analysis import antagonist_pairs
from motornet_gym.dynamics import presets

F64 = torch.float64


# ---------------------------------------------------------------------------- free_point_mass_24
def _push(eff, excitation, n_steps, state=None):
    """The states of ``n_steps`` steps of constant ``excitation`` (M,), from rest at 0 or ``state``."""
    s = eff.initial_state(torch.zeros(1, 2, dtype=F64)) if state is None else state
    u = torch.tensor([excitation], dtype=F64)
    out = []
    for _ in range(n_steps):
        s = eff.step(s, u)
        out.append(s)
    return out


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_free_point_mass_moves_by_newton_under_a_constant_actuator_force(integrator):
    """Each actuator pushes the 1 kg mass along its axis with a F_max; constant force: closed form."""
    f_max, dt = 2.0, 0.01
    kw = {"max_isometric_force": f_max, "dt": dt, "dtype": F64}
    eff = presets.free_point_mass_24(integrator=integrator, **kw)
    euler = presets.free_point_mass_24(integrator="euler", **kw)
    assert eff.muscle_names == ("r", "u", "l", "d") and eff.skeleton.mass == 1.0
    # r pushes +x, u +y, l -x, d -y (moment arms -1, -1, +1, +1 on their axis: force = -r F).
    for excitation, direction in (
        ((1.0, 1.0, 0.0, 0.0), (1.0, 1.0)),
        ((0.0, 0.0, 1.0, 0.0), (-1.0, 0.0)),
        ((0.0, 1.0, 0.0, 1.0), (0.0, 0.0)),  # opposite actuators cancel: the mass stays put
        ((0.0, 0.0, 0.0, 1.0), (0.0, -1.0)),
    ):
        # Euler's activation step saturates at the excitation (0 or 1) at once; from a saturated
        # state the force stays a F_max with either integrator, so the motion is a parabola.
        start = _push(euler, excitation, 1)[0]
        np.testing.assert_array_equal(start.muscle.force[0].numpy(), f_max * np.array(excitation))
        states = _push(eff, excitation, 20, start)
        acc = f_max * torch.tensor([direction], dtype=F64) / 1.0  # m/s^2
        q0, v0 = start.joint_pos, start.joint_vel
        for n in (5, 20):
            t = n * dt
            s = states[n - 1]
            torch.testing.assert_close(s.muscle.force, start.muscle.force, rtol=0, atol=0)
            torch.testing.assert_close(s.joint_vel, v0 + acc * t, rtol=0, atol=1e-12)
            exact = q0 + v0 * t + 0.5 * acc * t**2
            if integrator == "euler":  # positions advance with the old velocity: error a t dt / 2
                exact = exact - 0.5 * acc * t * dt
            torch.testing.assert_close(s.joint_pos, exact, rtol=0, atol=1e-12)
            torch.testing.assert_close(s.fingertip_pos, s.joint_pos, rtol=0, atol=0)
        if direction == (0.0, 0.0):
            assert float(states[-1].joint_pos.abs().max()) == 0.0


def test_free_point_mass_stops_at_its_bounds():
    eff = presets.free_point_mass_24(max_isometric_force=1000.0, dtype=F64)
    lb, ub = eff.pos_lower_bound, eff.pos_upper_bound
    assert lb.tolist() == [-0.6, -0.6] and ub.tolist() == [0.6, 0.6]
    last = _push(eff, (1.0, 0.0, 0.0, 1.0), 60)[-1]  # +x and -y at 1000 N: the corner (0.6, -0.6)
    torch.testing.assert_close(last.joint_pos, torch.tensor([[0.6, -0.6]], dtype=F64), rtol=0, atol=1e-12)
    assert float(last.joint_vel.abs().max()) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------- antagonist_pairs
@pytest.mark.parametrize("joint_pos", [(0.8, 1.2), (0.3, 0.5), (1.2, 2.0)])
def test_antagonist_pairs_of_arm26_are_flexor_extensor_pairs(joint_pos):
    eff = presets.arm26(dtype=F64)
    s = eff.initial_state(torch.tensor([joint_pos], dtype=F64))
    moment_arm = s.geometry.moment_arm[0].numpy()  # (D, M)
    names = eff.muscle_names
    pairs = antagonist_pairs(moment_arm)
    named = {frozenset((names[i], names[j])) for i, j in pairs}
    assert named == {
        frozenset(("pectoralis", "deltoid")),  # shoulder flexor / extensor
        frozenset(("brachioradialis", "tricepslat")),  # elbow flexor / extensor
        frozenset(("biceps", "tricepslong")),  # bi-articular flexor / extensor
    }
    for i, j in pairs:  # each pair pulls in opposite directions at every joint either spans
        spanned = (np.abs(moment_arm[:, i]) > 1e-6) | (np.abs(moment_arm[:, j]) > 1e-6)
        assert (np.sign(moment_arm[spanned, i]) == -np.sign(moment_arm[spanned, j])).all()


def test_antagonist_pairs_of_the_point_masses():
    pm = presets.point_mass_24(dtype=F64)  # X of muscles: UpperRight-LowerLeft, UpperLeft-LowerRight
    s = pm.initial_state(torch.tensor([[0.1, -0.2]], dtype=F64))
    assert sorted(antagonist_pairs(s.geometry.moment_arm[0].numpy())) == [(0, 3), (1, 2)]
    free = presets.free_point_mass_24(dtype=F64)  # r-l, u-d
    s = free.initial_state(torch.zeros(1, 2, dtype=F64))
    assert sorted(antagonist_pairs(s.geometry.moment_arm[0].numpy())) == [(0, 2), (1, 3)]
    # Muscles that all pull the same way have no antagonist.
    assert antagonist_pairs(np.array([[1.0, 2.0, 0.5]])) == []
