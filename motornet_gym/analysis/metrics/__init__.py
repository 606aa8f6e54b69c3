"""Behavioural metrics of reaching trials: endpoint accuracy, straightness, speed, jerk, effort, loads.

Every function is pure and numpy-only. Positions are fingertip paths in metres, time-major: one trial
is ``(T, 2)``, a batch of ``B`` trials is ``(T, B, 2)``. Functions marked *batched* accept either and
return a ``float`` for one trial or a ``(B,)`` array for a batch; points (``target``, ``start``,
``end``) are ``(2,)`` (shared by all trials) or ``(B, 2)``. Time ``t = k * dt`` is measured from the
first sample (``k = 0``). Degenerate cases (zero-length reach, no movement) give ``nan``, never an
exception, so a poor controller still gets a report; malformed arguments raise ``ValueError``.

One module per concept: :mod:`.endpoint` (final and hold error, time to target),
:mod:`.straightness` (lateral and perpendicular deviation, path-length ratio), :mod:`.speed_profile`
(speed, minimum-jerk template and correlation, normalised jerk), :mod:`.muscles` (effort,
co-contraction) and :mod:`.loads` (perturbation responses, force-field effects). Use them through
this package (``motornet_gym.analysis.metrics.final_error``).
"""

from ._checks import Scalar
from .endpoint import final_error, hold_error, time_to_target
from .loads import (
    ForceFieldEffects,
    PerturbationResponse,
    force_field_effects,
    perturbation_response,
    signed_max_deviation,
)
from .muscles import co_contraction_index, effort
from .speed_profile import (
    MOVEMENT_FRACTION,
    minimum_jerk_correlation,
    minimum_jerk_speed,
    normalised_jerk,
    peak_speed,
    primary_movement,
    speed,
    time_to_peak_speed,
)
from .straightness import lateral_deviation, max_perpendicular_deviation, path_length_ratio

__all__ = [
    "MOVEMENT_FRACTION",
    "ForceFieldEffects",
    "PerturbationResponse",
    "Scalar",
    "co_contraction_index",
    "effort",
    "final_error",
    "force_field_effects",
    "hold_error",
    "lateral_deviation",
    "max_perpendicular_deviation",
    "minimum_jerk_correlation",
    "minimum_jerk_speed",
    "normalised_jerk",
    "path_length_ratio",
    "peak_speed",
    "perturbation_response",
    "primary_movement",
    "signed_max_deviation",
    "speed",
    "time_to_peak_speed",
    "time_to_target",
]
