"""Hill muscle models: curves at known points, parity with MotorNet 0.3.0, compliant-tendon
consistency, gradients and argument checks."""

from __future__ import annotations

import warnings

import pytest
import torch

from motornet_gym.dynamics.muscles import (
    CompliantTendonHillMuscle,
    MujocoHillMuscle,
    RigidTendonHillMuscle,
    RigidTendonHillMuscleThelen,
)
from motornet_gym.dynamics.muscles.kistemaker import force_length
from motornet_gym.dynamics.state import Geometry

# arm26 (MotorNet RigidTendonArm26 / Kistemaker 2010)
F_MAX = [838.0, 1207.0, 1422.0, 1549.0, 414.0, 603.0]
L0_SE = [0.039, 0.066, 0.172, 0.187, 0.204, 0.217]
L0_CE = [0.134, 0.140, 0.092, 0.093, 0.137, 0.127]
M = 6
RIGID = (RigidTendonHillMuscle, RigidTendonHillMuscleThelen, MujocoHillMuscle)
ALL = (*RIGID, CompliantTendonHillMuscle)


def arm26(cls, **kw):
    return cls(F_MAX, L0_CE, L0_SE, **kw)


def geom(l_mt, v_mt=None):
    v_mt = torch.zeros_like(l_mt) if v_mt is None else v_mt
    return Geometry(l_mt, v_mt, torch.zeros(l_mt.shape[0], 2, l_mt.shape[1], dtype=l_mt.dtype))


def params(dtype=torch.float64):
    return tuple(torch.tensor(x, dtype=dtype) for x in (F_MAX, L0_SE, L0_CE))


def motornet():
    warnings.filterwarnings("ignore", category=UserWarning)
    return pytest.importorskip("motornet.muscle")


# --------------------------------------------------------------------------- curves at known points


@pytest.mark.parametrize("cls", RIGID)
def test_isometric_force_at_optimal_length_is_fmax(cls):
    fm, lse, lce = params()
    m = arm26(cls)
    one = torch.ones(1, M, dtype=torch.float64)
    s = m.compute(one, one, geom((lse + lce)[None]))
    torch.testing.assert_close(s.force[0], fm, rtol=1e-12, atol=0)
    assert float(s.passive_force.abs().max()) < 1e-12  # (l0_se + l0_ce) - l0_se rounding
    # optimal length is the maximum of the active force-length curve
    for r in (0.9, 1.1):
        s2 = m.compute(one, one, geom((lse + r * lce)[None]))
        assert bool((s2.force - s2.passive_force < s.force).all())


def test_kistemaker_force_length_curve():
    l_n = torch.tensor([1.0, 0.67, 1.33, 0.2, 2.0], dtype=torch.float64)
    expected = torch.tensor([1.0, 1 - 0.33**2 / 0.66**2, 1 - 0.33**2 / 0.66**2, 0.01, 0.01])
    torch.testing.assert_close(force_length(l_n), expected.double())


@pytest.mark.parametrize("cls", ALL)
def test_passive_force_zero_below_slack_positive_above(cls):
    _, lse, lce = params()
    m = arm26(cls)
    slack = {MujocoHillMuscle: 1.0, RigidTendonHillMuscleThelen: 1.0}.get(cls, 1.4) * lce
    a = torch.full((2, M), m.min_activation, dtype=torch.float64)
    fibre = torch.stack([0.95 * slack, 1.05 * slack])
    s = m.compute(a, fibre, geom(lse + fibre))
    assert float(s.passive_force[0].abs().max()) == 0.0
    assert bool((s.passive_force[1] > 0).all())


def test_thelen_force_velocity_limits():
    fm, lse, lce = params()
    m = arm26(RigidTendonHillMuscleThelen)
    a = torch.tensor([[0.2] * M, [1.0] * M], dtype=torch.float64)
    vmax = 10 * lce
    v_zero = -vmax * (1 + 3 * a) / 4  # f_v = 0 here (Thelen 2003 eq. 6)
    ones = torch.ones_like(a)
    s = m.compute(a, ones, geom((lse + lce).expand(2, M), v_zero))
    torch.testing.assert_close(s.force, torch.zeros_like(s.force), atol=1e-9, rtol=0)
    s = m.compute(a, ones, geom((lse + lce).expand(2, M), 1e7 * vmax.expand(2, M)))
    torch.testing.assert_close(s.force, 1.4 * a * fm, rtol=1e-5, atol=0)


def test_mujoco_force_velocity_limits():
    fm, lse, lce = params()
    m = arm26(MujocoHillMuscle)
    one = torch.ones(1, M, dtype=torch.float64)
    l_opt = (lse + lce)[None]
    assert float(m.compute(one, one, geom(l_opt, -1.5 * one)).force.abs().max()) < 1e-9
    torch.testing.assert_close(m.compute(one, one, geom(l_opt, 0.3 * one)).force[0], 1.2 * fm)
    torch.testing.assert_close(m.vmax, torch.full((M,), 1.5, dtype=torch.float64))


def test_vmax_buffers():
    lce = torch.tensor(L0_CE, dtype=torch.float64)
    for cls in (RigidTendonHillMuscle, RigidTendonHillMuscleThelen, CompliantTendonHillMuscle):
        torch.testing.assert_close(arm26(cls).vmax, 10 * lce)


# --------------------------------------------------------------------- parity with MotorNet 0.3.0

REF = {
    RigidTendonHillMuscle: ("RigidTendonHillMuscle", {"normalized_slack_muscle_length": 1.4}),
    RigidTendonHillMuscleThelen: (
        "RigidTendonHillMuscleThelen",
        {"normalized_slack_muscle_length": 1.0},
    ),
    MujocoHillMuscle: (
        "MujocoHillMuscle",
        {"normalized_slack_muscle_length": 1.3, "lmin": 0.5, "lmax": 1.6, "vmax": 1.5, "fvmax": 1.2},
    ),
    CompliantTendonHillMuscle: (
        "CompliantTendonHillMuscle",
        {"normalized_slack_muscle_length": 1.4},
    ),
}


def reference(cls, timestep=0.01):
    mm = motornet()
    name, kw = REF[cls]
    ref = getattr(mm, name)()
    ref.build(
        timestep=timestep,
        max_isometric_force=F_MAX,
        tendon_length=L0_SE,
        optimal_muscle_length=L0_CE,
        **kw,
    )
    return ref


def random_inputs(min_activation, n=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    _, lse, lce = params()
    l_mt = lse + lce * (0.5 + 1.1 * torch.rand(n, M, generator=g, dtype=torch.float64))
    v_mt = 3.0 * torch.rand(n, M, generator=g, dtype=torch.float64) - 1.5  # m/s, both signs
    a = min_activation + (1 - min_activation) * torch.rand(n, M, generator=g, dtype=torch.float64)
    return a.float(), l_mt.float(), v_mt.float()


def assert_force_close(actual, expected, f_max):
    # 1e-5 relative, with an absolute floor of 1e-5 F_max for forces near zero (float32 cancellation)
    err = (actual - expected).abs() - 1e-5 * (expected.abs() + f_max)
    assert float(err.max()) <= 0, f"max excess {float(err.max())} N"


@pytest.mark.parametrize("cls", RIGID)
def test_rigid_parity_with_motornet(cls):
    ref = reference(cls)
    m = arm26(cls)
    a, l_mt, v_mt = random_inputs(m.min_activation)
    rs = ref.integrate(0.01, torch.zeros_like(a)[:, None], a[:, None], torch.stack([l_mt, v_mt, 0 * v_mt], 1))
    s = m.compute(a, l_mt, geom(l_mt, v_mt))
    assert s.force.dtype == torch.float32
    fm = torch.tensor(F_MAX)
    assert_force_close(s.force, rs[:, 6], fm)
    assert_force_close(s.passive_force, rs[:, 3] * fm * getattr(m, "passive_forces", 1.0), fm)
    torch.testing.assert_close(s.fibre_length, rs[:, 1], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(s.fibre_velocity, rs[:, 2], rtol=1e-6, atol=1e-7)


def test_compliant_force_parity_with_motornet():
    ref = reference(CompliantTendonHillMuscle)
    m = arm26(CompliantTendonHillMuscle)
    a, l_mt, _ = random_inputs(m.min_activation, seed=1)
    _, lse, lce = params(torch.float32)
    g = torch.Generator().manual_seed(2)
    fibre = (l_mt - lse) * (0.9 + 0.11 * torch.rand(l_mt.shape, generator=g))  # tendon strain 0..~8 %
    state = torch.stack([a, fibre], 1)
    rs = ref.integrate(0.01, torch.zeros_like(state), state, torch.stack([l_mt, 0 * l_mt], 1))
    s = m.compute(a, fibre, geom(l_mt))
    fm = torch.tensor(F_MAX)
    assert_force_close(s.force, rs[:, 6], fm)
    assert_force_close(s.passive_force, rs[:, 3] * fm, fm)


def test_compliant_velocity_parity_with_motornet_mirrored_branch():
    """MotorNet's inversion with its ``a_rel`` branch mirrored (l_n -> 2 - l_n, same f_l)."""
    ref = reference(CompliantTendonHillMuscle).double()
    m = arm26(CompliantTendonHillMuscle)
    g = torch.Generator().manual_seed(3)
    fm, lse, lce = params()
    n = 4000
    l_n = 0.6 + 0.75 * torch.rand(n, M, generator=g, dtype=torch.float64)  # f_pe = 0 below 1.4
    strain = 0.045 * torch.rand(n, M, generator=g, dtype=torch.float64)  # f_se 0 .. 1 (capped)
    a = 0.01 + 0.99 * torch.rand(n, M, generator=g, dtype=torch.float64)
    fibre = l_n * lce
    s = m.compute(a, fibre, geom(fibre + lse * (1 + strain)))
    f_act = (s.force - s.passive_force) / fm
    v_ref = ref._normalized_muscle_vel((2 - l_n)[:, None], a[:, None], f_act[:, None])[:, 0]
    torch.testing.assert_close(s.fibre_velocity / (10 * lce), v_ref, rtol=1e-9, atol=1e-11)
    assert bool((v_ref > 0).any()) and bool((v_ref < 0).any())


# ------------------------------------------------------------------------- compliant consistency


def compliant_samples(seed=4, n=2000):
    g = torch.Generator().manual_seed(seed)
    _, lse, lce = params()
    fibre = lce * (0.5 + 1.1 * torch.rand(n, M, generator=g, dtype=torch.float64))
    strain = 0.05 * torch.rand(n, M, generator=g, dtype=torch.float64)
    a = 0.01 + 0.99 * torch.rand(n, M, generator=g, dtype=torch.float64)
    return a, fibre, fibre + lse * (1 + strain)


def test_compliant_velocity_reproduces_force_through_rigid_force_velocity():
    """Force balance: the rigid Kistemaker FV curve at the returned velocity gives f_se - f_pe."""
    comp, rigid = arm26(CompliantTendonHillMuscle), arm26(RigidTendonHillMuscle)
    _, lse, _ = params()
    a, fibre, l_mt = compliant_samples()
    s = comp.compute(a, fibre, geom(l_mt))
    r = rigid.compute(a, fibre, geom(fibre + lse, s.fibre_velocity))
    f_act = (s.force - s.passive_force).clamp(min=0.0)
    torch.testing.assert_close(r.force - r.passive_force, f_act, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(r.passive_force, s.passive_force)
    assert bool((s.fibre_velocity > 0).any()) and bool((s.fibre_velocity < 0).any())


def rk4(f, x, dt):
    k1 = f(x)
    k2 = f(x + 0.5 * dt * k1)
    k3 = f(x + 0.5 * dt * k2)
    k4 = f(x + dt * k3)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def test_compliant_velocity_is_the_rate_of_fibre_length():
    m = arm26(CompliantTendonHillMuscle)
    fm, lse, lce = params()
    l_mt = (lse + 1.1 * lce).expand(2, M)
    a = torch.tensor([[0.05] * M, [0.8] * M], dtype=torch.float64)
    g = geom(l_mt)

    def vel(x):
        return m.compute(a, x, g).fibre_velocity

    dt = 2e-6
    x = m.initial_fibre_length(g)
    xs = [x]
    for _ in range(1000):
        xs.append(rk4(vel, xs[-1], dt))
    for k in (1, 50, 500, 900):
        fd = (xs[k + 1] - xs[k - 1]) / (2 * dt)
        ratio = fd / vel(xs[k])
        torch.testing.assert_close(ratio, torch.ones_like(ratio), rtol=0.01, atol=0)
    # and the isometric equilibrium it settles to balances tendon and fibre force at v = 0
    for _ in range(5000):  # 50 us: the explicit stability limit for arm26 is ~70-100 us
        x = rk4(vel, x, 5e-5)
    s = m.compute(a, x, g)
    assert float(s.fibre_velocity.abs().max()) < 1e-9
    balance = (s.force - s.passive_force) / fm
    torch.testing.assert_close(balance, a * force_length(x / lce), rtol=1e-7, atol=1e-9)


def test_reference_compliant_length_moves_ten_times_slower_than_reported():
    """Documents MotorNet bug 1, which this package does not reproduce."""
    ref = reference(CompliantTendonHillMuscle, timestep=1e-4)
    _, lse, lce = params(torch.float32)
    l_mt = (lse + 1.1 * lce)[None]
    s = ref.get_initial_muscle_state(1, torch.stack([l_mt, 0 * l_mt], 1))
    s = s.clone()
    s[:, 0] = 0.5  # activation
    for _ in range(3):
        s = ref.integrate(1e-4, ref.ode(torch.full((1, M), 0.5), s), s, torch.stack([l_mt, 0 * l_mt], 1))
    nxt = ref.integrate(1e-4, ref.ode(torch.full((1, M), 0.5), s), s, torch.stack([l_mt, 0 * l_mt], 1))
    ratio = nxt[:, 2] / ((nxt[:, 1] - s[:, 1]) / 1e-4)
    assert bool(((ratio > 9) & (ratio < 11)).all()), ratio


def test_compliant_initial_fibre_length():
    m = arm26(CompliantTendonHillMuscle)
    fm, lse, lce = params()
    # up to where the balanced passive force reaches the tendon-force cap f_se = 1
    l_mt = lse + lce * torch.linspace(-0.5, 1.65, 400, dtype=torch.float64)[:, None]
    g = geom(l_mt)
    fibre = m.initial_fibre_length(g)
    a = torch.full_like(l_mt, m.min_activation)
    s = m.compute(a, fibre, g)
    # passive equilibrium by construction: tendon force = passive fibre force (F_act = 0)
    torch.testing.assert_close(s.force, s.passive_force, rtol=1e-9, atol=1e-9)
    stretched = l_mt > lse + 1.4 * lce
    assert bool((s.force[stretched] > 0).all())
    # ... hence not an equilibrium at min_activation: the fibre starts shortening
    assert bool((s.fibre_velocity < 0).all())
    # parity with MotorNet's closed form (timestep 0: its returned state is not advanced)
    ref = reference(CompliantTendonHillMuscle, timestep=0.0).double()
    rs = ref.get_initial_muscle_state(400, torch.stack([l_mt, 0 * l_mt], 1))
    ok = l_mt >= 0  # MotorNet returns -1 m for a negative path length; we return 0.001 l0_ce
    assert bool((~ok).any()) and bool((fibre[~ok] > 0).all())
    torch.testing.assert_close(fibre[ok], rs[:, 1][ok], rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------ gradients and tracing


def gradcheck_inputs(cls, seed=5, n=6):
    g = torch.Generator().manual_seed(seed)
    _, lse, lce = params()
    r = torch.rand(n, M, generator=g, dtype=torch.float64)
    a = 0.35 + 0.6 * torch.rand(n, M, generator=g, dtype=torch.float64)  # away from q_crit = 0.3
    if cls is CompliantTendonHillMuscle:
        fibre = lce * (0.6 + 0.3 * r)
        l_mt = fibre + lse * (1 + 0.005 + 0.03 * torch.rand(n, M, generator=g, dtype=torch.float64))
        return a, fibre, l_mt, torch.zeros_like(l_mt)
    l_mt = lse + lce * (1.05 + 0.4 * r)  # l_n > 1: away from the a_rel switch
    sign = torch.where(torch.rand(n, M, generator=g) < 0.5, -1.0, 1.0).double()
    v_mt = sign * (0.05 + 0.2 * torch.rand(n, M, generator=g, dtype=torch.float64))
    return a, l_mt - lse, l_mt, v_mt


@pytest.mark.parametrize("cls", ALL)
def test_gradcheck(cls):
    m = arm26(cls)
    a, fibre, l_mt, v_mt = (x.requires_grad_() for x in gradcheck_inputs(cls))

    def f(a, fibre, l_mt, v_mt):
        s = m.compute(a, fibre, geom(l_mt, v_mt))
        return s.force, s.passive_force, s.fibre_velocity

    assert torch.autograd.gradcheck(f, (a, fibre, l_mt, v_mt))


@pytest.mark.parametrize("cls", ALL)
def test_gradients_finite_at_kinks_and_clamps(cls):
    m = arm26(cls)
    _, lse, lce = params()
    a = torch.tensor([m.min_activation, 0.3, 1.0, 1.0, 0.5], dtype=torch.float64)[:, None].expand(5, M)
    a = a.clone().requires_grad_()
    l_mt = lse + lce * torch.tensor([0.0, 1.0, 1.4, 3.0, 0.5], dtype=torch.float64)[:, None]
    l_mt = l_mt.requires_grad_()
    v_mt = torch.zeros(5, M, dtype=torch.float64, requires_grad=True)
    fibre = (l_mt - lse).detach().clamp(min=1e-3).requires_grad_()
    s = m.compute(a, fibre, geom(l_mt, v_mt))
    assert s.extra is None  # attached by the effector, not by compute()
    assert all(bool(torch.isfinite(x).all()) for x in s[:5])
    out = (s.force + s.fibre_velocity).sum()
    grads = torch.autograd.grad(out, (a, fibre, l_mt, v_mt), allow_unused=True, materialize_grads=True)
    assert all(bool(torch.isfinite(x).all()) for x in grads)


def test_gradients_finite_where_the_unused_branch_divides_by_zero():
    """The concentric formula at ``v_n = b_rel`` and Thelen's eccentric one at
    ``v = -c (3 a + 1) / 10`` divide by exactly zero; torch.where must not leak NaN gradients."""
    _, lse, lce = params()
    l_mt = (lse + 1.2 * lce)[None]
    kist = arm26(RigidTendonHillMuscle)
    a = torch.ones(1, M, dtype=torch.float64, requires_grad=True)
    v = (5.2 * kist.vmax)[None]
    assert bool((5.2 - v / kist.vmax == 0).any())  # b_rel - v_n == 0 exactly somewhere
    thelen = arm26(RigidTendonHillMuscleThelen)
    a_grid = torch.linspace(0.2, 1.0, 801, dtype=torch.float64)[:, None]
    c = 0.25 * thelen.vmax * (1.4 - 1.0)
    v_sing = -(c * (3 * a_grid + 1)) / 10.0
    hit = (c * (3 * a_grid + 1) + 10.0 * v_sing == 0).all(dim=1)
    assert bool(hit.any())
    a_t = a_grid[hit].clone().requires_grad_()
    for m, act, vel in ((kist, a, v), (thelen, a_t, v_sing[hit])):
        vel = vel.clone().requires_grad_()
        s = m.compute(act, act, geom(l_mt.expand_as(vel), vel))
        grads = torch.autograd.grad(s.force.sum(), (act, vel))
        assert all(bool(torch.isfinite(g).all()) for g in grads)


@pytest.mark.parametrize("cls", ALL)
def test_compute_traces_with_fullgraph(cls):
    m = arm26(cls)
    a, fibre, l_mt, v_mt = (x.float() for x in gradcheck_inputs(cls))
    compiled = torch.compile(m.compute, fullgraph=True, backend="eager")
    out, expected = compiled(a, fibre, geom(l_mt, v_mt)), m.compute(a, fibre, geom(l_mt, v_mt))
    assert out.extra is None and expected.extra is None  # the effector attaches the extra state
    for x, y in zip(out[:5], expected[:5], strict=True):
        assert x.dtype == torch.float32
        torch.testing.assert_close(x, y)


# ---------------------------------------------------------------------------------- bad input

BAD = [
    (RigidTendonHillMuscle, {"max_isometric_force": [838.0, -1.0]}, "max_isometric_force", "-1.0"),
    (RigidTendonHillMuscle, {"optimal_fibre_length": float("nan")}, "optimal_fibre_length", "nan"),
    (RigidTendonHillMuscle, {"tendon_slack_length": [0.1, 0.2, 0.3]}, "tendon_slack_length", "0.3"),
    (RigidTendonHillMuscle, {"normalized_slack_muscle_length": 1.7}, "normalized_slack", "1.7"),
    (RigidTendonHillMuscle, {"min_activation": 0.0}, "min_activation", "0.0"),
    (RigidTendonHillMuscleThelen, {"normalized_slack_muscle_length": 0.0}, "normalized_slack", "0.0"),
    (RigidTendonHillMuscleThelen, {"tau_activation": 0.0}, "tau_activation", "0.0"),
    (CompliantTendonHillMuscle, {"min_activation": 0.001}, "min_activation", "0.001"),
    (CompliantTendonHillMuscle, {"min_activation": 1.0}, "min_activation", "1.0"),
    (MujocoHillMuscle, {"lmin": 0.96}, "lmin", "0.96"),
    (MujocoHillMuscle, {"lmax": 1.0}, "lmax", "1.0"),
    (MujocoHillMuscle, {"fvmax": [1.2, 0.9]}, "fvmax", "0.9"),
    (MujocoHillMuscle, {"vmax": float("inf")}, "vmax", "inf"),
    (MujocoHillMuscle, {"fpmax": 0.0}, "fpmax", "0.0"),
    (MujocoHillMuscle, {"passive_forces": -1.0}, "passive_forces", "-1.0"),
    (MujocoHillMuscle, {"passive_forces": "x"}, "passive_forces", "'x'"),
]


@pytest.mark.parametrize(("cls", "kw", "name", "value"), BAD)
def test_bad_arguments_raise(cls, kw, name, value):
    args = {"max_isometric_force": [838.0, 1207.0], "optimal_fibre_length": 0.1, "tendon_slack_length": 0.2}
    args.update({k: v for k, v in kw.items() if k in args})
    rest = {k: v for k, v in kw.items() if k not in args}
    with pytest.raises(ValueError, match=name) as info:
        cls(args["max_isometric_force"], args["optimal_fibre_length"], args["tendon_slack_length"], **rest)
    assert value in str(info.value)


def test_scalar_parameters_need_n_muscles():
    m = RigidTendonHillMuscle(500.0, 0.1, 0.2, n_muscles=3)
    assert m.n_muscles == 3 and m.vmax.shape == (3,)
    assert MujocoHillMuscle(500.0, 0.1, 0.2, n_muscles=3, passive_forces=0.0).passive_forces == 0.0
