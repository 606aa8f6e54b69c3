"""RL vs backprop on the same task: train, evaluate on the same suite, write a report.

Run from the repository root::

    python -m agents.compare --preset quick                 # the README's main job (< 10 min, 2 cores)
    python -m agents.compare --preset paper --out-dir runs/paper
    python -m agents.compare --methods backprop,ppo --n-seeds 3 --budget-s 600
    python -m agents.compare --load '{"ppo": ["runs/ppo"]}' --methods ppo   # evaluate existing runs

Each (method, seed) trial trains on ``env_id`` (a centre-out task by default), is evaluated on the
task's fixed suite, on the perturbation suite (pulse vs no pulse) and in the curl field before and
after a short adaptation (continued training in the field) and in washout. Everything a trial
produces is written under ``<out_dir>/trials/<method>/seed<k>/``; a trial whose ``eval.json``
exists is not redone, and an interrupted training run resumes from its checkpoint, so rerunning
the same command after an interruption continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import motornet_gym as mg
from agents._common import check_env_id, config_to_dict, parse_config, write_json
from motornet_gym.analysis import metrics as M
from motornet_gym.analysis import plots, report
from motornet_gym.analysis.evaluate import EvaluationRecord, evaluate

METHODS = ("backprop", "ppo", "sac", "recurrent_ppo")
PRESETS: dict[str, dict[str, Any]] = {
    # ~6-7 minutes on 2 cores: two methods, one seed, short budgets; every report section present.
    "quick": {"methods": "backprop,ppo", "n_seeds": 1, "budget_s": 110.0, "adaptation_budget_s": 25.0},
    # The full comparison: four methods, five seeds, 20 minutes per training run.
    "paper": {"methods": ",".join(METHODS), "n_seeds": 5, "budget_s": 1200.0, "adaptation_budget_s": 300.0},
}
PERTURBATION_ID = "motornet/Arm26Perturbation-v0"
FORCE_FIELD_ID = "motornet/Arm26ForceField-v0"
#: Force-field conditions, in the order of the report's columns.
FF_CONDITIONS = ("null", "before", "after", "washout")


@dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """Configuration of a comparison run.

    Attributes:
        preset: 'quick' or 'paper' (sets methods, n_seeds and budgets; explicit flags win).
        env_id: Training task (a centre-out family id keeps the perturbation and force-field sections).
        env_kwargs: Keyword arguments of make_simulator for every environment (noise, delays, ...).
        methods: Comma-separated methods among backprop, ppo, sac, recurrent_ppo.
        n_seeds: Seeds per method (0 .. n_seeds - 1).
        budget_s: Wall-clock training budget per trial, s (None: budget_steps only).
        budget_steps: Environment-step training budget per trial (None: budget_s only).
        adaptation_budget_s: Training in the curl field after the main training, s (0: skip).
        load: JSON {method: [run dir per seed]} of trained runs to evaluate instead of training.
        metrics: Comma-separated metrics of the report table (default: all report metrics).
        out_dir: Output folder (report.md, results.json, metrics.csv, figures/, records/, trials/).
        executor: 'sequential' or 'ray' (Ray Tune, one trial per CPU).
        compile: Use the compiled simulator for backprop training.
        progress: Show progress bars.
    """

    preset: str | None = None
    env_id: str = "motornet/Arm26CentreOut-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    methods: str = "backprop,ppo"
    n_seeds: int = 1
    budget_s: float | None = 110.0
    budget_steps: int | None = None
    adaptation_budget_s: float = 25.0
    load: dict[str, Any] = field(default_factory=dict)
    metrics: str = ",".join(report.REPORT_METRICS)
    out_dir: str = "runs/compare"
    executor: str = "sequential"
    compile: bool = True
    progress: bool = False

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; expected one of {', '.join(PRESETS)}")
        for m in self.method_list():
            if m not in METHODS:
                raise ValueError(f"unknown method {m!r}; expected any of {', '.join(METHODS)}")
        for m in self.metric_list():
            if m not in report.REPORT_METRICS:
                raise ValueError(f"unknown metric {m!r}; expected any of {', '.join(report.REPORT_METRICS)}")
        if not isinstance(self.n_seeds, int) or self.n_seeds < 1:
            raise ValueError(f"n_seeds must be an integer >= 1; got {self.n_seeds!r}")
        if self.budget_s is None and self.budget_steps is None and not self.load:
            raise ValueError("give budget_s or budget_steps (or both); got neither")
        if self.executor not in ("sequential", "ray"):
            raise ValueError(f"executor must be 'sequential' or 'ray'; got {self.executor!r}")
        for m, dirs in self.load.items():
            if m not in METHODS:
                raise ValueError(f"load: unknown method {m!r}; expected any of {', '.join(METHODS)}")
            if not isinstance(dirs, list) or len(dirs) < self.n_seeds:
                raise ValueError(f"load[{m!r}] must list one run dir per seed ({self.n_seeds}); got {dirs!r}")

    def method_list(self) -> list[str]:
        """The selected methods, in order."""
        return [m.strip() for m in self.methods.split(",") if m.strip()]

    def metric_list(self) -> list[str]:
        """The selected report metrics, in order."""
        return [m.strip() for m in self.metrics.split(",") if m.strip()]


def with_preset(config: CompareConfig, argv: list[str] | None) -> CompareConfig:
    """Apply ``config.preset``, keeping the values given explicitly on the command line."""
    if config.preset is None:
        return config
    given = {a.split("=")[0][2:].replace("-", "_") for a in (argv or sys.argv[1:]) if a.startswith("--")}
    values = {k: v for k, v in PRESETS[config.preset].items() if k not in given}
    return dataclasses.replace(config, **values)


# ----------------------------------------------------------------------------- validation
def validate(config: CompareConfig) -> None:
    """Every check that can fail, before any training starts."""
    check_env_id(config.env_id)
    mg.make_simulator(config.env_id, **config.env_kwargs)  # unknown kwargs raise here
    if any(m != "backprop" for m in config.method_list()):
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            raise ImportError('RL methods need stable-baselines3: pip install "motornet-gym[sb3]"') from None
    if config.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ImportError('--executor ray needs Ray: pip install "motornet-gym[ray]"') from None
    for method, dirs in config.load.items():
        for d in dirs[: config.n_seeds]:
            meta = _run_metadata(method, Path(d))
            if meta.get("env_id") != config.env_id:
                raise ValueError(
                    f"load[{method!r}]: {d} was trained on {meta.get('env_id')!r}; expected {config.env_id!r}"
                )


def _run_metadata(method: str, run: Path) -> dict[str, Any]:
    if method == "backprop":
        path = run / "policy.pt" if run.is_dir() else run
        return mg.policies.load_policy(path)[1]
    from agents._rl import load_agent

    return load_agent(run).metadata


def _nanmean(x: Any) -> float:
    """Mean of the finite values (nan, without a warning, when there are none)."""
    a = np.asarray(x, dtype=float)
    return float(a[np.isfinite(a)].mean()) if np.isfinite(a).any() else float("nan")


# ----------------------------------------------------------------------------- trials
def _trial_dir(config: CompareConfig, method: str, seed: int) -> Path:
    return Path(config.out_dir) / "trials" / method / f"seed{seed}"


def _finished(summary_path: Path) -> bool:
    if not summary_path.is_file():
        return False
    return not json.loads(summary_path.read_text()).get("stopped_by", "").startswith("signal")


class Interrupted(RuntimeError):
    """A training run stopped on SIGINT/SIGTERM after writing its checkpoint."""


def _train(method: str, run_dir: Path, env_id: str, config: CompareConfig, seed: int,
           budget_s: float | None, init: Path | None = None) -> dict[str, Any]:  # fmt: skip
    """Train (or resume) one run; returns its summary."""
    if _finished(run_dir / "summary.json"):
        return json.loads((run_dir / "summary.json").read_text())
    steps = config.budget_steps if init is None else None
    if method == "backprop":
        from agents.backprop import CHECKPOINT, BackpropConfig, train

        if (run_dir / CHECKPOINT).is_file():
            cfg = BackpropConfig(resume=str(run_dir), progress=config.progress, tensorboard=False)
        else:
            sim = mg.make_simulator(env_id, **config.env_kwargs)
            n_batches = None if steps is None else max(1, steps // (64 * sim.max_steps))
            cfg = BackpropConfig(
                env_id=env_id, env_kwargs=dict(config.env_kwargs), n_batches=n_batches,
                time_budget_s=budget_s, eval_every=25, checkpoint_every=50, seed=seed,
                out_dir=str(run_dir), compile=config.compile, progress=config.progress, tensorboard=False,
                init_policy=None if init is None else str(init),
            )  # fmt: skip
        summary = train(cfg)
    else:
        import importlib

        mod = importlib.import_module(f"agents.{method}")
        cls = next(v for k, v in vars(mod).items() if k.endswith("Config") and k != "RLConfig")
        from agents._rl import latest_checkpoint

        if latest_checkpoint(run_dir) is not None:
            cfg = cls(resume=str(run_dir), progress=config.progress, tensorboard=False)
        else:
            cfg = cls(
                env_id=env_id, env_kwargs=dict(config.env_kwargs), total_steps=steps or 10**12,
                time_budget_s=budget_s, eval_every=25_000, checkpoint_every=100_000, seed=seed,
                out_dir=str(run_dir), progress=config.progress, tensorboard=False,
                init_from=None if init is None else str(init),
            )  # fmt: skip
        summary = mod.train(cfg)
    if summary.get("stopped_by", "").startswith("signal"):
        raise Interrupted(f"{method} seed {seed} stopped by {summary['stopped_by']}")
    return summary


def _controller(method: str, run: Path) -> Any:
    if method == "backprop":
        return mg.policies.load_policy(run / "policy.pt" if run.is_dir() else run)[0]
    from agents._rl import load_agent

    return load_agent(run)


def _curve(run: Path) -> list[tuple[float, float, float]]:
    import csv

    path = run / "progress.csv"
    if not path.is_file():
        return []
    rows = []
    for r in csv.DictReader(path.open()):
        if r.get("eval/final_error_cm"):
            rows.append((float(r["env_steps"]), float(r["wall_time_s"]), float(r["eval/final_error_cm"])))
    return rows


def run_trial(config: CompareConfig, method: str, seed: int) -> dict[str, Any]:
    """Train (unless loaded), adapt, evaluate and save one (method, seed) trial; returns its summary."""
    tdir = _trial_dir(config, method, seed)
    if (tdir / "eval.json").is_file():
        return json.loads((tdir / "eval.json").read_text())
    tdir.mkdir(parents=True, exist_ok=True)
    if method in config.load:
        train_dir = Path(config.load[method][seed])
    else:
        train_dir = tdir / "train"
        _train(method, train_dir, config.env_id, config, seed, config.budget_s)
    ctrl = _controller(method, train_dir)
    kw = dict(config.env_kwargs)
    rec_dir = tdir / "records"
    rec_dir.mkdir(exist_ok=True)
    recs = {"main": evaluate(ctrl, config.env_id, env_kwargs=kw)}
    out: dict[str, Any] = {"method": method, "seed": seed, "metrics": recs["main"].summary(),
                           "curve": _curve(train_dir)}  # fmt: skip
    same_obs = _same_observation(config.env_id, PERTURBATION_ID, kw)
    if same_obs:
        recs["pert"] = evaluate(ctrl, PERTURBATION_ID, env_kwargs=kw)
        recs["pert_none"] = evaluate(
            ctrl, PERTURBATION_ID, env_kwargs={**kw, "eval_pulse_magnitude": 0.0}
        )
        out["perturbation"] = _perturbation_summary(recs["pert"], recs["pert_none"])
        recs["ff_null"] = evaluate(ctrl, FORCE_FIELD_ID, env_kwargs={**kw, "field_strength": 0.0})
        recs["ff_before"] = evaluate(ctrl, FORCE_FIELD_ID, env_kwargs=kw)
        if config.adaptation_budget_s > 0 and method not in config.load:
            src = train_dir / "policy.pt" if method == "backprop" else train_dir
            adapt_dir = tdir / "adapt"
            _train(method, adapt_dir, FORCE_FIELD_ID, config, seed, config.adaptation_budget_s, init=src)
            adapted = _controller(method, adapt_dir)
            recs["ff_after"] = evaluate(adapted, FORCE_FIELD_ID, env_kwargs=kw)
            recs["ff_washout"] = evaluate(
                adapted, FORCE_FIELD_ID, env_kwargs={**kw, "field_strength": 0.0}
            )
        out["force_field"] = {
            k.removeprefix("ff_"): _nanmean(_signed_deviation(r))
            for k, r in recs.items()
            if k.startswith("ff_")
        }
    for name, rec in recs.items():
        rec.save(rec_dir / f"{name}.npz")
    write_json(tdir / "eval.json", report._clean(out))
    return out


def _same_observation(a: str, b: str, kw: dict[str, Any]) -> bool:
    return mg.make_simulator(a, **kw).observation_parts == mg.make_simulator(b, **kw).observation_parts


def _perturbation_summary(
    pert: EvaluationRecord, base: EvaluationRecord
) -> dict[str, float]:
    on = np.flatnonzero(np.abs(pert.endpoint_load - base.endpoint_load).sum(-1).max(1) > 0)
    onset = int(on[0]) if on.size else 0
    resp = M.perturbation_response(pert.fingertip_pos, base.fingertip_pos, pert.dt, onset)
    return {"max_deviation_cm": float(100 * np.nanmean(resp.max_deviation)),
            "time_to_return_s": _nanmean(resp.time_to_return)}  # fmt: skip


def _signed_deviation(rec: EvaluationRecord) -> np.ndarray:
    """Signed maximum lateral deviation (cm) of each non-catch trial (nan on catch trials)."""
    dev = 100 * np.asarray(M.signed_max_deviation(rec.fingertip_pos, rec.start, rec.target), dtype=float)
    return np.where(rec.catch, np.nan, dev)


# ----------------------------------------------------------------------------- executors
def _run_sequential(config: CompareConfig, trials: list[tuple[str, int]]) -> None:
    for method, seed in trials:
        t0 = time.perf_counter()
        print(f"[compare] {method} seed {seed} ...", file=sys.stderr, flush=True)
        run_trial(config, method, seed)
        print(
            f"[compare] {method} seed {seed} done in {time.perf_counter() - t0:.0f} s",
            file=sys.stderr,
            flush=True,
        )


def _run_ray(config: CompareConfig, trials: list[tuple[str, int]]) -> None:
    """One Ray Tune trial per (method, seed), one CPU each; results land in the same trial folders."""
    import ray
    from ray import tune

    ray.init(ignore_reinit_error=True, include_dashboard=False)
    cfg = config_to_dict(config)

    def trainable(params: dict[str, Any]) -> dict[str, Any]:
        method, seed = trials[params["pair"]]
        out = run_trial(CompareConfig(**params["config"]), method, seed)
        return {"final_error_cm": out["metrics"].get("final_error_cm")}

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"config": cfg, "pair": tune.grid_search(list(range(len(trials))))},
        run_config=tune.RunConfig(storage_path=str(Path(config.out_dir).resolve() / "ray"), name="compare"),
    )
    tuner.fit()


# ----------------------------------------------------------------------------- report
def build_report(config: CompareConfig) -> Path:
    """Read every trial's outputs and write the figures, results.json, metrics.csv and report.md."""
    out = Path(config.out_dir)
    methods = config.method_list()
    per_seed: dict[str, dict[int, dict[str, float]]] = {}
    curves: dict[str, list] = {}
    pert: dict[str, dict[str, float]] = {}
    ff: dict[str, dict[str, float]] = {}
    first: dict[str, dict[str, EvaluationRecord]] = {}
    for m in methods:
        per_seed[m], curves[m] = {}, []
        for s in range(config.n_seeds):
            tdir = _trial_dir(config, m, s)
            e = json.loads((tdir / "eval.json").read_text())
            per_seed[m][s] = {k: (np.nan if v is None else v) for k, v in e["metrics"].items()}
            curves[m].append([tuple(r) for r in e.get("curve", [])])
            for key, dest in (("perturbation", pert), ("force_field", ff)):
                if key in e:
                    for k, v in e[key].items():
                        dest.setdefault(m, {}).setdefault(k, []).append(np.nan if v is None else v)
        first[m] = {
            p.stem: load_record(p) for p in sorted((_trial_dir(config, m, 0) / "records").glob("*.npz"))
        }
    pert = {m: {k: _nanmean(v) for k, v in d.items()} for m, d in pert.items()}
    ff = {m: {k: _nanmean(v) for k, v in d.items()} for m, d in ff.items()}
    summary = report.aggregate(per_seed, config.metric_list())
    fig = out / "figures"
    figures = {
        "metric_bars": plots.metric_bars(summary, config.metric_list(), fig / "metric_bars.png"),
        "learning_curves": plots.learning_curves(curves, fig / "learning_curves.png"),
        "hand_paths": plots.hand_paths({m: r["main"] for m, r in first.items()}, fig / "hand_paths.png"),
        "speed_profiles": plots.speed_profiles(
            {m: r["main"] for m, r in first.items()}, fig / "speed_profiles.png"
        ),
        "perturbation": plots.perturbation_responses(
            {m: (r["pert"], r["pert_none"]) for m, r in first.items() if "pert" in r},
            fig / "perturbation.png",
        ),
        "force_field": plots.force_field_paths(
            {
                m: {c: r[f"ff_{c}"] for c in FF_CONDITIONS if f"ff_{c}" in r}
                for m, r in first.items()
                if "ff_null" in r
            },
            fig / "force_field.png",
        ),  # fmt: skip
        "hidden_pca": plots.hidden_pca({m: r["main"] for m, r in first.items()}, fig / "hidden_pca.png"),
    }
    hidden = report.hidden_comparison({m: r["main"].hidden for m, r in first.items()})
    results = {
        "config": {**config_to_dict(config), "budget": _budget_text(config)},
        "methods": methods,
        "per_seed": per_seed,
        "summary": summary,
        "perturbation": pert,
        "force_field": ff,
        "hidden": hidden,
        "curves": curves,
    }
    report.write_csv(out / "metrics.csv", per_seed)
    return report.write_report(out, results, {k: str(Path(v).relative_to(out)) for k, v in figures.items()})


def load_record(path: Path) -> EvaluationRecord:
    """Read a record saved by :meth:`EvaluationRecord.save`."""
    return EvaluationRecord.load(path)


def _budget_text(config: CompareConfig) -> str:
    parts = []
    if config.budget_s is not None:
        parts.append(f"{config.budget_s:.0f} s")
    if config.budget_steps is not None:
        parts.append(f"{config.budget_steps} environment steps")
    return " or ".join(parts) + " per trial" if parts else "loaded runs"


def compare(config: CompareConfig) -> Path:
    """Validate, run every trial (skipping finished ones), and write the report."""
    validate(config)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config_to_dict(config))
    trials = [(m, s) for m in config.method_list() for s in range(config.n_seeds)]
    if config.executor == "ray":
        _run_ray(config, trials)
    else:
        _run_sequential(config, trials)
    return build_report(config)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    config = with_preset(parse_config(CompareConfig, argv, description=__doc__.splitlines()[0]), argv)
    torch.set_num_threads(1)  # the ops are small: extra threads only add contention
    t0 = time.perf_counter()
    try:
        path = compare(config)
    except Interrupted as e:
        print(f"[compare] {e}; rerun the same command to resume", file=sys.stderr)
        raise SystemExit(130) from None
    print(f"[compare] report written to {path} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
