"""Train a sb3-contrib RecurrentPPO (LSTM) agent on a registered task, on one batched engine.

Run from the repository root::

    python -m agents.recurrent_ppo --env-id motornet/PointMassReach-v0
    python -m agents.recurrent_ppo --env-id motornet/Arm26Reach-v0 --time-budget-s 1200 --out-dir runs/rppo
    python -m agents.recurrent_ppo --resume runs/rppo --total-steps 20000000  # continue or extend

Hyperparameters come from ``agents/hyperparams/recurrent_ppo.yaml`` (the entry of ``--env-id``, over its
``default`` entry; ``--hyperparams-override '{"n_steps": 32}'`` on top). Reward = -cost, the same
cost the backprop trainer minimises; evaluations use :func:`agents.evaluation.evaluate_controller`.
The final agent (``<out_dir>/agent``) loads with :func:`motornet_gym.sb3_agents.load_agent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from agents._rl import RLConfig, inherit_field_docs, run_cli
from agents._rl import train as _train


@inherit_field_docs
@dataclass(frozen=True, kw_only=True)
class RecurrentPPOConfig(RLConfig):
    """Configuration of a RecurrentPPO run."""

    algorithm: ClassVar[str] = "recurrent_ppo"
    out_dir: str = "runs/recurrent_ppo"


def train(config: RecurrentPPOConfig) -> dict[str, Any]:
    """Run (or resume) RecurrentPPO training; returns the summary (also written to ``summary.json``)."""
    return _train(config)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    run_cli(RecurrentPPOConfig, argv, __doc__)


if __name__ == "__main__":
    main()
