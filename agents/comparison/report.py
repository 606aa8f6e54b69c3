"""The comparison's report: read every trial's outputs, check the phenomena, write figures and files.

Writes ``report.md`` (:mod:`agents.comparison.markdown`: phenomena table per method with bootstrap
intervals over seeds, metric table, learning curves, hand paths, speed profiles, perturbation
responses, the curl-field block design, preferred directions and network activity, wall-clock per
phase), ``results.json`` (every number of the report; wall-clock fields under ``"wall_clock"`` only)
and ``metrics.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents._common import config_to_dict
from agents.adaptation import BLOCKS
from agents.comparison.analysis import trial_analysis
from agents.comparison.config import CompareConfig
from agents.comparison.markdown import render
from agents.comparison.trials import trial_dir
from motornet_gym.analysis import phenomena as PH
from motornet_gym.analysis import plots, report
from motornet_gym.analysis.evaluate import EvaluationRecord, remeasure

#: Keys of results.json that depend on the machine and install (everything else reproduces exactly).
MACHINE_KEYS = ("wall_clock", "curves_wall_time", "machine", "versions")
#: Force-field conditions (records of the block design), in the order of the report's figure.
FF_CONDITIONS = ("null", "before", "after", "washout", "relearn")


def _field_trials(rec: EvaluationRecord) -> EvaluationRecord:
    """The field (non-channel) half of a force-field record (the first ``n_targets`` trials)."""
    n = rec.target.shape[0] // 2
    per_trial = {"target", "start", "go_step", "catch"}
    arrays = {}
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        if f.name in per_trial:
            arrays[f.name] = v[:n]
        elif isinstance(v, np.ndarray) and v.ndim >= 2 and f.name not in ("target", "start"):
            arrays[f.name] = v[:, :n]
    return dataclasses.replace(rec, metrics={k: v[:n] for k, v in rec.metrics.items()}, **arrays)


def budget_text(config: CompareConfig) -> str:
    """The training budgets in batches and environment steps."""
    import motornet_gym as mg

    steps = mg.make_simulator(config.train_env_id, **config.env_kwargs).max_steps
    parts = []
    if "backprop" in config.method_list():
        env_steps = config.backprop_batches * 64 * steps
        parts.append(
            f"backprop {config.backprop_batches} batches of 64 episodes ({env_steps:,} environment steps)"
        )
    if any(m != "backprop" for m in config.method_list()):
        parts.append(f"RL {config.rl_steps:,} environment steps")
    return "; ".join(parts)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("torch", "numpy", "gymnasium", "stable-baselines3", "motornet-gym"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def build_report(config: CompareConfig, command: str | None = None) -> Path:
    """Read every trial's outputs and write the figures, results.json, metrics.csv and report.md."""
    out = Path(config.out_dir)
    methods = config.method_list()
    per_seed: dict[str, dict[int, dict[str, float]]] = {}
    phen: dict[str, dict[int, dict[str, float]]] = {}
    curves: dict[str, list] = {}
    adapt: dict[str, list] = {}
    pert: dict[str, dict[str, list]] = {}
    ff: dict[str, dict[str, list]] = {}
    phases: dict[str, dict[str, float]] = {}
    pds: dict[str, np.ndarray] = {}
    rep: dict[str, dict[str, Any]] = {}
    first: dict[str, dict[str, EvaluationRecord]] = {}
    for m in methods:
        per_seed[m], phen[m], curves[m], adapt[m], phases[m] = {}, {}, [], [], {}
        for s in range(config.n_seeds):
            tdir = trial_dir(config, m, s)
            e = json.loads((tdir / "eval.json").read_text())
            recs = {p.stem: EvaluationRecord.load(p) for p in sorted((tdir / "records").glob("*.npz"))}
            a = trial_analysis(recs, e.get("adaptation"))  # from the records: the current measures
            recs["main"] = remeasure(recs["main"])  # the current metric definitions
            per_seed[m][s] = recs["main"].summary()
            phen[m][s] = a["phenomena"]
            curves[m].append([tuple(r) for r in e.get("curve", [])])
            if "adaptation" in e:
                adapt[m].append(e["adaptation"])
            for key, dest in (("perturbation", pert), ("force_field", ff)):
                for k, v in a.get(key, {}).items():
                    dest.setdefault(m, {}).setdefault(k, []).append(v)
            for k, v in e.get("phases_s", {}).items():
                phases[m][k] = phases[m].get(k, 0.0) + float(v)
            if s == 0:
                first[m] = recs
                for eff, r in a["representation"].items():
                    if r and "pd" in r:
                        pds[f"{m}, {'arm26' if eff == 'arm' else 'point mass'}"] = np.asarray(r["pd"])
                        rep.setdefault(m, {})[eff] = {k: v for k, v in r.items() if k != "pd"}
    summary = report.aggregate(per_seed, config.metric_list())
    checks = PH.check_table(phen, methods)
    fig = out / "figures"
    main = {m: r["main"] for m, r in first.items()}
    figures = {
        "learning_curves": plots.learning_curves(curves, fig / "learning_curves.png"),
        "hand_paths": plots.hand_paths(main, fig / "hand_paths.png"),
        "speed_profiles": plots.speed_profiles(main, fig / "speed_profiles.png"),
        "perturbation": plots.perturbation_responses(
            {m: (r["pert"], r["pert_none"]) for m, r in first.items() if "pert" in r},
            fig / "perturbation.png",
        ),
        "hidden_pca": plots.hidden_pca(main, fig / "hidden_pca.png"),
    }
    if any(adapt.values()):
        figures["adaptation"] = plots.adaptation_curves(
            {m: v for m, v in adapt.items() if v}, BLOCKS, fig / "adaptation.png"
        )
        figures["force_field"] = plots.force_field_paths(
            {
                m: {c: _field_trials(r[f"ff_{c}"]) for c in FF_CONDITIONS if f"ff_{c}" in r}
                for m, r in first.items()
                if "ff_null" in r
            },
            fig / "force_field.png",
        )
    if pds:
        figures["preferred_directions"] = plots.preferred_directions(pds, fig / "preferred_directions.png")
    results = {
        "config": config_to_dict(config),
        "budget": budget_text(config),
        "protocol": {
            "env_kwargs": dict(config.env_kwargs),
            "train_env_id": config.train_env_id,
            "backprop": {"hidden_noise": config.hidden_noise, **config.backprop_regularisers()},
        },
        "methods": methods,
        "per_seed": per_seed,
        "summary": summary,
        "phenomena_per_seed": phen,
        "phenomena": checks,
        "perturbation": {m: {k: _mean(v) for k, v in d.items()} for m, d in pert.items()},
        "force_field": {m: {k: _mean(v) for k, v in d.items()} for m, d in ff.items()},
        "adaptation": adapt,
        "representation": rep,
        "hidden": report.hidden_comparison({m: r.hidden for m, r in main.items()}),
        "curves": {m: [[(c[0], c[2]) for c in run] for run in v] for m, v in curves.items()},
        "curves_wall_time": {m: [[c[1] for c in run] for run in v] for m, v in curves.items()},
        "wall_clock": phases,
        "command": command or "python -m agents.compare " + " ".join(sys.argv[1:]),
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": _cpus()},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report.json_safe(results), indent=2, sort_keys=True))
    report.write_csv(out / "metrics.csv", per_seed)
    rel = {k: str(Path(v).relative_to(out)) for k, v in figures.items()}
    path = out / "report.md"
    path.write_text(render(results, rel, config.smoke))
    return path


def publish(report_path: Path, docs_dir: Path) -> Path:
    """Copy a report into ``docs_dir/results.md`` with its figures under ``docs_dir/results/``.

    The page says where it came from (the command is in the report) and links only files inside
    ``docs_dir``, so it reads the same in a clone.
    """
    import re
    import shutil

    report_path, docs_dir = Path(report_path), Path(docs_dir)
    figs = docs_dir / "results"
    figs.mkdir(parents=True, exist_ok=True)
    text = report_path.read_text()

    def move(match: re.Match) -> str:
        src = report_path.parent / match.group(2)
        shutil.copyfile(src, figs / src.name)
        return f"![{match.group(1)}](results/{src.name})"

    text = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", move, text)
    text = text.replace("Files: `results.json`", "In the run folder: `results.json`")
    page = docs_dir / "results.md"
    page.write_text(text)
    return page


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def _mean(v: Sequence[float]) -> float:
    a = np.asarray(v, dtype=float)
    return float(a[np.isfinite(a)].mean()) if np.isfinite(a).any() else math.nan
