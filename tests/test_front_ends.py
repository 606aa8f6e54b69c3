"""Front ends reach every engine feature: evaluation trials, failed resets, seed lists, dtype names."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from motornet_gym.envs import MotorVectorEnv, register_envs
from motornet_gym.registry import ENV_IDS, make_simulator

register_envs()

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
