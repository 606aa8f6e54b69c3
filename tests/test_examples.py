"""The examples run (``--quick``) as a newcomer runs them, in a fresh interpreter, public API only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not p.stem.startswith("_"))


def test_every_example_is_listed():
    assert set(EXAMPLES) >= {"target_jump", "obstacle_choice", "visuomotor_rotation"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_quick_mode_runs_and_writes_its_summary(name, tmp_path):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "MPLBACKEND": "Agg", "WANDB_MODE": "disabled"}
    proc = subprocess.run(
        [sys.executable, "-m", f"examples.{name}", "--quick", "--out", str(tmp_path / name)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary, "empty summary"


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_ids_pass_gymnasium_and_sb3_checkers(name):
    import importlib

    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    module = importlib.import_module(f"examples.{name}")
    env_ids = [v for k, v in vars(module).items() if k.endswith("ENV_ID") and isinstance(v, str)]
    assert env_ids, f"examples/{name}.py registers no ENV_ID"
    for env_id in env_ids:
        check_env(gym.make(env_id).unwrapped, skip_render_check=True)
        sb3_check_env(gym.make(env_id).unwrapped, warn=False)
