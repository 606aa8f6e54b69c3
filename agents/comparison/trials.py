"""One (method, seed) trial: train (or load), evaluate on the suites, adapt, save under its folder.

Everything a trial produces is written under ``<out_dir>/trials/<method>/seed<k>/``; a finished
trial is not redone and an interrupted training run resumes from its checkpoint. A folder made with
other settings (``trial.json``) is refused.
"""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path
from typing import Any

import motornet_gym as mg
from agents import protocol as P
from agents._common import write_json
from agents.adaptation import adapt_backprop, adapt_rl
from agents.comparison.analysis import trial_analysis
from agents.comparison.config import CompareConfig
from motornet_gym.analysis import report
from motornet_gym.analysis.evaluate import evaluate


def trial_dir(config: CompareConfig, method: str, seed: int) -> Path:
    """Folder of one (method, seed) trial."""
    return Path(config.out_dir) / "trials" / method / f"seed{seed}"


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


def check_trial_folder(tdir: Path, settings: dict[str, Any]) -> None:
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
    check_trial_folder(tdir, settings)
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
    recs["posture"] = phase(
        "evaluation", evaluate, ctrl, P.PERTURBATION_ID, env_kwargs={**kw, **P.POSTURE_KWARGS}
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
        pm_kw = {**kw, **P.POSTURE_KWARGS}
        pm = phase("evaluation", evaluate, _controller(method, pm_dir), P.POINT_MASS_ID, env_kwargs=pm_kw)
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
