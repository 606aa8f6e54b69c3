"""SB3 front end: check_env, VecEnv contract over one batched engine, seeding, PPO smoke run."""

from __future__ import annotations

import os
import warnings

os.environ["SDL_VIDEODRIVER"] = "dummy"  # check_env renders every mode: headless

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

from motornet_gym import sb3 as mg_sb3
from motornet_gym.envs import MotorVectorEnv, register_envs
from motornet_gym.registry import ENV_IDS
from tests._subprocess import run_snippet

register_envs()

ARM = "motornet/Arm26Reach-v0"
ASYMMETRIC_ACTION_BOX = "We recommend you to use a symmetric and normalized Box action space"


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sb3_check_env(env_id):
    env = gym.make(env_id, episode_duration=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sb3_check_env(env)
    unexpected = [str(w.message) for w in caught if ASYMMETRIC_ACTION_BOX not in str(w.message)]
    assert not unexpected, unexpected


def test_vec_env_is_one_batched_engine():
    venv = mg_sb3.make_vec_env(ARM, n_envs=5, seed=0, episode_duration=0.1)
    assert isinstance(venv, VecMonitor) and isinstance(venv, VecEnv)
    inner = venv.unwrapped
    assert isinstance(inner, mg_sb3.MotorSB3VecEnv) and not isinstance(inner, DummyVecEnv)
    assert inner.simulator.batch_size == 5
    assert venv.observation_space == gym.spaces.Box(-np.inf, np.inf, (16,), np.float32)
    assert venv.action_space == gym.spaces.Box(0, 1, (6,), np.float32)
    plain = mg_sb3.make_vec_env(ARM, n_envs=2, monitor=False)
    assert isinstance(plain, mg_sb3.MotorSB3VecEnv)


def test_same_step_autoreset_terminal_observation_and_time_limit():
    n, kw = 4, {"episode_duration": 0.05}
    venv = mg_sb3.make_vec_env(ARM, n, seed=2, **kw)
    ref = MotorVectorEnv(ARM, n, **kw)  # NEXT_STEP: shows the true last observation
    obs = venv.reset()
    ref_obs, _ = ref.reset(seed=2)
    np.testing.assert_array_equal(obs, ref_obs)
    rng = np.random.default_rng(0)
    for _ in range(5):
        a = rng.random((n, 6), dtype=np.float32)
        obs, rew, done, infos = venv.step(a)
        ref_obs, ref_rew, _, ref_trunc, _ = ref.step(a)
        assert obs.dtype == np.float32 and rew.dtype == np.float32 and done.dtype == bool
        np.testing.assert_allclose(rew, ref_rew, rtol=1e-6)
        np.testing.assert_array_equal(done, ref_trunc)
        assert [i["TimeLimit.truncated"] for i in infos] == ref_trunc.tolist()
    assert done.all()
    for i in range(n):
        np.testing.assert_array_equal(infos[i]["terminal_observation"], ref_obs[i])
        assert infos[i]["episode"]["l"] == 5  # VecMonitor saw the whole episode
    assert not np.allclose(obs, ref_obs)  # the returned obs already starts the next episode
    assert (venv.unwrapped.last_info["step"] == 5).all()
    obs, rew, done, infos = venv.step(a)
    assert not done.any() and "terminal_observation" not in infos[0]


def test_seeding():
    def first_obs(**kw):
        venv = mg_sb3.make_vec_env(ARM, 3, **kw)
        return venv, venv.reset()

    v1, o1 = first_obs(seed=11)
    _, o2 = first_obs(seed=11)
    _, o3 = first_obs(seed=12)
    np.testing.assert_array_equal(o1, o2)
    assert not np.allclose(o1, o3)
    assert v1.seed(12) == [12, 13, 14]
    np.testing.assert_array_equal(v1.reset(), o3)
    assert not np.allclose(v1.reset(), o3)  # no pending seed: the stream continues


def test_attr_and_method_access():
    venv = mg_sb3.make_vec_env(ARM, 3, render_mode="rgb_array", episode_duration=0.1)
    venv.reset()
    assert venv.get_attr("render_mode") == ["rgb_array"] * 3
    assert venv.get_attr("dt", indices=[0, 2]) == [0.01, 0.01]
    assert venv.has_attr("simulator") and not venv.has_attr("no_such_attribute")
    venv.set_attr("custom", 5)
    assert venv.get_attr("custom", indices=1) == [5]
    with pytest.raises(ValueError, match="every sub-environment"):
        venv.set_attr("custom", 6, indices=[0])
    with pytest.raises(IndexError, match=r"got \[7\]"):
        venv.get_attr("dt", indices=[7])
    assert venv.env_is_wrapped(Monitor) == [False, False, False]
    frames = venv.env_method("render", indices=[0, 1])
    assert len(frames) == 2 and frames[0].shape == (400, 400, 3)
    assert venv.render().shape == (400, 400, 3)  # render_envs=1: sub-env 0 only
    with pytest.raises(ValueError, match="same options"):
        venv.set_options([{"suite": "eval"}, {}, {}])
        venv.reset()


def test_bad_actions_and_kwargs():
    venv = mg_sb3.make_vec_env(ARM, 2, seed=0)
    venv.reset()
    with pytest.raises(ValueError, match=r"action must have shape \(2, 6\).*got shape \(6,\)"):
        venv.step(np.zeros(6, np.float32))
    bad = np.zeros((2, 6), np.float32)
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"finite.*nan.*index \(0, 1\)"):
        venv.step(bad)
    with pytest.raises(TypeError, match="unknown keyword argument 'nope'"):
        mg_sb3.make_vec_env(ARM, 2, nope=1)


def test_sb3_is_imported_lazily_and_missing_sb3_fails_loudly():
    code = (
        "import sys\n"
        "import motornet_gym.sb3 as s\n"
        "assert 'stable_baselines3' not in sys.modules, 'imported eagerly'\n"
        "sys.modules['stable_baselines3'] = None\n"
        "try:\n"
        "    s.make_vec_env('motornet/Arm26Reach-v0', 2)\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = run_snippet(code)
    assert 'pip install "motornet-gym[sb3]"' in out


def test_ppo_rollouts_on_batched_vec_env_are_laid_out_per_env():
    n_envs, n_steps, ep_len = 8, 32, 10
    venv = mg_sb3.make_vec_env(ARM, n_envs, seed=0, episode_duration=ep_len * 0.01)
    model = PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=64, n_epochs=1, seed=0,
                device="cpu")  # fmt: skip
    model.learn(total_timesteps=2 * n_steps * n_envs)
    assert model.num_timesteps == 2 * n_steps * n_envs
    episodes = list(model.ep_info_buffer)
    assert len(episodes) == n_envs * (2 * n_steps // ep_len)
    assert all(e["l"] == ep_len for e in episodes)
    assert all(np.isfinite(e["r"]) and e["r"] < 0 for e in episodes)  # reward = -cost
    buf = model.rollout_buffer
    assert buf.generator_ready  # training flattened the observations env-major
    obs = buf.observations.reshape(n_envs, n_steps, 16)
    starts = buf.episode_starts.T  # (n_steps, n_envs) -> (n_envs, n_steps)
    assert np.isfinite(obs).all() and (buf.rewards < 0).all()
    # The second rollout covers global steps 32..63: episodes start at 40, 50 and 60.
    assert np.flatnonzero(starts[0]).tolist() == [8, 18, 28]
    assert (starts == starts[:1]).all()


def test_engine_snapshot_restores_the_episodes_in_flight_and_the_generator():
    """engine_state / restore_engine_state (exact RL resume): a fresh env continues bit for bit."""
    import torch

    from motornet_gym import sb3_agents

    kw = {"episode_duration": 0.1, "proprioception_noise": 0.01}  # 10-step episodes, noisy readings
    rng = np.random.default_rng(0)
    actions = rng.uniform(0, 1, (25, 4, 6)).astype(np.float32)
    env = mg_sb3.make_vec_env(ARM, n_envs=4, seed=1, **kw)
    env.reset()
    for a in actions[:7]:  # mid-episode
        env.step(a)
    snap = sb3_agents.engine_state(env)
    torch.save(snap, "/dev/null")  # picklable
    after = [env.step(a) for a in actions[7:]]  # crosses two episode resets (new draws)

    fresh = mg_sb3.make_vec_env(ARM, n_envs=4, seed=99, **kw)  # another seed, never reset
    sb3_agents.restore_engine_state(fresh, snap)
    again = [fresh.step(a) for a in actions[7:]]
    for (o1, r1, d1, _), (o2, r2, d2, _) in zip(after, again, strict=True):
        assert np.array_equal(o1, o2) and np.array_equal(r1, r2) and np.array_equal(d1, d2)
    assert any(d.any() for _, _, d, _ in after)

    with pytest.raises(ValueError, match="snapshot batch size must be 2; got \\(4,\\)"):
        sb3_agents.restore_engine_state(mg_sb3.make_vec_env(ARM, n_envs=2, **kw), snap)
    with pytest.raises(ValueError, match="venv must wrap a motornet_gym MotorSB3VecEnv; got DummyVecEnv"):
        sb3_agents.engine_state(DummyVecEnv([lambda: gym.make(ARM)]))
