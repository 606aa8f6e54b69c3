"""Tasks: sampling, evaluation suites, loads (force field, channel, pulses) and the cost."""

from __future__ import annotations

import math

import pytest
import torch

from motornet_gym.dynamics import presets
from motornet_gym.registry import make_simulator
from motornet_gym.tasks import (
    NEVER,
    CentreOut,
    CentreOutConfig,
    ForceFieldConfig,
    PerturbationConfig,
    Reach,
    ReachConfig,
    TaskConfig,
)

F64 = torch.float64


def _cross(a, b):
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def _run(sim, actions, options=None, seed=0):
    """Reset and step; return per-step (pre-step fingertip vel, info) pairs."""
    _, info = sim.reset(seed=seed, options=options)
    rows = []
    for a in actions:
        pre_pos, pre_vel = sim.state.effector.fingertip_pos, sim.state.effector.fingertip_vel
        *_, info = sim.step(a)
        rows.append((pre_pos, pre_vel, info))
    return rows


# ---------------------------------------------------------------------- reach
def test_reach_samples_uniform_joint_space():
    sim = make_simulator("motornet/PointMassReach-v0", batch_size=20000, dtype=F64)
    _, info = sim.reset(seed=0)
    ts = sim.state.task
    for x in (ts.start, ts.target):  # point mass: joint space = [-1, 1]^2
        assert x.min() >= -1 and x.max() <= 1
        torch.testing.assert_close(x.mean(0), torch.zeros(2, dtype=F64), atol=0.02, rtol=0)
        torch.testing.assert_close(x.var(0), torch.full((2,), 1 / 3, dtype=F64), atol=0.01, rtol=0)
    assert not torch.equal(ts.start, ts.target)
    assert torch.equal(info["desired_pos"], ts.target)  # no go cue: the target from t = 0
    arm = make_simulator("motornet/Arm26Reach-v0", batch_size=5000, dtype=F64)
    arm.reset(seed=0)
    q = arm.state.task.joint_pos
    lb, ub = arm.effector.pos_lower_bound, arm.effector.pos_upper_bound
    assert (q >= lb).all() and (q <= ub).all()
    torch.testing.assert_close(q.mean(0), (lb + ub) / 2, atol=0.03, rtol=0)
    # the target is the fingertip of a joint configuration: within reach of the arm
    r = arm.state.task.target.norm(dim=-1)
    assert r.max() <= 0.309 + 0.333 + 1e-9


def test_reach_eval_suite_is_fixed_and_tiles():
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=64, dtype=F64, eval_size=32)
    sim.reset(seed=0, options={"suite": "eval"})
    a = sim.state.task
    sim.reset(seed=99, options={"suite": "eval"})
    b = sim.state.task
    assert torch.equal(a.target, b.target) and torch.equal(a.joint_pos, b.joint_pos)
    assert torch.equal(a.target[:32], a.target[32:])
    with pytest.raises(
        ValueError, match="batch_size must be a multiple of the evaluation suite size 48.*got 64"
    ):
        make_simulator("motornet/Arm26Reach-v0", batch_size=64, eval_size=48).reset(options={"suite": "eval"})


# ---------------------------------------------------------------------- centre-out
def test_centre_out_eval_suite_targets_order_and_go_time():
    sim = make_simulator("motornet/Arm26CentreOut-v0", batch_size=8, dtype=F64, eval_go_time=0.12)
    obs, _ = sim.reset(seed=0, options={"suite": "eval"})
    ts = sim.state.task
    offset = ts.target - ts.start
    torch.testing.assert_close(offset.norm(dim=-1), torch.full((8,), 0.1, dtype=F64))
    angles = torch.atan2(offset[:, 1], offset[:, 0]) % (2 * math.pi)
    torch.testing.assert_close(angles, torch.arange(8, dtype=F64) * math.pi / 4, atol=1e-9, rtol=0)
    assert torch.equal(ts.start, ts.start[:1].expand(8, 2))  # one centre posture
    assert torch.equal(ts.go_step, torch.full((8,), 12)) and not ts.catch.any()
    # the go cue observation switches on exactly at the go step; desired follows it
    go = dict(sim.observation_parts)
    idx = [n for n, _ in sim.observation_parts].index("go_cue")
    col = sum(n for name, n in sim.observation_parts[:idx])
    assert go["go_cue"] == 1 and (obs[:, col] == 0).all()
    for k in range(1, 15):
        obs, *_, info = sim.step(torch.zeros(8, 6, dtype=F64))
        assert bool((obs[:, col] == float(k >= 12)).all())
        expected = ts.target if k >= 12 else ts.start
        assert torch.equal(info["desired_pos"], expected)


def test_centre_out_training_distribution():
    n = 20000
    sim = make_simulator(
        "motornet/Arm26CentreOut-v0",
        batch_size=n,
        dtype=F64,
        catch_trial_fraction=0.3,
        go_cue_range=(0.1, 0.3),
    )
    sim.reset(seed=1)
    ts = sim.state.task
    assert abs(ts.catch.double().mean().item() - 0.3) < 0.015
    assert torch.equal(ts.go_step[ts.catch], torch.full((int(ts.catch.sum()),), NEVER))
    go = ts.go_step[~ts.catch]
    assert go.min() == 10 and go.max() == 30  # the whole grid, inclusive
    offset = ts.target - ts.start
    torch.testing.assert_close(offset.norm(dim=-1), torch.full((n,), 0.1, dtype=F64))
    angles = torch.atan2(offset[:, 1], offset[:, 0])
    counts = torch.histc(angles, bins=8, min=-math.pi, max=math.pi)
    assert (counts / n - 1 / 8).abs().max() < 0.015  # uniform directions


def test_go_time_and_joint_pos_options():
    sim = make_simulator("motornet/Arm26CentreOut-v0", batch_size=2, dtype=F64)
    sim.reset(seed=0, options={"go_time": 0.2})
    assert torch.equal(sim.state.task.go_step, torch.tensor([20, 20])) and not sim.state.task.catch.any()
    q = torch.tensor([[0.5, 1.0]], dtype=F64)
    sim.reset(seed=0, options={"joint_pos": q})
    ts = sim.state.task
    torch.testing.assert_close((ts.target - ts.start).norm(dim=-1), torch.full((2,), 0.1, dtype=F64))
    assert torch.equal(ts.joint_pos, q.expand(2, 2))
    with pytest.raises(ValueError, match=r"options\['go_time'\] must be .*multiples of dt=0.01 s; got 0.015"):
        sim.reset(options={"go_time": 0.015})
    with pytest.raises(ValueError, match=r"options\['joint_pos'\] must lie within"):
        sim.reset(options={"joint_pos": torch.tensor([[-1.0, 1.0]])})


# ---------------------------------------------------------------------- force field
@pytest.mark.parametrize(
    "kwargs,matrix",
    [
        ({"field_direction": "cw", "field_strength": 13.0}, [[0.0, 13.0], [-13.0, 0.0]]),
        ({"field_direction": "ccw", "field_strength": 8.0}, [[0.0, -8.0], [8.0, 0.0]]),
        ({"field_matrix": ((-10.1, -11.2), (-11.2, 11.1))}, [[-10.1, -11.2], [-11.2, 11.1]]),
    ],
)
def test_force_field_applies_B_times_velocity(kwargs, matrix):
    sim = make_simulator("motornet/Arm26ForceField-v0", batch_size=4, dtype=F64, **kwargs)
    g = torch.Generator().manual_seed(0)
    rows = _run(sim, [torch.rand(4, 6, generator=g, dtype=F64) for _ in range(20)])
    b = torch.tensor(matrix, dtype=F64)
    speeds = []
    for _, vel, info in rows:
        torch.testing.assert_close(info["endpoint_load"], vel @ b.T, rtol=1e-12, atol=1e-12)
        speeds.append(vel.norm(dim=-1).max())
    assert max(speeds) > 0.1  # the arm moved, so the check has teeth
    if "field_direction" in kwargs:  # curl: force orthogonal to velocity, on the configured side
        _, vel, info = rows[-1]
        f = info["endpoint_load"]
        torch.testing.assert_close((f * vel).sum(-1), torch.zeros(4, dtype=F64), atol=1e-12, rtol=0)
        side = _cross(vel, f)
        assert (side < 0).all() if kwargs["field_direction"] == "cw" else (side > 0).all()


def test_force_channel_pushes_back_to_the_line():
    sim = make_simulator("motornet/Arm26ForceField-v0", batch_size=16, dtype=F64)
    g = torch.Generator().manual_seed(1)
    rows = _run(sim, [0.2 * torch.rand(16, 6, generator=g, dtype=F64) for _ in range(15)], {"suite": "eval"})
    ts = sim.state.task
    channel = ts.load.channel
    assert torch.equal(channel, torch.arange(16) >= 8)
    line = ts.target - ts.start
    unit = line / line.norm(dim=-1, keepdim=True)
    normal = torch.stack([-unit[:, 1], unit[:, 0]], -1)
    for pos, vel, info in rows:
        f = info["endpoint_load"]
        lateral = ((pos - ts.start) * normal).sum(-1)
        expected = -(5000.0 * lateral + 100.0 * (vel * normal).sum(-1))[:, None] * normal
        torch.testing.assert_close(f[channel], expected[channel], rtol=1e-10, atol=1e-10)
        torch.testing.assert_close((f * unit).sum(-1)[channel], torch.zeros(8, dtype=F64), atol=1e-9, rtol=0)
    assert rows[-1][2]["endpoint_load"][channel].norm(dim=-1).max() > 0.1
    # in field trials there is no channel force: the load is B v
    field = sim.task.field_matrix
    _, vel, info = rows[-1]
    torch.testing.assert_close(info["endpoint_load"][~channel], (vel @ field.T)[~channel])


# ---------------------------------------------------------------------- perturbation
def test_eval_pulse_starts_ends_and_points_orthogonal():
    cfg = dict(eval_pulse_magnitude=12.0, eval_pulse_duration=0.04, eval_pulse_delay=0.05, eval_go_time=0.1)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        sim = make_simulator(
            "motornet/Arm26Perturbation-v0", batch_size=8, dtype=F64, eval_pulse_side=side, **cfg
        )
        rows = _run(sim, [torch.zeros(8, 6, dtype=F64)] * 25, {"suite": "eval"})
        ts = sim.state.task
        reach = (ts.target - ts.start) / 0.1
        for k, (_, _, info) in enumerate(rows):
            f = info["endpoint_load"]
            if 15 <= k < 19:  # go at step 10 + 5 steps delay, 4 steps long
                torch.testing.assert_close(f.norm(dim=-1), torch.full((8,), 12.0, dtype=F64))
                torch.testing.assert_close((f * reach).sum(-1), torch.zeros(8, dtype=F64), atol=1e-12, rtol=0)
                assert (sign * _cross(reach, f) > 0).all()
            else:
                assert torch.equal(f, torch.zeros_like(f)), k


@pytest.mark.parametrize("env_id", ["motornet/Arm26Perturbation-v0", "motornet/PointMassPerturbation-v0"])
def test_posture_suite_holds_the_start_against_loads_in_every_direction(env_id):
    n = 16
    sim = make_simulator(
        env_id, batch_size=n, dtype=F64, eval_suite="posture", n_targets=n, eval_load_magnitude=4.0
    )
    rows = _run(sim, [torch.zeros(n, sim.action_size, dtype=F64)] * 12, {"suite": "eval"})
    ts = sim.state.task
    assert torch.equal(ts.target, ts.start) and ts.catch.all() and (ts.go_step == NEVER).all()
    angle = torch.arange(n, dtype=F64) * (2 * math.pi / n)
    expected = 4.0 * torch.stack([torch.cos(angle), torch.sin(angle)], -1)
    for _, _, info in rows:  # constant from the first step, no pulse
        torch.testing.assert_close(info["endpoint_load"], expected)


def test_training_pulses_and_background_follow_the_task_state():
    sim = make_simulator(
        "motornet/Arm26Perturbation-v0",
        batch_size=256,
        dtype=F64,
        pulse_probability=0.5,
        pulse_magnitude_range=(5.0, 10.0),
        pulse_duration_range=(0.02, 0.06),
        pulse_onset_range=(0.0, 0.2),
        background_load_range=(1.0, 2.0),
    )
    rows = _run(sim, [torch.zeros(256, 6, dtype=F64)] * 30)
    ld = sim.state.task.load
    mag = ld.pulse.norm(dim=-1)
    has = mag > 0
    assert 0.4 < has.double().mean() < 0.6
    assert ((mag[has] >= 5.0) & (mag[has] <= 10.0)).all()
    dur = ld.pulse_offset - ld.pulse_onset
    assert dur.min() == 2 and dur.max() == 6 and ld.pulse_onset.min() == 0 and ld.pulse_onset.max() == 20
    bg = ld.background.norm(dim=-1)
    assert (bg >= 1.0).all() and (bg <= 2.0).all()
    for k, (_, _, info) in enumerate(rows):
        active = ((k >= ld.pulse_onset) & (k < ld.pulse_offset))[:, None]
        expected = ld.background + torch.where(active, ld.pulse, torch.zeros_like(ld.pulse))
        assert torch.equal(info["endpoint_load"], expected)


def test_default_eval_pulse_visibly_displaces_an_untrained_arm():
    def run(**kw):
        sim = make_simulator("motornet/Arm26Perturbation-v0", batch_size=8, dtype=F64, **kw)
        rows = _run(sim, [torch.zeros(8, 6, dtype=F64)] * 35, {"suite": "eval"})
        return torch.stack([info["fingertip_pos"] for *_, info in rows])

    displacement = (run() - run(eval_pulse_magnitude=0.0)).norm(dim=-1)
    onset = 10 + 10  # default go time 0.1 s + default delay 0.1 s
    assert displacement[: onset + 1].max() == 0
    assert displacement[onset + 10].min() > 0.01  # > 1 cm, 100 ms after onset, every direction


# ---------------------------------------------------------------------- cost
def test_cost_terms_match_their_definitions():
    sim = make_simulator(
        "motornet/Arm26CentreOut-v0", batch_size=4, dtype=F64, position_weight=2.0, effort_weight=0.5
    )
    sim.reset(seed=0, options={"go_time": 0.03})
    fmax = sim.effector.muscle.max_isometric_force
    for k in range(1, 6):
        _, reward, *_, info = sim.step(torch.full((4, 6), 0.6, dtype=F64))
        ts = sim.state.task
        desired = ts.target if k >= 3 else ts.start
        pos = (info["fingertip_pos"] - desired).norm(dim=-1)
        eff = ((info["activation"] * fmax / fmax.mean()) ** 2).mean(-1)
        torch.testing.assert_close(info["cost_terms"]["position"], pos)
        torch.testing.assert_close(info["cost_terms"]["effort"], eff)
        torch.testing.assert_close(reward, -(2.0 * pos + 0.5 * eff))
    assert sim.task.cost_weights == {"position": 2.0, "effort": 0.5}


def test_velocity_cost_is_the_squared_fingertip_speed_and_absent_at_weight_zero():
    sim = make_simulator("motornet/Arm26CentreOut-v0", batch_size=3, dtype=F64, velocity_weight=0.25)
    sim.reset(seed=0)
    assert sim.task.cost_weights == {"position": 1.0, "effort": 0.1, "velocity": 0.25}
    for _ in range(5):
        _, reward, *_, info = sim.step(torch.full((3, 6), 0.7, dtype=F64))
        terms = info["cost_terms"]
        speed2 = (info["fingertip_vel"] ** 2).sum(-1)
        assert speed2.min() > 0  # the arm moves, so a dropped term would show
        torch.testing.assert_close(terms["velocity"], speed2)
        torch.testing.assert_close(reward, -(terms["position"] + 0.1 * terms["effort"] + 0.25 * speed2))
    plain = make_simulator("motornet/Arm26CentreOut-v0", batch_size=3, dtype=F64)
    plain.reset(seed=0)
    *_, info = plain.step(torch.full((3, 6), 0.7, dtype=F64))
    assert "velocity" not in info["cost_terms"] and "velocity" not in plain.task.cost_weights


def test_task_standalone_api():
    arm = presets.arm26()
    task = CentreOut(arm, CentreOutConfig(n_targets=4))
    assert task.eval_size == 4 and task.sample_eval() is not None
    ts = task.sample_initial(4, torch.Generator().manual_seed(0), {"suite": "eval"})
    state = arm.initial_state(ts.joint_pos)
    endpoint, joint = task.loads(ts, state, torch.zeros(4, dtype=torch.int64))
    assert endpoint.shape == (4, 2) and joint is None
    terms = task.cost(ts, state, torch.zeros(4, 6), torch.zeros(4, dtype=torch.int64))
    torch.testing.assert_close(terms["position"], torch.zeros(4), atol=1e-5, rtol=0)
    with pytest.raises(TypeError, match="config must be a ReachConfig; got TaskConfig"):
        Reach(arm, TaskConfig())
    assert Reach(arm, ReachConfig(eval_size=3)).eval_size == 3


@pytest.mark.parametrize(
    "cls,kwargs,pattern",
    [
        (
            ForceFieldConfig,
            {"field_direction": "up"},
            r"field_direction must be one of \('cw', 'ccw'\); got 'up'",
        ),
        (
            ForceFieldConfig,
            {"field_strength": -1.0},
            r"field_strength must be a finite number >= 0; got -1.0",
        ),
        (
            ForceFieldConfig,
            {"field_matrix": ((1.0, 2.0),)},
            r"field_matrix must be a 2x2 .*got \(\(1.0, 2.0\),\)",
        ),
        (
            CentreOutConfig,
            {"catch_trial_fraction": 1.5},
            r"catch_trial_fraction must be in \[0, 1\]; got 1.5",
        ),
        (CentreOutConfig, {"go_cue_range": (0.3, 0.1)}, r"go_cue_range must satisfy .*got \(0.3, 0.1\)"),
        (CentreOutConfig, {"reach_distance": 0.0}, r"reach_distance must be a finite number > 0 m; got 0.0"),
        (CentreOutConfig, {"n_targets": 0}, r"n_targets must be an integer >= 1; got 0"),
        (PerturbationConfig, {"pulse_magnitude_range": (-1.0, 2.0)}, r"pulse_magnitude_range must satisfy"),
        (PerturbationConfig, {"eval_pulse_side": "up"}, r"eval_pulse_side must be one of"),
        (
            PerturbationConfig,
            {"eval_suite": "reach"},
            r"eval_suite must be one of \('pulse', 'posture'\); got 'reach'",
        ),
        (PerturbationConfig, {"eval_load_magnitude": -1.0}, r"eval_load_magnitude"),
        (TaskConfig, {"effort_weight": -0.1}, r"effort_weight must be a finite number >= 0; got -0.1"),
        (TaskConfig, {"velocity_weight": -1.0}, r"velocity_weight must be a finite number >= 0; got -1.0"),
    ],
)
def test_bad_task_configuration(cls, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        cls(**kwargs)


def test_centre_joint_pos_outside_limits_is_rejected():
    with pytest.raises(ValueError, match=r"centre_joint_pos must be 2 values within .*got \(-1.0, 0.5\)"):
        make_simulator("motornet/Arm26CentreOut-v0", centre_joint_pos=(-1.0, 0.5))


def test_eval_pulse_follows_an_overridden_go_time():
    import motornet_gym as mg

    sim = mg.make_simulator("motornet/Arm26Perturbation-v0", batch_size=8)
    sim.reset(options={"suite": "eval"})
    base = sim.state.task
    sim.reset(options={"suite": "eval", "go_time": 0.3})
    moved = sim.state.task
    shift = moved.go_step - base.go_step
    assert bool((shift == 20).all())  # 0.1 s -> 0.3 s
    assert torch.equal(moved.load.pulse_onset, base.load.pulse_onset + shift)
    assert torch.equal(moved.load.pulse_offset, base.load.pulse_offset + shift)


def test_task_times_must_be_multiples_of_dt():
    import motornet_gym as mg

    with pytest.raises(ValueError, match=r"eval_pulse_delay must be a multiple of dt=0.01 s; got 0.105"):
        mg.make_simulator("motornet/Arm26Perturbation-v0", eval_pulse_delay=0.105)
    with pytest.raises(ValueError, match=r"go_cue_range\[1\] must be a multiple of dt=0.01 s; got 0.255"):
        mg.make_simulator("motornet/Arm26CentreOut-v0", go_cue_range=(0.05, 0.255))
