"""The n-link arm, the three-joint arm preset, muscle arguments of presets and muscle extra state.

References used here are independent of the code under test: the closed-form two-link arm
(:class:`TwoDofArm`, MotorNet's parity-tested model), autograd derivatives, energy and angular
momentum computed from the links' centre-of-mass velocities, and the analytic solution of a
linear fatigue ODE.
"""

from __future__ import annotations

import math

import pytest
import torch

from motornet_gym.dynamics import NLinkArm, ReluMuscle, RigidTendonHillMuscleThelen, TwoDofArm, presets

F64 = torch.float64


def _arm3(**kw):
    return presets.arm3(dtype=F64, **kw)


def _mid(eff):
    return ((eff.pos_lower_bound + eff.pos_upper_bound) / 2)[None]


def _random_postures(eff, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    lo, hi = eff.pos_lower_bound, eff.pos_upper_bound
    return lo + (hi - lo) * torch.rand(n, eff.dof, generator=g, dtype=F64)


# ---------------------------------------------------------------------- skeleton
def test_two_link_chain_matches_the_closed_form_two_joint_arm():
    ref = TwoDofArm(viscosity=0.2).to(F64)
    arm = NLinkArm(
        [ref.l1, ref.l2], [ref.m1, ref.m2], [ref.l1g, ref.l2g], [ref.i1, ref.i2], (0.0, 0.0), (2.5, 2.5),
        viscosity=0.2,
    ).to(F64)  # fmt: skip
    g = torch.Generator().manual_seed(3)
    q = 2.5 * torch.rand(16, 2, generator=g, dtype=F64)
    qd, tau = torch.randn(16, 2, generator=g, dtype=F64), torch.randn(16, 2, generator=g, dtype=F64)
    force = 10 * torch.randn(16, 2, generator=g, dtype=F64)
    torch.testing.assert_close(arm.acceleration(q, qd, tau, force), ref.acceleration(q, qd, tau, force))
    for a, b in zip(arm.fingertip(q, qd), ref.fingertip(q, qd), strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(arm.segments(q), ref.segments(q))
    body = torch.tensor([0, 1, 2, 2, 1])
    coords = 0.1 * torch.randn(5, 2, generator=g, dtype=F64)
    for a, b in zip(
        arm.point_kinematics(q, body, coords), ref.point_kinematics(q, body, coords), strict=True
    ):
        torch.testing.assert_close(a, b)


def test_point_and_fingertip_jacobians_match_autograd():
    arm = presets.arm3_skeleton().to(F64)
    q = _random_postures(_arm3(), 4)
    qd = torch.randn(4, 3, dtype=F64)
    body = torch.tensor([0, 1, 2, 3, 3, 2])
    coords = 0.05 * torch.randn(6, 2, dtype=F64)
    _, jac = arm.point_kinematics(q, body, coords)
    for b in range(4):
        auto = torch.autograd.functional.jacobian(
            lambda x: arm.point_kinematics(x[None], body, coords)[0][0], q[b]
        )
        torch.testing.assert_close(jac[b], auto)
    _, vel = arm.fingertip(q, qd)
    _, auto_vel = torch.func.jvp(arm.fingertip_position, (q,), (qd,))
    torch.testing.assert_close(vel, auto_vel)
    torch.testing.assert_close(arm.segments(q)[:, -1], arm.fingertip_position(q))


def _centres_of_mass(arm: NLinkArm, q: torch.Tensor) -> torch.Tensor:
    """Centres of mass ``(B, n, 2)`` m, from first principles (not the class's kinematics)."""
    out, base, theta = [], torch.zeros(q.shape[0], 2, dtype=q.dtype), torch.zeros_like(q[:, 0])
    for k in range(arm.n_links):
        theta = theta + q[:, k]
        e = torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1)
        out.append(base + arm.com[k] * e)
        base = base + arm.lengths[k] * e
    return torch.stack(out, dim=1)


def _energy_and_momentum(
    arm: NLinkArm, q: torch.Tensor, qd: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    com, vel = torch.func.jvp(lambda x: _centres_of_mass(arm, x), (q,), (qd,))
    m = torch.tensor(arm.masses, dtype=q.dtype)
    inertia = torch.tensor(arm.inertias, dtype=q.dtype)
    omega = torch.cumsum(qd, dim=-1)
    energy = 0.5 * (m * (vel * vel).sum(-1)).sum(-1) + 0.5 * (inertia * omega**2).sum(-1)
    cross = com[..., 0] * vel[..., 1] - com[..., 1] * vel[..., 0]
    momentum = (m * cross).sum(-1) + (inertia * omega).sum(-1)  # about the shoulder
    return energy, momentum


def test_free_three_joint_arm_conserves_energy_and_angular_momentum_with_rk4():
    # Relu muscles at zero excitation pull with exactly 0 N: no muscles, no damping, no gravity.
    eff = _arm3(muscle="relu", integrator="rk4", damping=0.0)
    q0 = _mid(eff).repeat(2, 1)
    qd0 = torch.tensor([[0.5, -0.6, 0.8], [-0.4, 0.7, -0.9]], dtype=F64)
    s = eff.initial_state(q0, qd0)
    u = torch.zeros(2, eff.n_muscles, dtype=F64)
    e0, h0 = _energy_and_momentum(eff.skeleton, q0, qd0)
    lo, hi = eff.pos_lower_bound, eff.pos_upper_bound
    for _ in range(100):  # 1 s
        s = eff.step(s, u)
        assert bool(((s.joint_pos > lo + 0.05) & (s.joint_pos < hi - 0.05)).all())  # limits never touched
    assert float(s.muscle.force.abs().max()) == 0.0
    e1, h1 = _energy_and_momentum(eff.skeleton, s.joint_pos, s.joint_vel)
    assert float(((e1 - e0) / e0).abs().max()) < 1e-6
    assert float(((h1 - h0) / h0).abs().max()) < 1e-6
    # The motion is not trivial: the links exchanged speed through the inertial coupling.
    assert float((s.joint_vel - qd0).abs().max()) > 0.1


def test_joint_damping_dissipates_exactly_its_power():
    """With damping b the kinetic energy falls at rate b |q'|^2 (RK4, no muscles)."""
    b = 0.05
    eff = _arm3(muscle="relu", integrator="rk4", damping=b)
    q0 = _mid(eff)
    qd0 = torch.tensor([[0.5, -0.6, 0.8]], dtype=F64)
    s = eff.initial_state(q0, qd0)
    e, _ = _energy_and_momentum(eff.skeleton, q0, qd0)
    dissipated = torch.zeros(1, dtype=F64)
    for _ in range(50):
        v0 = s.joint_vel
        s = eff.step(s, torch.zeros(1, eff.n_muscles, dtype=F64))
        dissipated += 0.5 * eff.dt * b * ((v0**2).sum(-1) + (s.joint_vel**2).sum(-1))  # trapezoid
    e1, _ = _energy_and_momentum(eff.skeleton, s.joint_pos, s.joint_vel)
    assert float(e - e1) > 0.01 * float(e)  # it does dissipate
    assert abs(float(e - e1 - dissipated)) < 0.02 * float(dissipated)
    with pytest.raises(ValueError, match="damping"):
        presets.arm3(damping=-1.0)


# ---------------------------------------------------------------------- geometry
def test_moment_arms_are_the_autograd_derivative_of_every_muscle_length():
    eff = _arm3()
    q = _random_postures(eff, 6, seed=1)
    qd = torch.randn(6, 3, dtype=F64)
    geo = eff.geometry(q, qd)
    assert geo.moment_arm.shape == (6, 3, 8)
    for b in range(6):
        auto = torch.autograd.functional.jacobian(
            lambda x: eff.geometry(x[None], torch.zeros_like(x[None])).musculotendon_length[0], q[b]
        )  # (M, D)
        torch.testing.assert_close(geo.moment_arm[b], auto.T)
    torch.testing.assert_close(geo.musculotendon_velocity, torch.einsum("bdm,bd->bm", geo.moment_arm, qd))


def test_moment_arm_signs_hold_over_the_joint_ranges():
    eff = _arm3()
    grid = torch.stack(
        torch.meshgrid(*[torch.linspace(float(lo), float(hi), 9, dtype=F64) for lo, hi in
                         zip(eff.pos_lower_bound, eff.pos_upper_bound, strict=True)], indexing="ij"),
        dim=-1,
    ).reshape(-1, 3)  # fmt: skip
    r = eff.geometry(grid, torch.zeros_like(grid)).moment_arm  # (N, 3, 8)
    # Negative moment arm = flexor (drives the joint counter-clockwise), positive = extensor.
    sign = {
        "pectoralis": (-1, 0, 0), "deltoid": (1, 0, 0), "brachioradialis": (0, -1, 0),
        "tricepslat": (0, 1, 0), "biceps": (-1, -1, 0), "tricepslong": (1, 1, 0),
        "flexor_carpi_ulnaris": (0, 0, -1), "extensor_carpi_radialis_longus": (0, 0, 1),
    }  # fmt: skip
    assert tuple(sign) == presets.ARM3_MUSCLES == eff.muscle_names
    for m, name in enumerate(eff.muscle_names):
        for j, expected in enumerate(sign[name]):
            rj = r[:, j, m]
            if expected == 0:
                assert float(rj.abs().max()) < 1e-12, (name, j)  # roundoff only
            else:
                assert float((expected * rj).min()) > 0.0, (name, j)
                assert 0.005 < float(rj.abs().max()) < 0.07, (name, j)  # m


def test_fibres_are_at_optimal_length_mid_range_and_slack_lengths_positive():
    eff = _arm3()
    s = eff.initial_state(_mid(eff))
    torch.testing.assert_close(s.muscle.fibre_length[0], eff.muscle.optimal_fibre_length)
    assert bool((eff.muscle.tendon_slack_length > 0).all())


def test_random_excitation_does_not_diverge_with_default_euler():
    eff = _arm3()
    assert eff.integrator.name == "euler" and eff.dt == 0.01
    g = torch.Generator().manual_seed(0)
    s = eff.initial_state(_random_postures(eff, 16, seed=2))
    peak = 0.0
    for _ in range(150):
        s = eff.step(s, torch.rand(16, 8, generator=g, dtype=F64))
        peak = max(peak, float(s.joint_vel.abs().max()))
    assert all(bool(torch.isfinite(t).all()) for t in (s.joint_pos, s.joint_vel, s.muscle.force))
    assert peak < 100.0  # rad/s (measured about 45); vel_bound is 1000


# ---------------------------------------------------------------------- muscle argument of presets
def test_presets_accept_a_muscle_class_or_instance():
    eff = presets.arm26(RigidTendonHillMuscleThelen, dtype=F64)
    ref = presets.arm26("thelen", dtype=F64)
    assert type(eff.muscle) is RigidTendonHillMuscleThelen
    torch.testing.assert_close(eff.muscle.tendon_slack_length, ref.muscle.tendon_slack_length)
    q = torch.tensor([[0.6, 1.0]], dtype=F64)
    torch.testing.assert_close(eff.initial_state(q).muscle.force, ref.initial_state(q).muscle.force)
    relu = ReluMuscle(100.0, n_muscles=8)
    arm = presets.arm3(relu)
    assert arm.muscle is relu and arm.n_muscles == 8
    assert type(presets.arm3(ReluMuscle).muscle) is ReluMuscle
    assert type(presets.arm24(muscle=ReluMuscle).muscle) is ReluMuscle


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (
            42,
            TypeError,
            r"muscle must be one of 'kistemaker'.*a Muscle subclass or a Muscle instance; got 42",
        ),
        (torch.nn.Linear, TypeError, r"muscle must be one of .*got <class 'torch.nn.modules.linear.Linear'>"),
        ("hill", ValueError, r"unknown muscle 'hill'; expected one of 'kistemaker'"),
        (ReluMuscle(1.0, n_muscles=4), ValueError, r"muscle must model 6 muscles for this preset; got .* 4"),
    ],
)
def test_bad_muscle_argument_names_what_is_expected(bad, error, match):
    with pytest.raises(error, match=match):
        presets.arm26(bad)


# ---------------------------------------------------------------------- muscle extra state
class FatigueRelu(ReluMuscle):
    """Test muscle: fatigue ``f`` with ``df/dt = (u - f) / tau``; force ``a F_max (1 - f)``."""

    extra_state_names = ("fatigue",)

    def __init__(self, max_isometric_force, tau_fatigue: float, **kw):
        super().__init__(max_isometric_force, **kw)
        self.tau_fatigue = tau_fatigue

    def extra_state_derivative(self, excitation, state, geometry):
        return (excitation[..., None] - state.extra) / self.tau_fatigue

    def clip_extra_state(self, extra):
        return extra.clamp(0.0, 1.0)

    def compute_state(self, activation, fibre_length, extra, geometry):
        s = self.compute(activation, fibre_length, geometry)
        return s._replace(force=s.force * (1.0 - extra[..., 0]), extra=extra)


@pytest.mark.parametrize("integrator", ["euler", "rk4"])
def test_muscle_extra_state_is_integrated_by_every_integrator(integrator):
    tau, dt, n = 0.2, 0.01, 100
    eff = presets.arm26(FatigueRelu(50.0, tau, n_muscles=6), integrator=integrator, dtype=F64)
    s = eff.initial_state(torch.tensor([[0.7, 1.2], [0.3, 0.5]], dtype=F64))
    assert s.muscle.extra.shape == (2, 6, 1) and float(s.muscle.extra.abs().max()) == 0.0
    u = torch.linspace(0.1, 0.9, 6, dtype=F64).expand(2, 6)
    for _ in range(n):
        s = eff.step(s, u)
    fatigue = s.muscle.extra[..., 0]
    if integrator == "euler":  # f_n = u (1 - (1 - dt / tau)^n), exactly
        expected = u * (1.0 - (1.0 - dt / tau) ** n)
        torch.testing.assert_close(fatigue, expected, rtol=0, atol=1e-12)
    else:  # the ODE's solution f(t) = u (1 - exp(-t / tau)) to RK4 accuracy
        expected = u * (1.0 - math.exp(-n * dt / tau))
        torch.testing.assert_close(fatigue, expected, rtol=0, atol=1e-8)
    assert float((fatigue - u * (1.0 - math.exp(-n * dt / tau))).abs().max()) < 5e-3
    torch.testing.assert_close(s.muscle.force, s.muscle.activation * 50.0 * (1.0 - fatigue))


def test_built_in_muscles_carry_an_empty_extra_state():
    eff = presets.arm26(dtype=F64)
    s = eff.step(eff.initial_state(torch.tensor([[0.7, 1.2]], dtype=F64)), torch.full((1, 6), 0.3, dtype=F64))
    assert eff.muscle.extra_state_names == () and s.muscle.extra.shape == (1, 6, 0)
