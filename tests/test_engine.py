"""Engine (Simulator) and registry: seeding, delays, noise, batching, reset_where, dtype, errors."""

from __future__ import annotations

import math

import pytest
import torch

from motornet_gym.engine import Noise, SimState, Simulator
from motornet_gym.registry import ENV_IDS, ENV_SPECS, make_simulator

F64 = torch.float64
NOISY = dict(action_noise=0.05, proprioception_noise=0.01, vision_noise=0.002, observation_noise=0.01)
FAST_IDS = [i for i in ENV_IDS if "Compliant" not in i]


def _rollout(sim: Simulator, seed: int | None, steps: int, options=None, action_seed: int = 0):
    obs, info = sim.reset(seed=seed, options=options)
    g = torch.Generator().manual_seed(action_seed)
    out = [obs]
    fingertips = [info["fingertip_pos"]]
    for _ in range(steps):
        a = torch.rand(sim.batch_size, sim.action_size, generator=g, dtype=sim.dtype)
        obs, reward, _, _, info = sim.step(a)
        out += [obs, reward]
        fingertips.append(info["fingertip_pos"])
    return out, fingertips


def _leaves(tree):
    if isinstance(tree, torch.Tensor):
        return [tree]
    return [leaf for t in tree for leaf in _leaves(t)]


# ---------------------------------------------------------------------- registry
def test_registry_lists_every_required_id():
    required = {
        "motornet/PointMassReach-v0",
        "motornet/Arm26Reach-v0",
        "motornet/Arm26CentreOut-v0",
        "motornet/Arm26ForceField-v0",
        "motornet/Arm26Perturbation-v0",
        "motornet/CompliantArm26Reach-v0",
    }
    assert required <= set(ENV_IDS)
    assert tuple(ENV_SPECS)[: len(ENV_IDS)] == ENV_IDS  # built-ins first; user ids may follow
    for env_id in ENV_IDS:
        spec = ENV_SPECS[env_id]
        assert spec.max_episode_steps == 100 and spec.description


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_id_builds_with_declared_sizes(env_id):
    sim = make_simulator(env_id, batch_size=3, dtype=F64, action_history=2)
    assert sim.env_id == env_id and sim.max_steps == ENV_SPECS[env_id].max_episode_steps
    assert sum(n for _, n in sim.observation_parts) == sim.observation_size
    names = [n for n, _ in sim.observation_parts]
    assert names[0] == "target" and names[-1] == "action_history"
    assert dict(sim.observation_parts)["action_history"] == 2 * sim.action_size
    assert len(sim.muscle_names) == sim.action_size
    obs, info = sim.reset(seed=0)
    assert obs.shape == (3, sim.observation_size) and obs.dtype == F64
    obs, reward, term, trunc, info = sim.step(torch.full((3, sim.action_size), 0.1, dtype=F64))
    assert reward.shape == term.shape == trunc.shape == (3,)
    assert set(info["obs_parts"]) == set(names)


# ---------------------------------------------------------------------- seeding
@pytest.mark.parametrize("env_id", FAST_IDS)
def test_same_seed_gives_bit_identical_trajectories_with_noise(env_id):
    a, _ = _rollout(make_simulator(env_id, batch_size=4, **NOISY), seed=7, steps=20)
    b, _ = _rollout(make_simulator(env_id, batch_size=4, **NOISY), seed=7, steps=20)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)


def test_compliant_arm_same_seed_identical():
    env_id = "motornet/CompliantArm26Reach-v0"
    a, _ = _rollout(make_simulator(env_id, batch_size=2, **NOISY), seed=3, steps=3)
    b, _ = _rollout(make_simulator(env_id, batch_size=2, **NOISY), seed=3, steps=3)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("env_id", FAST_IDS)
def test_different_seeds_differ(env_id):
    sim = make_simulator(env_id, batch_size=4, **NOISY)
    a, _ = _rollout(sim, seed=1, steps=5)
    b, _ = _rollout(sim, seed=2, steps=5)
    assert not torch.equal(a[-2], b[-2])


def test_reseeding_after_steps_restarts_the_stream():
    sim = make_simulator("motornet/Arm26CentreOut-v0", batch_size=4, **NOISY)
    a, _ = _rollout(sim, seed=5, steps=10)
    _rollout(sim, seed=None, steps=3)  # consume some of the stream
    b, _ = _rollout(sim, seed=5, steps=10)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------- delays
@pytest.mark.parametrize("vision_delay,proprio_delay", [(0.0, 0.0), (0.01, 0.05), (0.07, 0.02)])
def test_delays_are_exact(vision_delay, proprio_delay):
    sim = make_simulator(
        "motornet/Arm26Reach-v0",
        batch_size=2,
        dtype=F64,
        vision_delay=vision_delay,
        proprioception_delay=proprio_delay,
    )
    kv, kp = round(vision_delay / 0.01), round(proprio_delay / 0.01)
    parts = dict(sim.observation_parts)
    sl = {}
    i = 0
    for name, n in sim.observation_parts:
        sl[name] = slice(i, i + n)
        i += n
    assert parts["vision"] == 2
    obs, info = sim.reset(seed=0)
    observations, clean = [obs], [info["obs_parts"]]
    for t in range(30):
        a = torch.zeros(2, 6, dtype=F64)
        a[:, t % 6] = 1.0  # keep the arm moving
        obs, *_, info = sim.step(a)
        observations.append(obs)
        clean.append(info["obs_parts"])
    for t, o in enumerate(observations):
        assert torch.equal(o[:, sl["vision"]], clean[max(t - kv, 0)]["vision"])
        for part in ("proprioception_length", "proprioception_velocity"):
            assert torch.equal(o[:, sl[part]], clean[max(t - kp, 0)][part])
    # A step change in the state appears exactly k steps later in the observation.
    moved = [t for t in range(1, 31) if not torch.equal(clean[t]["vision"], clean[0]["vision"])][0]
    seen = [t for t in range(1, 31) if not torch.equal(observations[t][:, sl["vision"]], clean[0]["vision"])][
        0
    ]
    assert seen - moved == kv


def test_observation_is_the_declared_parts_in_order():
    sim = make_simulator(
        "motornet/Arm26CentreOut-v0", batch_size=2, dtype=F64, vision_delay=0.0, proprioception_delay=0.0
    )
    obs, info = sim.reset(seed=0)
    obs, *_, info = sim.step(torch.full((2, 6), 0.3, dtype=F64))
    expected = torch.cat([info["obs_parts"][name] for name, _ in sim.observation_parts], dim=-1)
    assert torch.equal(obs, expected)
    m = sim.effector.muscle
    st = sim.state.effector.muscle
    assert torch.allclose(
        info["obs_parts"]["proprioception_length"], st.fibre_length / m.optimal_fibre_length
    )
    assert torch.allclose(info["obs_parts"]["proprioception_velocity"], st.fibre_velocity / m.vmax)
    assert torch.equal(info["obs_parts"]["vision"], info["fingertip_pos"])


def test_action_history_is_last_clipped_actions_oldest_first():
    # the efference copy is the command sent (clipped, before action noise)
    sim = make_simulator(
        "motornet/PointMassReach-v0", batch_size=1, dtype=F64, action_history=3, action_noise=0.1
    )
    obs, _ = sim.reset(seed=0)
    assert torch.equal(obs[:, -12:], torch.zeros(1, 12, dtype=F64))
    actions = [torch.tensor([[0.1, 0.2, 0.3, 1.7]], dtype=F64) * (k + 1) / 4 for k in range(4)]
    for a in actions:
        obs, *_ = sim.step(a)
    expected = torch.cat([a.clamp(0, 1) for a in actions[-3:]], dim=-1)
    assert torch.equal(obs[:, -12:], expected)


# ---------------------------------------------------------------------- noise
def _part_slices(sim):
    out, i = {}, 0
    for name, n in sim.observation_parts:
        out[name] = slice(i, i + n)
        i += n
    return out


def test_observation_noise_std_within_5_percent():
    cfg = dict(vision_noise=(0.01, 0.03), proprioception_noise=0.02, observation_noise=0.015)
    sim = make_simulator(
        "motornet/Arm26CentreOut-v0",
        batch_size=4096,
        dtype=F64,
        vision_delay=0.0,
        proprioception_delay=0.0,
        **cfg,
    )
    sl = _part_slices(sim)
    obs, info = sim.reset(seed=0)
    samples = []
    for _ in range(3):
        obs, *_, info = sim.step(torch.full((4096, 6), 0.05, dtype=F64))
        clean = torch.cat([info["obs_parts"][n] for n, _ in sim.observation_parts], dim=-1)
        samples.append(obs - clean)
    noise = torch.cat(samples)
    std = noise.std(0)
    assert torch.equal(noise[:, sl["target"]], torch.zeros_like(noise[:, sl["target"]]))
    assert torch.equal(noise[:, sl["go_cue"]], torch.zeros_like(noise[:, sl["go_cue"]]))
    expected_vision = torch.tensor([math.hypot(0.01, 0.015), math.hypot(0.03, 0.015)], dtype=F64)
    assert torch.allclose(std[sl["vision"]], expected_vision, rtol=0.05)
    for part in ("proprioception_length", "proprioception_velocity"):
        assert torch.allclose(
            std[sl[part]], torch.full_like(std[sl[part]], math.hypot(0.02, 0.015)), rtol=0.05
        )
    assert noise.mean(0).abs().max() < 0.003


def test_per_channel_observation_noise_includes_cues():
    sim = make_simulator("motornet/PointMassReach-v0", batch_size=8192, dtype=F64)
    stds = tuple(0.01 * (i + 1) for i in range(sim.observation_size))
    sim = make_simulator("motornet/PointMassReach-v0", batch_size=8192, dtype=F64, observation_noise=stds,
                         vision_delay=0.0, proprioception_delay=0.0)  # fmt: skip
    obs, info = sim.reset(seed=1)
    clean = torch.cat([info["obs_parts"][n] for n, _ in sim.observation_parts], dim=-1)
    assert torch.allclose((obs - clean).std(0), torch.tensor(stds, dtype=F64), rtol=0.05)


def test_action_noise_std_and_application():
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=8192, dtype=F64, action_noise=0.04)
    sim.reset(seed=0)
    noise = sim.draw_noise()
    assert noise.observation is None  # zero stds are not drawn
    assert torch.allclose(noise.action.std(0), torch.full((6,), 0.04, dtype=F64), rtol=0.05)
    # transition adds noise.action to the (clipped) action before the effector
    small = make_simulator("motornet/Arm26Reach-v0", batch_size=2, dtype=F64)
    small.reset(seed=0)
    state = small.state
    a = torch.full((2, 6), 0.5, dtype=F64)
    delta = torch.linspace(-0.2, 0.2, 12, dtype=F64).reshape(2, 6)
    s1, _ = small.transition(state, a, Noise(delta, None))
    s2, _ = small.transition(state, a + delta, Noise(None, None))
    assert torch.equal(s1.effector.joint_vel, s2.effector.joint_vel)
    assert torch.equal(s1.effector.muscle.activation, s2.effector.muscle.activation)


def test_noise_off_draws_nothing():
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=2)
    sim.reset(seed=0)
    before = sim.generator.get_state()
    sim.step(torch.full((2, 6), 0.2))
    assert torch.equal(before, sim.generator.get_state())


# ---------------------------------------------------------------------- batching and dtype
@pytest.mark.parametrize("env_id", ["motornet/Arm26Reach-v0", "motornet/PointMassReach-v0"])
def test_batch_equals_independent_single_simulators(env_id):
    b = 4
    batch = make_simulator(env_id, batch_size=b, dtype=F64)
    obs, info = batch.reset(seed=0)
    q0, target = info["joint_pos"].clone(), info["target"].clone()
    g = torch.Generator().manual_seed(0)
    actions = [torch.rand(b, batch.action_size, generator=g, dtype=F64) for _ in range(25)]
    batch_obs = [obs] + [batch.step(a)[0] for a in actions]
    for i in range(b):
        single = make_simulator(env_id, batch_size=1, dtype=F64)
        o, _ = single.reset(options={"joint_pos": q0[i : i + 1], "target": target[i : i + 1]})
        single_obs = [o] + [single.step(a[i : i + 1])[0] for a in actions]
        for x, y in zip(batch_obs, single_obs, strict=True):
            torch.testing.assert_close(x[i : i + 1], y, rtol=0, atol=1e-12)


@pytest.mark.parametrize("env_id", FAST_IDS)
def test_float64_end_to_end_and_differentiable(env_id):
    sim = make_simulator(env_id, batch_size=2, dtype=F64, **NOISY)
    obs, info = sim.reset(seed=0)
    a = torch.full((2, sim.action_size), 0.3, dtype=F64, requires_grad=True)
    total = 0.0
    for _ in range(5):
        obs, reward, *_, info = sim.step_unchecked(a)
        total = total - reward.sum()
    for leaf in _leaves(sim.state):
        if leaf.is_floating_point():
            assert leaf.dtype == F64
    for key in ("fingertip_pos", "joint_pos", "activation", "force", "endpoint_load", "cost"):
        assert info[key].dtype == F64
    assert obs.dtype == F64 and obs.requires_grad
    (grad,) = torch.autograd.grad(total, a)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_default_dtype_is_followed():
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=2)
    obs, _ = sim.reset(seed=0)
    assert sim.dtype == torch.get_default_dtype() == obs.dtype


# ---------------------------------------------------------------------- episode end and reward
def test_truncation_at_max_steps_never_termination():
    sim = make_simulator("motornet/PointMassReach-v0", batch_size=3, episode_duration=0.05)
    assert sim.max_steps == 5
    sim.reset(seed=0)
    for k in range(1, 7):
        _, _, term, trunc, info = sim.step(torch.zeros(3, 4))
        assert not term.any()
        assert bool(trunc.all()) == (k >= 5) and bool(trunc.any()) == (k >= 5)
        assert torch.equal(info["step"], torch.full((3,), k))


def test_reward_is_minus_weighted_cost():
    sim = make_simulator("motornet/Arm26CentreOut-v0", batch_size=3, dtype=F64, effort_weight=0.3)
    sim.reset(seed=0)
    _, reward, *_, info = sim.step(torch.full((3, 6), 0.4, dtype=F64))
    terms = info["cost_terms"]
    assert set(terms) == {"position", "effort"}
    torch.testing.assert_close(info["cost"], terms["position"] + 0.3 * terms["effort"])
    torch.testing.assert_close(reward, -info["cost"])


def test_out_of_range_actions_are_clipped():
    sims = [make_simulator("motornet/Arm26Reach-v0", batch_size=2, dtype=F64) for _ in range(2)]
    for s in sims:
        s.reset(seed=0)
    big = torch.tensor([[3.0, -2.0, 0.5, 1.0, 7.0, -0.1]] * 2, dtype=F64)
    a = sims[0].step(big)[0]
    b = sims[1].step(big.clamp(0, 1))[0]
    assert torch.equal(a, b)


# ---------------------------------------------------------------------- reset_where
def test_reset_where_resets_only_masked_envs():
    sim = make_simulator("motornet/Arm26CentreOut-v0", batch_size=4, dtype=F64, **NOISY)
    sim.reset(seed=0)
    for _ in range(7):
        last_obs = sim.step(torch.full((4, 6), 0.2, dtype=F64))[0]
    before = sim.state
    mask = torch.tensor([True, False, True, False])
    obs = sim.reset_where(mask)
    after = sim.state
    assert isinstance(after, SimState)
    for old, new in zip(_leaves(before), _leaves(after), strict=True):
        assert torch.equal(old[~mask], new[~mask])
    assert torch.equal(after.step, torch.tensor([0, 7, 0, 7]))
    assert torch.equal(obs[~mask], last_obs[~mask])
    # masked envs start a fresh episode: filled delay lines at the initial posture
    assert torch.equal(
        after.vision[mask], after.effector.fingertip_pos[mask][:, None].expand_as(after.vision[mask])
    )
    assert torch.equal(after.effector.joint_vel[mask], torch.zeros(2, 2, dtype=F64))
    assert not torch.equal(before.effector.joint_pos[mask], after.effector.joint_pos[mask])
    # current_info reports the reset envs' first state like reset() does
    info = sim.current_info()
    assert torch.equal(info["step"], after.step) and torch.equal(info["joint_pos"], after.effector.joint_pos)
    assert torch.equal(info["endpoint_load"], torch.zeros(4, 2, dtype=F64))
    torch.testing.assert_close(info["obs_parts"]["vision"], after.effector.fingertip_pos)
    # stepping continues per env
    _, _, _, _, info = sim.step(torch.full((4, 6), 0.2, dtype=F64))
    assert torch.equal(info["step"], torch.tensor([1, 8, 1, 8]))


def test_reset_where_is_deterministic_and_mask_independent_in_stream():
    def run(mask):
        sim = make_simulator("motornet/Arm26Reach-v0", batch_size=3, **NOISY)
        sim.reset(seed=4)
        sim.step(torch.full((3, 6), 0.1))
        sim.reset_where(torch.tensor(mask))
        return sim.step(torch.full((3, 6), 0.1))[0]

    a, b = run([True, False, False]), run([True, False, False])
    assert torch.equal(a, b)
    c = run([True, True, False])
    assert torch.equal(a[0], c[0])


# ---------------------------------------------------------------------- bad input
def test_unknown_env_id_lists_valid_ids():
    with pytest.raises(ValueError, match="unknown env_id 'motornet/Nope-v0'.*Arm26Reach-v0"):
        make_simulator("motornet/Nope-v0")


def test_unknown_kwarg_names_it_and_lists_valid_ones():
    with pytest.raises(TypeError, match="'vision_dealy'.*vision_delay"):
        make_simulator("motornet/Arm26Reach-v0", vision_dealy=0.05)
    with pytest.raises(TypeError, match="'field_strength'"):
        make_simulator("motornet/Arm26Reach-v0", field_strength=5.0)


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        ({"vision_delay": 0.015}, r"vision_delay must be a multiple of dt=0.01 s; got 0.015"),
        ({"proprioception_delay": 0.025}, r"proprioception_delay must be a multiple of dt=0.01 s; got 0.025"),
        ({"vision_delay": -0.01}, r"vision_delay must be a finite number >= 0 s; got -0.01"),
        ({"episode_duration": 0.555}, r"episode_duration must be a multiple of dt=0.01 s; got 0.555"),
        ({"action_noise": -0.1}, r"action_noise must be a std >= 0.*got -0.1"),
        ({"vision_noise": float("nan")}, r"vision_noise must be a std >= 0.*got nan"),
        (
            {"proprioception_noise": (0.1, 0.2, 0.3)},
            r"proprioception_noise must be one std or 12 stds.*got 3",
        ),
        ({"observation_noise": (0.1, 0.2)}, r"observation_noise must be one std or 16 stds.*got 2"),
        ({"action_history": -1}, r"action_history must be an integer >= 0; got -1"),
        ({"dt": 0.0}, r"dt must be a finite number > 0; got 0.0"),
        ({"integrator": "leapfrog"}, r"integrator 'leapfrog'"),
    ],
)
def test_bad_configuration_names_argument_expectation_and_value(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_simulator("motornet/Arm26Reach-v0", **kwargs)


def test_bad_batch_size_and_seed():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        make_simulator("motornet/Arm26Reach-v0", batch_size=0)
    sim = make_simulator("motornet/Arm26Reach-v0")
    with pytest.raises(ValueError, match="seed must be an integer >= 0 or None; got 1.5"):
        sim.reset(seed=1.5)


def test_unknown_option_is_rejected():
    sim = make_simulator("motornet/Arm26Reach-v0")
    with pytest.raises(ValueError, match="unknown reset option 'joint_state'.*'joint_pos'"):
        sim.reset(options={"joint_state": torch.zeros(1, 2)})
    with pytest.raises(ValueError, match="unknown reset option 'go_time'"):
        sim.reset(options={"go_time": 0.1})  # Reach has no go cue
    with pytest.raises(ValueError, match=r"options\['suite'\] must be 'train' or 'eval'; got 'test'"):
        sim.reset(options={"suite": "test"})
    with pytest.raises(
        ValueError, match=r"options\['joint_pos'\] must have shape \(1, 2\) or \(2,\); got \(3,\)"
    ):
        sim.reset(options={"joint_pos": torch.zeros(3)})


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match="reset"):
        make_simulator("motornet/Arm26Reach-v0").step(torch.zeros(1, 6))


def test_non_finite_action_names_step_and_batch_index():
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=3)
    sim.reset(seed=0)
    sim.step(torch.zeros(3, 6))
    a = torch.zeros(3, 6)
    a[2, 4] = float("nan")
    with pytest.raises(
        ValueError, match=r"action must be finite; got nan at step 1, batch index 2 \(muscle 4\)"
    ):
        sim.step(a)
    a[2, 4] = float("inf")
    with pytest.raises(ValueError, match="got inf at step 1, batch index 2"):
        sim.step(a)


def test_wrong_action_shape_or_type():
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=2)
    sim.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(2, 6\); got \(6,\)"):
        sim.step(torch.zeros(6))
    with pytest.raises(ValueError, match=r"action must have shape \(2, 6\); got \(2, 4\)"):
        sim.step(torch.zeros(2, 4))
    with pytest.raises(TypeError, match="action must be a torch.Tensor of shape"):
        sim.step([[0.0] * 6] * 2)


def test_reset_where_bad_mask():
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=2)
    sim.reset(seed=0)
    with pytest.raises(
        ValueError, match=r"mask must be a bool tensor of shape \(2,\); got torch.int64 \(2,\)"
    ):
        sim.reset_where(torch.tensor([1, 0]))


# ---------------------------------------------------------------------- compile flag (see test_compile.py)
def test_compile_flag_is_validated_and_first_steps_are_eager():
    sim = make_simulator("motornet/PointMassReach-v0", batch_size=2)
    assert sim.compiled is False
    with pytest.raises(ValueError, match="compile must be True, False or 'auto'; got 'yes'"):
        make_simulator("motornet/PointMassReach-v0", compile="yes")


@pytest.mark.parametrize("env_id", FAST_IDS)
def test_reset_state_has_distinct_leaves(env_id):
    """The compiled step guards on input aliasing: a reset state must not hold one tensor twice."""
    sim = make_simulator(env_id, batch_size=2)
    sim.reset(seed=0)
    leaves = _leaves(sim.state)
    assert len({id(t) for t in leaves}) == len(leaves)
    sim.reset_where(torch.tensor([True, False]))
    leaves = _leaves(sim.state)
    assert len({id(t) for t in leaves}) == len(leaves)


def test_step_outputs_desired_position_and_truncation():
    sim = make_simulator("motornet/Arm26CentreOut-v0", batch_size=2, dtype=F64, episode_duration=0.05)
    sim.reset(seed=0, options={"go_time": 0.02})
    for k in range(1, sim.max_steps + 1):
        _, out = sim.transition(sim.state, torch.zeros(2, 6, dtype=F64), Noise(None, None))
        sim.step(torch.zeros(2, 6, dtype=F64))
        want = sim.state.task.target if k >= 2 else sim.state.task.start
        torch.testing.assert_close(out.desired_pos, want, rtol=0, atol=0)
        assert out.truncated.tolist() == [k == sim.max_steps] * 2


def test_simulator_never_mutates_a_shared_effector():
    from motornet_gym.dynamics import presets
    from motornet_gym.engine import Simulator
    from motornet_gym.tasks import Reach

    eff = presets.arm26()
    task = Reach(eff)
    s32 = Simulator(eff, task, batch_size=2)
    s64 = Simulator(eff, task, batch_size=2, dtype=torch.float64)
    assert s32.effector is eff and eff.muscle.max_isometric_force.dtype == torch.float32
    assert s64.effector is not eff and s64.effector.muscle.max_isometric_force.dtype == torch.float64
    s32.reset(seed=0)
    s32.step(torch.full((2, 6), 0.1))  # still float32 after the float64 simulator was built


def test_numpy_integer_seeds_are_accepted():
    import numpy as np

    sim = make_simulator("motornet/PointMassReach-v0", batch_size=2)
    a, _ = sim.reset(seed=np.int64(3))
    b, _ = sim.reset(seed=3)
    assert torch.equal(a, b)


def test_divergence_is_caught_through_the_undelayed_cost(monkeypatch):
    sim = make_simulator(
        "motornet/PointMassReach-v0", batch_size=3, vision_delay=0.05, proprioception_delay=0.05
    )
    sim.reset(seed=0)
    real = sim.effector.step_unchecked

    def poisoned(state, *args, **kwargs):
        new = real(state, *args, **kwargs)
        pos = new.fingertip_pos.clone()
        pos[1, 0] = float("nan")
        return new._replace(fingertip_pos=pos)

    monkeypatch.setattr(sim.effector, "step_unchecked", poisoned)
    with pytest.raises(FloatingPointError, match="diverged at step 1, batch index 1: non-finite cost"):
        sim.step(torch.zeros(3, 4))
