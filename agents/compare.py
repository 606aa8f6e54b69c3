"""RL vs backprop under one protocol: train, evaluate on the same suites, check the phenomena, report.

Run from the repository root::

    python -m agents.compare --preset quick          # the README's main job (< 10 min, 2 cores)
    python -m agents.compare --preset standard       # about an hour: docs/results.md
    python -m agents.compare --preset paper --executor ray --out-dir runs/paper
    python -m agents.compare --methods backprop,ppo --n-seeds 3 --backprop-batches 2000 --rl-steps 3000000
    python -m agents.compare --load '{"ppo": ["runs/ppo"]}' --methods ppo   # evaluate existing runs

Each (method, seed) trial trains under the protocol of :mod:`agents.protocol` (noise, delays,
catch trials, variable go cue, random pulses and loads) for a budget in gradient steps (backprop)
or environment steps (RL), then is evaluated on the centre-out suite, on the perturbation suite
(pulse vs no pulse), through the curl-field block design of :mod:`agents.adaptation`
(NF1 -> FF1 -> NF2 -> FF2) and, for the representation check, a controller trained the same way
on the point mass. Compilation, evaluation and checkpoints are never charged to a budget; the
report lists each phase's wall-clock separately. Everything a trial produces is written under
``<out_dir>/trials/<method>/seed<k>/``; a finished trial is not redone and an interrupted training
run resumes from its checkpoint, so rerunning the same command continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import motornet_gym as mg
from agents import protocol as P
from agents._common import check_env_id, config_to_dict, parse_config, write_json
from agents.adaptation import AdaptationConfig, adapt_backprop, adapt_rl
from agents.compare_report import build_report, publish, trial_dir
from motornet_gym.analysis import phenomena as PH
from motornet_gym.analysis import report
from motornet_gym.analysis.evaluate import EvaluationRecord, evaluate

METHODS = ("backprop", "ppo", "sac", "recurrent_ppo")
PRESETS = P.PRESETS


@dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """Configuration of a comparison run.

    Attributes:
        preset: 'quick', 'standard' or 'paper' (sets methods, n_seeds and budgets; explicit flags win).
        env_id: Evaluation task (centre-out family).
        train_env_id: Training task (same observation as env_id; the protocol adds pulses and loads).
        env_kwargs: Keyword arguments of make_simulator for every environment (noise, delays, cost).
        methods: Comma-separated methods among backprop, ppo, sac, recurrent_ppo.
        n_seeds: Seeds per method (0 .. n_seeds - 1).
        backprop_batches: Backprop training budget in gradient steps (64 episodes each).
        rl_steps: RL training budget in environment steps.
        adaptation_batches: Batches per curl-field block NF1,FF1,NF2,FF2 ('none': skip the section).
        adaptation_lr: Adam learning rate of backprop adaptation.
        rl_adaptation_steps: Environment steps per RL adaptation batch.
        point_mass_batches: Backprop batches of the point-mass controller (representation check; 0: skip).
        hidden_noise: Backprop GRU hidden-state noise (sigma_h).
        hidden_l2: Backprop hidden-activity regulariser weight.
        hidden_l2_derivative: Backprop hidden-derivative regulariser weight.
        smoke: Label the report as a smoke test (budgets too small for scientific conclusions).
        load: JSON {method: [run dir per seed]} of trained runs to evaluate instead of training.
        metrics: Comma-separated metrics of the report table (default: all report metrics).
        out_dir: Output folder (report.md, results.json, metrics.csv, figures/, trials/).
        executor: 'sequential' or 'ray' (Ray Tune, one trial per CPU).
        compile: Use the compiled simulator for backprop training.
        progress: Show progress bars (None: when stderr is a terminal).
        publish: Also write the report as <publish>/results.md with its figures in <publish>/results/.
    """

    preset: str | None = None
    env_id: str = P.EVAL_ENV_ID
    train_env_id: str = P.TRAIN_ENV_ID
    env_kwargs: dict[str, Any] = field(default_factory=lambda: dict(P.ENV_KWARGS))
    methods: str = "backprop,ppo"
    n_seeds: int = 1
    backprop_batches: int = 600
    rl_steps: int = 1_000_000
    adaptation_batches: str = "5,30,15,30"
    adaptation_lr: float = 1e-4
    rl_adaptation_steps: int = 4096
    point_mass_batches: int = 300
    hidden_noise: float = P.BACKPROP_KWARGS["hidden_noise"]
    hidden_l2: float = P.BACKPROP_KWARGS["hidden_l2"]
    hidden_l2_derivative: float = P.BACKPROP_KWARGS["hidden_l2_derivative"]
    smoke: bool = True
    load: dict[str, Any] = field(default_factory=dict)
    metrics: str = ",".join(report.REPORT_METRICS)
    out_dir: str = "runs/compare"
    executor: str = "sequential"
    compile: bool = True
    progress: bool | None = None
    publish: str | None = None

    def __post_init__(self) -> None:
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}; got {self.preset!r}")
        for m in self.method_list():
            if m not in METHODS:
                raise ValueError(f"unknown method {m!r}; expected any of {', '.join(METHODS)}")
        if not self.method_list():
            raise ValueError(f"methods must name at least one of {', '.join(METHODS)}; got {self.methods!r}")
        for m in self.metric_list():
            if m not in report.REPORT_METRICS:
                raise ValueError(f"unknown metric {m!r}; expected any of {', '.join(report.REPORT_METRICS)}")
        for name in ("n_seeds", "backprop_batches", "rl_steps", "rl_adaptation_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
        v = self.point_mass_batches
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"point_mass_batches must be an integer >= 0 (0: skip); got {v!r}")
        self.adaptation()  # parses and validates adaptation_batches
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

    def adaptation(self) -> AdaptationConfig | None:
        """The curl-field block design, or None when ``adaptation_batches`` is 'none'."""
        text = str(self.adaptation_batches).strip().lower()
        if text == "none":
            return None
        try:
            batches = tuple(int(x) for x in text.split(","))
        except ValueError:
            batches = ()
        if len(batches) != 4 or min(batches) < 1:
            raise ValueError(
                "adaptation_batches must be four integers >= 1 for the blocks NF1,FF1,NF2,FF2 "
                f"(or 'none'); got {self.adaptation_batches!r}"
            )
        return AdaptationConfig(
            batches=batches, lr=self.adaptation_lr, rl_chunk_steps=self.rl_adaptation_steps
        )

    def show_progress(self) -> bool:
        """Progress bars: as configured, else when stderr is a terminal."""
        return sys.stderr.isatty() if self.progress is None else bool(self.progress)

    def backprop_regularisers(self) -> dict[str, float]:
        """The backprop regulariser weights by name."""
        return {"hidden_l2": self.hidden_l2, "hidden_l2_derivative": self.hidden_l2_derivative}


def with_preset(config: CompareConfig, argv: list[str] | None) -> CompareConfig:
    """Apply ``config.preset``, keeping the values given explicitly on the command line."""
    if config.preset is None:
        return config
    given = {a.split("=")[0][2:].replace("-", "_") for a in (argv or sys.argv[1:]) if a.startswith("--")}
    given |= {g.removeprefix("no_") for g in given}
    values = {k: v for k, v in PRESETS[config.preset].items() if k not in given}
    return dataclasses.replace(config, **values)


# ----------------------------------------------------------------------------- validation
def validate(config: CompareConfig) -> None:
    """Every check that can fail, before any training starts."""
    check_env_id(config.env_id)
    check_env_id(config.train_env_id)
    kw = config.env_kwargs
    ev = mg.make_simulator(config.env_id, **kw)  # unknown kwargs raise here
    ids = {"train_env_id": config.train_env_id}
    if any(m != "load" for m in config.method_list()):
        ids.update(perturbation=P.PERTURBATION_ID, force_field=P.FORCE_FIELD_ID)
    for name, other in ids.items():
        parts = mg.make_simulator(other, **kw).observation_parts
        if parts != ev.observation_parts:
            raise ValueError(
                f"{name} {other!r} must have the observation of env_id {config.env_id!r} "
                f"{ev.observation_parts}; got {parts}"
            )
    if config.point_mass_batches > 0:
        mg.make_simulator(P.POINT_MASS_ID, **kw)
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
            if meta.get("env_id") not in (config.env_id, config.train_env_id):
                raise ValueError(
                    f"load[{method!r}]: {d} was trained on {meta.get('env_id')!r}; expected "
                    f"{config.env_id!r} or {config.train_env_id!r}"
                )


def _run_metadata(method: str, run: Path) -> dict[str, Any]:
    if method == "backprop":
        path = run / "policy.pt" if run.is_dir() else run
        return mg.policies.load_policy(path)[1]
    from agents._rl import load_agent

    return load_agent(run).metadata


# ----------------------------------------------------------------------------- trials
def _finished(summary_path: Path) -> bool:
    if not summary_path.is_file():
        return False
    return not json.loads(summary_path.read_text()).get("stopped_by", "").startswith("signal")


class Interrupted(RuntimeError):
    """A training run stopped on SIGINT/SIGTERM after writing its checkpoint."""


def _train(method: str, run_dir: Path, env_id: str, config: CompareConfig, seed: int, budget: int) -> dict:
    """Train (or resume) one run for ``budget`` batches (backprop) or env steps (RL); returns its summary."""
    if _finished(run_dir / "summary.json"):
        return json.loads((run_dir / "summary.json").read_text())
    eval_id = config.env_id if env_id == config.train_env_id else None
    progress = config.show_progress()
    if method == "backprop":
        from agents.backprop import CHECKPOINT, BackpropConfig, train

        if (run_dir / CHECKPOINT).is_file():
            cfg = BackpropConfig(resume=str(run_dir), progress=progress, tensorboard=False)
        else:
            cfg = BackpropConfig(
                env_id=env_id,
                eval_env_id=eval_id,
                env_kwargs=dict(config.env_kwargs),
                n_batches=budget,
                time_budget_s=None,
                eval_every=max(1, budget // 12),
                checkpoint_every=max(1, budget // 6),
                seed=seed,
                out_dir=str(run_dir),
                compile=config.compile,
                progress=progress,
                tensorboard=False,
                hidden_noise=config.hidden_noise,
                **config.backprop_regularisers(),
            )
        summary = train(cfg)
    else:
        mod = importlib.import_module(f"agents.{method}")
        cls = next(v for k, v in vars(mod).items() if k.endswith("Config") and k != "RLConfig")
        from agents._rl import latest_checkpoint

        if latest_checkpoint(run_dir) is not None:
            cfg = cls(resume=str(run_dir), progress=progress, tensorboard=False)
        else:
            every = max(4096, budget // 12)
            cfg = cls(
                env_id=env_id,
                eval_env_id=eval_id,
                env_kwargs=dict(config.env_kwargs),
                total_steps=budget,
                time_budget_s=None,
                eval_every=every,
                checkpoint_every=max(every, budget // 4),
                seed=seed,
                out_dir=str(run_dir),
                progress=progress,
                tensorboard=False,
            )
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


def _nanmean(x: Any) -> float:
    """Mean of the finite values (nan, without a warning, when there are none)."""
    a = np.asarray(x, dtype=float)
    return float(a[np.isfinite(a)].mean()) if np.isfinite(a).any() else float("nan")


def reach_phenomena(rec: EvaluationRecord) -> dict[str, float]:
    """Per-seed values of the reach checks: means over the non-catch trials of a record."""
    keep = ~np.asarray(rec.catch, dtype=bool)
    m = PH.reach_measures(
        rec.fingertip_pos[:, keep], rec.start[keep], rec.target[keep], rec.go_step[keep], rec.dt
    )
    return {k: float(np.mean(v)) for k, v in m.items()}


def pulse_onset(pert: EvaluationRecord, base: EvaluationRecord) -> int:
    """Sample index (in ``fingertip_pos``, whose sample 0 is the initial state) where the pulse starts."""
    on = np.flatnonzero(np.abs(pert.endpoint_load - base.endpoint_load).sum(-1).max(1) > 0)
    return int(on[0]) + 1 if on.size else 0


def feedback_phenomena(pert: EvaluationRecord, base: EvaluationRecord) -> dict[str, float]:
    """Return time after the pulse (a trial that never returns counts as the rest of the trial)."""
    onset = pulse_onset(pert, base)
    t = PH.return_times(pert.fingertip_pos, base.fingertip_pos, pert.dt, onset)
    censored = (pert.fingertip_pos.shape[0] - onset) * pert.dt
    return {
        "return_time_s": float(np.mean(np.where(np.isfinite(t), t, censored))),
        "returned_fraction": float(np.isfinite(t).mean()),
    }


def _representation(rec: EvaluationRecord) -> dict[str, Any]:
    if rec.hidden is None:
        return {}
    keep = ~np.asarray(rec.catch, dtype=bool)
    d = rec.target[keep] - rec.start[keep]
    pd = PH.preferred_directions(rec.hidden[:, keep], rec.go_step[keep], np.arctan2(d[:, 1], d[:, 0]), rec.dt)
    return {**PH.bimodality(pd), "pd": pd.tolist()}


class _Phases:
    """Wall-clock of each phase of a trial, s (never part of a budget)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0


def run_trial(config: CompareConfig, method: str, seed: int) -> dict[str, Any]:
    """Train (unless loaded), evaluate, adapt and save one (method, seed) trial; returns its summary."""
    tdir = trial_dir(config, method, seed)
    if (tdir / "eval.json").is_file():
        return json.loads((tdir / "eval.json").read_text())
    tdir.mkdir(parents=True, exist_ok=True)
    phase = _Phases()
    kw = dict(config.env_kwargs)
    budget = config.backprop_batches if method == "backprop" else config.rl_steps
    if method in config.load:
        train_dir = Path(config.load[method][seed])
        summary: dict[str, Any] = {}
    else:
        train_dir = tdir / "train"
        summary = phase("train", _train, method, train_dir, config.train_env_id, config, seed, budget)
    ctrl = _controller(method, train_dir)
    recs = {"main": phase("evaluation", evaluate, ctrl, config.env_id, env_kwargs=kw)}
    recs["pert"] = phase("evaluation", evaluate, ctrl, P.PERTURBATION_ID, env_kwargs=kw)
    recs["pert_none"] = phase(
        "evaluation", evaluate, ctrl, P.PERTURBATION_ID, env_kwargs={**kw, "eval_pulse_magnitude": 0.0}
    )
    values = {**reach_phenomena(recs["main"]), **feedback_phenomena(recs["pert"], recs["pert_none"])}
    rep = _representation(recs["main"])
    if rep:
        values["pd_bimodal_arm"] = rep["bimodal"]
    out: dict[str, Any] = {
        "method": method,
        "seed": seed,
        "metrics": recs["main"].summary(),
        "curve": _curve(train_dir),
        "env_steps": summary.get("env_steps"),
        "batches": summary.get("batches"),
        "perturbation": {
            "max_deviation_cm": 100 * _nanmean(_max_dev(recs["pert"], recs["pert_none"])),
            "time_to_return_s": values["return_time_s"],
            "returned_fraction": values["returned_fraction"],
        },
        "representation": {"arm": rep},
    }
    adaptation = config.adaptation()
    if adaptation is not None:
        if method == "backprop":
            src = train_dir / "policy.pt" if train_dir.is_dir() else train_dir
            dev, ff_recs, _ = phase(
                "adaptation",
                adapt_backprop,
                src,
                kw,
                adaptation,
                seed,
                config.backprop_regularisers(),
                config.compile,
            )
        else:
            dev, ff_recs, _ = phase("adaptation", adapt_rl, train_dir, kw, adaptation, seed)
        recs.update({f"ff_{k}": v for k, v in ff_recs.items()})
        out["adaptation"] = dev
        values.update(PH.curl_field_measures(dev))
        out["force_field"] = {
            c: float(np.mean(dev[b][:1]))
            for c, b in (("null", "NF1"), ("before", "FF1"), ("washout", "NF2"), ("relearn", "FF2"))
        }
        out["force_field"]["after"] = float(np.mean(dev["FF1"][-max(1, len(dev["FF1"]) // 10) :]))
    if config.point_mass_batches > 0 and method == "backprop":
        pm_dir = tdir / "point_mass"
        phase("point_mass", _train, method, pm_dir, P.POINT_MASS_ID, config, seed, config.point_mass_batches)
        pm = phase("evaluation", evaluate, _controller(method, pm_dir), P.POINT_MASS_ID, env_kwargs=kw)
        recs["point_mass"] = pm
        out["representation"]["point_mass"] = _representation(pm)
        values["pd_bimodal_point_mass"] = out["representation"]["point_mass"]["bimodal"]
    out["phenomena"] = values
    out["phases_s"] = phase.seconds
    rec_dir = tdir / "records"
    rec_dir.mkdir(exist_ok=True)
    for name, rec in recs.items():
        rec.save(rec_dir / f"{name}.npz")
    write_json(tdir / "eval.json", report._clean(out))
    return out


def _max_dev(pert: EvaluationRecord, base: EvaluationRecord) -> np.ndarray:
    onset = pulse_onset(pert, base)
    return np.linalg.norm(pert.fingertip_pos[onset:] - base.fingertip_pos[onset:], axis=-1).max(0)


# ----------------------------------------------------------------------------- executors
def _run_sequential(config: CompareConfig, trials: list[tuple[str, int]]) -> None:
    for i, (method, seed) in enumerate(trials):
        t0 = time.perf_counter()
        print(f"[compare] trial {i + 1}/{len(trials)}: {method} seed {seed} ...", file=sys.stderr, flush=True)
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
    path = build_report(config)
    if config.publish is not None:
        publish(path, Path(config.publish))
    return path


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
