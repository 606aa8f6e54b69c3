"""The report's Markdown (``report.md``) from ``results.json``: text, tables and figure links."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from motornet_gym.analysis import phenomena as PH
from motornet_gym.analysis import report


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
            "Preferred directions of the cosine-tuned hidden units (seed 0) in the posture-with-loads "
            "suite: holding the start against a 3 N load in 16 directions, mean activity over the last "
            "500 ms, the direction of the force the limb produces (Lillicrap & Scott 2013)."
            f" Bimodality: Rayleigh test on doubled angles. {txt}.",
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
