"""The published phenomena of trained reaching controllers, as checks with pass/fail bounds.

Each :class:`Check` names a behaviour that trained networks (Codol et al. 2024,
doi:10.7554/eLife.88591) and humans show, the quantity that measures it, and the range that counts
as a pass. The measures are pure functions of evaluation records (numpy arrays, SI units) so they
can be tested on synthetic trajectories; :func:`check_table` turns per-seed values into rows
``(check, value with a bootstrap interval over seeds, reference, pass/fail)``.

**The movement window.** Kinematic measures of "the reach" (bell shape, movement time, path-length
ratio) use the primary movement: the contiguous samples around the speed peak where the speed exceeds
:data:`MOVEMENT_FRACTION` (10 %) of its peak. 10 % is the usual segmentation criterion for noisy
reaches; a 5 % window lets the jitter of a noisy hand at rest (a few cm/s) extend the window into
the hold period, where the speed profile is flat noise, not the reach (on the same reaches: 0.48
with 5 %, 0.87 with 10 %). The path-length ratio is the reach's too (path length over the chord of
the window, as straightness is measured for human reaches): over the whole trial, motor noise at
rest adds path without curving the reach (a hand jittering at 7 cm/s for 0.6 s adds 4 cm to a 10 cm
reach), and holding still is what the "stops at the target" checks measure. The metric table keeps
the whole-trial ratio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import metrics as M
from .metrics import MOVEMENT_FRACTION
from .neural import bimodality_index, cosine_tuning
from .stats import summarize

#: Length of the final hold window, s, over which the hand must stay near the target.
HOLD_WINDOW_S = 0.2
#: Distance from the unperturbed path that counts as "returned" after a pulse, m.
RETURN_THRESHOLD = 0.01
#: Significance level of the Rayleigh test on doubled preferred directions.
BIMODAL_ALPHA = 0.01


@dataclass(frozen=True)
class Check:
    """One phenomenon check.

    Attributes:
        key: Name of the measured value (a key of the per-seed value dicts).
        group: Phenomenon the check belongs to (a row group of the report).
        label: What is measured, with its unit.
        reference: The published behaviour and its source.
        low: Smallest passing value (``None``: unbounded).
        high: Largest passing value (``None``: unbounded).
    """

    key: str
    group: str
    label: str
    reference: str
    low: float | None = None
    high: float | None = None

    def passes(self, value: float) -> bool:
        """Whether ``value`` is finite and within ``[low, high]``."""
        if not math.isfinite(value):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def bounds(self) -> str:
        """The passing range as text (``<= 1``, ``>= 0.9``, ``0.2 - 0.6``)."""
        if self.low is not None and self.high is not None:
            return f"{self.low:g} - {self.high:g}"
        return f">= {self.low:g}" if self.low is not None else f"<= {self.high:g}"


_FLASH_HOGAN = "Flash & Hogan 1985, doi:10.1523/JNEUROSCI.05-07-01688.1985"
_MORASSO = "Morasso 1981, doi:10.1007/BF00236911"
CHECKS: tuple[Check, ...] = (
    Check(
        "max_lateral_cm",
        "straight reaches",
        "max lateral deviation from the start-target line, cm",
        f"near-straight hand paths ({_MORASSO})",
        high=1.0,
    ),
    Check(
        "path_length_ratio",
        "straight reaches",
        "path length / chord of the primary movement (speed > 10 % of peak)",
        f"near-straight hand paths ({_MORASSO})",
        high=1.1,
    ),
    Check(
        "minimum_jerk_r",
        "bell-shaped speed",
        "speed correlation with minimum jerk, primary movement",
        f"bell-shaped speed profile ({_FLASH_HOGAN})",
        low=0.9,
    ),
    Check(
        "final_error_cm",
        "stops at the target",
        "distance to the target at the end of the trial, cm",
        "trained networks stop at the target (Codol et al. 2024, fig. 4)",
        high=1.0,
    ),
    Check(
        "hold_max_cm",
        "stops at the target",
        "largest distance to the target over the last 200 ms, cm",
        "no limit cycle: the hand stays at the target",
        high=1.0,
    ),
    Check(
        "peak_speed",
        "human-range kinematics",
        "peak speed of a 10 cm reach, m/s",
        f"human 10 cm reaches peak at 0.2-0.6 m/s ({_MORASSO}; {_FLASH_HOGAN})",
        low=0.2,
        high=0.6,
    ),
    Check(
        "movement_time_s",
        "human-range kinematics",
        "movement time (speed > 10 % of peak), s",
        "human 10 cm reaches last 0.3-0.7 s (Gordon et al. 1994, doi:10.1007/BF00227302)",
        low=0.3,
        high=0.7,
    ),
    Check(
        "return_time_s",
        "feedback corrections",
        "slowest return within 1 cm of the unperturbed path over the reaches, s",
        "rapid feedback corrections within a few hundred ms (Scott 2004, doi:10.1038/nrn1427; "
        "Codol et al. 2024, fig. 5)",
        high=0.4,
    ),
    Check(
        "ff_first_cm",
        "curl field",
        "first-exposure lateral deviation from the NF1 baseline, cm",
        "a curl field deflects the reach (Shadmehr & Mussa-Ivaldi 1994, "
        "doi:10.1523/JNEUROSCI.14-05-03208.1994)",
        low=1.0,
    ),
    Check(
        "ff_first_over_null",
        "curl field",
        "first-exposure deviation / null-field deviation",
        "the deflection stands out of the baseline variability",
        low=3.0,
    ),
    Check(
        "ff_adapted_fraction",
        "curl field",
        "deviation at the end of FF1 / first exposure",
        "adaptation removes most of the deviation (Shadmehr & Mussa-Ivaldi 1994)",
        high=0.3,
    ),
    Check(
        "aftereffect_sign",
        "curl field",
        "sign of the first NF2 deviation vs FF1's, both from the NF1 baseline (-1 = opposite)",
        "after-effect of opposite sign in washout (Shadmehr & Mussa-Ivaldi 1994)",
        high=-0.5,
    ),
    Check(
        "savings_batches",
        "curl field",
        "batches to criterion in FF1 minus in FF2",
        "savings: faster relearning of a second exposure (eLife reviewed preprint 107423)",
        low=1.0,
    ),
    Check(
        "pd_bimodal_arm",
        "effector shapes representation",
        "Rayleigh test on doubled preferred directions of hidden units, holding against loads in 16 "
        "directions, arm26 (1 = bimodal at p < 0.01)",
        "bimodal preferred directions for a two-joint arm (monkey M1 under limb loads and networks "
        "optimised to control the limb: Lillicrap & Scott 2013, doi:10.1016/j.neuron.2012.12.033; "
        "Codol et al. 2024, fig. 6)",
        low=0.5,
    ),
    Check(
        "pd_bimodal_point_mass",
        "effector shapes representation",
        "the same test for the point mass (0 = not bimodal)",
        "no bimodality without the arm's anisotropic mechanics (Codol et al. 2024, fig. 6)",
        high=0.5,
    ),
)
CHECK_KEYS = tuple(c.key for c in CHECKS)


# ----------------------------------------------------------------------------- per-trial measures
def reach_measures(
    pos: np.ndarray, start: np.ndarray, target: np.ndarray, go_step: np.ndarray, dt: float
) -> dict[str, np.ndarray]:
    """Per-trial kinematic measures of reaches (one value per trial; catch trials excluded by the caller).

    Args:
        pos: Fingertip paths ``(T, B, 2)``, m (sample 0 = the initial position).
        start: ``(B, 2)`` m.
        target: ``(B, 2)`` m.
        go_step: ``(B,)`` sample index of the go cue (0 without one).
        dt: Sample interval, s.

    Returns:
        ``max_lateral_cm``, ``path_length_ratio``, ``minimum_jerk_r``, ``final_error_cm``,
        ``hold_max_cm``, ``peak_speed`` (m/s), ``movement_time_s``: each ``(B,)``.
    """
    p = np.asarray(pos, dtype=float)
    if p.ndim != 3 or p.shape[-1] != 2 or p.shape[0] < 3:
        raise ValueError(f"pos must have shape (T >= 3, B, 2); got {p.shape}")
    b = p.shape[1]
    hold = max(1, int(round(HOLD_WINDOW_S / dt)))
    out = {
        k: np.full(b, np.nan)
        for k in ("max_lateral_cm", "path_length_ratio", "minimum_jerk_r", "peak_speed", "movement_time_s")
    }
    dist = np.linalg.norm(p - np.asarray(target, dtype=float)[None], axis=-1)  # (T, B)
    out["final_error_cm"] = 100 * dist[-1]
    out["hold_max_cm"] = 100 * dist[-hold:].max(0)
    for i in range(b):
        g = int(min(max(int(go_step[i]), 0), p.shape[0] - 3))
        path = p[g:, i]
        out["max_lateral_cm"][i] = 100 * M.max_perpendicular_deviation(path, start[i], target[i])
        out["minimum_jerk_r"][i] = M.minimum_jerk_correlation(path, dt, MOVEMENT_FRACTION)
        v = M.speed(path, dt)
        out["peak_speed"][i] = v.max()
        i0, i1 = M.primary_movement(v, MOVEMENT_FRACTION)
        out["path_length_ratio"][i] = M.path_length_ratio(path[i0 : max(i1, i0 + 1) + 1])
        out["movement_time_s"][i] = (i1 - i0 + 1) * dt
    return out


def return_times(pos: np.ndarray, reference_pos: np.ndarray, dt: float, onset_step: int) -> np.ndarray:
    """Per-trial time (s) from pulse onset until the hand stays within 1 cm of the unperturbed path.

    ``nan`` for a trial that never returns (a failed correction counts as a failure, not as missing).
    """
    resp = M.perturbation_response(pos, reference_pos, dt, onset_step, threshold=RETURN_THRESHOLD)
    return np.atleast_1d(np.asarray(resp.time_to_return, dtype=float))


def batches_to_criterion(deviation: np.ndarray, criterion: float, smooth: int = 3) -> int:
    """First batch (1-based) where the ``smooth``-batch running mean of ``|deviation|`` is <= ``criterion``.

    ``len(deviation) + 1`` if it never is (censored).
    """
    d = np.abs(np.asarray(deviation, dtype=float))
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"deviation must be a non-empty 1-D array; got shape {d.shape}")
    w = max(1, min(int(smooth), d.size))
    run = np.convolve(d, np.ones(w) / w, mode="valid")  # run[k] = mean of d[k : k + w]
    hit = np.flatnonzero(run <= criterion)
    return int(hit[0]) + 1 if hit.size else d.size + 1


def adapted_batches(n: int) -> int:
    """How many of a field block's last batches count as "after adaptation": the last 10 %, at least 1."""
    return max(1, int(round(0.1 * n)))


def curl_field_measures(blocks: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Measures of the NF1 -> FF1 -> NF2 -> FF2 block design from per-batch signed lateral deviations.

    Args:
        blocks: ``{"NF1", "FF1", "NF2", "FF2"} -> (n_batches,)`` signed lateral deviation (cm) of the
            controller at each batch of the block (measured before that batch's update).

    Returns:
        ``ff_first_cm`` (|FF1 batch 1 - NF1 mean|), ``ff_first_over_null`` (|FF1 batch 1| over the
        mean |NF1|), ``ff_adapted_fraction`` (|mean of FF1's last :func:`adapted_batches`| / |FF1
        batch 1|), ``aftereffect_sign`` (sign of NF2 batch 1 relative to the NF1 baseline, times the
        sign of FF1 batch 1 relative to it: -1 = opposite), ``savings_batches`` (batches to criterion
        in FF1 minus FF2, over the first ``min(len(FF1), len(FF2))`` batches; criterion: half the
        first-exposure deviation; nan when neither block reaches it), and the raw
        ``ff1_batches_to_criterion`` / ``ff2_batches_to_criterion``.
    """
    missing = [k for k in ("NF1", "FF1", "NF2", "FF2") if k not in blocks or len(blocks[k]) == 0]
    if missing:
        raise ValueError(f"blocks must hold non-empty NF1, FF1, NF2 and FF2; missing {missing}")
    nf1, ff1, nf2, ff2 = (np.asarray(blocks[k], dtype=float) for k in ("NF1", "FF1", "NF2", "FF2"))
    base = float(np.mean(nf1))
    first = abs(ff1[0] - base)
    null = float(np.mean(np.abs(nf1)))
    tail = adapted_batches(ff1.size)
    criterion = 0.5 * abs(ff1[0])
    n = min(ff1.size, ff2.size)
    n1 = batches_to_criterion(ff1[:n], criterion)
    n2 = batches_to_criterion(ff2[:n], criterion)
    censored = n1 > n and n2 > n
    return {
        "ff_first_cm": float(first),
        "ff_first_over_null": float(abs(ff1[0]) / max(null, 1e-9)),
        "ff_adapted_fraction": float(abs(ff1[-tail:].mean()) / abs(ff1[0])) if ff1[0] != 0 else math.nan,
        "aftereffect_sign": float(np.sign(nf2[0] - base) * np.sign(ff1[0] - base)),
        "savings_batches": math.nan if censored else float(n1 - n2),
        "ff1_batches_to_criterion": float(n1),
        "ff2_batches_to_criterion": float(n2),
    }


def rayleigh_p(angles: np.ndarray) -> float:
    """Rayleigh test p-value for a unimodal direction (Zar 2010, eq. 27.4 approximation).

    ``z = n R^2``, ``p = exp(sqrt(1 + 4 n + 4 (n^2 - (n R)^2)) - (1 + 2 n))``. Applied to doubled
    angles it tests for an axial (bimodal, opposite-cluster) distribution.
    """
    a = np.asarray(angles, dtype=float)
    a = a[np.isfinite(a)]
    n = a.size
    if n < 2:
        return math.nan
    r = float(np.abs(np.exp(1j * a).mean()))
    rn = r * n
    return float(min(1.0, math.exp(math.sqrt(1 + 4 * n + 4 * (n * n - rn * rn)) - (1 + 2 * n))))


def preferred_directions(
    hidden: np.ndarray,
    go_step: np.ndarray,
    directions: np.ndarray,
    dt: float,
    window_s: tuple[float, float] = (0.0, 0.3),
    min_r2: float = 0.5,
) -> np.ndarray:
    """Preferred reach directions (rad) of the well-tuned hidden units.

    Activity is the mean hidden state over ``window_s`` after the go cue (the movement epoch); units
    are cosine-fitted across reach directions (:func:`~motornet_gym.analysis.neural.cosine_tuning`)
    and kept when the fit explains at least ``min_r2`` of their variance.

    Args:
        hidden: ``(T, B, H)`` hidden state per step.
        go_step: ``(B,)`` step of the go cue.
        directions: ``(B,)`` reach directions, rad.
        dt: s.
        window_s: ``(start, end)`` s after the go cue.
        min_r2: Minimum coefficient of determination of a kept unit.
    """
    h = np.asarray(hidden, dtype=float)
    if h.ndim != 3:
        raise ValueError(f"hidden must have shape (T, B, H); got {h.shape}")
    k0, k1 = (int(round(w / dt)) for w in window_s)
    rates = np.stack([h[int(g) + k0 : int(g) + max(k1, k0 + 1), i].mean(0) for i, g in enumerate(go_step)])
    return _tuned_preferred_directions(rates, directions, min_r2)


def _tuned_preferred_directions(rates: np.ndarray, directions: np.ndarray, min_r2: float) -> np.ndarray:
    """Preferred directions of the units ``rates (B, H)`` whose cosine fit explains >= ``min_r2``."""
    fit = cosine_tuning(rates, directions)
    keep = np.isfinite(fit.r2) & (fit.r2 >= min_r2) & (fit.modulation > 1e-6)
    return fit.preferred_direction[keep]


#: Length of the steady-state window of the posture-with-loads suite, s: the last 500 ms of the
#: trial (the second half of a trial shorter than 1 s), after the response to the load's onset.
POSTURE_WINDOW_S = 0.5


def load_preferred_directions(
    hidden: np.ndarray,
    load: np.ndarray,
    dt: float,
    window_s: tuple[float, float] | None = None,
    min_r2: float = 0.5,
) -> np.ndarray:
    """Preferred directions (rad) of the well-tuned hidden units in the posture-with-loads paradigm.

    The load paradigm of the bimodality studies (monkey M1 and networks optimised to control the
    limb: Lillicrap & Scott 2013, doi:10.1016/j.neuron.2012.12.033):
    the hand holds a posture against a constant endpoint load in evenly spaced directions, and a
    unit's preferred direction is the direction of the force the limb must produce (opposite the
    load) that drives it most: a cosine fit of the mean activity over ``window_s`` (steady state)
    across load directions, keeping units whose fit explains at least ``min_r2`` of the variance.

    Args:
        hidden: ``(T, B, H)`` hidden state per step.
        load: ``(T, B, 2)`` N, endpoint load per step (constant over a trial).
        dt: s.
        window_s: ``(start, end)`` s from the trial start (None: the last :data:`POSTURE_WINDOW_S`,
            or the second half of a shorter trial).
        min_r2: Minimum coefficient of determination of a kept unit.
    """
    h = np.asarray(hidden, dtype=float)
    f = np.asarray(load, dtype=float)
    if h.ndim != 3 or f.ndim != 3 or f.shape[-1] != 2 or f.shape[1] != h.shape[1]:
        raise ValueError(
            f"hidden must be (T, B, H) and load (T, B, 2) with the same B; got {h.shape}, {f.shape}"
        )
    if window_s is None:
        length = h.shape[0] * dt
        window_s = (length - min(POSTURE_WINDOW_S, length / 2), length)
    k0, k1 = (int(round(w / dt)) for w in window_s)
    k1 = min(max(k1, k0 + 1), h.shape[0])
    if not 0 <= k0 < k1:
        raise ValueError(f"window_s {window_s} s lies outside the {h.shape[0] * dt:g} s trial")
    mean_load = f[k0:k1].mean(0)
    if np.any(np.linalg.norm(mean_load, axis=-1) == 0):
        raise ValueError("every trial of the posture suite needs a non-zero load")
    directions = np.arctan2(-mean_load[:, 1], -mean_load[:, 0])  # the force the limb produces
    return _tuned_preferred_directions(h[k0:k1].mean(0), directions, min_r2)


def bimodality(pd: np.ndarray) -> dict[str, float]:
    """Axial bimodality of preferred directions ``pd`` (rad).

    Returns ``bimodal`` (1.0 when the Rayleigh test on doubled angles rejects uniformity at
    :data:`BIMODAL_ALPHA` and the doubled angles are more concentrated than the raw ones, i.e. two
    opposite clusters rather than one; else 0.0), ``bimodality_index`` (resultant length of doubled angles),
    ``p`` and ``n_units``.
    """
    a = np.asarray(pd, dtype=float)
    p = rayleigh_p(2 * a)
    # Axial, not unimodal: a single cluster also concentrates its doubled angles, but less than its
    # raw ones (R1 = exp(-s^2 / 2) > R2 = exp(-2 s^2) for a wrapped normal of spread s).
    r1 = float(np.abs(np.exp(1j * a).mean())) if a.size else math.nan
    r2 = float(np.abs(np.exp(2j * a).mean())) if a.size else math.nan
    return {
        "bimodal": float(p < BIMODAL_ALPHA and r2 > r1) if math.isfinite(p) else math.nan,
        "bimodality_index": bimodality_index(pd) if np.size(pd) else math.nan,
        "p": p,
        "n_units": float(np.size(pd)),
    }


# ----------------------------------------------------------------------------- table
def check_table(
    per_seed: Mapping[str, Mapping[int, Mapping[str, float]]], methods: Sequence[str], seed: int = 0
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per method and check: the mean over seeds with a bootstrap interval, and pass/fail.

    Args:
        per_seed: ``method -> seed -> {check key -> value}`` (missing keys are skipped).
        methods: Methods in report order.
        seed: Seed of the bootstrap.

    Returns:
        ``method -> check key -> {"mean", "ci_low", "ci_high", "n", "pass"}``; the pass/fail is the
        mean's (an interval that straddles a bound is visible in the table).
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for m in methods:
        rows: dict[str, dict[str, Any]] = {}
        for c in CHECKS:
            vals = [v[c.key] for v in per_seed.get(m, {}).values() if c.key in v]
            if not vals:
                continue
            a = np.asarray(vals, dtype=float)
            if np.isfinite(a).all():
                s = summarize(a, seed=seed)
            else:  # a seed without a value: no mean, no interval (not silently averaged away)
                s = {"mean": math.nan, "iqm": math.nan, "ci_low": math.nan, "ci_high": math.nan}
            rows[c.key] = {**s, "n": int(a.size), "pass": c.passes(s["mean"])}
        out[m] = rows
    return out
