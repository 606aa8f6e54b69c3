"""Evaluation on a task's fixed evaluation suite, shared by every training script.

A thin layer over :func:`motornet_gym.analysis.evaluate` (the one evaluation path, also used by
``agents.compare``): the same trials, the same noise seed and the same metrics for every
controller, so numbers from the backprop trainer, the RL scripts and the comparison report are
directly comparable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from motornet_gym.analysis import evaluate

#: ``act(obs (B, O), hidden) -> (action (B, M), hidden)``; ``hidden`` starts as ``None``.
Controller = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]

#: Noise seed of every evaluation during training and in the comparison report.
EVAL_SEED = 0

#: Metrics logged at each training-time evaluation (the report computes more).
LOGGED = ("final_error_cm", "hold_error_cm", "time_to_target_s", "effort", "cost")


def evaluate_controller(
    act: Controller, env_id: str, env_kwargs: dict[str, Any] | None = None, device: Any = "cpu"
) -> dict[str, float]:
    """Run ``act`` on the evaluation suite; return summary metrics.

    Returns:
        ``final_error_cm``: mean distance (cm) at the last step between the fingertip and where the
        task wants it (the target, or the start on catch trials); ``final_error_cm_median``;
        ``hold_error_cm``, ``time_to_target_s``, ``effort``; ``cost``: mean per-step task cost.
    """
    rec = evaluate(act, env_id, seed=EVAL_SEED, env_kwargs=env_kwargs, device=device)
    summary = rec.summary()
    out = {k: summary[k] for k in LOGGED}
    out["final_error_cm_median"] = float(np.median(rec.metrics["final_error_cm"]))
    return out


def evaluate_policy(
    policy: torch.nn.Module, env_id: str, env_kwargs: dict[str, Any] | None = None, device: Any = "cpu"
) -> dict[str, float]:
    """:func:`evaluate_controller` for a :mod:`motornet_gym.policies` policy (deterministic)."""
    was_training = policy.training
    policy.eval()
    try:
        return evaluate_controller(lambda o, h: policy(o, h), env_id, env_kwargs, device)
    finally:
        policy.train(was_training)
