"""Per-trial analysis: the phenomena values of one trial from its evaluation records.

Computed by the runner (``eval.json``) and again by the report from the saved records, so a report
always reflects the current measures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from motornet_gym.analysis import phenomena as PH
from motornet_gym.analysis.evaluate import EvaluationRecord


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


def representation(rec: EvaluationRecord | None) -> dict[str, Any]:
    """Bimodality of the load-tuned hidden units' preferred directions in a posture-suite record.

    ``{}`` without a record or without hidden state (see
    :func:`~motornet_gym.analysis.phenomena.load_preferred_directions`).
    """
    if rec is None or rec.hidden is None:
        return {}
    pd = PH.load_preferred_directions(rec.hidden, rec.endpoint_load, rec.dt)
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
    rep = {"arm": representation(recs.get("posture"))}
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
