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

import torch

import motornet_gym as mg
from agents import protocol as P
from agents._cli import given_fields
from agents._common import (
    check_env_id,
    config_to_dict,
    parse_config,
    show_progress,
    write_json,
)
from agents.adaptation import AdaptationConfig, adapt_backprop, adapt_rl
from agents.compare_report import build_report, publish, trial_analysis, trial_dir
from motornet_gym.analysis import report
from motornet_gym.analysis.evaluate import evaluate

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
    smoke: bool = False
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
                raise ValueError(f"methods: unknown method {m!r}; expected any of {', '.join(METHODS)}")
        if not self.method_list():
            raise ValueError(f"methods must name at least one of {', '.join(METHODS)}; got {self.methods!r}")
        for m in self.metric_list():
            if m not in report.REPORT_METRICS:
                raise ValueError(
                    f"metrics: unknown metric {m!r}; expected any of {', '.join(report.REPORT_METRICS)}"
                )
        for name in ("n_seeds", "backprop_batches", "rl_steps", "rl_adaptation_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
        v = self.point_mass_batches
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"point_mass_batches must be an integer >= 0 (0: skip); got {v!r}")
        if not (isinstance(self.adaptation_lr, (int, float)) and self.adaptation_lr > 0):
            raise ValueError(f"adaptation_lr must be a number > 0; got {self.adaptation_lr!r}")
        for name in ("hidden_noise", "hidden_l2", "hidden_l2_derivative"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
                raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
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
        return show_progress(self.progress)

    def backprop_regularisers(self) -> dict[str, float]:
        """The backprop regulariser weights by name."""
        return {"hidden_l2": self.hidden_l2, "hidden_l2_derivative": self.hidden_l2_derivative}


def with_preset(config: CompareConfig, argv: list[str] | None) -> CompareConfig:
    """Apply ``config.preset``, keeping the values given explicitly (a flag or a ``--config`` file entry)."""
    if config.preset is None:
        return config
    given = given_fields(CompareConfig, argv)
    values = {k: v for k, v in PRESETS[config.preset].items() if k not in given}
    return dataclasses.replace(config, **values)


# ----------------------------------------------------------------------------- validation
def validate(config: CompareConfig) -> None:
    """Every check that can fail, before any training starts."""
    check_env_id(config.env_id)
    check_env_id(config.train_env_id)
    kw = config.env_kwargs
    ev = mg.make_simulator(config.env_id, **kw)  # unknown kwargs raise here
    ids = {"train_env_id": config.train_env_id, "perturbation suite": P.PERTURBATION_ID}
    if config.adaptation() is not None:
        ids["force-field suite"] = P.FORCE_FIELD_ID
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
    for m in config.method_list():
        for s in range(config.n_seeds):
            _check_trial_folder(trial_dir(config, m, s), trial_settings(config, m, s))
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
    return mg.sb3_agents.load_agent(run).metadata


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
        if mg.sb3_agents.latest_checkpoint(run_dir) is not None:
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
    return mg.sb3_agents.load_agent(run)


def _curve(run: Path) -> list[tuple[float, float, float]]:
    import csv

    path = run / "progress.csv"
    if not path.is_file():
        return []
    rows: dict[float, tuple[float, float, float]] = {}
    for r in csv.DictReader(path.open()):
        if r.get("eval/final_error_cm"):  # a resumed run logs again from its checkpoint: keep the last
            steps = float(r["env_steps"])
            rows[steps] = (steps, float(r["wall_time_s"]), float(r["eval/final_error_cm"]))
    return [rows[k] for k in sorted(rows)]


class _Phases:
    """Wall-clock of each phase of a trial, s (never part of a budget)."""

    def __init__(self, on_done: Any = None) -> None:
        self.seconds: dict[str, float] = {}
        self.on_done = on_done

    def __call__(self, name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
        if self.on_done is not None:
            self.on_done(name)
        return out


def trial_phases(config: CompareConfig, method: str) -> tuple[str, ...]:
    """The phases a trial runs, in order (the progress bar's units)."""
    out = () if method in config.load else ("train",)
    out += ("evaluation",)
    if config.adaptation() is not None:
        out += ("adaptation",)
    if config.point_mass_batches > 0 and method == "backprop":
        out += ("point_mass",)
    return out


#: Config fields that determine what a trial computes (a trial folder made with other values is refused).
TRIAL_FIELDS = ("env_id", "train_env_id", "env_kwargs", "adaptation_batches", "adaptation_lr",
                "rl_adaptation_steps", "compile")  # fmt: skip
_BACKPROP_FIELDS = (
    "backprop_batches",
    "point_mass_batches",
    "hidden_noise",
    "hidden_l2",
    "hidden_l2_derivative",
)


def trial_settings(config: CompareConfig, method: str, seed: int) -> dict[str, Any]:
    """The settings that determine one trial's numbers (stored as ``trial.json`` in its folder)."""
    names = TRIAL_FIELDS + (_BACKPROP_FIELDS if method == "backprop" else ("rl_steps",))
    out = {k: getattr(config, k) for k in names}
    out.update(method=method, seed=seed, load=config.load.get(method, [None] * (seed + 1))[seed])
    return json.loads(json.dumps(out))


def _check_trial_folder(tdir: Path, settings: dict[str, Any]) -> None:
    """Refuse to reuse a trial folder made with other settings (e.g. quick's trials under standard)."""
    stamp = tdir / "trial.json"
    if not tdir.is_dir() or not any(tdir.iterdir()):
        return
    saved = json.loads(stamp.read_text()) if stamp.is_file() else {}
    diff = sorted(k for k in set(saved) | set(settings) if saved.get(k) != settings.get(k))
    if diff:
        raise ValueError(
            f"out_dir holds a trial made with other settings: {tdir} differs in {', '.join(diff)} "
            f"(saved {[saved.get(k) for k in diff]}, now {[settings.get(k) for k in diff]}); "
            "use another --out-dir or delete that folder"
        )


def run_trial(config: CompareConfig, method: str, seed: int, on_phase: Any = None) -> dict[str, Any]:
    """Train (unless loaded), evaluate, adapt and save one (method, seed) trial; returns its summary.

    A finished trial (its ``eval.json`` exists) is returned as saved; an interrupted one resumes its
    training run from the checkpoint and redoes evaluation and adaptation (deterministic).
    ``on_phase(name)`` is called as each phase of :func:`trial_phases` ends.
    """
    tdir = trial_dir(config, method, seed)
    settings = trial_settings(config, method, seed)
    _check_trial_folder(tdir, settings)
    if (tdir / "eval.json").is_file():
        return json.loads((tdir / "eval.json").read_text())
    tdir.mkdir(parents=True, exist_ok=True)
    write_json(tdir / "trial.json", settings)
    done: set[str] = set()

    def finished(name: str) -> None:  # one call per phase (evaluation runs several times)
        if on_phase is not None and name not in done and name != "evaluation":
            done.add(name)
            on_phase(name)

    phase = _Phases(finished)
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
    if on_phase is not None:
        on_phase("evaluation")
    out: dict[str, Any] = {
        "method": method,
        "seed": seed,
        "metrics": recs["main"].summary(),
        "curve": _curve(train_dir),
        "env_steps": summary.get("env_steps"),
        "batches": summary.get("batches"),
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
    if config.point_mass_batches > 0 and method == "backprop":
        pm_dir = tdir / "point_mass"
        phase("point_mass", _train, method, pm_dir, P.POINT_MASS_ID, config, seed, config.point_mass_batches)
        pm = phase("evaluation", evaluate, _controller(method, pm_dir), P.POINT_MASS_ID, env_kwargs=kw)
        recs["point_mass"] = pm
    out.update(trial_analysis(recs, out.get("adaptation")))
    if "train" in phase.seconds and summary.get("wall_time_s") is not None:
        phase.seconds["train"] = float(summary["wall_time_s"])  # across resumes of the run
    out["phases_s"] = phase.seconds
    rec_dir = tdir / "records"
    rec_dir.mkdir(exist_ok=True)
    for name, rec in recs.items():
        rec.save(rec_dir / f"{name}.npz")
    write_json(tdir / "eval.json", report.json_safe(out))
    return out


# ----------------------------------------------------------------------------- executors
def _run_sequential(config: CompareConfig, trials: list[tuple[str, int]]) -> None:
    """Run the trials in order; on a terminal, one progress bar over every trial's phases (with an ETA)."""
    units = [(m, s, p) for m, s in trials for p in trial_phases(config, m)]
    bar = None
    if config.show_progress():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=len(units), desc="compare", unit="phase", dynamic_ncols=True)
    inner = dataclasses.replace(config, progress=False) if bar is not None else config  # one bar only
    for i, (method, seed) in enumerate(trials):
        t0 = time.perf_counter()
        if bar is None:
            print(f"[compare] trial {i + 1}/{len(trials)}: {method} seed {seed} ...", file=sys.stderr,
                  flush=True)  # fmt: skip

        def step(name: str, method: str = method, seed: int = seed) -> None:
            if bar is not None:
                bar.set_postfix_str(f"{method} seed {seed}: {name} done")
                bar.update(1)

        if (trial_dir(config, method, seed) / "eval.json").is_file() and bar is not None:
            bar.update(len(trial_phases(config, method)))  # finished earlier
        run_trial(inner, method, seed, on_phase=step)
        if bar is None:
            print(f"[compare] {method} seed {seed} done in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
    if bar is not None:
        bar.close()


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
    grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"{len(grid.errors)} Ray trial(s) failed; first error: {grid.errors[0]!r}")


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
