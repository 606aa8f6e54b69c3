"""Figures of the comparison report (matplotlib, Agg backend, PNG).

Every function takes plain data (records, curves, summaries keyed by method name) and a path,
draws one figure and returns the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import metrics as M
from .evaluate import EvaluationRecord


def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "motornet-gym[plot]"') from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    _plt().close(fig)
    return path


def _colors(n: int):
    cmap = _plt().get_cmap("hsv")
    return [cmap(i / max(n, 1)) for i in range(n)]


def hand_paths(records: Mapping[str, EvaluationRecord], path, title: str = "Hand paths") -> Path:
    """One panel per method: fingertip paths (coloured by target), targets and starts."""
    plt = _plt()
    n = len(records)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    for ax, (name, rec) in zip(axes[0], records.items(), strict=True):
        cols = _colors(rec.target.shape[0])
        for i in range(rec.target.shape[0]):
            if rec.catch[i]:
                continue
            p = rec.fingertip_pos[:, i]
            ax.plot(100 * p[:, 0], 100 * p[:, 1], color=cols[i], lw=1.2)
            ax.plot(100 * rec.target[i, 0], 100 * rec.target[i, 1], "o", mfc="none", color=cols[i], ms=9)
        ax.plot(100 * rec.start[:, 0], 100 * rec.start[:, 1], "k+", ms=8)
        ax.set_title(name)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("x (cm)")
    axes[0, 0].set_ylabel("y (cm)")
    fig.suptitle(title)
    return _save(fig, path)


def speed_profiles(records: Mapping[str, EvaluationRecord], path) -> Path:
    """Fingertip speed from the go cue, mean ± s.d. over non-catch trials, one line per method."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, rec in records.items():
        rows = []
        for i in np.flatnonzero(~rec.catch):
            g = int(min(max(rec.go_step[i], 0), rec.fingertip_pos.shape[0] - 2))
            rows.append(M.speed(rec.fingertip_pos[g:, i], rec.dt))
        if not rows:
            continue
        n = min(len(r) for r in rows)
        s = np.stack([r[:n] for r in rows])
        t = np.arange(n) * rec.dt
        mu, sd = s.mean(0), s.std(0)
        ax.plot(t, mu, label=name)
        ax.fill_between(t, mu - sd, mu + sd, alpha=0.2)
    ax.set_xlabel("time from go cue (s)")
    ax.set_ylabel("speed (m/s)")
    ax.legend(frameon=False)
    ax.set_title("Speed profiles")
    return _save(fig, path)


def learning_curves(curves: Mapping[str, Sequence[Sequence[tuple[float, float, float]]]], path) -> Path:
    """Evaluation error against environment steps and wall-clock; one line per seed, per method.

    ``curves[method]`` is a list (one per seed) of ``(env_steps, wall_s, final_error_cm)`` rows.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    prop = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, seeds) in enumerate(curves.items()):
        c = prop[k % len(prop)]
        for j, rows in enumerate(seeds):
            if not rows:
                continue
            a = np.asarray(rows, dtype=float)
            lab = name if j == 0 else None
            axes[0].plot(a[:, 0], a[:, 2], color=c, alpha=0.8, label=lab)
            axes[1].plot(a[:, 1], a[:, 2], color=c, alpha=0.8, label=lab)
    for ax, xl in zip(axes, ("environment steps", "wall-clock (s)"), strict=True):
        ax.set_xlabel(xl)
        ax.set_ylabel("final error (cm)")
        ax.set_yscale("log")
    axes[0].legend(frameon=False)
    fig.suptitle("Learning curves (evaluation suite)")
    return _save(fig, path)


def metric_bars(
    summary: Mapping[str, Mapping[str, Mapping[str, float]]], metrics: Sequence[str], path
) -> Path:
    """Bars of the mean with bootstrap 95% intervals, one panel per metric.

    ``summary[metric][method]`` holds ``mean``, ``ci_low``, ``ci_high``.
    """
    plt = _plt()
    n = len(metrics)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n, 3.2), squeeze=False)
    for ax, m in zip(axes[0], metrics, strict=True):
        methods = list(summary.get(m, {}))
        mean = np.array([summary[m][k]["mean"] for k in methods], dtype=float)
        lo = np.array([summary[m][k]["ci_low"] for k in methods], dtype=float)
        hi = np.array([summary[m][k]["ci_high"] for k in methods], dtype=float)
        err = np.vstack([np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)])
        ax.bar(range(len(methods)), np.nan_to_num(mean), yerr=err, capsize=4, color="0.6")
        ax.set_xticks(range(len(methods)), methods, rotation=30, ha="right")
        ax.set_title(m, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def perturbation_responses(pairs: Mapping[str, tuple[EvaluationRecord, EvaluationRecord]], path) -> Path:
    """Deviation (cm) of perturbed from unperturbed paths over time, per method (mean ± s.d.)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, (pert, base) in pairs.items():
        dev = 100 * np.linalg.norm(pert.fingertip_pos - base.fingertip_pos, axis=-1)  # (T+1, B)
        t = np.arange(dev.shape[0]) * pert.dt
        mu, sd = dev.mean(1), dev.std(1)
        ax.plot(t, mu, label=name)
        ax.fill_between(t, mu - sd, mu + sd, alpha=0.2)
        on = np.flatnonzero(np.abs(pert.endpoint_load - base.endpoint_load).sum(-1).max(1) > 0)
        if on.size:
            ax.axvspan(on[0] * pert.dt, (on[-1] + 1) * pert.dt, color="0.9", zorder=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("deviation from unperturbed (cm)")
    ax.legend(frameon=False)
    ax.set_title("Responses to an orthogonal force pulse (grey)")
    return _save(fig, path)


def force_field_paths(panels: Mapping[str, Mapping[str, EvaluationRecord]], path) -> Path:
    """Rows: methods; columns: conditions (e.g. null, field before adaptation, after, washout)."""
    plt = _plt()
    methods = list(panels)
    conds: list[str] = []
    for p in panels.values():
        conds += [c for c in p if c not in conds]
    size = (3.2 * len(conds), 3.2 * len(methods))
    fig, axes = plt.subplots(len(methods), len(conds), figsize=size, squeeze=False)
    for r, m in enumerate(methods):
        for c, cond in enumerate(conds):
            ax = axes[r, c]
            if cond not in panels[m]:
                ax.set_axis_off()
                continue
            rec = panels[m][cond]
            cols = _colors(rec.target.shape[0])
            for i in np.flatnonzero(~rec.catch):
                p = rec.fingertip_pos[:, i]
                ax.plot(100 * p[:, 0], 100 * p[:, 1], color=cols[i], lw=1.1)
                ax.plot(100 * rec.target[i, 0], 100 * rec.target[i, 1], "o", mfc="none", color=cols[i])
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_title(f"{m}: {cond}", fontsize=9)
    return _save(fig, path)


def hidden_pca(records: Mapping[str, EvaluationRecord], path) -> Path:
    """Hidden-state trajectories projected on each controller's first two principal components."""
    plt = _plt()
    recs = {k: r for k, r in records.items() if r.hidden is not None}
    n = max(len(recs), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.4), squeeze=False)
    for ax, (name, rec) in zip(axes[0], recs.items(), strict=False):
        h = rec.hidden  # (T, B, H)
        x = h.reshape(-1, h.shape[-1])
        x = x - x.mean(0)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        proj = (h - h.reshape(-1, h.shape[-1]).mean(0)) @ vt[:2].T
        cols = _colors(h.shape[1])
        for i in range(h.shape[1]):
            ax.plot(proj[:, i, 0], proj[:, i, 1], color=cols[i], lw=1)
            ax.plot(proj[0, i, 0], proj[0, i, 1], "k.", ms=4)
        ax.set_title(name)
        ax.set_xlabel("PC1")
        ax.set_ylabel("PC2")
    if not recs:
        axes[0, 0].text(0.5, 0.5, "no controller with a hidden state", ha="center", va="center")
        axes[0, 0].set_axis_off()
    fig.suptitle("Hidden-state trajectories (PCA)")
    return _save(fig, path)


def adaptation_curves(
    curves: Mapping[str, Sequence[Mapping[str, Sequence[float]]]], blocks: Sequence[str], path
) -> Path:
    """Signed lateral deviation (cm) per batch through the blocks (e.g. NF1, FF1, NF2, FF2).

    Args:
        curves: ``method -> [per seed: {block -> (n_batches,) deviation}]``.
        blocks: Block names in order; field blocks are shaded.
        path: Output PNG.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    edges: list[int] = []
    for name, seeds in curves.items():
        runs = [np.concatenate([np.asarray(s[b], dtype=float) for b in blocks]) for s in seeds if s]
        if not runs:
            continue
        n = min(len(r) for r in runs)
        a = np.stack([r[:n] for r in runs])
        x = np.arange(1, n + 1)
        ax.plot(x, a.mean(0), label=name, lw=1.3)
        if len(runs) > 1:
            ax.fill_between(x, a.min(0), a.max(0), alpha=0.2)
        if not edges:
            edges = list(np.cumsum([len(seeds[0][b]) for b in blocks]))
    start = 0
    for b, end in zip(blocks, edges, strict=False):
        if b.startswith("FF"):
            ax.axvspan(start + 0.5, end + 0.5, color="0.92", zorder=0)
        ax.text((start + end) / 2 + 0.5, 1.0, b, transform=ax.get_xaxis_transform(), ha="center", va="bottom")
        start = end
    ax.axhline(0.0, color="0.5", lw=0.6)
    ax.set_xlabel("batch")
    ax.set_ylabel("signed lateral deviation (cm)")
    ax.legend(frameon=False, fontsize=8)
    return _save(fig, path)


def preferred_directions(panels: Mapping[str, np.ndarray], path, bins: int = 16) -> Path:
    """Polar histograms of hidden units' preferred directions, one panel per (method, effector)."""
    plt = _plt()
    n = max(len(panels), 1)
    fig = plt.figure(figsize=(3.6 * n, 3.2))
    fig.subplots_adjust(wspace=0.6)
    for i, (name, pd) in enumerate(panels.items()):
        ax = fig.add_subplot(1, n, i + 1, projection="polar")
        counts, edges = np.histogram(np.asarray(pd, dtype=float), bins=bins, range=(-np.pi, np.pi))
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", alpha=0.7)
        ax.set_title(f"{name} (n={len(pd)})", fontsize=9, pad=14)
        ax.set_yticklabels([])
        ax.tick_params(labelsize=7)
    return _save(fig, path)
