"""The comparison's report: read every trial's outputs, check the phenomena, write figures and text.

Writes ``report.md`` (phenomena table per method with bootstrap intervals over seeds, metric table,
learning curves, hand paths, speed profiles, perturbation responses, the curl-field block design,
preferred directions and network activity, wall-clock per phase), ``results.json`` (every number of
the report; wall-clock fields under ``"wall_clock"`` only) and ``metrics.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents._common import config_to_dict
from agents.adaptation import BLOCKS
from motornet_gym.analysis import phenomena as PH
from motornet_gym.analysis import plots, report
from motornet_gym.analysis.evaluate import EvaluationRecord, remeasure

#: Keys of results.json that depend on the machine and install (everything else reproduces exactly).
MACHINE_KEYS = ("wall_clock", "curves_wall_time", "machine", "versions")
#: Force-field conditions (records of the block design), in the order of the report's figure.
FF_CONDITIONS = ("null", "before", "after", "washout", "relearn")
#: ``agents.compare.CompareConfig`` (not imported: the runner imports this module).
CompareConfig = Any


def trial_dir(config: CompareConfig, method: str, seed: int) -> Path:
    """Folder of one (method, seed) trial."""
    return Path(config.out_dir) / "trials" / method / f"seed{seed}"


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


# ----------------------------------------------------------------------------- per-trial analysis
def reach_phenomena(rec: EvaluationRecord) -> dict[str, float]:
    """Per-seed values of the reach checks: means over the non-catch trials of a record."""
    keep = ~np.asarray(rec.catch, dtype=bool)
    m = PH.reach_measures(
        rec.fingertip_pos[:, keep], rec.start[keep], rec.target[keep], rec.go_step[keep], rec.dt
    )
    return {k: float(np.mean(v)) for k, v in m.items()}


def pulse_onset(pert: EvaluationRecord, base: EvaluationRecord) -> int:
    """Sample index of the pulse's start in ``fingertip_pos`` (sample ``k`` = time ``k dt``).

    The load of step ``k`` acts over ``[k dt, (k + 1) dt)``, so the pulse starts at sample ``k``.
    """
    on = np.flatnonzero(np.abs(pert.endpoint_load - base.endpoint_load).sum(-1).max(1) > 0)
    return int(on[0]) if on.size else 0


def feedback_phenomena(pert: EvaluationRecord, base: EvaluationRecord) -> dict[str, float]:
    """Slowest return after the pulse over the trials, the mean return time and the returned fraction.

    A trial that never returns counts as the rest of the trial, so it fails the check.
    """
    onset = pulse_onset(pert, base)
    t = PH.return_times(pert.fingertip_pos, base.fingertip_pos, pert.dt, onset)
    censored = np.where(np.isfinite(t), t, (pert.fingertip_pos.shape[0] - onset) * pert.dt)
    dev = np.linalg.norm(pert.fingertip_pos[onset:] - base.fingertip_pos[onset:], axis=-1).max(0)
    return {
        "return_time_s": float(censored.max()),
        "mean_return_time_s": float(censored.mean()),
        "returned_fraction": float(np.isfinite(t).mean()),
        "max_deviation_cm": float(100 * dev.mean()),
    }


def representation(rec: EvaluationRecord) -> dict[str, Any]:
    """Bimodality of the preferred directions of a record's tuned hidden units ({} without hidden state)."""
    if rec.hidden is None:
        return {}
    keep = ~np.asarray(rec.catch, dtype=bool)
    d = rec.target[keep] - rec.start[keep]
    pd = PH.preferred_directions(rec.hidden[:, keep], rec.go_step[keep], np.arctan2(d[:, 1], d[:, 0]), rec.dt)
    return {**PH.bimodality(pd), "pd": pd.tolist()}


def trial_analysis(
    recs: Mapping[str, EvaluationRecord], adaptation: Mapping[str, Sequence[float]] | None
) -> dict[str, Any]:
    """Everything the report derives from one trial's records and block-design curve.

    Computed by the runner (``eval.json``) and again by :func:`build_report` from the saved records,
    so a report always reflects the current measures.
    """
    pert = feedback_phenomena(recs["pert"], recs["pert_none"])
    values = {**reach_phenomena(recs["main"]), "return_time_s": pert["return_time_s"]}
    rep = {"arm": representation(recs["main"])}
    if rep["arm"]:
        values["pd_bimodal_arm"] = rep["arm"]["bimodal"]
    if "point_mass" in recs:
        rep["point_mass"] = representation(recs["point_mass"])
        values["pd_bimodal_point_mass"] = rep["point_mass"].get("bimodal", float("nan"))
    out: dict[str, Any] = {"perturbation": pert, "representation": rep}
    if adaptation:
        values.update(PH.curl_field_measures(adaptation))
        tail = PH.adapted_batches(len(adaptation["FF1"]))
        out["force_field"] = {
            "null": float(adaptation["NF1"][0]),
            "before": float(adaptation["FF1"][0]),
            "after": float(np.mean(adaptation["FF1"][-tail:])),
            "washout": float(adaptation["NF2"][0]),
            "relearn": float(adaptation["FF2"][0]),
        }
    out["phenomena"] = values
    return out


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


def _num(v: Any, digits: int = 3) -> str:
    return f"{v:.{digits}g}" if isinstance(v, (int, float)) and v is not None and math.isfinite(v) else "n/a"


def phenomena_table(checks: Mapping[str, Mapping[str, Mapping[str, Any]]], methods: Sequence[str]) -> str:
    """Markdown: one row per check, per method the value [bootstrap interval] and PASS/FAIL."""
    head = "| phenomenon | measure | pass if | " + " | ".join(methods) + " | published behaviour |"
    rows = [head, "|" + "---|" * (4 + len(methods))]
    for c in PH.CHECKS:
        if not any(c.key in checks.get(m, {}) for m in methods):
            continue
        cells = []
        for m in methods:
            r = checks.get(m, {}).get(c.key)
            if r is None:
                cells.append("not run")
                continue
            ci = f" [{_num(r['ci_low'])}, {_num(r['ci_high'])}]" if r.get("n", 0) > 1 else ""
            cells.append(f"{_num(r['mean'])}{ci} **{'PASS' if r['pass'] else 'FAIL'}**")
        rows.append(f"| {c.group} | {c.label} | {c.bounds()} | " + " | ".join(cells) + f" | {c.reference} |")
    return "\n".join(rows)


def _wall_table(phases: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> str:
    names = [
        p
        for p in ("train", "evaluation", "adaptation", "point_mass")
        if any(p in phases.get(m, {}) for m in methods)
    ]
    rows = ["| method | " + " | ".join(f"{n} (s)" for n in names) + " |", "|---|" + "---|" * len(names)]
    for m in methods:
        rows.append(f"| {m} | " + " | ".join(_num(phases.get(m, {}).get(n), 4) for n in names) + " |")
    return "\n".join(rows)


def render(results: Mapping[str, Any], figures: Mapping[str, str], smoke: bool) -> str:
    """The report's Markdown, from ``results.json`` and figure paths relative to the report."""
    methods = list(results["methods"])
    cfg = results["config"]
    proto = results["protocol"]
    machine = results.get("machine", {})
    lines = ["# motornet_gym: RL vs backprop", ""]
    if smoke:
        lines += [
            "> **Smoke test** (`--preset quick`): budgets far below what the methods need. The "
            "numbers show that every section runs, not what the methods learn; read "
            "`--preset standard` for science.",
            "",
        ]
    noise = ", ".join(f"{k} {v}" for k, v in proto["env_kwargs"].items())
    lines += [
        f"Evaluation task `{cfg['env_id']}`; training task `{proto['train_env_id']}` (the same trials with "
        f"random pulses and loads); methods {', '.join(f'`{m}`' for m in methods)}; {cfg['n_seeds']} seed(s) "
        f"each. Budget: {results['budget']}. Environment (every method, every phase): {noise}. Backprop "
        f"only: hidden-state noise {proto['backprop']['hidden_noise']}, hidden L2 "
        f"{proto['backprop']['hidden_l2']}, hidden-derivative L2 "
        f"{proto['backprop']['hidden_l2_derivative']}. "
        "Every controller is evaluated on the same trials with the same noise seed, so trials are paired "
        "across methods. The protocol and its sources: `agents/protocol.py`.",
        "",
        f"Command: `{results['command']}`",
        "",
        "## Phenomena",
        "",
        "Mean over seeds of each seed's value, with a bootstrap 95% interval over seeds when there is more "
        "than one; PASS/FAIL is the mean's. Reach measures are means over the non-catch trials of the "
        f"centre-out suite, from the go cue; the primary movement is where speed exceeds "
        f"{PH.MOVEMENT_FRACTION:.0%} of its peak (`motornet_gym/analysis/phenomena.py` says why). For "
        "backprop these are the bar; for RL they are the scientific question.",
        "",
        phenomena_table(results["phenomena"], methods),
        "",
        "## Metrics",
        "",
        report.metric_table(results["summary"], methods),
        "",
        "## Learning curves",
        "",
        "Mean final fingertip error on the evaluation suite against environment steps (and wall-clock).",
        "",
        f"![learning curves]({figures['learning_curves']})",
        "",
        "## Hand paths and speed profiles (centre-out suite)",
        "",
        f"![hand paths]({figures['hand_paths']})",
        "",
        f"![speed profiles]({figures['speed_profiles']})",
        "",
        "## Perturbation responses",
        "",
        "Deviation from the unperturbed path after a 10 N, 50 ms pulse orthogonal to the reach, 100 ms after "
        "the go cue.",
        "",
        _pert_table(results.get("perturbation", {}), methods),
        "",
        f"![perturbation responses]({figures['perturbation']})",
        "",
    ]
    if "adaptation" in figures:
        lines += [
            "## Curl field: NF1 -> FF1 -> NF2 -> FF2",
            "",
            "Signed lateral deviation (cm, positive = left of the reach) of the deterministic controller on "
            "the 8 centre-out targets at every batch of the block design (`agents/adaptation.py`), and "
            "paths at the first batch of each block and at the end of FF1.",
            "",
            _ff_table(results.get("force_field", {}), methods),
            "",
            f"![adaptation]({figures['adaptation']})",
            "",
            f"![force field]({figures['force_field']})",
            "",
        ]
    lines += ["## Network activity", "", report.hidden_text(results.get("hidden", {})), ""]
    if "preferred_directions" in figures:
        rep = results.get("representation", {})
        txt = "; ".join(
            f"{m} {eff}: index {_num(r.get('bimodality_index'))}, p = {_num(r.get('p'))}, "
            f"{int(r.get('n_units', 0))} tuned units"
            for m, d in rep.items()
            for eff, r in d.items()
        )
        lines += [
            "Preferred directions of the cosine-tuned hidden units (movement epoch, seed 0); bimodality: "
            f"Rayleigh test on doubled angles. {txt}.",
            "",
            f"![preferred directions]({figures['preferred_directions']})",
            "",
        ]
    lines += [
        f"![hidden PCA]({figures['hidden_pca']})",
        "",
        "## Wall-clock per phase",
        "",
        "Seconds summed over seeds, on this machine. Budgets are counted in batches and environment steps, "
        "so these times never change a number above; compilation is inside `train`.",
        "",
        _wall_table(results.get("wall_clock", {}), methods),
        "",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in results.get("versions", {}).items())
        + f". Machine: {machine.get('platform')}, {machine.get('cpus')} CPUs.",
        "",
        "Files: `results.json` (every number above), `metrics.csv` (one row per method and seed), "
        "`trials/<method>/seed<k>/` (training runs, `eval.json`, per-trial trajectories in `records/`).",
        "",
    ]
    return "\n".join(lines)


def _pert_table(pert: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> str:
    rows = [
        "| method | max deviation (cm) | mean return to 1 cm (s) | slowest return (s) | trials returned |",
        "|---|---|---|---|---|",
    ]
    for m in methods:
        p = pert.get(m, {})
        rows.append(
            f"| {m} | {_num(p.get('max_deviation_cm'))} | {_num(p.get('mean_return_time_s'))} | "
            f"{_num(p.get('return_time_s'))} | {_num(p.get('returned_fraction'))} |"
        )
    return "\n".join(rows)


def _ff_table(ff: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> str:
    cols = (
        ("null", "NF1 start"),
        ("before", "FF1 start"),
        ("after", "FF1 end"),
        ("washout", "NF2 start"),
        ("relearn", "FF2 start"),
    )
    rows = ["| method | " + " | ".join(f"{c} (cm)" for _, c in cols) + " |", "|---|" + "---|" * len(cols)]
    for m in methods:
        f = ff.get(m, {})
        rows.append(f"| {m} | " + " | ".join(_num(f.get(k)) for k, _ in cols) + " |")
    return "\n".join(rows)
