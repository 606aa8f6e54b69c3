"""The benchmarks' equal-work reference: removing MotorNet's std-0 noise draws changes nothing else."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("motornet")

from benchmarks import _reference as R  # noqa: E402


def _run(env, steps: int = 15, batch: int = 3) -> tuple[list[np.ndarray], dict]:
    """Observations and states of a seeded episode with random actions, and the RNG state after it."""
    obs, info = env.reset(seed=7, options={"batch_size": batch})
    actions = np.random.default_rng(0).uniform(-0.1, 1.1, (steps, batch, 6)).astype(np.float32)
    rows = [obs, info["goal"]]
    for a in actions:
        obs, _, _, _, info = env.step(a)
        rows += [obs, info["states"]["joint"], info["states"]["muscle"], info["states"]["fingertip"]]
    return rows, env.np_random.bit_generator.state


def test_patched_reference_gives_the_same_trajectory_without_drawing():
    plain, plain_rng = _run(R.env("off", remove_draws=False))
    patched, patched_rng = _run(R.env("off"))
    assert len(plain) == len(patched)
    for i, (a, b) in enumerate(zip(plain, patched, strict=True)):
        assert np.array_equal(a, b), f"entry {i} differs"
    # Only the draws are removed: the unpatched reference consumed its generator on every step.
    _, seeded_rng = _run(R.env("off"), steps=0)
    assert patched_rng == seeded_rng
    assert plain_rng != seeded_rng


@pytest.mark.parametrize("setting", ["off", "on"])
def test_equal_work_settings_match_our_noise_and_lags(setting):
    from motornet_gym.registry import make_simulator

    ref = R.env(setting)
    sim = make_simulator("motornet/Arm26Reach-v0", **R.ours_kwargs(setting))
    # MotorNet shows a reading len(buffer) - 1 steps late; ours vision_steps / proprioception_steps.
    assert len(ref.obs_buffer["vision"]) - 1 == sim.vision_steps
    assert len(ref.obs_buffer["proprioception"]) - 1 == sim.proprioception_steps
    cfg = sim.config
    ours = (cfg.action_noise, cfg.proprioception_noise, cfg.vision_noise, cfg.observation_noise)
    theirs = (ref.action_noise, ref.proprioception_noise, ref.vision_noise, ref.obs_noise[-1:])
    for o, t in zip(ours, theirs, strict=True):
        assert max(o) == max(t) == (0.01 if setting == "on" else 0.0)


def test_gpu_script_runs_on_cpu_with_tiny_sizes():
    """``benchmarks.gpu`` end to end (parity, engine table, backprop) on the CPU at tiny sizes."""
    import re

    import torch

    from benchmarks import gpu
    from motornet_gym._compile import fastpath

    if fastpath.compiler_problem("cpu") is not None:
        pytest.skip("no C++ compiler")
    pm = "motornet/PointMassReach-v0"
    lines: list[str] = []
    rc = gpu.main(
        ["--device", "cpu", "--tiny", "--ids", pm, "--env-id", pm, "--repeats", "1"], out=lines.append
    )
    text = "\n".join(lines)
    assert rc == 0, text
    assert re.search(rf"^{re.escape(pm)} .* ok ", text, re.M), text
    assert re.search(r"^\s+4\s+\S+\s+\S+\s+[\d.]+x\s+\S+\s+[\d.]+x", text, re.M), text  # the engine row
    assert re.search(r"^compile=True\s+[\d.]+ ms/step", text, re.M), text
    assert text.rstrip().endswith("parity ok")
    if not torch.cuda.is_available():
        assert gpu.main(["--device", "cuda"], out=lines.append) == 2


def test_whole_run_table_times_fresh_processes(capsys):
    """``benchmarks.envs``'s whole-run table: one fresh process per side, a row each, the ratio."""
    import re

    from benchmarks import envs

    envs.whole_run_table(repeats=1, steps=30, have_ref=True)
    text = capsys.readouterr().out
    for side in ("default", "compile=True", "compile=False", "reference"):
        m = re.search(rf"^{re.escape(side)}\s+([\d.]+)\s+\S+\s+([\d.]+)x$", text, re.M)
        assert m is not None and float(m.group(1)) > 0 and float(m.group(2)) > 0, text
    assert re.search(r"^reference\s+[\d.]+\s+\S+\s+1\.0x$", text, re.M), text
