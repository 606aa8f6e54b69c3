"""Gymnasium front ends: registration, check_env, seeding, spaces, agreement, autoreset, bad input."""

from __future__ import annotations

import os
import warnings

os.environ["SDL_VIDEODRIVER"] = "dummy"  # check_env renders every mode: headless

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from motornet_gym.envs import MotorEnv, MotorVectorEnv, register_envs
from motornet_gym.registry import ENV_IDS, ENV_SPECS, make_simulator
from tests._subprocess import run_snippet

register_envs()

ARM = "motornet/Arm26Reach-v0"
SHORT = {"episode_duration": 0.05}  # 5 steps

# Gymnasium's own tests/envs/test_envs.py allows exactly these: Box(-inf, inf) observations (noise
# makes them unbounded) and the advice on action boxes. Anything else fails.
ALLOWED_CHECK_ENV_WARNINGS = {
    "A Box observation space minimum value is -infinity. This is probably too low.",
    "A Box observation space maximum value is infinity. This is probably too high.",
    "For Box action spaces, we recommend using a symmetric and normalized space (range=[-1, 1] "
    "or [0, 1]). See https://stable-baselines3.readthedocs.io/en/master/guide/rl_tips.html for "
    "more information.",
}


def _strip(message: str) -> str:
    return message.replace("\x1b[33mWARN: ", "").replace("\x1b[0m", "")


def _rollout(env, seed, n_steps, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(n_steps):
        obs, reward, terminated, truncated, _ = env.step(rng.random(env.action_space.shape, dtype=np.float32))
        out += [obs, np.array([reward, terminated, truncated], dtype=np.float64)]
    return out


# ---------------------------------------------------------------------------- registration
def test_every_id_is_registered_with_both_entry_points():
    assert set(ENV_IDS) >= {
        "motornet/PointMassReach-v0", ARM, "motornet/Arm26CentreOut-v0",
        "motornet/Arm26ForceField-v0", "motornet/Arm26Perturbation-v0",
        "motornet/CompliantArm26Reach-v0",
    }  # fmt: skip
    for env_id in ENV_IDS:
        spec = gym.spec(env_id)
        assert spec.entry_point == "motornet_gym.envs.motor_env:MotorEnv"
        assert spec.vector_entry_point == "motornet_gym.envs.vector_env:MotorVectorEnv"
        assert spec.max_episode_steps == ENV_SPECS[env_id].max_episode_steps == 100  # the default length
        assert gym.make(env_id).unwrapped.max_episode_steps == spec.max_episode_steps  # engine: the same
    assert register_envs() == ()  # idempotent


def test_import_registers_and_module_prefix_works():
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('motornet_gym:motornet/Arm26Reach-v0', episode_duration=0.1)\n"
        "import motornet_gym\n"
        "assert all(i in gym.registry for i in motornet_gym.ENV_IDS)\n"
        "print(env.unwrapped.simulator.max_steps)\n"
    )
    out = run_snippet(code)
    assert out.strip() == "10"


# ---------------------------------------------------------------------------- checkers
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id, episode_duration=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    unexpected = {_strip(str(w.message)) for w in caught} - ALLOWED_CHECK_ENV_WARNINGS
    assert not unexpected, unexpected
    env.close()


# ---------------------------------------------------------------------------- seeding and spaces
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_trajectory_and_seeds_differ(env_id):
    kw = dict(episode_duration=0.1, action_noise=0.05, observation_noise=0.01)
    a = _rollout(gym.make(env_id, **kw), seed=7, n_steps=6)
    b = _rollout(gym.make(env_id, **kw), seed=7, n_steps=6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    env = gym.make(env_id, **kw)
    starts = {}
    for seed in (0, 1, 2):
        _, info = env.reset(seed=seed)
        starts[seed] = np.concatenate([info["joint_pos"], info["target"]])
    assert not np.allclose(starts[0], starts[1]) and not np.allclose(starts[1], starts[2])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observations_in_space_and_time_limit_is_truncation(env_id):
    env = gym.make(env_id, episode_duration=0.2)
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and obs in env.observation_space
    assert env.action_space == gym.spaces.Box(0, 1, (env.unwrapped.simulator.action_size,))
    env.action_space.seed(0)
    for t in range(1, 21):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert obs in env.observation_space
        assert isinstance(reward, float) and np.isfinite(reward)
        assert reward == pytest.approx(-float(info["cost"]), rel=1e-6)
        assert terminated is False
        assert truncated is (t == 20), t
        assert int(info["step"]) == t
    assert set(info) >= {
        "fingertip_pos", "fingertip_vel", "target", "joint_pos", "joint_vel", "activation",
        "force", "endpoint_load", "cost", "cost_terms", "step", "obs_parts",
    }  # fmt: skip
    assert all(isinstance(v, (np.ndarray, np.generic, dict)) for v in info.values())


def test_gym_make_time_limit_is_consistent():
    env = gym.make(ARM)  # registered 100 steps, engine 1 s / 0.01 s
    env.reset(seed=0)
    a = np.zeros(6, np.float32)
    flags = [env.step(a)[2:4] for _ in range(100)]
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])
    env = gym.make(ARM, max_episode_steps=7)  # the TimeLimit ends it earlier
    env.reset(seed=0)
    assert [env.step(a)[3] for _ in range(7)] == [False] * 6 + [True]
    # A longer episode or a finer dt: gym.make and gym.make_vec honour it when told the length
    # (their registered max_episode_steps is the default 100), and warn otherwise.
    for kw, steps in (({"episode_duration": 1.5}, 150), ({"dt": 0.005}, 200)):
        env = gym.make("motornet/PointMassReach-v0", max_episode_steps=steps, **kw)
        env.reset(seed=0)
        flags = [env.step(np.zeros(4, np.float32))[3] for _ in range(steps)]
        assert flags == [False] * (steps - 1) + [True], kw
        venv = gym.make_vec("motornet/PointMassReach-v0", num_envs=2, max_episode_steps=steps, **kw)
        venv.reset(seed=0)
        flags = [bool(venv.step(np.zeros((2, 4), np.float32))[3][0]) for _ in range(steps)]
        assert flags == [False] * (steps - 1) + [True], kw


# ---------------------------------------------------------------------------- front ends agree
def test_single_vector_sb3_and_engine_agree_step_by_step():
    pytest.importorskip("stable_baselines3")
    from motornet_gym.sb3 import make_vec_env

    n, steps = 3, 10
    kw = dict(episode_duration=0.1)
    lb, ub = np.array([0.2, 0.3]), np.array([2.0, 2.3])
    rng = np.random.default_rng(1)
    q0 = (lb + (ub - lb) * rng.random((n, 2))).astype(np.float32)
    targets = np.array([[0.1, 0.4], [-0.2, 0.5], [0.3, 0.2]], np.float32)
    options = {"joint_pos": q0, "target": targets}
    actions = rng.random((steps, n, 6), dtype=np.float32) * 1.4 - 0.2  # some out of range

    sim = make_simulator(ARM, batch_size=n, **kw)
    obs_e, _ = sim.reset(seed=0, options=options)
    eng = [obs_e.numpy()]
    for t in range(steps):
        eng.append(sim.step(torch.from_numpy(actions[t]))[0].numpy())

    venv = gym.make_vec(ARM, num_envs=n, **kw)
    vec = [venv.reset(seed=0, options=options)[0]]
    for t in range(steps):
        o, r, term, trunc, _ = venv.step(actions[t])
        vec.append(o)
        assert not term.any() and trunc.all() == (t == steps - 1)

    sb3 = make_vec_env(ARM, n, seed=0, **kw)
    sb3.set_options(options)  # one dict of batched options, the same for every sub-env
    sbo = [sb3.reset()]
    final = None
    for t in range(steps):
        o, r, done, infos = sb3.step(actions[t])
        if t == steps - 1:
            assert done.all() and all(i["TimeLimit.truncated"] for i in infos)
            final = np.stack([i["terminal_observation"] for i in infos])
            sbo.append(final)
            reset_obs = o
        else:
            sbo.append(o)

    for i in range(n):
        env = gym.make(ARM, **kw)
        single = [env.reset(seed=0, options={"joint_pos": q0[i], "target": targets[i]})[0]]
        for t in range(steps):
            single.append(env.step(actions[t, i])[0])
        for t in range(steps + 1):
            np.testing.assert_allclose(single[t], eng[t][i], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(vec[t][i], eng[t][i], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(sbo[t][i], eng[t][i], rtol=1e-5, atol=1e-6)
    # SB3 returned the first observation of the next episode, not the terminal one.
    assert not np.allclose(reset_obs, final)


# ---------------------------------------------------------------------------- autoreset
def _vec(mode, n=3, **kw):
    return gym.make_vec(ARM, num_envs=n, autoreset_mode=mode, **SHORT, **kw)


def test_make_vec_uses_native_vector_env():
    venv = gym.make_vec(ARM, num_envs=4, episode_duration=0.2)
    assert isinstance(venv.unwrapped, MotorVectorEnv)
    assert venv.unwrapped.simulator.batch_size == 4
    assert venv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert venv.observation_space.shape == (4, 16) and venv.action_space.shape == (4, 6)
    assert venv.single_action_space == gym.spaces.Box(0, 1, (6,))
    assert venv.unwrapped.max_episode_steps == 20
    same = _vec(AutoresetMode.SAME_STEP)
    assert same.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP


def test_next_step_autoreset():
    venv = _vec(AutoresetMode.NEXT_STEP)
    venv.reset(seed=0)
    a = np.full((3, 6), 0.5, np.float32)
    for _ in range(5):
        obs, rew, term, trunc, info = venv.step(a)
    assert trunc.all() and not term.any() and (info["step"] == 5).all()
    final = obs
    obs, rew, term, trunc, info = venv.step(np.ones((3, 6), np.float32))  # the reset step
    assert (rew == 0).all() and not term.any() and not trunc.all()
    assert (info["step"] == 0).all() and np.allclose(info["joint_vel"], 0)  # action ignored
    assert not np.allclose(obs, final)
    # The final observation was the true one: an engine stepped alike ends in the same state.
    sim = make_simulator(ARM, batch_size=3, **SHORT)
    sim.reset(seed=0)
    for _ in range(5):
        last = sim.step(torch.from_numpy(a))[0]
    np.testing.assert_allclose(final, last.numpy(), rtol=1e-6)
    obs, rew, term, trunc, info = venv.step(a)
    assert (info["step"] == 1).all() and (rew != 0).all()


def test_next_step_autoreset_with_staggered_episodes():
    venv = _vec(AutoresetMode.NEXT_STEP, n=2)
    venv.reset(seed=0)
    a = np.full((2, 6), 0.2, np.float32)
    venv.step(a), venv.step(a)
    _, info = venv.reset(options={"reset_mask": np.array([True, False])})
    assert info["_step"].tolist() == [True, False] and info["step"][0] == 0
    dones = []
    for _ in range(4):
        _, rew, term, trunc, info = venv.step(a)
        dones.append(trunc.tolist())
    assert dones == [[False, False], [False, False], [False, True], [False, False]]
    assert info["step"].tolist() == [4, 0] and rew[1] == 0 and rew[0] != 0
    _, _, _, trunc, info = venv.step(a)
    assert trunc.tolist() == [True, False] and info["step"].tolist() == [5, 1]


def test_same_step_autoreset_keeps_true_final_observation():
    ref = _vec(AutoresetMode.NEXT_STEP)
    venv = _vec(AutoresetMode.SAME_STEP)
    ref.reset(seed=3), venv.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.random((3, 6), dtype=np.float32)
        ro, rr, _, rtr, rinfo = ref.step(a)
        obs, rew, term, trunc, info = venv.step(a)
        np.testing.assert_array_equal(rew, rr)
        np.testing.assert_array_equal(trunc, rtr)
    assert trunc.all() and info["_final_obs"].all()
    for i in range(3):
        np.testing.assert_array_equal(info["final_obs"][i], ro[i])
    np.testing.assert_array_equal(info["final_info"]["step"], [5, 5, 5])
    assert info["final_info"]["_step"].all()
    np.testing.assert_array_equal(info["final_info"]["fingertip_pos"], rinfo["fingertip_pos"])
    assert (info["step"] == 0).all() and not np.allclose(obs, ro)  # obs starts the next episode
    obs, rew, term, trunc, info = venv.step(a)
    assert "final_obs" not in info and (info["step"] == 1).all() and not trunc.any()


def test_disabled_autoreset_needs_explicit_partial_reset():
    venv = _vec(AutoresetMode.DISABLED)
    venv.reset(seed=0)
    a = np.full((3, 6), 0.3, np.float32)
    for _ in range(5):
        obs, _, _, trunc, info = venv.step(a)
    assert trunc.all()
    with pytest.raises(RuntimeError, match="reset_mask"):
        venv.step(a)
    mask = np.array([True, False, True])
    new, rinfo = venv.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(new[1], obs[1])
    assert not np.allclose(new[0], obs[0]) and rinfo["_target"].tolist() == mask.tolist()
    with pytest.raises(RuntimeError, match=r"\[1\]"):
        venv.step(a)
    q = np.array([[0.5, 0.6], [0.7, 0.8], [0.9, 1.0]], np.float32)
    _, rinfo = venv.reset(options={"reset_mask": ~mask, "joint_pos": q})
    np.testing.assert_allclose(rinfo["joint_pos"][1], q[1], rtol=1e-6)
    assert rinfo["_joint_pos"].tolist() == [False, True, False]
    _, _, _, trunc, info = venv.step(a)
    assert not trunc.any() and (info["step"] == 1).all()


# ---------------------------------------------------------------------------- bad input
def test_bad_actions_name_argument_expected_and_received():
    env = gym.make(ARM, **SHORT)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(6,\).*got shape \(7,\)"):
        env.step(np.zeros(7, np.float32))
    with pytest.raises(ValueError, match=r"action must have shape \(6,\).*got shape \(1, 6\)"):
        env.step(np.zeros((1, 6), np.float32))
    bad = np.zeros(6, np.float32)
    bad[2] = np.nan
    with pytest.raises(ValueError, match=r"action must be finite.*nan.*index \(2,\)"):
        env.step(bad)
    venv = gym.make_vec(ARM, num_envs=2, **SHORT)
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"action must have shape \(2, 6\).*got shape \(3, 6\)"):
        venv.step(np.zeros((3, 6), np.float32))
    bad = np.zeros((2, 6), np.float32)
    bad[1, 4] = np.inf
    with pytest.raises(ValueError, match=r"finite.*inf.*index \(1, 4\)"):
        venv.step(bad)


def test_out_of_range_actions_are_clipped():
    outs = []
    for a in (np.array([2.0, -1, 5, 1, -3, 1.5]), np.array([1.0, 0, 1, 1, 0, 1])):
        env = gym.make(ARM, **SHORT)
        env.reset(seed=0)
        outs.append(env.step(a.astype(np.float32))[0])
    np.testing.assert_array_equal(outs[0], outs[1])


def test_bad_options_kwargs_and_arguments():
    env = gym.make(ARM, **SHORT)
    with pytest.raises(ValueError, match=r"unknown reset option 'bogus'.*expected any of"):
        env.reset(options={"bogus": 1})
    with pytest.raises(TypeError, match=r"unknown keyword argument 'bogus_kwarg'.*expected any of"):
        gym.make(ARM, bogus_kwarg=1)
    with pytest.raises(TypeError, match=r"unknown keyword argument 'bogus_kwarg'"):
        gym.make_vec(ARM, num_envs=2, bogus_kwarg=1)
    with pytest.raises(ValueError, match=r"episode_duration must be"):
        gym.make(ARM, episode_duration=-1.0)
    with pytest.raises(ValueError, match=r"render_mode must be None or one of.*got 'rgb'"):
        MotorEnv(ARM, render_mode="rgb")
    with pytest.raises(ValueError, match=r"autoreset_mode must be one of.*got 'sometimes'"):
        MotorVectorEnv(ARM, 2, autoreset_mode="sometimes")
    venv = MotorVectorEnv(ARM, 2, **SHORT)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0 or None; got \[1, 2, 3\]"):
        venv.reset(seed=[1, 2, 3])  # one seed per sub-environment, or one for all
    venv.reset(seed=0)
    with pytest.raises(ValueError, match=r"reset_mask'\] must be a numpy bool array of shape \(2,\)"):
        venv.reset(options={"reset_mask": [True, False]})
    with pytest.raises(RuntimeError, match="reset"):
        MotorEnv(ARM).step(np.zeros(6, np.float32))


@pytest.mark.parametrize("staggered", [False, True])
def test_next_step_autoreset_equals_the_engine_reset_of_the_ended_rows(staggered):
    """The packed autoreset (every row: reset_packed; some: reset_where) = the engine's own reset."""
    n, kw = 3, {"episode_duration": 0.03}  # 3-step episodes
    venv = MotorVectorEnv(ARM, n, **kw)
    sim = make_simulator(ARM, batch_size=n, **kw)
    venv.reset(seed=4)
    sim.reset(seed=4)
    rng = np.random.default_rng(0)
    if staggered:  # row 0 restarts one step later than the others from here on
        mask = np.array([False, True, True])
        venv.reset(options={"reset_mask": mask})
        sim.reset_where(torch.from_numpy(mask))
        venv.step(np.zeros((n, 6), np.float32))
        sim.step(torch.zeros(n, 6))
        ended = np.array([True, False, False])
    else:
        ended = np.ones(n, bool)
    for _ in range(2 if staggered else 3):
        u = rng.uniform(0, 1, (n, 6)).astype(np.float32)
        venv.step(u)
        sim.step(torch.from_numpy(u))
    u = rng.uniform(0, 1, (n, 6)).astype(np.float32)
    obs, reward, terminated, truncated, info = venv.step(u)  # restarts the ended rows
    sim.step(torch.from_numpy(u))
    want_obs = sim.reset_where(torch.from_numpy(ended)).numpy()
    want = sim.current_info()
    np.testing.assert_allclose(obs[ended], want_obs[ended], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(info["fingertip_pos"][ended], want["fingertip_pos"][ended].numpy(), rtol=1e-6)
    assert (info["step"][ended] == 0).all() and (reward[ended] == 0).all()
    assert not terminated[ended].any() and not truncated[ended].any()
    for _ in range(2):  # and the restarted episodes go on identically
        u = rng.uniform(0, 1, (n, 6)).astype(np.float32)
        obs = venv.step(u)[0]
        want_obs = sim.step(torch.from_numpy(u))[0].numpy()
        np.testing.assert_allclose(obs[ended], want_obs[ended], rtol=1e-6, atol=1e-7)
