"""Rendered frames put the fingertip and the target where the state says they are.

The pixel mapping is not read from the renderer: it is fitted from two frames (an affine map with
one scale, y up) and must then place a third target and the fingertips of moving limbs to within
a pixel and a half.
"""

from __future__ import annotations

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # headless, whatever the caller's environment

import gymnasium as gym
import numpy as np
import pytest

from motornet_gym.envs import register_envs

register_envs()

SIZE = 200
TARGET_RGB = (40, 170, 70)
HAND_RGB = {"motornet/Arm26Reach-v0": (20, 20, 20), "motornet/PointMassReach-v0": (60, 60, 60)}
#: Targets clear of the limb: below the shoulder for the arm, in a corner for the point mass.
TARGETS = {
    "motornet/Arm26Reach-v0": ((-0.35, -0.3), (0.3, -0.45), (0.05, -0.2)),
    "motornet/PointMassReach-v0": ((-0.8, -0.7), (0.7, -0.85), (-0.6, 0.8)),
}
START = {"motornet/Arm26Reach-v0": (0.6, 1.4), "motornet/PointMassReach-v0": (0.2, 0.3)}


def _centroid(frame: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """(column, row) centroid of the pixels of exactly ``rgb``."""
    rows, cols = np.nonzero((frame == np.array(rgb, dtype=np.uint8)).all(-1))
    assert rows.size > 0, f"no pixel of colour {rgb}"
    return np.array([cols.mean(), rows.mean()])


def _fit(points_m: list, points_px: list) -> tuple[float, np.ndarray]:
    """pixel = c + s * (x, -y): the scale s (px/m) and c from two points."""
    (a, b), (pa, pb) = np.asarray(points_m[:2]), np.asarray(points_px[:2])
    d = (b - a) * np.array([1.0, -1.0])
    s = float(np.dot(pb - pa, d) / np.dot(d, d))
    return s, pa - s * a * np.array([1.0, -1.0])


@pytest.mark.parametrize("env_id", list(TARGETS))
def test_target_and_fingertip_pixels_are_where_the_state_says(env_id):
    env = gym.make(env_id, render_mode="rgb_array", render_size=SIZE, episode_duration=0.3)
    q0 = np.array(START[env_id], np.float32)
    frames, infos = [], []
    for target in TARGETS[env_id]:
        _, info = env.reset(seed=0, options={"joint_pos": q0, "target": np.array(target, np.float32)})
        frames.append(env.render())
        infos.append(info)
    targets_px = [_centroid(f, TARGET_RGB) for f in frames]
    s, c = _fit(TARGETS[env_id], targets_px)
    assert s > 50  # px per m: the limb's workspace fills the frame
    # One scale on both axes, y up: the fit places the third target.
    third = c + s * np.array(TARGETS[env_id][2]) * np.array([1.0, -1.0])
    np.testing.assert_allclose(targets_px[2], third, atol=1.5)
    # The fingertip where info says, at rest and while the limb moves.
    rng = np.random.default_rng(0)
    tips = []
    for t in range(13):
        if t:
            _, _, _, _, info = env.step(rng.random(env.action_space.shape, dtype=np.float32))
        else:
            info = infos[-1]
        tip = np.asarray(info["fingertip_pos"], np.float64)
        tips.append(tip)
        want = c + s * tip * np.array([1.0, -1.0])
        np.testing.assert_allclose(_centroid(env.render(), HAND_RGB[env_id]), want, atol=1.5, err_msg=str(t))
    assert np.linalg.norm(tips[-1] - tips[0]) * s > 5  # it moved across pixels
    env.close()
    # The vector env's grid: tile i (row-major, 2 x 2) shows sub-environment i where its info says.
    venv = gym.make_vec(env_id, num_envs=4, render_mode="rgb_array", render_size=SIZE, render_envs=4)
    _, info = venv.reset(seed=1)
    for t in range(3):
        grid = venv.render()
        assert grid.shape == (2 * SIZE, 2 * SIZE, 3)
        for i in range(4):
            r, col = divmod(i, 2)
            tile = grid[r * SIZE : (r + 1) * SIZE, col * SIZE : (col + 1) * SIZE]
            for pos, rgb in ((info["fingertip_pos"][i], HAND_RGB[env_id]), (info["target"][i], TARGET_RGB)):
                if rgb == TARGET_RGB and np.linalg.norm(pos - info["fingertip_pos"][i]) < 0.1:
                    continue  # the target may hide under the limb
                want = c + s * np.asarray(pos, np.float64) * np.array([1.0, -1.0])
                np.testing.assert_allclose(_centroid(tile, rgb), want, atol=1.5, err_msg=f"{t} {i} {rgb}")
        _, _, _, _, info = venv.step(np.full((4, venv.single_action_space.shape[0]), 0.5, np.float32))
    venv.close()
