"""agents.tune (Optuna search) and the hyperparameter files it fills.

Tiny budgets: the point mass with 0.2 s episodes, 8 envs, 1024 env steps per trial.
"""

from __future__ import annotations

import csv
import json
import re

import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")
pytest.importorskip("yaml")
optuna = pytest.importorskip("optuna")

import motornet_gym as mg  # noqa: E402
from agents import _rl, tune  # noqa: E402
from agents._rl_hyperparams import HYPERPARAMS_DIR, load_hyperparams  # noqa: E402
from agents._tune_space import SPACES, sample  # noqa: E402
from agents.ppo import PPOConfig  # noqa: E402

PM = "motornet/PointMassReach-v0"
SHORT = {"episode_duration": 0.2}


def _load(out):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(out / "study.journal")))
    return optuna.load_study(study_name=f"ppo:{PM}", storage=storage)


def _tiny(out, **kw) -> tune.TuneConfig:
    base = dict(algorithm="ppo", env_id=PM, env_kwargs=SHORT, n_trials=2, trial_steps=1024, eval_every=512,
                n_envs=8, n_startup_trials=1, n_warmup_evals=2, out_dir=str(out))  # fmt: skip
    return tune.TuneConfig(**{**base, **kw})


@pytest.mark.parametrize("algorithm", ["ppo", "sac", "recurrent_ppo"])
def test_hyperparameter_files_load_and_validate_for_every_registered_id(algorithm):
    text = (HYPERPARAMS_DIR / f"{algorithm}.yaml").read_text()
    for env_id in mg.ENV_IDS:
        hp = load_hyperparams(algorithm, env_id)
        assert hp.n_envs >= 1 and hp.n_timesteps >= 1 and hp.algo_kwargs
    # a file's tuned entries record the search that produced them (ppo.yaml: the Arm26Reach-v0 search)
    blocks = re.findall(r"^# Tuned by agents\.tune.*?(?=^[^#\s])", text, flags=re.M | re.S)
    assert blocks or algorithm != "ppo"
    for block in blocks:
        assert "trials:" in block and "objective:" in block and "seeds" in block and "python -m" in block


@pytest.mark.parametrize("algorithm", sorted(SPACES))
def test_every_draw_of_a_search_space_is_a_valid_hyperparameter_entry(algorithm):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        load_hyperparams(algorithm, PM, override=sample(algorithm, trial))  # raises on a bad key or value
        study.tell(trial, 0.0)


def test_a_two_trial_search_writes_its_study_and_resumes_it(tmp_path):
    out = tmp_path / "study"
    yaml_values = {"n_steps": 64, "net_width": 64, "learning_rate": 3e-4, "lr_schedule": "constant",
                   "batch_size": 512, "n_epochs": 5, "gamma": 0.99, "gae_lambda": 0.95, "clip_range": 0.2,
                   "log_std_init": -1.0, "use_sde": False, "action_history": 0}  # fmt: skip
    first = tune.tune(_tiny(out, enqueue={"yaml": yaml_values}))
    assert first["trials"]["complete"] == 2 and first["best"] is not None
    files = {p.name for p in out.iterdir()}
    assert {"study.journal", "trials.csv", "best.yaml", "results.json", "tune.json", "trials"} <= files
    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE"] and all(
        int(r["env_steps"]) >= 1024 for r in rows
    )
    best = min(rows, key=lambda r: float(r["value"]))
    assert first["best"]["value"] == pytest.approx(float(best["value"]))
    first_trial = _load(out).trials[0]  # the enqueued baseline ran first, with exactly those values
    assert first_trial.params == yaml_values and first_trial.user_attrs["enqueued"] == "yaml"
    assert first_trial.user_attrs["hyperparams"]["n_epochs"] == 5
    # the best trial's value is its run's own final evaluation
    summary = json.loads(
        (out / "trials" / f"trial_{int(best['number']):04d}" / "seed_0" / "summary.json").read_text()
    )
    assert summary["eval"]["final_error_cm"] == pytest.approx(float(best["value"]))
    # best.yaml is a valid entry of the hyperparameter file, with the search recorded in its header
    text = (out / "best.yaml").read_text()
    assert (
        "trials: 2 complete" in text and "budget 1024 env steps" in text and "python -m agents.tune" in text
    )
    hp = load_hyperparams("ppo", PM, out / "best.yaml")
    assert hp.algo_kwargs["n_steps"] == first["best"]["hyperparams"]["n_steps"]

    # Resume: the finished trials are kept, only the missing ones run; a rerun with nothing left is a no-op.
    again = tune.tune(tune.TuneConfig(resume=str(out), n_trials=3))
    assert again["trials"]["complete"] == 3
    study = _load(out)
    values = [t.value for t in study.trials]
    assert values[:2] == [float(r["value"]) for r in rows]
    assert tune.tune(tune.TuneConfig(resume=str(out)))["trials"]["complete"] == 3

    # A trial left running by a killed process is failed and queued again with the same parameters.
    orphan = study.ask()
    sample("ppo", orphan)  # draws its parameters; the trial stays RUNNING
    resumed = tune.tune(tune.TuneConfig(resume=str(out), n_trials=4))
    assert resumed["trials"] == {**resumed["trials"], "complete": 4, "fail": 1, "running": 0}
    trials = _load(out).trials
    assert trials[orphan.number].state.name == "FAIL" and trials[-1].params == trials[orphan.number].params

    with pytest.raises(ValueError, match="holds a search with other settings"):
        tune.tune(_tiny(out, trial_steps=2048, enqueue={"yaml": yaml_values}))


def test_on_eval_returning_false_stops_the_run_at_a_rollout_boundary(tmp_path):
    seen = []

    def stop_after_first(steps, metrics):
        seen.append((steps, metrics["final_error_cm"]))
        return steps == 0

    cfg = PPOConfig(env_id=PM, env_kwargs=SHORT, n_envs=8, total_steps=4096, eval_every=512,
                    hyperparams_override={"n_steps": 32, "batch_size": 64, "n_epochs": 1},
                    out_dir=str(tmp_path / "run"), progress=False, tensorboard=False)  # fmt: skip
    summary = _rl.train(cfg, on_eval=stop_after_first)
    assert summary["stopped_by"] == "on_eval" and summary["env_steps"] == 512
    assert [s for s, _ in seen] == [0, 512]


def test_bad_search_settings_name_the_argument():
    with pytest.raises(ValueError, match="objective must be one of .*; got 'final_err'"):
        tune.TuneConfig(objective="final_err")
    with pytest.raises(ValueError, match="algorithm must be one of ppo, sac, recurrent_ppo; got 'td3'"):
        tune.TuneConfig(algorithm="td3")
    with pytest.raises(ValueError, match="trial_steps must be an integer >= 1; got 0"):
        tune.TuneConfig(trial_steps=0)
