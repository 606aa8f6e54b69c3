"""pygame rendering: frame shapes, frames follow the state, vector grid, headless human mode."""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # headless, whatever the caller's environment

import gymnasium as gym
import numpy as np
import pytest
import torch

from motornet_gym.dynamics import presets
from motornet_gym.envs import register_envs
from motornet_gym.envs.rendering import LimbFrame, LimbRenderer, tile_frames

register_envs()

ARM = "motornet/Arm26Reach-v0"


def _changed(a: np.ndarray, b: np.ndarray) -> int:
    return int((a != b).any(-1).sum())


@pytest.mark.parametrize("env_id", ["motornet/PointMassReach-v0", ARM, "motornet/Arm26Perturbation-v0"])
def test_rgb_frames_have_declared_shape_and_follow_the_limb(env_id):
    env = gym.make(env_id, render_mode="rgb_array", render_size=160, episode_duration=0.3)
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (160, 160, 3) and first.dtype == np.uint8
    assert env.metadata["render_fps"] == 100
    a = np.zeros(env.action_space.shape, np.float32)
    a[0] = 1.0  # one muscle fully on: the limb moves
    for _ in range(25):
        env.step(a)
    moved = env.render()
    assert moved.shape == first.shape
    assert _changed(first, moved) > 200


def test_renderer_draws_activation_target_force_and_trail():
    renderer = LimbRenderer(presets.arm26(), size=128)
    base = LimbFrame(
        joint_pos=np.array([0.8, 1.2]), target=np.array([0.1, 0.4]), activation=np.zeros(6),
        endpoint_load=np.zeros(2), trail=np.zeros((0, 2)),
    )  # fmt: skip
    ref = renderer.draw(base)
    assert np.array_equal(ref, renderer.draw(base))  # deterministic
    variants = {
        "activation": base._replace(activation=np.ones(6)),
        "target": base._replace(target=np.array([-0.3, 0.2])),
        "force": base._replace(endpoint_load=np.array([30.0, 0.0])),
        "trail": base._replace(trail=np.array([[0.0, 0.5], [0.2, 0.5], [0.3, 0.3]])),
        "pose": base._replace(joint_pos=np.array([0.3, 0.5])),
    }
    for name, frame in variants.items():
        assert _changed(ref, renderer.draw(frame)) > 5, name
    # Each muscle is drawn: activating one muscle alone changes the frame.
    for m in range(6):
        act = np.zeros(6)
        act[m] = 1.0
        assert _changed(ref, renderer.draw(base._replace(activation=act))) > 5, m
    pm = LimbRenderer(presets.point_mass_24(), size=64)
    frame = pm.draw(LimbFrame(np.zeros(2), np.array([0.5, 0.5]), np.ones(4), np.zeros(2),
                              np.zeros((0, 2))))  # fmt: skip
    assert frame.shape == (64, 64, 3)


def test_vector_env_renders_sub_env_zero_and_a_grid():
    q0 = np.array([[0.5, 1.0], [1.0, 0.5], [0.7, 0.7], [0.2, 1.5]], np.float32)
    options = {"joint_pos": q0, "target": np.full((4, 2), 0.2, np.float32)}
    venv = gym.make_vec(ARM, num_envs=4, render_mode="rgb_array", render_size=100)
    venv.reset(seed=0, options=options)
    single = gym.make(ARM, render_mode="rgb_array", render_size=100)
    single.reset(seed=0, options={"joint_pos": q0[0], "target": options["target"][0]})
    np.testing.assert_array_equal(venv.render(), single.render())
    grid = gym.make_vec(ARM, num_envs=4, render_mode="rgb_array", render_size=100, render_envs=3)
    grid.reset(seed=0, options=options)
    frame = grid.render()
    assert frame.shape == (200, 200, 3)
    np.testing.assert_array_equal(frame[:100, :100], single.render())
    assert (frame[100:, 100:] == 255).all()  # padding of the 2x2 grid
    assert _changed(frame[:100, :100], frame[:100, 100:]) > 50  # sub-envs differ
    assert tile_frames([frame[:100, :100]] * 3, n_cols=3).shape == (100, 300, 3)


def test_human_mode_runs_headless():
    env = gym.make(ARM, render_mode="human", render_size=64, episode_duration=0.03)
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    assert env.render() is None
    env.close()
    env.close()  # closing twice is allowed
    venv = gym.make_vec(ARM, num_envs=2, render_mode="human", render_size=64)
    venv.reset(seed=0)
    venv.step(venv.action_space.sample())
    venv.close()


def test_renderer_draws_every_link_of_the_three_joint_arm():
    eff = presets.arm3()
    renderer = LimbRenderer(eff, size=200)
    q = np.array([0.9, 1.1, 0.5])
    chain = renderer.limb_points(q)  # what the renderer draws: the skeleton's own segments()
    assert chain.shape == (4, 2)
    np.testing.assert_allclose(
        np.linalg.norm(np.diff(chain, axis=0), axis=-1), eff.skeleton.lengths, rtol=1e-6
    )
    tip = eff.skeleton.fingertip_position(torch.tensor(q, dtype=torch.float32)[None])[0].numpy()
    np.testing.assert_allclose(chain[-1], tip, atol=1e-6)
    base = LimbFrame(q, np.array([-0.3, -0.3]), np.zeros(8), np.zeros(2), np.zeros((0, 2)))
    frame = renderer.draw(base)
    for k in range(3):  # the middle of each of the three bones is bone-coloured
        col, row = renderer._px((chain[k] + chain[k + 1]) / 2)
        assert tuple(frame[row, col]) == (60, 60, 60), k
    wrist_only = renderer.draw(base._replace(joint_pos=np.array([0.9, 1.1, -0.5])))
    assert _changed(frame, wrist_only) > 50  # the hand is drawn
    for m in range(8):  # every path muscle is drawn
        act = np.zeros(8)
        act[m] = 1.0
        assert _changed(frame, renderer.draw(base._replace(activation=act))) > 5, m


ARM3 = "rendertest/Arm3Reach-v0"


def test_a_registered_three_joint_arm_renders_through_gym_make():
    import motornet_gym as mg
    from motornet_gym.tasks import Reach

    mg.register(ARM3, effector=presets.arm3, task=Reach, episode_duration=0.3)
    try:
        env = gym.make(ARM3, render_mode="rgb_array", render_size=160)
        env.reset(seed=0)
        first = env.render()
        assert first.shape == (160, 160, 3) and first.dtype == np.uint8
        assert env.action_space.shape == (8,)
        a = np.zeros(8, np.float32)
        a[[0, 4, 6]] = 1.0  # shoulder, elbow and wrist flexors on
        for _ in range(20):
            env.step(a)
        assert _changed(first, env.render()) > 200
        env.close()
    finally:  # leave the registries as other tests expect them
        mg.registry.remove_spec(ARM3)
        del gym.registry[ARM3]
