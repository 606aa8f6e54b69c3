"""Hyperparameter search for the SB3 agents with Optuna (TPE sampler, median pruner), rl-zoo style.

Run from the repository root::

    python -m agents.tune --algorithm ppo --env-id motornet/Arm26Reach-v0 --n-trials 20
    python -m agents.tune --trial-steps 500000 --eval-every 100000 --out-dir runs/tune_sac --algorithm sac
    python -m agents.tune --resume runs/tune_ppo_arm26 --n-trials 30   # resume, extend to 30 trials

Each trial draws a configuration from :mod:`agents._tune_space`, trains ``seeds`` runs of
``trial_steps`` environment steps each (budgets are env steps, never wall-clock) with
``agents._rl.train``, and scores the mean of ``objective`` (a metric of
:func:`agents.evaluation.evaluate_controller` on the task's fixed evaluation suite, lower is better)
at the end of the runs. The first seed reports every evaluation (``eval_every``) to Optuna's
``MedianPruner``, which stops trials worse than the median of earlier trials at the same env step.

Output folder::

    tune.json        the search configuration (a rerun with the same --out-dir reuses it)
    study.journal    the Optuna study (JournalStorage): a rerun loads it and runs the remaining trials
    trials.csv       one row per trial: number, state, value, env steps, wall time, parameters
    best.yaml        the best trial's hyperparameters as an entry of agents/hyperparams/<algo>.yaml,
                     with a header recording the search (command, trials, objective, budget, seeds)
    trials/trial_<n>/seed_<k>/   each run's config.json, progress.csv, summary.json, agent/

Resume: trials that completed or were pruned are kept; a trial interrupted by a signal (or left
running by a killed process) is marked failed and its parameters are queued again, so it reruns
from its start (trials are short; their own checkpoints are not resumed). The sampler is reseeded
with ``sampler_seed`` + the number of trials so far, so a rerun does not replay the first draws.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents._common import check_env_id, check_ints, config_to_dict, parse_config, write_json
from agents._rl import ConfigError
from agents._rl import train as train_rl
from agents._tune_space import SPACES, sample
from agents.evaluation import LOGGED
from agents.ppo import PPOConfig
from agents.recurrent_ppo import RecurrentPPOConfig
from agents.sac import SACConfig

__all__ = ["TuneConfig", "main", "tune"]

CONFIGS = {"ppo": PPOConfig, "sac": SACConfig, "recurrent_ppo": RecurrentPPOConfig}
STUDY, TRIALS_CSV, BEST_YAML, TUNE_JSON = "study.journal", "trials.csv", "best.yaml", "tune.json"
DEFAULT_TRIALS, DEFAULT_WARMUP_EVALS = 20, 2
#: Settings always written into the recorded command (so it survives a change of the defaults).
ALWAYS_RECORDED = ("algorithm", "env_id", "n_trials", "trial_steps", "eval_every", "seeds", "objective")


@dataclass(frozen=True, kw_only=True)
class TuneConfig:
    """Configuration of a hyperparameter search.

    Attributes:
        algorithm: 'ppo', 'sac' or 'recurrent_ppo'.
        env_id: Registered environment id (training and evaluation suite).
        env_kwargs: Keyword arguments of ``make_simulator`` for every run.
        n_trials: Trials of the study in total, across reruns (completed plus pruned; None: 20, or
            the resumed search's).
        trial_steps: Environment steps of each training run.
        eval_every: Evaluate (and report to the pruner) every this many env steps.
        seeds: Training runs per trial (seeds 0 .. seeds-1); the objective is their mean.
        objective: Evaluation metric to minimise (final_error_cm, hold_error_cm, cost, ...).
        n_envs: Environments of the batched engine (None: the YAML's n_envs).
        n_startup_trials: Random trials before TPE models the results, and trials before pruning.
        n_warmup_evals: Evaluations of a trial before it may be pruned (None: 2, or the resumed
            search's). A resume may change it (it only affects later pruning decisions; each trial
            records the value it ran under). Early evaluations are noisy on the arm: every trial is at
            33-37 cm at 1/4 of a 500k-step budget, so a warm-up of 1 prunes nearly at random.
        sampler_seed: Seed of the TPE sampler (plus the trials so far, on a rerun).
        hyperparams: Base YAML file (None: agents/hyperparams/<algorithm>.yaml); trials override it.
        n_threads: torch CPU threads of each run.
        enqueue: Named parameter sets of the search space run first, in order, when the study is new
            (e.g. ``{"yaml": {...}}``: the YAML file's hand-set values as a baseline trial).
        keep_runs: Keep each run's checkpoints and best/ folders (default: only its agent/ and logs).
        out_dir: Folder of the study (tune.json, study.journal, trials.csv, best.yaml, trials/).
        resume: Folder of a search to continue (its tune.json is used; only n_trials and
            n_warmup_evals given here override it). Rerunning the original command into the same
            out_dir also resumes.
    """

    algorithm: str = "ppo"
    env_id: str = "motornet/Arm26Reach-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    n_trials: int | None = None
    trial_steps: int = 500_000
    eval_every: int = 100_000
    seeds: int = 1
    objective: str = "final_error_cm"
    n_envs: int | None = None
    n_startup_trials: int = 5
    n_warmup_evals: int | None = None
    sampler_seed: int = 0
    hyperparams: str | None = None
    n_threads: int = 1
    enqueue: dict[str, Any] = field(default_factory=dict)
    keep_runs: bool = False
    out_dir: str = "runs/tune"
    resume: str | None = None

    def __post_init__(self) -> None:
        if self.algorithm not in SPACES:
            raise ValueError(f"algorithm must be one of {', '.join(SPACES)}; got {self.algorithm!r}")
        check_ints(self, ("trial_steps", "eval_every", "seeds", "n_threads"))
        check_ints(self, ("n_trials",), allow_none=True)
        check_ints(self, ("n_startup_trials",), minimum=0)
        check_ints(self, ("n_warmup_evals",), minimum=0, allow_none=True)
        if self.objective not in LOGGED:
            raise ValueError(f"objective must be one of {', '.join(LOGGED)}; got {self.objective!r}")
        for name in ("env_kwargs", "enqueue"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict; got {type(getattr(self, name)).__name__}")
        bad = [k for k, v in self.enqueue.items() if not isinstance(v, dict)]
        if bad:
            raise ValueError(
                f"enqueue must map names to parameter dicts; got {bad[0]!r}: {self.enqueue[bad[0]]!r}"
            )


class _Interrupted(Exception):
    """A trial's run stopped by a signal: the study stops, the trial is queued again."""


def _run_trial(config: TuneConfig, trial: Any, optuna: Any) -> float:
    override = sample(config.algorithm, trial)
    trial.set_user_attr("hyperparams", override)
    trial.set_user_attr("n_warmup_evals", _warmup(config))
    folder = Path(config.out_dir) / "trials" / f"trial_{trial.number:04d}"
    values, steps = [], 0
    for seed in range(config.seeds):
        reports = trial if seed == 0 else None

        def on_eval(env_steps: int, metrics: dict[str, float], reports: Any = reports) -> bool:
            value = metrics[config.objective]
            if reports is None or env_steps == 0 or not math.isfinite(value):
                return True
            reports.report(value, env_steps)
            return not reports.should_prune()

        run_cfg = CONFIGS[config.algorithm](
            env_id=config.env_id, env_kwargs=dict(config.env_kwargs), hyperparams=config.hyperparams,
            hyperparams_override=override, n_envs=config.n_envs, total_steps=config.trial_steps,
            eval_every=config.eval_every, checkpoint_every=10**12, keep_checkpoints=1, seed=seed,
            n_threads=config.n_threads, out_dir=str(folder / f"seed_{seed}"), progress=False,
            tensorboard=False,
        )  # fmt: skip
        try:
            summary = train_rl(run_cfg, on_eval=on_eval)
        except ConfigError as e:  # an invalid combination: a failed trial, not a failed study
            trial.set_user_attr("error", str(e))
            return math.inf
        finally:
            if not config.keep_runs:
                for sub in ("checkpoints", "best"):
                    shutil.rmtree(folder / f"seed_{seed}" / sub, ignore_errors=True)
        steps += summary["env_steps"]
        trial.set_user_attr("env_steps", steps)
        trial.set_user_attr("wall_time_s", trial.user_attrs.get("wall_time_s", 0.0) + summary["wall_time_s"])
        if summary["stopped_by"].startswith("signal"):
            raise _Interrupted(summary["stopped_by"])
        if summary["stopped_by"] == "on_eval":
            raise optuna.TrialPruned(f"pruned at {summary['env_steps']} env steps")
        value = summary["eval"][config.objective]
        values.append(value if math.isfinite(value) else math.inf)
    trial.set_user_attr("seed_values", values)
    return float(sum(values) / len(values))


def _warmup(config: TuneConfig) -> int:
    return DEFAULT_WARMUP_EVALS if config.n_warmup_evals is None else config.n_warmup_evals


def _study(config: TuneConfig, optuna: Any) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(Path(config.out_dir) / STUDY)))
    name = f"{config.algorithm}:{config.env_id}"
    existing = {s.study_name: s.n_trials for s in optuna.get_all_study_summaries(storage)}
    sampler = optuna.samplers.TPESampler(
        seed=config.sampler_seed + existing.get(name, 0), n_startup_trials=config.n_startup_trials
    )
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=config.n_startup_trials, n_warmup_steps=_warmup(config) * config.eval_every
    )
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner, study_name=name,
                                direction="minimize", load_if_exists=True)  # fmt: skip
    if not study.get_trials(deepcopy=False):
        for label, params in config.enqueue.items():
            study.enqueue_trial(params, user_attrs={"enqueued": label})
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)  # left running by a killed process
        study.enqueue_trial(t.params)
    return study


def _write_results(config: TuneConfig, study: Any, optuna: Any, command: str) -> dict[str, Any]:
    out = Path(config.out_dir)
    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    names = sorted({k for t in trials for k in t.params})
    with (out / TRIALS_CSV).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["number", "state", "value", "env_steps", "wall_time_s", "n_warmup_evals", *names])
        for t in trials:
            w.writerow([t.number, t.state.name, t.value, t.user_attrs.get("env_steps"),
                        t.user_attrs.get("wall_time_s"), t.user_attrs.get("n_warmup_evals"),
                        *(t.params.get(n) for n in names)])  # fmt: skip
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in state}
    done = [t for t in trials if t.state == state.COMPLETE and t.value is not None and math.isfinite(t.value)]
    result: dict[str, Any] = {"trials": counts, "best": None}
    if done:
        best = min(done, key=lambda t: t.value)
        result["best"] = {"number": best.number, "value": best.value, "params": best.params,
                          "hyperparams": best.user_attrs["hyperparams"]}  # fmt: skip
        (out / BEST_YAML).write_text(_best_yaml(config, best, counts, command))
    write_json(out / "results.json", result)
    return result


def _best_yaml(config: TuneConfig, best: Any, counts: dict[str, int], command: str) -> str:
    import yaml

    header = [
        f"# Tuned by agents.tune ({config.algorithm}, Optuna TPE + median pruner): {command}",
        f"#   trials: {counts.get('complete', 0)} complete, {counts.get('pruned', 0)} pruned, "
        f"{counts.get('fail', 0)} failed; budget {config.trial_steps} env steps per run, "
        f"eval every {config.eval_every}; seeds per trial: {config.seeds}",
        f"#   objective: mean {config.objective} on the evaluation suite of {config.env_id} at the end "
        f"of the runs (lower is better); best trial #{best.number}: {best.value:.4g}",
    ]
    body = yaml.safe_dump({config.env_id: best.user_attrs["hyperparams"]}, sort_keys=True)
    return "\n".join(header) + "\n" + body


def tune(config: TuneConfig, command: str | None = None) -> dict[str, Any]:
    """Run (or resume) the search; returns the results (also written to ``results.json``).

    Raises:
        ValueError: If the env id is unknown, or ``out_dir`` holds a search of another configuration
            (other than ``n_trials``).
        ImportError: If Optuna is not installed.
    """
    try:
        import optuna
    except ImportError:
        raise ImportError('agents.tune needs Optuna: pip install "motornet-gym[tune]"') from None
    config = _resolve_resume(config)
    check_env_id(config.env_id)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    saved_path = out / TUNE_JSON
    mine = config_to_dict(config)
    if saved_path.is_file():
        saved = json.loads(saved_path.read_text())
        free = ("n_trials", "n_warmup_evals", "resume")
        diff = sorted(k for k in mine if k not in free and k in saved and saved[k] != mine[k])
        if diff:
            raise ValueError(
                f"out_dir {str(out)!r} holds a search with other settings ({', '.join(diff)}: "
                f"{[saved.get(k) for k in diff]}); got {[mine[k] for k in diff]}"
            )
    write_json(saved_path, mine)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _study(config, optuna)
    state = optuna.trial.TrialState
    finished = sum(t.state in (state.COMPLETE, state.PRUNED) for t in study.get_trials(deepcopy=False))
    command = command or "python -m agents.tune " + shlex.join(_flags(config))
    n_trials = config.n_trials or DEFAULT_TRIALS
    try:
        if finished < n_trials:
            study.optimize(lambda t: _run_trial(config, t, optuna), n_trials=n_trials - finished)
    except _Interrupted as e:
        failed = study.get_trials(deepcopy=False, states=(state.FAIL,))
        if failed:
            study.enqueue_trial(failed[-1].params)
        print(f"stopped by {e}; rerun the same command to resume", file=sys.stderr)
    return _write_results(config, study, optuna, command)


def _resolve_resume(config: TuneConfig) -> TuneConfig:
    if config.resume is None:
        return config
    path = Path(config.resume) / TUNE_JSON
    if not path.is_file():
        raise ValueError(f"resume {config.resume!r} holds no search (expected {str(path)!r})")
    saved = json.loads(path.read_text())
    saved.update(out_dir=config.resume, resume=None)
    for name in ("n_trials", "n_warmup_evals"):
        if getattr(config, name) is not None:
            saved[name] = getattr(config, name)
    names = {f.name for f in dataclasses.fields(TuneConfig)}
    return TuneConfig(**{k: v for k, v in saved.items() if k in names})


def _flags(config: TuneConfig) -> list[str]:
    """The command-line flags that reproduce ``config`` (non-default fields only)."""
    out = []
    for f in dataclasses.fields(config):
        v = getattr(config, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        flag = "--" + f.name.replace("_", "-")
        if f.name == "resume" or (v == default and f.name not in ALWAYS_RECORDED):
            continue
        if isinstance(v, bool):
            out.append(flag if v else "--no-" + flag[2:])
        else:
            out += [flag, json.dumps(v) if isinstance(v, dict) else str(v)]
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: run or resume the search, print the results."""
    config = parse_config(TuneConfig, argv, description=__doc__.splitlines()[0])
    try:
        result = tune(config)
    except (ValueError, ImportError) as e:
        sys.exit(f"error: {e}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
