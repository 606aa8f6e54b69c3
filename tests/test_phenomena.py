"""Phenomenon checks on synthetic trajectories: a straight minimum-jerk reach passes, curved, looping,
drifting or too-fast ones fail with the expected numbers; the curl-field and representation measures
on constructed data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from motornet_gym.analysis import phenomena as PH

DT = 0.01
T = 101  # samples: 1 s at 10 ms (sample 0 = initial position)
GO = 10
START = np.array([0.0, 0.4])
TARGET = np.array([0.1, 0.4])
CHECK = {c.key: c for c in PH.CHECKS}


def _minimum_jerk(duration: float = 0.5) -> np.ndarray:
    """(T, 1, 2): still until the go cue, a 10 cm minimum-jerk reach in ``duration`` s, then still."""
    t = (np.arange(T) - GO) * DT
    tau = np.clip(t / duration, 0.0, 1.0)
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    return (START + s[:, None] * (TARGET - START))[:, None, :]


def _measures(pos: np.ndarray) -> dict[str, float]:
    m = PH.reach_measures(pos, START[None], TARGET[None], np.array([GO]), DT)
    return {k: float(v[0]) for k, v in m.items()}


def _passes(values: dict[str, float]) -> dict[str, bool]:
    return {k: CHECK[k].passes(v) for k, v in values.items() if k in CHECK}


def test_straight_minimum_jerk_reach_passes_every_reach_check():
    v = _measures(_minimum_jerk(0.5))
    assert v["max_lateral_cm"] == pytest.approx(0.0, abs=1e-9)
    assert v["path_length_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert v["minimum_jerk_r"] > 0.995
    assert v["final_error_cm"] == pytest.approx(0.0, abs=1e-9) and v["hold_max_cm"] == pytest.approx(
        0.0, abs=1e-9
    )
    # Peak 1.875 L / D = 0.375 m/s (sampled: within 1%); speed > 10% of peak over (1 - 2 tau0) D = 0.41 s.
    assert v["peak_speed"] == pytest.approx(0.375, rel=0.01)
    assert v["movement_time_s"] == pytest.approx(0.41, abs=0.02)
    assert all(_passes(v).values()), _passes(v)


def test_curved_reach_fails_straightness_with_the_expected_deviation():
    pos = _minimum_jerk(0.5)
    t = (np.arange(T) - GO) * DT
    tau = np.clip(t / 0.5, 0.0, 1.0)
    pos[:, 0, 1] += 0.03 * np.sin(np.pi * (10 * tau**3 - 15 * tau**4 + 6 * tau**5))  # a 3 cm bow
    v = _measures(pos)
    assert v["max_lateral_cm"] == pytest.approx(3.0, rel=0.01)
    assert v["path_length_ratio"] > 1.15
    ok = _passes(v)
    assert not ok["max_lateral_cm"] and not ok["path_length_ratio"]
    assert ok["final_error_cm"] and ok["hold_max_cm"]  # it still stops at the target


def test_limit_cycle_around_the_target_fails_stopping():
    pos = _minimum_jerk(0.4)
    t = np.arange(T) * DT
    after = np.arange(T) > GO + 40
    circle = 0.02 * np.stack([np.cos(2 * np.pi * 2 * t), np.sin(2 * np.pi * 2 * t)], -1)
    pos[after, 0] = TARGET + circle[after] - circle[GO + 41]  # leaves the target and loops (2 cm radius)
    v = _measures(pos)
    assert v["hold_max_cm"] > 3.0  # the loop's diameter is 4 cm
    # The reach itself was straight (its primary movement ends before the loop): the loop is caught by
    # the hold check, not charged to straightness.
    assert v["path_length_ratio"] == pytest.approx(1.0, abs=0.01)
    ok = _passes(v)
    assert not ok["hold_max_cm"] and ok["path_length_ratio"]


def test_an_s_shaped_reach_fails_straightness():
    pos = _minimum_jerk(0.5)
    t = (np.arange(T) - GO) * DT
    tau = np.clip(t / 0.5, 0.0, 1.0)
    s = np.sin(2 * np.pi * tau)  # an S-shaped path, 1.5 cm either side, while the hand moves
    pos[:, 0, 1] += 0.02 * s * np.sin(np.pi * tau)
    v = _measures(pos)
    assert v["path_length_ratio"] > 1.2
    assert not _passes(v)["path_length_ratio"]


def test_drift_after_the_reach_fails_the_final_error():
    pos = _minimum_jerk(0.5)
    t = np.arange(T) * DT
    drift = np.clip(t - 0.7, 0.0, None) * 0.1  # 10 cm/s from 0.7 s on: 3 cm by the end
    pos[:, 0, 1] += drift
    v = _measures(pos)
    assert v["final_error_cm"] == pytest.approx(3.0, rel=0.01)
    assert not _passes(v)["final_error_cm"] and not _passes(v)["hold_max_cm"]


def test_too_fast_reach_fails_human_kinematics_but_stays_bell_shaped():
    v = _measures(_minimum_jerk(0.12))
    assert v["peak_speed"] == pytest.approx(1.875 * 0.1 / 0.12, rel=0.05)  # ~1.56 m/s
    ok = _passes(v)
    assert not ok["peak_speed"] and not ok["movement_time_s"] and ok["minimum_jerk_r"]


def test_jittery_reach_fails_the_bell_shape():
    pos = _minimum_jerk(0.5)
    rng = np.random.default_rng(0)
    pos[GO:, 0] += 0.004 * rng.standard_normal((T - GO, 2))  # 4 mm position noise: speed jitter
    v = _measures(pos)
    assert v["minimum_jerk_r"] < 0.9


def test_return_time_after_a_pulse_and_a_trial_that_never_returns():
    """Return times from the pulse onset sample; the report's per-seed value is the slowest trial,
    a trial that never returns counting as the rest of the trial (so the check fails)."""
    ref = np.zeros((50, 2, 2))
    pos = ref.copy()
    t = np.arange(50)
    pos[20:, 0, 0] = 0.03 * np.exp(-(t[20:] - 20) / 5.0)  # decays below 1 cm after 5.5 steps
    pos[20:, 1, 0] = 0.03  # stays 3 cm off
    r = PH.return_times(pos, ref, DT, 20)
    assert r[0] == pytest.approx(0.06, abs=1e-9) and math.isnan(r[1])


def _blocks(after=2.0, ff2_rate=0.4):
    k = np.arange(40)
    return {
        "NF1": [0.1, -0.1, 0.05, -0.05],
        "FF1": list(-3.0 * np.exp(-k / 8.0)),
        "NF2": list(after * np.exp(-np.arange(10) / 3.0)),
        "FF2": list(-3.0 * np.exp(-k * ff2_rate)),
    }


def test_curl_field_block_design_with_adaptation_aftereffect_and_savings_passes():
    m = PH.curl_field_measures(_blocks())
    assert m["ff_first_cm"] == pytest.approx(3.0)
    assert m["ff_first_over_null"] == pytest.approx(3.0 / 0.075)
    assert m["ff_adapted_fraction"] == pytest.approx(np.exp(-np.arange(36, 40) / 8.0).mean(), rel=1e-6)
    assert m["aftereffect_sign"] == -1.0
    # Criterion 1.5 cm: the 3-batch running mean of FF1 (3 e^(-k/8)) first reaches it from batch 6
    # (e^(-j/8) (1 + e^(-1/8) + e^(-2/8)) / 3 <= 0.5 for j >= 4.6), FF2 (3 e^(-0.4 k)) from batch 2.
    assert m["ff1_batches_to_criterion"] == 6 and m["ff2_batches_to_criterion"] == 2
    assert all(CHECK[k].passes(v) for k, v in m.items() if k in CHECK)


def test_curl_field_without_aftereffect_or_savings_fails_those_checks():
    m = PH.curl_field_measures(_blocks(after=-0.5, ff2_rate=1 / 8.0))
    assert m["aftereffect_sign"] == 1.0 and not CHECK["aftereffect_sign"].passes(m["aftereffect_sign"])
    assert m["savings_batches"] == 0 and not CHECK["savings_batches"].passes(m["savings_batches"])
    with pytest.raises(ValueError, match=r"missing \['NF2'\]"):
        PH.curl_field_measures({"NF1": [0.1], "FF1": [1.0], "FF2": [1.0]})


def test_batches_to_criterion_is_censored_when_never_reached():
    assert PH.batches_to_criterion(np.array([3.0, 3.0, 3.0]), 1.0) == 4
    assert PH.batches_to_criterion(np.array([0.5, 3.0, 3.0, 0.1]), 1.0, smooth=1) == 1


def test_bimodality_of_preferred_directions():
    rng = np.random.default_rng(1)
    axis = np.concatenate([rng.normal(0.3, 0.3, 60), rng.normal(0.3 + np.pi, 0.3, 60)])
    uniform = rng.uniform(-np.pi, np.pi, 120)
    assert PH.bimodality(axis)["bimodal"] == 1.0 and PH.bimodality(axis)["p"] < 1e-6
    assert PH.bimodality(uniform)["bimodal"] == 0.0
    one_cluster = rng.normal(0.3, 0.3, 120)  # unimodal: the doubled angles spread less, but
    assert PH.rayleigh_p(one_cluster) < 1e-6  # the test on raw angles sees the single cluster


def test_preferred_directions_recover_cosine_tuned_units():
    dirs = np.linspace(-np.pi, np.pi, 8, endpoint=False)
    pds = np.array([0.5, -2.0, 2.5])
    t, b = 60, 8
    hidden = np.zeros((t, b, 4))
    for u, pd in enumerate(pds):
        hidden[:, :, u] = 1.0 + np.cos(dirs - pd)[None, :]
    hidden[:, :, 3] = 0.7  # untuned: dropped
    got = PH.preferred_directions(hidden, np.full(b, 10), dirs, DT)
    np.testing.assert_allclose(got, pds, atol=1e-9)


def test_load_preferred_directions_are_the_force_the_limb_produces():
    n, t = 16, 100
    load_dir = np.linspace(0, 2 * np.pi, n, endpoint=False)
    load = 3.0 * np.stack([np.cos(load_dir), np.sin(load_dir)], -1)[None].repeat(t, 0)
    pds = np.array([0.5, -2.0, 2.5])
    hidden = np.zeros((t, n, 4))
    produced = load_dir + np.pi  # the limb pushes against the load
    for u, pd in enumerate(pds):
        hidden[50:, :, u] = 1.0 + np.cos(produced - pd)[None, :]  # tuned in the steady state only
    hidden[:, :, 3] = 0.2
    got = PH.load_preferred_directions(hidden, load, DT)  # default window: the last 0.5 s
    # A 0.6 s trial: the window is its second half (0.3-0.6 s), where the units are tuned from 0.5 s.
    short = PH.load_preferred_directions(hidden[:60], load[:60], DT)
    np.testing.assert_allclose(np.angle(np.exp(1j * (short - pds))), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.angle(np.exp(1j * (got - pds))), 0.0, atol=1e-9)
    # Before the window the units are silent: a window over the first 0.5 s finds no tuned unit.
    assert PH.load_preferred_directions(hidden, load, DT, window_s=(0.0, 0.5)).size == 0
    with pytest.raises(ValueError, match="needs a non-zero load"):
        PH.load_preferred_directions(hidden, 0 * load, DT)
    with pytest.raises(ValueError, match="outside the 1 s trial"):
        PH.load_preferred_directions(hidden, load, DT, window_s=(1.5, 2.0))


def test_check_table_reports_mean_interval_and_pass():
    per_seed = {
        "bp": {0: {"final_error_cm": 0.4}, 1: {"final_error_cm": 0.8}},
        "rl": {0: {"final_error_cm": 2.0}, 1: {"final_error_cm": float("nan")}},
    }
    t = PH.check_table(per_seed, ["bp", "rl"])
    assert t["bp"]["final_error_cm"]["mean"] == pytest.approx(0.6) and t["bp"]["final_error_cm"]["pass"]
    assert 0.4 <= t["bp"]["final_error_cm"]["ci_low"] <= t["bp"]["final_error_cm"]["ci_high"] <= 0.8
    # A seed without a value (nan) makes the check fail: it is not silently averaged away.
    assert math.isnan(t["rl"]["final_error_cm"]["mean"]) and not t["rl"]["final_error_cm"]["pass"]


def test_a_single_cluster_is_not_bimodal():
    rng = np.random.default_rng(2)
    one_cluster = rng.normal(0.3, 0.3, 120)
    assert PH.rayleigh_p(2 * one_cluster) < 1e-6  # the doubled-angle test alone would call it bimodal
    assert PH.bimodality(one_cluster)["bimodal"] == 0.0


def test_rayleigh_p_matches_the_null_distribution():
    """The approximation against a Monte Carlo estimate of P(R >= r) for uniform angles (n = 20)."""
    rng = np.random.default_rng(3)
    a = rng.vonmises(0.0, 0.8, 20)
    r = np.abs(np.exp(1j * a).mean())
    null = np.abs(np.exp(1j * rng.uniform(-np.pi, np.pi, (200_000, 20))).mean(1))
    p_mc = (null >= r).mean()
    assert 1e-4 < p_mc < 0.2  # an informative regime
    assert PH.rayleigh_p(a) == pytest.approx(p_mc, rel=0.1)


def test_savings_is_undefined_when_neither_field_block_reaches_the_criterion():
    blocks = {"NF1": [0.1, -0.1], "FF1": [-3.0] * 10, "NF2": [1.0], "FF2": [-3.0] * 5}
    m = PH.curl_field_measures(blocks)
    assert math.isnan(m["savings_batches"]) and not CHECK["savings_batches"].passes(m["savings_batches"])


def test_aftereffect_is_measured_from_the_null_baseline():
    # A biased baseline (+1 cm): FF1 pushes to -2, NF2 starts at +0.5, below the baseline: the same
    # side as the field effect, not an after-effect, although its raw sign is opposite.
    blocks = {"NF1": [1.0, 1.0], "FF1": [-2.0, -1.0], "NF2": [0.5], "FF2": [-2.0, -1.0]}
    assert PH.curl_field_measures(blocks)["aftereffect_sign"] == 1.0


def test_movement_time_is_exact_to_the_sample():
    # Speed > 10 % of peak over tau in [0.0865, 0.9135] of a 0.5 s reach: samples 15 ... 55 -> 0.41 s
    v = _measures(_minimum_jerk(0.5))
    assert v["movement_time_s"] == pytest.approx(0.41, abs=1e-9)
