"""The comparison harness: evaluate() pairing, the quick pipeline end to end, and clear errors."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch

import motornet_gym as mg
from agents.compare import CompareConfig, compare, validate
from motornet_gym.analysis import evaluate

CENTRE_OUT = "motornet/Arm26CentreOut-v0"
SHORT = {"episode_duration": 0.4}


def test_evaluate_pairs_trials_across_controllers_and_is_reproducible():
    sim = mg.make_simulator(CENTRE_OUT)
    gru = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 16, readout_bias=-2.0)
    mlp = mg.policies.MLPPolicy(sim.observation_size, sim.action_size, (16,))

    def constant(obs, hidden):
        return torch.full((obs.shape[0], sim.action_size), 0.05), None

    kw = {"proprioception_noise": 0.01, **SHORT}
    a = evaluate(gru, CENTRE_OUT, seed=3, env_kwargs=kw)
    b = evaluate(mlp, CENTRE_OUT, seed=3, env_kwargs=kw)
    c = evaluate(constant, CENTRE_OUT, seed=3, env_kwargs=kw)
    for r in (b, c):  # the same trials for every controller
        np.testing.assert_array_equal(r.target, a.target)
        np.testing.assert_array_equal(r.start, a.start)
        np.testing.assert_array_equal(r.go_step, a.go_step)
        np.testing.assert_array_equal(r.fingertip_pos[0], a.fingertip_pos[0])
    assert not np.allclose(b.fingertip_pos[-1], a.fingertip_pos[-1])  # ...and different behaviour
    a2 = evaluate(gru, CENTRE_OUT, seed=3, env_kwargs=kw)
    for k in ("fingertip_pos", "activation", "hidden", "cost"):
        np.testing.assert_array_equal(getattr(a2, k), getattr(a, k))
    assert a.hidden.shape == (40, 8, 16) and b.hidden is None
    assert set(a.metrics) >= {"final_error_cm", "max_deviation_cm", "minimum_jerk_correlation", "effort"}
    final = 100 * np.linalg.norm(a.fingertip_pos[-1] - a.target, axis=-1)
    np.testing.assert_allclose(a.metrics["final_error_cm"], final)


def test_record_save_load_round_trip(tmp_path):
    sim = mg.make_simulator(CENTRE_OUT)
    gru = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 8)
    rec = evaluate(gru, CENTRE_OUT, env_kwargs=SHORT)
    rec.save(tmp_path / "r.npz")
    back = type(rec).load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.fingertip_pos, rec.fingertip_pos)
    np.testing.assert_array_equal(back.hidden, rec.hidden)
    assert back.env_kwargs == SHORT and back.muscle_names == rec.muscle_names
    assert back.metrics.keys() == rec.metrics.keys()


def _quick(tmp_path, **kw):
    base = dict(methods="backprop,ppo", n_seeds=1, budget_s=None, budget_steps=6400, adaptation_budget_s=2.0,
                env_kwargs=dict(SHORT), out_dir=str(tmp_path / "cmp"), compile=False)  # fmt: skip
    base.update(kw)
    return CompareConfig(**base)


def test_quick_pipeline_writes_a_complete_consistent_report(tmp_path):
    path = compare(_quick(tmp_path))
    out = path.parent
    text = path.read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figures) == 7
    for f in figures:
        assert (out / f).is_file() and (out / f).stat().st_size > 5000, f
    for section in ("## Metrics", "## Learning curves", "## Hand paths", "## Speed profiles",
                    "## Perturbation responses", "## Force field", "## Network activity"):  # fmt: skip
        assert section in text
    results = json.loads((out / "results.json").read_text())
    assert results["methods"] == ["backprop", "ppo"]
    # Every number in the table equals results.json, rounded as printed.
    for metric, per_method in results["summary"].items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {metric}"))
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        for cell, method in zip(cells, results["methods"], strict=True):
            mean = per_method[method]["mean"]
            if mean is None:
                assert cell == "n/a"
            else:
                assert math.isfinite(mean) and cell.split(" ")[0] == f"{mean:.3g}"
    final = results["summary"]["final_error_cm"]
    assert all(final[m]["mean"] is not None and final[m]["mean"] > 0 for m in ("backprop", "ppo"))
    assert (out / "metrics.csv").read_text().count("\n") == 3
    # Network activity of both controllers (GRU state; PPO actor's last hidden layer) is compared.
    assert 0.0 <= results["hidden"]["linear_cka"]["backprop vs ppo"] <= 1.0
    # Learning curves were recorded for both methods.
    assert all(len(results["curves"][m][0]) >= 2 for m in ("backprop", "ppo"))


def test_rerun_reuses_finished_trials(tmp_path):
    cfg = _quick(tmp_path, methods="backprop", adaptation_budget_s=0.0)
    compare(cfg)
    eval_json = tmp_path / "cmp" / "trials" / "backprop" / "seed0" / "eval.json"
    stamp = eval_json.stat().st_mtime_ns
    compare(cfg)
    assert eval_json.stat().st_mtime_ns == stamp  # not redone


def test_bad_inputs_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="unknown method 'a2c'; expected any of backprop, ppo"):
        _quick(tmp_path, methods="backprop,a2c")
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        _quick(tmp_path, metrics="final_error_cm,accuracy")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        validate(_quick(tmp_path, methods="backprop", load={"backprop": [str(tmp_path / "missing")]}))
    # A policy trained on another task.
    sim = mg.make_simulator("motornet/Arm26Reach-v0")
    p = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 8)
    mg.policies.save_policy(p, tmp_path / "reach" / "policy.pt", {"env_id": "motornet/Arm26Reach-v0"})
    with pytest.raises(ValueError, match="trained on 'motornet/Arm26Reach-v0'; expected 'motornet/Arm26Cent"):
        validate(_quick(tmp_path, methods="backprop", load={"backprop": [str(tmp_path / "reach")]}))
    with pytest.raises(ValueError, match="unknown env_id"):
        validate(_quick(tmp_path, env_id="motornet/Nope-v0"))
    assert not (tmp_path / "cmp").exists()


def test_ray_executor_needs_ray_and_says_how_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(ImportError, match=r'--executor ray needs Ray: pip install "motornet-gym\[ray\]"'):
        validate(_quick(tmp_path, methods="backprop", executor="ray"))


def test_ray_executor_writes_the_same_trials(tmp_path):
    pytest.importorskip("ray")
    cfg = _quick(tmp_path, methods="backprop", n_seeds=2, adaptation_budget_s=0.0, executor="ray")
    path = compare(cfg)
    results = json.loads((path.parent / "results.json").read_text())
    assert sorted(results["per_seed"]["backprop"]) == ["0", "1"]
    for seed in (0, 1):
        assert (tmp_path / "cmp" / "trials" / "backprop" / f"seed{seed}" / "eval.json").is_file()
