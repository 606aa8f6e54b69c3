"""The comparison harness: evaluate() pairing, the quick pipeline end to end, and clear errors."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
import torch

import motornet_gym as mg
from agents import protocol as P
from agents.comparison.config import CompareConfig
from agents.comparison.runner import compare, validate
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
    base = dict(methods="backprop,ppo", n_seeds=1, backprop_batches=2, rl_steps=4096,
                adaptation_batches="1,2,1,2", rl_adaptation_steps=64, point_mass_batches=1,
                env_kwargs={**P.ENV_KWARGS, **SHORT}, out_dir=str(tmp_path / "cmp"), compile=False,
                progress=False)  # fmt: skip
    base.update(kw)
    return CompareConfig(**base)


def test_quick_pipeline_writes_a_complete_consistent_report(tmp_path):
    path = compare(_quick(tmp_path, smoke=True))
    out = path.parent
    text = path.read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(figures) == 8
    for f in figures:
        assert (out / f).is_file() and (out / f).stat().st_size > 5000, f
    for section in ("## Phenomena", "## Metrics", "## Learning curves", "## Hand paths", "## Perturbation",
                    "## Curl field", "## Network activity", "## Wall-clock per phase"):  # fmt: skip
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
    # Every phenomenon check has a finite value for both methods (the point mass: backprop only),
    # and the table prints exactly the results.json means.
    from motornet_gym.analysis.phenomena import CHECKS

    for c in CHECKS:
        for m in ("backprop", "ppo"):
            if c.key == "pd_bimodal_point_mass" and m == "ppo":
                assert c.key not in results["phenomena"][m]
                continue
            r = results["phenomena"][m][c.key]
            row = next(line for line in text.splitlines() if f"| {c.label} |" in line)
            if r["mean"] is None:  # undefined (censored savings, no tuned unit): shown as a failure
                assert c.key in ("savings_batches", "pd_bimodal_arm", "pd_bimodal_point_mass"), (m, c.key)
                assert not r["pass"] and "n/a **FAIL**" in row
                continue
            assert math.isfinite(r["mean"]), (m, c.key)
            assert f"{r['mean']:.3g} **{'PASS' if r['pass'] else 'FAIL'}**" in row
    # The block design recorded one deviation per batch, and wall-clock per phase.
    blocks = results["adaptation"]["backprop"][0]
    assert [len(blocks[b]) for b in ("NF1", "FF1", "NF2", "FF2")] == [1, 2, 1, 2]
    assert set(results["wall_clock"]["backprop"]) == {"train", "evaluation", "adaptation", "point_mass"}
    assert "Smoke test" in text
    # Learning curves were recorded for both methods.
    assert all(len(results["curves"][m][0]) >= 2 for m in ("backprop", "ppo"))


def test_rerun_reuses_finished_trials(tmp_path):
    cfg = _quick(tmp_path, methods="backprop", adaptation_batches="none", point_mass_batches=0)
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


def test_ray_executor_gives_the_sequential_results(tmp_path):
    import ray  # the test extra installs it: this test never skips in CI

    kw = dict(methods="backprop", n_seeds=2, adaptation_batches="none", point_mass_batches=0)
    seq = compare(_quick(tmp_path / "seq", **kw)).parent / "results.json"
    try:
        par = compare(_quick(tmp_path / "ray", executor="ray", **kw)).parent / "results.json"
    finally:
        ray.shutdown()
    a, b = json.loads(seq.read_text()), json.loads(par.read_text())
    assert sorted(b["per_seed"]["backprop"]) == ["0", "1"]
    a["config"].pop("executor"), b["config"].pop("executor")
    assert _strip_machine(a) == _strip_machine(b)


def _strip_machine(results: dict) -> dict:
    from agents.comparison.report import MACHINE_KEYS

    out = {k: v for k, v in results.items() if k not in MACHINE_KEYS and k != "command"}
    out["config"] = {k: v for k, v in out["config"].items() if k != "out_dir"}
    return out


def test_same_command_and_seeds_give_identical_results(tmp_path):
    kw = dict(adaptation_batches="1,1,1,1", rl_adaptation_steps=64, point_mass_batches=1)
    a = compare(_quick(tmp_path / "a", **kw)).parent / "results.json"
    b = compare(_quick(tmp_path / "b", **kw)).parent / "results.json"
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert _strip_machine(ra) == _strip_machine(rb)
    assert ra["wall_clock"]["ppo"]["train"] > 0  # ...while the wall-clock fields are recorded


def test_budget_is_counted_in_batches_whatever_the_wall_clock(tmp_path, monkeypatch):
    """A slow first step (as a cold compile) changes no number: the budget is batches, not seconds."""
    import time

    import agents.backprop as bp

    def run(out):
        cfg = bp.BackpropConfig(
            env_id="motornet/Arm26Perturbation-v0",
            env_kwargs=dict(SHORT),
            n_batches=3,
            batch_size=4,
            hidden_size=8,
            eval_every=2,
            checkpoint_every=2,
            out_dir=str(out),
            compile=False,
            progress=False,
            tensorboard=False,
            hidden_noise=0.01,
        )
        return bp.train(cfg)

    fast = run(tmp_path / "fast")
    real = bp.mg.rollout
    calls = {"n": 0}

    def slow_first(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(3.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(bp.mg, "rollout", slow_first)
    slow = run(tmp_path / "slow")
    assert calls["n"] == 3
    assert slow["batches"] == fast["batches"] == 3 and slow["env_steps"] == fast["env_steps"]
    assert slow["wall_time_s"] > fast["wall_time_s"] + 1.5
    np.testing.assert_equal(slow["eval"], fast["eval"])  # nan-aware
    a = mg.policies.load_policy(tmp_path / "fast" / "policy.pt")[0].state_dict()
    b = mg.policies.load_policy(tmp_path / "slow" / "policy.pt")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_presets_set_budgets_and_explicit_flags_win():
    from agents.comparison.config import with_preset
    from agents.protocol import PRESETS

    cfg = with_preset(CompareConfig(preset="standard", n_seeds=3), ["--preset", "standard", "--n-seeds", "3"])
    assert cfg.n_seeds == 3 and cfg.backprop_batches == PRESETS["standard"]["backprop_batches"]
    assert cfg.smoke is False
    quick = with_preset(CompareConfig(preset="quick"), ["--preset", "quick"])
    assert quick.smoke is True and quick.rl_steps == PRESETS["quick"]["rl_steps"]
    # every preset is a valid configuration
    for name in PRESETS:
        with_preset(CompareConfig(preset=name), ["--preset", name])


def test_protocols_that_cannot_run_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="preset must be one of quick, standard, paper; got 'huge'"):
        _quick(tmp_path, preset="huge")
    with pytest.raises(ValueError, match="backprop_batches must be an integer >= 1; got 0"):
        _quick(tmp_path, backprop_batches=0)
    with pytest.raises(ValueError, match="rl_steps must be an integer >= 1; got 0"):
        _quick(tmp_path, rl_steps=0)
    with pytest.raises(ValueError, match=r"adaptation_batches must be four integers >= 1 for the blocks "
                                         r"NF1,FF1,NF2,FF2 \(or 'none'\); got '5,30,15'"):  # fmt: skip
        _quick(tmp_path, adaptation_batches="5,30,15")
    with pytest.raises(ValueError, match="point_mass_batches must be an integer >= 0"):
        _quick(tmp_path, point_mass_batches=-1)
    reach_kw = {k: v for k, v in P.ENV_KWARGS.items() if k != "catch_trial_fraction"}  # no catch trials
    with pytest.raises(ValueError, match="train_env_id 'motornet/Arm26Reach-v0' must have the observation"):
        validate(_quick(tmp_path, train_env_id="motornet/Arm26Reach-v0", env_kwargs={**reach_kw, **SHORT}))
    with pytest.raises(
        TypeError, match="unknown keyword argument 'catch_trial_fraction' for motornet/Arm26Reach"
    ):
        validate(_quick(tmp_path, train_env_id="motornet/Arm26Reach-v0"))
    assert not (tmp_path / "cmp").exists()


def test_evaluate_refuses_an_sb3_model_trained_on_rescaled_actions():
    """A PPO saved by the agents scripts acts in [-1, 1]: scoring its raw predictions as excitations
    gave 10 cm for a 1.7 cm agent. evaluate() says what is missing instead."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    from agents._rl_agent import make_env

    model = PPO("MlpPolicy", make_env(CENTRE_OUT, 2, 0, SHORT), n_steps=8, batch_size=8, seed=0)
    with pytest.raises(ValueError, match=r"action space must be the environments' excitation box \[0, 1\]; "
                                         r"got \[-1.0, 1.0\]"):  # fmt: skip
        evaluate(model, CENTRE_OUT, env_kwargs=SHORT)
    venv = mg.sb3.make_vec_env(CENTRE_OUT, n_envs=2, seed=0, **SHORT)
    plain = PPO("MlpPolicy", venv, n_steps=8, batch_size=8)
    assert evaluate(plain, CENTRE_OUT, env_kwargs=SHORT).fingertip_pos.shape[1] == 8  # [0, 1] box: accepted


def test_pulse_onset_is_the_first_sample_of_the_pulse_and_the_slowest_trial_counts():
    from agents.comparison.analysis import feedback_phenomena, pulse_onset

    def passive(obs, hidden):  # no restoring force: the pulse pushes the arm away for good
        return torch.zeros(obs.shape[0], 6), None

    pert = evaluate(passive, P.PERTURBATION_ID)
    base = evaluate(passive, P.PERTURBATION_ID, env_kwargs={"eval_pulse_magnitude": 0.0})
    k = pulse_onset(pert, base)
    assert k == 20  # go cue at 0.1 s + 0.1 s delay, dt 0.01 s: the load of step 20 acts from t = 0.2 s
    # the state at time k dt is untouched; the pulse acts from there (velocity first: Euler moves the
    # position with the start-of-step velocity)
    np.testing.assert_array_equal(pert.fingertip_vel[: k + 1], base.fingertip_vel[: k + 1])
    assert np.abs(pert.fingertip_vel[k + 1] - base.fingertip_vel[k + 1]).max() > 0
    f = feedback_phenomena(pert, base)  # no trial returns
    assert f["returned_fraction"] == 0.0
    assert f["return_time_s"] == pytest.approx((pert.fingertip_pos.shape[0] - k) * pert.dt)


def test_a_trial_folder_made_with_other_settings_is_refused(tmp_path):
    cfg = _quick(tmp_path, methods="backprop", adaptation_batches="none", point_mass_batches=0)
    compare(cfg)
    with pytest.raises(ValueError, match="out_dir holds a trial made with other settings: .* differs in "
                                         "backprop_batches"):  # fmt: skip
        validate(dataclasses.replace(cfg, backprop_batches=3))


def test_one_progress_bar_counts_every_phase_of_every_trial(tmp_path, monkeypatch):
    import tqdm

    from agents.comparison.trials import trial_phases

    bars = []

    class Fake:
        def __init__(self, total, **kw):
            self.total, self.n, self.posts = total, 0, []
            bars.append(self)

        def update(self, k):
            self.n += k

        def set_postfix_str(self, s):
            self.posts.append(s)

        def close(self):
            pass

    monkeypatch.setattr(tqdm, "tqdm", Fake)
    cfg = _quick(tmp_path, methods="backprop", adaptation_batches="1,1,1,1", progress=True)
    assert trial_phases(cfg, "backprop") == ("train", "evaluation", "adaptation", "point_mass")
    compare(cfg)
    assert len(bars) == 1 and bars[0].total == bars[0].n == 4
    assert bars[0].posts[-1] == "backprop seed 0: point_mass done"
