"""Write the comparison report: ``report.md`` with embedded PNG figures, ``results.json`` and CSV.

The runner (``agents.compare``) gathers evaluation records per method and seed; this module turns
them into numbers and text. The metric table in ``report.md`` is rendered from the same
``results.json`` dictionary it writes, so the two always agree.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import neural, stats

#: Metrics shown in the report's table and bar plot, with their units.
REPORT_METRICS: dict[str, str] = {
    "final_error_cm": "cm",
    "hold_error_cm": "cm",
    "time_to_target_s": "s",
    "max_deviation_cm": "cm",
    "path_length_ratio": "",
    "peak_speed": "m/s",
    "minimum_jerk_correlation": "",
    "normalised_jerk": "",
    "effort": "",
    "co_contraction": "",
}


def aggregate(per_seed: Mapping[str, Mapping[int, Mapping[str, float]]], metrics: Sequence[str]) -> dict:
    """``per_seed[method][seed][metric]`` (trial means) -> ``[metric][method]`` summaries over seeds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for m in metrics:
        out[m] = {}
        for method, seeds in per_seed.items():
            vals = np.array([s.get(m, np.nan) for s in seeds.values()], dtype=float)
            out[m][method] = stats.summarize(vals)
    return out


def _fmt(s: Mapping[str, float]) -> str:
    mean = s.get("mean", math.nan)
    if not math.isfinite(mean):
        return "n/a"
    lo, hi = s.get("ci_low", math.nan), s.get("ci_high", math.nan)
    ci = f" [{lo:.3g}, {hi:.3g}]" if math.isfinite(lo) and math.isfinite(hi) and s.get("n", 0) > 1 else ""
    return f"{mean:.3g}{ci}"


def metric_table(summary: Mapping[str, Mapping[str, Mapping[str, float]]], methods: Sequence[str]) -> str:
    """Markdown table: one row per metric, one column per method (mean [95% CI over seeds])."""
    lines = ["| metric | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for m, per_method in summary.items():
        unit = REPORT_METRICS.get(m, "")
        name = f"{m} ({unit})" if unit else m
        lines.append(f"| {name} | " + " | ".join(_fmt(per_method.get(k, {})) for k in methods) + " |")
    return "\n".join(lines)


def hidden_comparison(hidden: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Participation ratio per controller and linear CKA between each pair (same trials, same steps)."""
    flat = {k: h.reshape(-1, h.shape[-1]) for k, h in hidden.items() if h is not None}
    pr = {k: float(neural.participation_ratio(x)) for k, x in flat.items()}
    names = list(flat)
    cka = {
        f"{a} vs {b}": float(neural.linear_cka(flat[a], flat[b]))
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }
    return {"participation_ratio": pr, "linear_cka": cka}


def write_csv(path: Path, per_seed: Mapping[str, Mapping[int, Mapping[str, float]]]) -> None:
    """One row per (method, seed) with every metric."""
    keys = sorted({k for seeds in per_seed.values() for s in seeds.values() for k in s})
    with Path(path).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "seed", *keys])
        for method, seeds in per_seed.items():
            for seed, vals in sorted(seeds.items()):
                w.writerow([method, seed, *[vals.get(k, "") for k in keys]])


def json_safe(obj: Any) -> Any:
    """``obj`` with numpy scalars as Python numbers and non-finite floats as ``None`` (valid JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    return obj


def write_report(out_dir: Path, results: Mapping[str, Any], figures: Mapping[str, str]) -> Path:
    """Write ``results.json`` and ``report.md`` (figures given as paths relative to ``out_dir``)."""
    out_dir = Path(out_dir)
    (out_dir / "results.json").write_text(json.dumps(json_safe(dict(results)), indent=2, sort_keys=True))
    methods = list(results["methods"])
    cfg = results["config"]
    lines = [
        "# motornet_gym: RL vs backprop",
        "",
        f"Task `{cfg['env_id']}`; methods {', '.join(f'`{m}`' for m in methods)}; "
        f"{cfg['n_seeds']} seed(s) each; training budget {cfg['budget']}. Every controller is evaluated on "
        f"the task's fixed evaluation suite with the same noise seed, so trials are paired across methods.",
        "",
        "## Metrics",
        "",
        "Mean over seeds of the per-seed trial means, with a bootstrap 95% interval over seeds when there "
        "is more than one seed. Kinematic metrics are measured from the go cue and exclude catch trials.",
        "",
        metric_table(results["summary"], methods),
        "",
        f"![metric bars]({figures['metric_bars']})",
        "",
        "## Learning curves",
        "",
        "Mean final fingertip error on the evaluation suite against environment steps and wall-clock time.",
        "",
        f"![learning curves]({figures['learning_curves']})",
        "",
        "## Hand paths (centre-out suite)",
        "",
        f"![hand paths]({figures['hand_paths']})",
        "",
        "## Speed profiles",
        "",
        f"![speed profiles]({figures['speed_profiles']})",
        "",
        "## Perturbation responses",
        "",
        "Deviation of the fingertip from the unperturbed path after a force pulse orthogonal to the reach.",
        "",
        _perturbation_table(results.get("perturbation", {}), methods),
        "",
        f"![perturbation responses]({figures['perturbation']})",
        "",
        "## Force field",
        "",
        "Paths in the null field, in the curl field before adaptation, after adaptation (continued "
        "training in the field), and in washout (field removed after adaptation: after-effects).",
        "",
        _force_field_table(results.get("force_field", {}), methods),
        "",
        f"![force field]({figures['force_field']})",
        "",
        "## Network activity",
        "",
        hidden_text(results.get("hidden", {})),
        "",
        f"![hidden PCA]({figures['hidden_pca']})",
        "",
        "Files: `results.json` (every number above), `metrics.csv` (one row per method and seed), "
        "`trials/<method>/seed<k>/records/` (per-trial trajectories, `.npz`).",
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def _perturbation_table(pert: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> str:
    if not pert:
        return "_No perturbation evaluation._"
    rows = ["| method | max deviation (cm) | time to return (s) |", "|---|---|---|"]
    for m in methods:
        p = pert.get(m, {})
        rows.append(f"| {m} | {_num(p.get('max_deviation_cm'))} | {_num(p.get('time_to_return_s'))} |")
    return "\n".join(rows)


def _force_field_table(ff: Mapping[str, Mapping[str, float]], methods: Sequence[str]) -> str:
    if not ff:
        return "_No force-field evaluation._"
    rows = [
        "| method | null (cm) | field, before (cm) | field, after (cm) | washout (cm) |",
        "|---|---|---|---|---|",
    ]
    for m in methods:
        f = ff.get(m, {})
        rows.append(f"| {m} | {_num(f.get('null'))} | {_num(f.get('before'))} | {_num(f.get('after'))} | "
                    f"{_num(f.get('washout'))} |")  # fmt: skip
    note = "Values: mean signed maximum lateral deviation (positive = left of the reach)."
    return "\n".join(rows) + "\n\n" + note


def hidden_text(h: Mapping[str, Any]) -> str:
    """One paragraph on the hidden activity: participation ratios and linear CKA between controllers."""
    if not h or not h.get("participation_ratio"):
        return "_No controller with a hidden state._"
    pr = ", ".join(f"{k}: {v:.2f}" for k, v in h["participation_ratio"].items())
    cka = ", ".join(f"{k}: {v:.3f}" for k, v in h.get("linear_cka", {}).items())
    cka = cka or "n/a (one recurrent method)"
    return (f"PCA participation ratio of hidden activity (effective dimensionality): {pr}. "
            f"Linear CKA between controllers on the same trials (Kornblith et al. 2019): {cka}.")  # fmt: skip


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, (int, float)) and math.isfinite(v) else "n/a"
