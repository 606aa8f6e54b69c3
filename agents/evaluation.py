"""Evaluation on a task's fixed evaluation suite, shared by every training script.

The same trials, the same noise seed and the same metrics for every controller, so numbers from
the backprop trainer and the RL scripts are directly comparable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

import motornet_gym as mg

#: ``act(obs (B, O), hidden) -> (action (B, M), hidden)``; ``hidden`` starts as ``None``.
Controller = Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]

EVAL_SEED = 12345


def suite_simulator(env_id: str, env_kwargs: dict[str, Any] | None = None, device: Any = "cpu"):
    """A simulator whose batch is exactly the task's evaluation suite."""
    kwargs = dict(env_kwargs or {})
    probe = mg.make_simulator(env_id, batch_size=1, **kwargs)
    return mg.make_simulator(env_id, batch_size=probe.task.eval_size, device=device, **kwargs)


@torch.no_grad()
def evaluate_controller(
    act: Controller, env_id: str, env_kwargs: dict[str, Any] | None = None, device: Any = "cpu"
) -> dict[str, float]:
    """Run ``act`` on the evaluation suite; return summary metrics.

    Returns:
        ``final_error_cm``: mean distance (cm) between the fingertip and where the task wants it
        (the target, or the start on catch trials) at the last step; ``final_error_cm_median``;
        ``cost``: mean per-step task cost; ``cost/<term>``: mean of each cost term.
    """
    sim = suite_simulator(env_id, env_kwargs, device)
    obs, info = sim.reset(seed=EVAL_SEED, options={"suite": "eval"})
    hidden = None
    costs, terms = [], {}
    for _ in range(sim.max_steps):
        action, hidden = act(obs, hidden)
        obs, reward, _, _, info = sim.step(action.to(obs).clamp(0.0, 1.0))
        costs.append(info["cost"])
        for k, v in info["cost_terms"].items():
            terms.setdefault(k, []).append(v)
    err = (info["fingertip_pos"] - info["desired_pos"]).norm(dim=-1) * 100.0
    out = {
        "final_error_cm": float(err.mean()),
        "final_error_cm_median": float(err.median()),
        "cost": float(torch.stack(costs).mean()),
    }
    out.update({f"cost/{k}": float(torch.stack(v).mean()) for k, v in terms.items()})
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
