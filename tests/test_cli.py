"""The command lines as a user runs them (subprocesses from the repository root)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def test_demo_runs():
    res = _run("agents.demo")
    assert res.returncode == 0, res.stderr
    assert "arm26" in res.stdout.lower() or "Arm" in res.stdout


def test_backprop_cli_trains_the_budget_in_batches_and_resumes(tmp_path):
    out = tmp_path / "bp"
    args = ("agents.backprop", "--env-id", "motornet/PointMassReach-v0",
            "--env-kwargs", '{"episode_duration": 0.2}', "--n-batches", "3", "--batch-size", "4",
            "--hidden-size", "8", "--no-compile", "--out-dir", str(out), "--no-tensorboard")  # fmt: skip
    res = _run(*args)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["batches"] == 3 and summary["env_steps"] == 3 * 4 * 20
    assert summary["stopped_by"] == "n_batches"
    assert "it/s" not in res.stderr  # no progress bar when stderr is not a terminal
    res = _run("agents.backprop", "--resume", str(out), "--n-batches", "5")
    assert res.returncode == 0, res.stderr


def test_backprop_cli_rejects_bad_input_with_the_argument_named(tmp_path):
    res = _run("agents.backprop", "--n-batches", "0", "--out-dir", str(tmp_path / "x"))
    assert res.returncode == 2 and "n_batches must be an integer >= 1 or None; got 0" in res.stderr


@pytest.mark.parametrize("flag", ["--n-seeds", "--n-se"])
def test_compare_cli_preset_explicit_flags_win_and_abbreviations_are_refused(tmp_path, flag):
    out = tmp_path / "cmp"
    args = ("agents.compare", "--preset", "quick", "--methods", "backprop", flag, "1",
            "--backprop-batches", "2", "--adaptation-batches", "none", "--point-mass-batches", "0",
            "--no-compile", "--out-dir", str(out), "--env-kwargs", '{"episode_duration": 0.3}')  # fmt: skip
    res = _run(*args)
    if flag == "--n-se":  # an abbreviation would silently lose against the preset: refused instead
        assert res.returncode == 2 and "unrecognized arguments: --n-se" in res.stderr
        return
    assert res.returncode == 0, res.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["backprop_batches"] == 2 and results["config"]["smoke"] is True
    assert results["config"]["n_seeds"] == 1 and results["methods"] == ["backprop"]
    assert "Smoke test" in (out / "report.md").read_text()


def test_compare_cli_evaluates_a_loaded_run_without_training(tmp_path):
    run = tmp_path / "bp"
    kw = '{"episode_duration": 0.3}'
    res = _run("agents.backprop", "--env-id", "motornet/Arm26Perturbation-v0", "--env-kwargs", kw,
               "--n-batches", "2", "--batch-size", "4", "--hidden-size", "8", "--no-compile",
               "--out-dir", str(run), "--no-tensorboard")  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = tmp_path / "cmp"
    res = _run("agents.compare", "--methods", "backprop", "--load", json.dumps({"backprop": [str(run)]}),
               "--adaptation-batches", "none", "--point-mass-batches", "0", "--env-kwargs", kw,
               "--out-dir", str(out))  # fmt: skip
    assert res.returncode == 0, res.stderr
    trial = out / "trials" / "backprop" / "seed0"
    assert not (trial / "train").exists()  # nothing trained
    results = json.loads((out / "results.json").read_text())
    assert "train" not in results["wall_clock"]["backprop"]
    assert results["summary"]["final_error_cm"]["backprop"]["mean"] > 0
