"""Analysis metrics against analytic cases (issue 6): kinematics, effort, loads, activity, statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from motornet_gym.analysis import metrics as M
from motornet_gym.analysis import neural as N
from motornet_gym.analysis import stats as S

SQRT360 = math.sqrt(360.0)


def min_jerk_reach(n=101, duration=0.5, distance=0.1, angle=0.3, start=(0.1, 0.2)):
    """Straight minimum-jerk reach (Flash & Hogan 1985) sampled at n points; returns (pos, dt)."""
    tau = np.linspace(0.0, 1.0, n)
    x = distance * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)
    u = np.array([math.cos(angle), math.sin(angle)])
    return np.asarray(start) + x[:, None] * u, duration / (n - 1)


def arc(radius, phi, n=201):
    """Arc of the circle of given radius about the origin, theta in [-phi/2, phi/2], moving in +y at x=R."""
    theta = np.linspace(-phi / 2, phi / 2, n)
    return radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)


def random_paths(t=60, b=5, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.002, size=(t, b, 2)) + np.array([0.002, 0.001])
    return np.cumsum(steps, axis=0)


# ------------------------------------------------------------------------------------- kinematics
@pytest.mark.parametrize("angle", [0.0, 0.3, 2.5, -1.2])
def test_minimum_jerk_reach_is_straight_and_min_jerk(angle):
    pos, dt = min_jerk_reach(angle=angle)
    assert M.max_perpendicular_deviation(pos) < 1e-12
    assert M.max_perpendicular_deviation(pos, pos[0], pos[-1] * 2 - pos[0]) < 1e-12
    assert M.path_length_ratio(pos) == pytest.approx(1.0, abs=1e-12)
    assert M.minimum_jerk_correlation(pos, dt) == pytest.approx(1.0, abs=1e-6)
    assert M.peak_speed(pos, dt) == pytest.approx(1.875 * 0.1 / 0.5, rel=1e-3)
    assert M.time_to_peak_speed(pos, dt) == pytest.approx(0.25)


def test_minimum_jerk_correlation_is_threshold_free_and_can_fail():
    pos, dt = min_jerk_reach()
    held = np.concatenate([np.repeat(pos[:1], 20, 0), pos, np.repeat(pos[-1:], 30, 0)])
    for c in (0.01, 0.05, 0.2, 0.5):
        assert M.minimum_jerk_correlation(held, dt, onset_speed=c) == pytest.approx(1.0, abs=1e-5)
    # Constant speed (a box profile) and an early-peaked (skewed) profile are not minimum jerk.
    box = np.stack([np.linspace(0.0, 0.1, 101), np.zeros(101)], axis=1)
    assert M.minimum_jerk_correlation(box, dt) < 0.5
    tau = np.linspace(0.0, 1.0, 101)
    skew = np.stack([0.1 * (1 - (1 - tau) ** 4), np.zeros(101)], axis=1)
    assert M.minimum_jerk_correlation(skew, dt) < 0.95
    assert math.isnan(M.minimum_jerk_correlation(np.zeros((10, 2)), dt))


def test_minimum_jerk_speed_profile():
    v = M.minimum_jerk_speed(101, 0.5, 0.1)
    assert v.shape == (101,) and v[0] == 0 and v[-1] == 0
    assert v.max() == pytest.approx(1.875 * 0.1 / 0.5)
    assert np.trapezoid(v, dx=0.5 / 100) == pytest.approx(0.1, rel=1e-4)
    pos, dt = min_jerk_reach(n=101)
    np.testing.assert_allclose(M.speed(pos, dt)[1:-1], v[1:-1], atol=2e-3 * v.max())


@pytest.mark.parametrize("phi", [0.3, 1.0, math.pi / 2])
def test_arc_deviation_and_sign(phi):
    r = 0.07
    pos = arc(r, phi)
    assert M.max_perpendicular_deviation(pos) == pytest.approx(r * (1 - math.cos(phi / 2)), rel=1e-9)
    assert M.path_length_ratio(pos) == pytest.approx(phi / (2 * math.sin(phi / 2)), rel=1e-4)
    lat = M.lateral_deviation(pos, pos[0], pos[-1])
    assert lat.shape == (len(pos),)
    # The arc bulges to +x while moving in +y: right of the reach, negative.
    assert lat.min() == pytest.approx(-r * (1 - math.cos(phi / 2)), rel=1e-9) and lat.max() <= 1e-15
    assert (M.lateral_deviation(pos * [-1, 1], pos[0] * [-1, 1], pos[-1] * [-1, 1]) >= -1e-15).all()


def test_endpoint_errors_and_time_to_target():
    target = np.array([0.3, -0.1])
    d = np.array([0.1, 0.05, 0.005, 0.02, 0.004, 0.003, 0.001])
    u = np.array([0.6, 0.8])
    pos = target + d[:, None] * u
    assert M.final_error(pos, target) == pytest.approx(0.001)
    assert M.hold_error(pos, target, window=3) == pytest.approx((0.004 + 0.003 + 0.001) / 3)
    assert M.hold_error(pos, target, window=1) == pytest.approx(0.001)
    assert M.time_to_target(pos, target, radius=0.01, dt=0.1) == pytest.approx(0.4)  # re-entry at k=4
    assert M.time_to_target(pos, target, radius=0.06, dt=0.1) == pytest.approx(0.1)
    assert M.time_to_target(pos, target, radius=1.0, dt=0.1) == 0.0
    assert math.isnan(M.time_to_target(pos, target, radius=0.0005, dt=0.1))
    with pytest.raises(ValueError, match="window"):
        M.hold_error(pos, target, window=8)


def test_normalised_jerk_is_scale_free_and_equals_sqrt360():
    ref = M.normalised_jerk(*min_jerk_reach(n=101))
    for dist, dur in [(0.02, 0.3), (0.3, 2.0), (1.0, 0.1)]:
        pos, dt = min_jerk_reach(n=101, duration=dur, distance=dist, angle=1.0)
        assert M.normalised_jerk(pos, dt) == pytest.approx(ref, rel=1e-9)
    assert M.normalised_jerk(*min_jerk_reach(n=2001)) == pytest.approx(SQRT360, rel=1e-4)
    assert M.normalised_jerk(*min_jerk_reach(n=101)) == pytest.approx(SQRT360, rel=1e-2)
    # A wobble on top of the reach raises the jerk; so does a reach with hold periods around it.
    pos, dt = min_jerk_reach(n=401)
    wobbly = pos + 0.002 * np.sin(np.linspace(0, 12 * np.pi, 401))[:, None] * [0.0, 1.0]
    assert M.normalised_jerk(wobbly, dt) > 2 * SQRT360
    held = np.concatenate([np.repeat(pos[:1], 100, 0), pos, np.repeat(pos[-1:], 100, 0)])
    assert M.normalised_jerk(held, dt) > 2 * SQRT360
    assert M.normalised_jerk(held, dt, onset_speed=1e-6) == pytest.approx(
        M.normalised_jerk(pos, dt), rel=1e-2
    )


# ------------------------------------------------------------------------------------- muscles
def test_effort_and_co_contraction_on_hand_made_activations():
    a = np.array([[0.2, 0.2, 0.0, 0.0], [0.4, 0.1, 0.3, 0.0]])
    assert M.effort(a) == pytest.approx(0.04 + 0.04 + 0.16 + 0.01 + 0.09)
    # t0: pair (0,1) equal -> 1, pair (2,3) silent -> 0; t1: 2*0.1/0.5 = 0.4 and 0.
    assert M.co_contraction_index(a, [(0, 1), (2, 3)]) == pytest.approx((1 + 0 + 0.4 + 0) / 4)
    assert M.co_contraction_index(a, [(0, 1)]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="pairs"):
        M.co_contraction_index(a, [(0, 4)])
    with pytest.raises(ValueError, match="activation"):
        M.effort(np.ones(5))


# ----------------------------------------------------------------------------------------- loads
def test_perturbation_response_on_a_bump():
    t, onset, dt = 60, 10, 0.01
    ref = np.stack([np.linspace(0, 0.1, t), np.zeros(t)], axis=1)
    s = np.arange(t) - onset
    bump = np.where((s >= 0) & (s <= 20), 0.02 * np.sin(np.pi * np.clip(s, 0, 20) / 20), 0.0)
    bump[:5] = 0.05  # before onset: ignored
    pos = ref + bump[:, None] * [0.0, 1.0]
    res = M.perturbation_response(pos, ref, dt, onset_step=onset, threshold=0.005)
    assert res.max_deviation == pytest.approx(0.02)
    last_above = int(np.floor(20 - 20 * math.asin(0.25) / math.pi))  # 18
    assert res.time_to_return == pytest.approx((last_above + 1) * dt)
    stuck = ref + np.where(s >= 0, 0.01, 0.0)[:, None] * [1.0, 0.0]
    assert math.isnan(M.perturbation_response(stuck, ref, dt, onset).time_to_return)
    assert M.perturbation_response(ref, ref, dt, onset) == (0.0, 0.0)
    with pytest.raises(ValueError, match="onset_step"):
        M.perturbation_response(pos, ref, dt, onset_step=t)
    with pytest.raises(ValueError, match="reference_pos"):
        M.perturbation_response(pos, ref[:-1], dt, onset)


def _point_mass_reach(b_field, t=80, dt=0.01):
    """1 kg point mass driven by the minimum-jerk force for a 10 cm reach in +x, under a field B v."""
    x, _ = min_jerk_reach(n=t, duration=(t - 1) * dt, distance=0.1, angle=0.0, start=(0.0, 0.0))
    acc = np.gradient(np.gradient(x, dt, axis=0), dt, axis=0)
    p, v, out = np.zeros(2), np.zeros(2), []
    for k in range(t):
        out.append(p.copy())
        v = v + dt * (acc[k] + b_field @ v)
        p = p + dt * v
    return np.array(out)


def test_force_field_effects_sign_conventions():
    b = 13.0
    cw = b * np.array([[0.0, 1.0], [-1.0, 0.0]])  # motornet_gym.tasks.force_field "cw"
    null, field = _point_mass_reach(np.zeros((2, 2))), _point_mass_reach(cw)
    washout = 2 * null - field  # mirror image of the field deviation: what a fully adapted arm does
    start, end = np.zeros(2), np.array([0.1, 0.0])
    eff = M.force_field_effects(null, field, washout, start, end)
    assert abs(eff.null_deviation) < 1e-3
    assert eff.field_deviation < -0.005  # cw pushes a +x reach to -y: right of the reach, negative
    assert eff.aftereffect > 0.005
    assert eff.aftereffect == pytest.approx(-eff.field_deviation, rel=0.2)
    assert math.isnan(M.force_field_effects(null, field, None, start, end).aftereffect)
    ccw = M.force_field_effects(null, _point_mass_reach(-cw), None, start, end)
    assert ccw.field_deviation > 0.005


# ------------------------------------------------------------------------------------ batching
def test_batched_inputs_equal_per_trial_calls():
    pos = random_paths()
    t, b, _ = pos.shape
    rng = np.random.default_rng(1)
    target, start = rng.normal(size=(b, 2)) * 0.1, rng.normal(size=(b, 2)) * 0.1
    ref, dt = pos + rng.normal(0, 0.003, size=pos.shape), 0.01
    act = rng.uniform(size=(t, b, 4))
    batched = {
        "final": (M.final_error(pos, target), lambda i: M.final_error(pos[:, i], target[i])),
        "hold": (M.hold_error(pos, target, 7), lambda i: M.hold_error(pos[:, i], target[i], 7)),
        "ttt": (M.time_to_target(pos, target, 0.3, dt),
                lambda i: M.time_to_target(pos[:, i], target[i], 0.3, dt)),
        "dev": (M.max_perpendicular_deviation(pos), lambda i: M.max_perpendicular_deviation(pos[:, i])),
        "dev_se": (M.max_perpendicular_deviation(pos, start, target),
                   lambda i: M.max_perpendicular_deviation(pos[:, i], start[i], target[i])),
        "plr": (M.path_length_ratio(pos), lambda i: M.path_length_ratio(pos[:, i])),
        "peak": (M.peak_speed(pos, dt), lambda i: M.peak_speed(pos[:, i], dt)),
        "tpeak": (M.time_to_peak_speed(pos, dt), lambda i: M.time_to_peak_speed(pos[:, i], dt)),
        "mjc": (M.minimum_jerk_correlation(pos, dt), lambda i: M.minimum_jerk_correlation(pos[:, i], dt)),
        "nj": (M.normalised_jerk(pos, dt), lambda i: M.normalised_jerk(pos[:, i], dt)),
        "effort": (M.effort(act), lambda i: M.effort(act[:, i])),
        "cci": (M.co_contraction_index(act, [(0, 1), (2, 3)]),
                lambda i: M.co_contraction_index(act[:, i], [(0, 1), (2, 3)])),
        "pmax": (M.perturbation_response(pos, ref, dt, 5).max_deviation,
                 lambda i: M.perturbation_response(pos[:, i], ref[:, i], dt, 5).max_deviation),
        "ff": (M.force_field_effects(pos, pos, pos, start, target).field_deviation,
               lambda i: M.force_field_effects(pos[:, i], pos[:, i], pos[:, i], start[i], target[i])[1]),
    }  # fmt: skip
    for name, (values, single) in batched.items():
        assert isinstance(values, np.ndarray) and values.shape == (b,), name
        expected = [single(i) for i in range(b)]
        assert all(isinstance(e, float) for e in expected), name
        np.testing.assert_allclose(values, expected, rtol=1e-12, err_msg=name)
    assert M.speed(pos, dt).shape == (t, b)
    np.testing.assert_allclose(M.speed(pos, dt)[:, 2], M.speed(pos[:, 2], dt))
    np.testing.assert_allclose(M.lateral_deviation(pos, start, target)[:, 3],
                               M.lateral_deviation(pos[:, 3], start[3], target[3]))  # fmt: skip


def test_shape_errors_name_the_argument():
    pos = random_paths(b=3)
    with pytest.raises(ValueError, match=r"pos must have shape .*got \(60, 3, 3\)"):
        M.final_error(np.zeros((60, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\) or \(3, 2\); got \(4, 2\)"):
        M.final_error(pos, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"target must have shape \(2,\); got \(1, 2\)"):
        M.final_error(pos[:, 0], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="start"):
        M.lateral_deviation(pos, np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="pos"):
        M.normalised_jerk(pos[:3], 0.01)
    with pytest.raises(ValueError, match="dt"):
        M.speed(pos, 0.0)
    with pytest.raises(ValueError, match="x and y"):
        N.linear_cka(np.zeros((10, 2)), np.zeros((11, 2)))
    with pytest.raises(ValueError, match=r"directions must have shape \(8,\)"):
        N.cosine_tuning(np.zeros((8, 3)), np.zeros(7))
    with pytest.raises(ValueError, match="x must have shape"):
        N.participation_ratio(np.zeros(5))


# ------------------------------------------------------------------------------------ activity
def _cka_gram(x, y):
    """CKA from centred Gram matrices (Kornblith et al. 2019, eq. 3 with HSIC), an independent form."""
    h = np.eye(len(x)) - 1.0 / len(x)
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    return np.sum(k * l_) / (np.linalg.norm(k) * np.linalg.norm(l_))


def test_linear_cka_properties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 12)) @ rng.normal(size=(12, 12))
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    assert N.linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert N.linear_cka(x, 3.7 * x @ q + 5.0) == pytest.approx(1.0, abs=1e-12)
    assert N.linear_cka(x, rng.normal(size=(400, 7))) < 0.1
    y = x[:, :5] + rng.normal(size=(400, 5))
    assert N.linear_cka(x, y) == pytest.approx(N.linear_cka(y, x), rel=1e-12)
    assert N.linear_cka(x, y) == pytest.approx(_cka_gram(x, y), rel=1e-9)
    assert N.linear_cka(x, x * np.linspace(0.1, 3.0, 12)) < 0.99  # not invariant to anisotropic scaling
    assert math.isnan(N.linear_cka(x, np.ones((400, 3))))


def test_participation_ratio():
    rng = np.random.default_rng(0)
    assert N.participation_ratio(rng.normal(size=(20000, 8))) == pytest.approx(8.0, rel=0.02)
    rank1 = rng.normal(size=(500, 1)) * rng.normal(size=(1, 10)) + 2.0
    assert N.participation_ratio(rank1) == pytest.approx(1.0, abs=1e-9)
    scaled = rng.normal(size=(50000, 2)) * [2.0, 1.0]  # eigenvalues 4, 1: 25 / 17
    assert N.participation_ratio(scaled) == pytest.approx(25 / 17, rel=0.02)
    assert math.isnan(N.participation_ratio(np.ones((10, 3))))


def test_cosine_tuning_recovers_preferred_directions():
    rng = np.random.default_rng(0)
    units, reps = 40, 25
    pd = rng.uniform(-np.pi, np.pi, units)
    base, mod = rng.uniform(0.5, 1.5, units), rng.uniform(0.8, 1.2, units)
    theta = np.repeat(np.arange(8) * np.pi / 4, reps)
    rates = base + mod * np.cos(theta[:, None] - pd) + rng.normal(0, 0.1, (len(theta), units))
    fit = N.cosine_tuning(rates, theta)
    err = np.angle(np.exp(1j * (fit.preferred_direction - pd)))
    assert np.abs(err).max() < 0.05
    np.testing.assert_allclose(fit.baseline, base, atol=0.05)
    np.testing.assert_allclose(fit.modulation, mod, atol=0.05)
    assert (fit.r2 > 0.9).all() and fit.r2.shape == (units,)
    assert ((fit.preferred_direction >= -np.pi) & (fit.preferred_direction < np.pi)).all()
    at_pi = N.cosine_tuning(np.cos(theta - np.pi)[:, None], theta).preferred_direction[0]
    assert at_pi == pytest.approx(-np.pi)
    with pytest.raises(ValueError, match="3 distinct"):
        N.cosine_tuning(rates, np.where(theta < 1, 0.0, np.pi))


def test_preferred_direction_distribution():
    rng = np.random.default_rng(0)
    counts, edges = N.preferred_direction_histogram(rng.uniform(-np.pi, np.pi, 300), bins=12)
    assert counts.sum() == 300 and counts.shape == (12,)
    np.testing.assert_allclose(edges[[0, -1]], [-np.pi, np.pi])
    axis = np.concatenate([rng.normal(0.8, 0.1, 100), rng.normal(0.8 - np.pi, 0.1, 100)])
    assert N.bimodality_index(axis) > 0.9
    assert N.bimodality_index(rng.uniform(-np.pi, np.pi, 2000)) < 0.1
    counts, _ = N.preferred_direction_histogram(N._wrap(axis), bins=4)
    assert counts.sum() == 200 and sorted(counts)[-2:] == [100, 100]


# ---------------------------------------------------------------------------------------- stats
def test_iqm_known_arrays():
    assert S.iqm(np.arange(1, 9)) == pytest.approx(4.5)
    assert S.iqm([1, 2, 3, 4, 1000, 5, 6, 7]) == pytest.approx(4.5)
    assert S.iqm([1, 2, 3, 4, 100]) == pytest.approx(3.0)
    assert S.iqm([100, 0, 6, 1, 5, 0, 6]) == pytest.approx(3.6)  # floor(7 / 4) = 1 cut from each end
    assert S.iqm([2.0]) == 2.0
    assert math.isnan(S.iqm([])) and math.isnan(S.iqm([1.0, np.nan]))


def test_bootstrap_ci_contains_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.normal(1.0, 1.0, 10), rng.normal(1.0, 1.0, 1000)
    lo_s, hi_s = S.bootstrap_ci(small)
    lo_l, hi_l = S.bootstrap_ci(large)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert (hi_l - lo_l) < 0.3 * (hi_s - lo_s)
    assert hi_l - lo_l == pytest.approx(2 * 1.96 / math.sqrt(1000), rel=0.15)
    assert S.bootstrap_ci(small) == S.bootstrap_ci(small, seed=0) != S.bootstrap_ci(small, seed=1)
    lo_i, hi_i = S.bootstrap_ci(small, stat=S.iqm, n_boot=500)
    assert lo_i < S.iqm(small) < hi_i
    assert S.bootstrap_ci([3.0]) == (3.0, 3.0)
    with pytest.raises(ValueError, match="alpha"):
        S.bootstrap_ci(small, alpha=1.5)


def test_summarize_is_nan_aware():
    s = S.summarize([1.0, 2.0, np.nan, 3.0, 4.0, np.inf])
    assert s["n"] == 4 and s["mean"] == pytest.approx(2.5) and s["iqm"] == pytest.approx(2.5)
    assert s["ci_low"] <= 2.5 <= s["ci_high"] and all(math.isfinite(s[k]) for k in ("ci_low", "ci_high"))
    empty = S.summarize([np.nan])
    assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in ("mean", "iqm", "ci_low", "ci_high"))


def test_primary_movement_ignores_a_slow_tail():
    """A minimum-jerk reach followed by a slow drift above the threshold keeps correlation ~1."""
    from motornet_gym.analysis.metrics import minimum_jerk_correlation, primary_movement

    t = np.linspace(0, 1, 101)
    x = 0.1 * (10 * t**3 - 15 * t**4 + 6 * t**5)
    drift = x[-1] + 0.001 * np.arange(1, 61)  # then a drift at 0.1 m/s, after the reach has stopped
    path = np.stack([np.concatenate([x, drift]), np.zeros(161)], -1)
    s = np.linalg.norm(np.gradient(path, 0.01, axis=0), axis=-1)
    i0, i1 = primary_movement(s, 0.03)
    assert i0 <= 10 and 90 <= i1 <= 101  # the drift after the reach is not part of the movement
    assert minimum_jerk_correlation(path, 0.01, onset_speed=0.03) > 0.99
