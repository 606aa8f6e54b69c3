"""Front ends reach every engine feature: evaluation trials, failed resets, seed lists, dtype names."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from motornet_gym.envs import MotorVectorEnv, register_envs
from motornet_gym.registry import ENV_IDS, make_simulator
from tests._subprocess import run_snippet

register_envs()

ROOT = Path(__file__).resolve().parents[1]
ARM = "motornet/Arm26Reach-v0"
CENTRE = "motornet/Arm26CentreOut-v0"
SHORT = {"episode_duration": 0.05}  # 5 steps


# ---------------------------------------------------------------------------- evaluation trials
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_single_env_runs_each_trial_of_the_evaluation_suite(env_id):
    sim = make_simulator(env_id, batch_size=1, **SHORT)
    n = sim.task.eval_size
    batch = make_simulator(env_id, batch_size=n, **SHORT)
    obs_suite, info_suite = batch.reset(seed=0, options={"suite": "eval"})
    env = gym.make(env_id, **SHORT)
    for k in sorted({0, 1, n - 1}):
        obs, info = env.reset(seed=0, options={"suite": "eval", "trial": k})
        np.testing.assert_allclose(obs, obs_suite[k].numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(info["target"], info_suite["target"][k].numpy(), rtol=1e-6)
        np.testing.assert_allclose(info["joint_pos"], info_suite["joint_pos"][k].numpy(), rtol=1e-6)
    default, _ = env.reset(seed=0, options={"suite": "eval"})  # trial 0
    np.testing.assert_allclose(default, obs_suite[0].numpy(), rtol=1e-6, atol=1e-7)


def test_trial_runs_the_same_episode_as_its_row_of_the_suite():
    # Loads included: the perturbation suite differs trial by trial in its pulses.
    env_id = "motornet/Arm26Perturbation-v0"
    n = make_simulator(env_id).task.eval_size
    batch = make_simulator(env_id, batch_size=n, episode_duration=0.3)
    batch.reset(seed=0, options={"suite": "eval"})
    k = n - 1
    env = gym.make(env_id, episode_duration=0.3)
    env.reset(seed=0, options={"suite": "eval", "trial": k})
    u = torch.full((n, 6), 0.1)
    for _ in range(30):
        obs_b, *_ = batch.step(u)
        obs, *_ = env.step(u[k].numpy())
    np.testing.assert_allclose(obs, obs_b[k].numpy(), rtol=1e-5, atol=1e-6)


def test_bad_trial_names_argument_range_and_value():
    env = gym.make(CENTRE, **SHORT)  # 8 evaluation trials
    for bad in (8, -1, 1.5, True, "0"):
        with pytest.raises(ValueError, match=r"options\['trial'\] must be an integer in \[0, 7\].*got"):
            env.reset(options={"suite": "eval", "trial": bad})
    with pytest.raises(ValueError, match=r"options\['trial'\].*needs options\['suite'\]='eval'; got"):
        env.reset(options={"trial": 1})
    sim = make_simulator(CENTRE, batch_size=3, **SHORT)
    suite_size = r"multiple of the evaluation suite size 8.*options\['trial'\] in \[0, 7\].*got 3"
    with pytest.raises(ValueError, match=suite_size):
        sim.reset(options={"suite": "eval"})
    obs, _ = sim.reset(options={"suite": "eval", "trial": 2})  # every episode runs trial 2
    assert torch.equal(obs[0], obs[1]) and torch.equal(obs[0], obs[2])


# ---------------------------------------------------------------------------- failed resets
def _steps(env, n, rng_seed=1):
    rng = np.random.default_rng(rng_seed)
    return [env.step(rng.random(env.action_space.shape, dtype=np.float32))[0] for _ in range(n)]


@pytest.mark.parametrize("compile", [False, True])
def test_failed_reset_leaves_the_episode_intact(compile):
    kw = {"action_noise": 0.05, "observation_noise": 0.01, "episode_duration": 0.2, "compile": compile}
    env = gym.make(CENTRE, **kw)
    bad = (
        {"seed": 7, "options": {"suite": "eval", "trial": 99}},  # the seed is not applied either
        {"seed": 7, "options": {"bogus": 1}},
        {"options": {"joint_pos": np.full(2, 9.0)}},
        {"seed": -1},
    )
    for _ in range(2):  # warm up: the first reset and step build the compiled graphs (eagerly)
        env.reset(seed=0)
        _steps(env, 2)
    runs = []
    for fail in (False, True):  # the same env twice: bit-identical, compiled or not
        env.reset(seed=3)
        _steps(env, 4)
        if fail:
            for kwargs in bad:
                with pytest.raises(ValueError):
                    env.reset(**kwargs)
        runs.append(_steps(env, 6))
    np.testing.assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))
    if compile:
        return
    venv = MotorVectorEnv(CENTRE, 2, **kw)
    u = np.full((2, 6), 0.3, np.float32)
    runs = []
    for fail in (False, True):
        venv.reset(seed=3)
        if fail:
            with pytest.raises(ValueError):
                venv.reset(seed=5, options={"suite": "eval", "trial": 8})
        runs.append([venv.step(u)[0] for _ in range(3)])
    np.testing.assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))


def test_failed_first_reset_asks_for_a_reset():
    for env in (gym.make(CENTRE, **SHORT), gym.make(CENTRE, **SHORT).unwrapped):
        with pytest.raises(ValueError):
            env.reset(options={"suite": "eval", "trial": 8})
        with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
            env.step(np.zeros(6, np.float32))
        env.reset(options={"suite": "eval", "trial": 7})  # then usable
        env.step(np.zeros(6, np.float32))


# ---------------------------------------------------------------------------- seed lists
@pytest.mark.parametrize("env_id", ["motornet/PointMassReach-v0", CENTRE])
def test_seed_list_seeds_each_sub_env_as_the_single_env(env_id):
    seeds = [5, 9, 5, 0]
    venv = gym.make_vec(env_id, num_envs=4, episode_duration=0.2)
    obs, info = venv.reset(seed=seeds)
    n_mus = venv.single_action_space.shape[0]
    actions = np.random.default_rng(0).random((12, 4, n_mus), dtype=np.float32)
    vec_traj = [obs] + [venv.step(a)[0] for a in actions]
    env = gym.make(env_id, episode_duration=0.2)
    for i, s in enumerate(seeds):
        first, single_info = env.reset(seed=s)
        np.testing.assert_array_equal(info["target"][i], single_info["target"])
        traj = [first] + [env.step(a[i])[0] for a in actions]
        np.testing.assert_allclose(np.stack([o[i] for o in vec_traj]), np.stack(traj), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(vec_traj[0][0], vec_traj[0][2])  # same seed, same episode
    assert not np.array_equal(vec_traj[0][0], vec_traj[0][1])


def test_seed_list_with_noise_and_none_entries_is_deterministic():
    kw = {"action_noise": 0.1, "observation_noise": 0.01, "episode_duration": 0.1}
    runs = []
    for _ in range(2):
        venv = MotorVectorEnv(ARM, 3, **kw)
        venv.reset(seed=11)  # the stream that the None entry continues
        obs, _ = venv.reset(seed=[None, 4, 7])
        runs.append([obs] + [venv.step(np.full((3, 6), 0.2, np.float32))[0] for _ in range(12)])
    np.testing.assert_array_equal(np.stack(runs[0]), np.stack(runs[1]))  # autoresets included
    single, _ = gym.make(ARM, **kw).reset(seed=4)
    np.testing.assert_array_equal(runs[0][0][1], single)  # the seeded row starts as the single env
    venv = MotorVectorEnv(ARM, 3, **kw)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0 or None; got \[1, 2\].*3 such"):
        venv.reset(seed=[1, 2])
    with pytest.raises(ValueError, match=r"got \[1, -2, 3\]"):
        venv.reset(seed=[1, -2, 3])


# ---------------------------------------------------------------------------- dtype names
def test_dtype_name_is_accepted_wherever_dtype_is():
    from motornet_gym import sb3 as mg_sb3

    made = {
        "make_simulator": make_simulator(ARM, dtype="float64"),
        "gym.make": gym.make(ARM, dtype="float64").unwrapped.simulator,
        "gym.make_vec": gym.make_vec(ARM, num_envs=2, dtype="float64").simulator,
        "sb3": mg_sb3.make_vec_env(ARM, 2, dtype="torch.float64", monitor=False).simulator,
    }
    for where, sim in made.items():
        assert sim.dtype == torch.float64, where
        assert sim.effector.pos_lower_bound.dtype == torch.float64, where
        obs, _ = sim.reset(seed=0)
        assert obs.dtype == torch.float64, where
    for bad in ("int64", "float65", 64):
        with pytest.raises(ValueError, match=rf"dtype must be a floating-point torch.dtype; got {bad!r}"):
            make_simulator(ARM, dtype=bad)
        with pytest.raises(ValueError, match=rf"dtype must be a floating-point torch.dtype; got {bad!r}"):
            gym.make(ARM, dtype=bad)


# ---------------------------------------------------------------------------- package surface
def test_analysis_is_a_lazy_attribute():
    code = (
        "import sys\n"
        "import motornet_gym as mg\n"
        "assert 'motornet_gym.analysis' not in sys.modules\n"
        "assert callable(mg.analysis.evaluate) and callable(mg.analysis.metrics.co_contraction_index)\n"
        "from motornet_gym import analysis\n"
        "assert analysis is mg.analysis and 'analysis' in mg.__all__\n"
        "assert 'matplotlib' not in sys.modules\n"
        "try:\n"
        "    mg.no_such_thing\n"
        "except AttributeError as e:\n"
        "    print(e)\n"
    )
    out = run_snippet(code)
    assert "has no attribute 'no_such_thing'" in out


def test_pygame_is_a_core_dependency():
    core = [r for r in importlib.metadata.requires("motornet-gym") if "extra ==" not in r]
    assert any(r.replace(" ", "").startswith("pygame-ce>=") for r in core), core
    assert '"pygame-ce>=' in (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[0]


# ---------------------------------------------------------------------------- episode length
def _time_limits(env) -> list[int]:
    out = []
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            out.append(env._max_episode_steps)
        env = env.env
    return out


def _truncation_step(env, n_muscles, limit=400):
    env.reset(seed=0)
    for t in range(1, limit + 1):
        if env.step(np.zeros(n_muscles, np.float32))[3]:
            return t
    return None


def test_registered_episode_length_and_gym_make_time_limit():
    for env_id in ENV_IDS:
        assert gym.spec(env_id).max_episode_steps == make_simulator(env_id).max_steps == 100
    pm, m = "motornet/PointMassReach-v0", 4
    env = gym.make(pm)  # one TimeLimit, the engine's length: both end the episode at step 100
    assert _time_limits(env) == [100] and env.unwrapped.max_episode_steps == 100
    assert _truncation_step(env, m) == 100 and _truncation_step(env.unwrapped, m) == 100
    env = gym.make(pm, episode_duration=0.5)  # shorter: the engine ends it, the TimeLimit agrees
    assert _time_limits(env) == [100] and _truncation_step(env, m) == 50
    with pytest.warns(
        UserWarning, match=r"150 steps.*max_episode_steps=100.*max_episode_steps=150 \(or -1\)"
    ):
        env = gym.make(pm, episode_duration=1.5)
    assert _truncation_step(env, m) == 100  # Gymnasium's TimeLimit: documented, and warned
    for limit in (150, -1):  # told the length (or no TimeLimit): the engine's 150 steps
        env = gym.make(pm, episode_duration=1.5, max_episode_steps=limit)
        assert _time_limits(env) == ([150] if limit == 150 else [])
        assert _truncation_step(env, m) == 150
    with pytest.warns(UserWarning, match=r"150 steps.*max_episode_steps=100.*pass max_episode_steps=150"):
        venv = gym.make_vec(pm, num_envs=2, episode_duration=1.5)
    assert venv.max_episode_steps == 100
    venv = gym.make_vec(pm, num_envs=2, episode_duration=1.5, max_episode_steps=150)
    assert venv.max_episode_steps == 150
