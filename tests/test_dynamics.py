"""Physics, gradients, batch independence and input validation of the dynamics layer."""

from __future__ import annotations

import math

import pytest
import torch

from motornet_gym.dynamics import (
    Effector,
    PointMass,
    TwoDofArm,
    get_integrator,
    presets,
)
from motornet_gym.dynamics.geometry import ConstantMomentArmGeometry, PathGeometry
from motornet_gym.dynamics.muscles import ReluMuscle

F64 = torch.float64


def _free_mass(integrator="euler", dt=0.01, n_ministeps=1):
    """A point mass with one zero-force actuator, far from its (wide) limits."""
    sk = PointMass(mass=2.0)
    geo = ConstantMomentArmGeometry(((0.0,), (0.0,)))
    return Effector(sk, ReluMuscle(1.0, n_muscles=1), geo, dt=dt, n_ministeps=n_ministeps,
                    integrator=integrator, pos_lower_bound=(-100.0, -100.0),
                    pos_upper_bound=(100.0, 100.0)).double()  # fmt: skip


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_point_mass_constant_force_closed_form(integrator):
    eff = _free_mass(integrator)
    force = torch.tensor([[3.0, -1.0]], dtype=F64)  # N
    q0 = torch.tensor([[0.5, -0.2]], dtype=F64)
    v0 = torch.tensor([[0.1, 0.3]], dtype=F64)
    s = eff.initial_state(q0, v0)
    n = 50
    for _ in range(n):
        s = eff.step(s, torch.zeros(1, 1, dtype=F64), endpoint_load=force)
    t = n * eff.dt
    acc = force / 2.0
    assert torch.allclose(s.joint_vel, v0 + acc * t, atol=1e-12)
    exact = q0 + v0 * t + 0.5 * acc * t**2
    if integrator == "rk4":  # exact for a quadratic
        assert torch.allclose(s.joint_pos, exact, atol=1e-12)
    else:  # Euler advances positions with the old velocity: error = a t dt / 2
        assert torch.allclose(s.joint_pos, exact - 0.5 * acc * t * eff.dt, atol=1e-12)


def test_arm_zero_torque_zero_acceleration_and_mass_matrix():
    arm = presets.arm26_skeleton()
    q = torch.tensor([[0.3, 1.1], [1.2, 0.4]], dtype=F64)
    zero = torch.zeros(2, 2, dtype=F64)
    assert torch.equal(arm.acceleration(q, zero, zero, zero), zero)
    # Mass matrix from the reference doc §3.3: M11 = 0.31664 + 0.14582 cos q2, M22 = 0.09593.
    tau = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=F64)
    q2 = torch.tensor([[0.0, 0.7], [0.0, 0.7]], dtype=F64)
    minv = arm.acceleration(q2, zero, tau, zero)  # columns of M^-1 at q2 = 0.7
    c = math.cos(0.7)
    m = torch.tensor([[0.31664 + 0.14582 * c, 0.09593 + 0.07291 * c],
                      [0.09593 + 0.07291 * c, 0.09593]], dtype=F64)  # fmt: skip
    assert torch.allclose(torch.linalg.inv(m), minv.T, rtol=2e-4)


def _arm_energy(arm: TwoDofArm, q, qd):
    c2 = torch.cos(q[:, 1])
    m11 = arm._c11 + arm._m11 * c2
    m12 = arm._c12 + arm._m12 * c2
    m22 = arm._c12
    return 0.5 * (m11 * qd[:, 0] ** 2 + 2 * m12 * qd[:, 0] * qd[:, 1] + m22 * qd[:, 1] ** 2)


def test_passive_arm_conserves_energy_under_rk4():
    arm = TwoDofArm(pos_lower_bound=(-100.0, -100.0), pos_upper_bound=(100.0, 100.0))
    geo = ConstantMomentArmGeometry(((0.0,), (0.0,)))
    eff = Effector(
        arm,
        ReluMuscle(1.0, n_muscles=1),
        geo,
        dt=0.001,
        integrator="rk4",
        pos_lower_bound=(-100.0, -100.0),
        pos_upper_bound=(100.0, 100.0),
    ).double()
    s = eff.initial_state(torch.tensor([[0.4, 1.0]], dtype=F64), torch.tensor([[2.0, -3.0]], dtype=F64))
    e0 = _arm_energy(arm, s.joint_pos, s.joint_vel)
    u = torch.zeros(1, 1, dtype=F64)
    for _ in range(1000):  # 1 s
        s = eff.step(s, u)
    e1 = _arm_energy(arm, s.joint_pos, s.joint_vel)
    assert abs(float(e1 / e0) - 1) < 1e-8
    # ...and Euler does not (so the check has teeth).
    eff.integrator = get_integrator("euler")
    s = eff.initial_state(torch.tensor([[0.4, 1.0]], dtype=F64), torch.tensor([[2.0, -3.0]], dtype=F64))
    for _ in range(1000):
        s = eff.step(s, u)
    assert abs(float(_arm_energy(arm, s.joint_pos, s.joint_vel) / e0) - 1) > 1e-4


# ----------------------------------------------------------------------------- convergence order
def _final_state(integrator: str, n_ministeps: int, muscle: str = "kistemaker"):
    eff = presets.arm26(muscle, integrator=integrator, n_ministeps=n_ministeps, dtype=F64)
    s = eff.initial_state(torch.tensor([[0.8, 1.2]], dtype=F64))
    t = torch.arange(30, dtype=F64) * eff.dt
    for k in range(30):  # 0.3 s of smooth co-contraction, away from the limits
        u = (0.15 + 0.1 * torch.sin(2 * math.pi * 2 * t[k] + torch.arange(6, dtype=F64)))[None]
        s = eff.step(s, u)
    return torch.cat([s.joint_pos, s.joint_vel, s.muscle.activation], -1)


@pytest.mark.parametrize(("integrator", "ratio"), [("euler", 2.0), ("rk4", 16.0)])
def test_convergence_order(integrator, ratio):
    # The excitation is held constant over each 10 ms step, so the ODE is smooth within a step and
    # sub-stepping converges at the scheme's order towards the fine solution.
    fine = _final_state("rk4", 64)
    errs = [(_final_state(integrator, n) - fine).abs().max() for n in (4, 8, 16)]
    r1, r2 = float(errs[0] / errs[1]), float(errs[1] / errs[2])
    assert ratio * 0.7 < r1 < ratio * 1.4 and ratio * 0.7 < r2 < ratio * 1.4, (errs, r1, r2)


# ----------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("name", ["point_mass_24", "arm26", "compliant_arm26", "path_arm"])
def test_moment_arms_equal_autograd_dl_dq(name):
    if name == "path_arm":
        arm = presets.arm26_skeleton()
        geo = PathGeometry(arm, [
            [(0, (-0.05, 0.02)), (1, (0.1, 0.02)), (2, (0.05, 0.01))],   # bi-articular, 3 points
            [(1, (0.05, -0.02)), (2, (0.04, -0.015))],                   # elbow only
        ]).double()  # fmt: skip
    else:
        geo = getattr(presets, name)(dtype=F64).geometry
    q = torch.tensor([[0.3, 0.4], [0.9, 1.3], [0.1, -0.2]], dtype=F64, requires_grad=True)
    qd = torch.tensor([[0.5, -1.0], [2.0, 0.3], [-0.4, 0.1]], dtype=F64)
    g = geo(q, qd)
    for m in range(g.musculotendon_length.shape[1]):
        (grad,) = torch.autograd.grad(g.musculotendon_length[:, m].sum(), q, retain_graph=True)
        assert torch.allclose(g.moment_arm[:, :, m], grad, atol=1e-12), m
    # velocity = moment arm . joint velocity
    assert torch.allclose(g.musculotendon_velocity, (g.moment_arm * qd[:, :, None]).sum(1), atol=1e-12)


def test_point_mass_geometry_values():
    g = presets.point_mass_24().geometry
    z = torch.zeros(1, 2)
    geom = g(z, z)
    assert torch.allclose(geom.musculotendon_length, torch.full((1, 4), 2 * math.sqrt(2)), atol=1e-6)
    s = math.sqrt(0.5)  # UpperRight pulls towards (+,+): d l / d x = -1/sqrt(2)
    expected = torch.tensor([[-s, s, -s, s], [-s, -s, s, s]])
    assert torch.allclose(geom.moment_arm[0], expected, atol=1e-6)


def test_arm26_reference_geometry_values():
    """Reference doc §5.2: l_MT and elbow moment arms at q = (0.8, 1.2) rad."""
    eff = presets.arm26()
    s = eff.initial_state(torch.tensor([[0.8, 1.2]]))
    l_mt = torch.tensor([0.1741, 0.2091, 0.2633, 0.2623, 0.3286, 0.3072])
    assert torch.allclose(s.geometry.musculotendon_length[0], l_mt, atol=1e-4)
    r_elbow = torch.tensor([0.0, 0.0, -0.0236, 0.0197, -0.0297, 0.0223])
    assert torch.allclose(s.geometry.moment_arm[0, 1], r_elbow, atol=1e-4)
    force = torch.tensor([0.84, 1.21, 1.42, 1.42, 0.41, 0.49])
    assert torch.allclose(s.muscle.force[0], force, atol=0.01)


# ----------------------------------------------------------------------------- gradients
def _away_from_limits_arm():
    return presets.arm26(n_ministeps=1, dtype=F64)


def test_gradcheck_step():
    eff = _away_from_limits_arm()
    q0 = torch.tensor([[0.8, 1.2], [0.6, 1.0]], dtype=F64, requires_grad=True)
    qd0 = torch.tensor([[0.3, -0.2], [-0.1, 0.4]], dtype=F64, requires_grad=True)
    u = torch.tensor([[0.3, 0.1, 0.2, 0.4, 0.25, 0.15], [0.1, 0.5, 0.3, 0.2, 0.35, 0.05]],
                     dtype=F64, requires_grad=True)  # fmt: skip

    def f(q, qd, u):
        s = eff.step(eff.initial_state(q, qd), u)
        return s.joint_pos, s.joint_vel, s.muscle.force

    assert torch.autograd.gradcheck(f, (q0, qd0, u))


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_gradcheck_10_step_unroll(integrator):
    eff = presets.arm26(integrator=integrator, dtype=F64)
    q0 = torch.tensor([[0.8, 1.2]], dtype=F64, requires_grad=True)
    u = 0.1 + 0.3 * torch.rand(10, 1, 6, dtype=F64, generator=torch.Generator().manual_seed(0))
    u.requires_grad_(True)

    def f(q, u):
        s = eff.initial_state(q)
        for k in range(10):
            s = eff.step(s, u[k])
        return s.fingertip_pos, s.joint_vel

    assert torch.autograd.gradcheck(f, (q0, u))


def test_gradcheck_compliant_step():
    eff = presets.compliant_arm26(n_ministeps=2, dtype=F64)
    q0 = torch.tensor([[0.8, 1.2]], dtype=F64, requires_grad=True)
    u = torch.full((1, 6), 0.3, dtype=F64, requires_grad=True)

    def f(q, u):
        return eff.step(eff.initial_state(q), u).joint_vel

    assert torch.autograd.gradcheck(f, (q0, u))


# ----------------------------------------------------------------------------- batching, purity, dtype
@pytest.mark.parametrize("name", ["point_mass_24", "arm26", "compliant_arm26"])
def test_batch_equals_single_runs(name):
    eff = getattr(presets, name)()
    g = torch.Generator().manual_seed(0)
    b = 5
    lb, ub = eff.pos_lower_bound, eff.pos_upper_bound
    q0 = lb + (ub - lb) * (0.3 + 0.4 * torch.rand(b, 2, generator=g))
    u = torch.rand(20, b, eff.n_muscles, generator=g) * 0.1
    s = eff.initial_state(q0)
    singles = [eff.initial_state(q0[i : i + 1]) for i in range(b)]
    for k in range(20):
        s = eff.step(s, u[k])
        singles = [eff.step(si, u[k, i : i + 1]) for i, si in enumerate(singles)]
    for i, si in enumerate(singles):
        assert torch.allclose(s.joint_pos[i], si.joint_pos[0], rtol=1e-5, atol=1e-6)
        assert torch.allclose(s.muscle.force[i], si.muscle.force[0], rtol=1e-5, atol=1e-4)


def _leaves(tree):
    if isinstance(tree, torch.Tensor):
        return [tree]
    return [leaf for t in tree for leaf in _leaves(t)]


@pytest.mark.parametrize("name", ["arm26", "compliant_arm26", "point_mass_24"])
def test_step_does_not_mutate_input_state(name):
    eff = getattr(presets, name)()
    s0 = eff.initial_state((eff.pos_lower_bound + eff.pos_upper_bound)[None] / 2)
    before = [t.clone() for t in _leaves(s0)]
    s1 = eff.step(s0, torch.full((1, eff.n_muscles), 0.5), endpoint_load=torch.ones(1, 2))
    after = _leaves(s0)
    assert len(before) == len(after) == 13  # 12 tensors + the muscle extra state (B, M, 0)
    for a, b in zip(before, after, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(s1.muscle.activation, s0.muscle.activation)


def test_float64_constants_are_exact():
    eff = presets.arm26(dtype=F64)
    assert float(eff.muscle.optimal_fibre_length[0]) == 0.134
    assert float(eff.geometry.a0[1]) == 0.2322
    assert float(presets.arm26().muscle.optimal_fibre_length[0]) != 0.134  # float32 rounding
    with pytest.raises(ValueError, match="dtype must be a floating-point torch.dtype; got torch.int64"):
        presets.arm26(dtype=torch.int64)


def test_float64_end_to_end_and_dtype_follows_input():
    eff = presets.arm26(dtype=F64)
    s = eff.step(eff.initial_state(torch.tensor([[0.8, 1.2]], dtype=F64)), torch.full((1, 6), 0.2, dtype=F64))
    for t in (s.joint_pos, s.fingertip_pos, s.muscle.force, s.geometry.moment_arm):
        assert t.dtype == F64


def test_joint_limits_pin_joint():
    eff = presets.arm26()
    s = eff.initial_state(torch.tensor([[0.05, 1.2]]))
    u = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0]])  # deltoid drives the shoulder to 0
    for _ in range(30):
        s = eff.step(s, u)
    assert float(s.joint_pos[0, 0]) == 0.0 and float(s.joint_vel[0, 0]) == 0.0


def test_activation_dynamics_time_constants():
    eff = presets.arm26(n_ministeps=10)
    s = eff.initial_state(torch.tensor([[0.8, 1.2]]))
    s = eff.step(s, torch.ones(1, 6))
    a = s.muscle.activation
    assert bool((a > 0.3).all() and (a < 1).all())  # rises within 10 ms (tau_act = 15 ms)
    for _ in range(20):
        s = eff.step(s, torch.zeros(1, 6))
    assert bool((s.muscle.activation < 0.05).all())  # decays (tau_deact = 50 ms, state-dependent)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    eff = presets.arm26()
    s = eff.initial_state(torch.tensor([[0.8, 1.2], [0.7, 1.0]]))
    with pytest.raises(ValueError, match=r"excitation must have shape \(2, 6\).*got \(2, 4\)"):
        eff.step(s, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="excitation must be finite.*index"):
        eff.step(s, torch.tensor([[0.1] * 5 + [float("nan")]] * 2))
    with pytest.raises(ValueError, match=r"joint_pos must lie within.*got \[3\.0, 1\.0\]"):
        eff.initial_state(torch.tensor([[3.0, 1.0]]))
    with pytest.raises(ValueError, match="endpoint_load must have shape"):
        eff.step(s, torch.zeros(2, 6), endpoint_load=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="unknown integrator 'midpoint'; expected one of 'euler', 'rk4'"):
        presets.arm26(integrator="midpoint")
    with pytest.raises(ValueError, match="unknown muscle 'hill'; expected one of 'kistemaker'"):
        presets.arm26(muscle="hill")
    with pytest.raises(ValueError, match="dt must be a finite number > 0; got -0.01"):
        presets.arm26(dt=-0.01)
    with pytest.raises(ValueError, match="dt must be a finite number > 0; got 0"):
        presets.point_mass_24(dt=0)
    with pytest.raises(TypeError, match="excitation must be a torch.Tensor"):
        eff.step(s, [[0.1] * 6] * 2)
