"""Train a stable-baselines3 PPO agent on a registered task, on one batched engine.

Run from the repository root::

    python -m agents.ppo --env-id motornet/PointMassReach-v0
    python -m agents.ppo --env-id motornet/Arm26Reach-v0 --time-budget-s 1200 --out-dir runs/ppo_arm
    python -m agents.ppo --resume runs/ppo_arm --total-steps 20000000   # continue (or extend) a run

Hyperparameters come from ``agents/hyperparams/ppo.yaml`` (the entry of ``--env-id``, over its
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
class PPOConfig(RLConfig):
    """Configuration of a PPO run."""

    algorithm: ClassVar[str] = "ppo"
    out_dir: str = "runs/ppo"


def train(config: PPOConfig) -> dict[str, Any]:
    """Run (or resume) PPO training; returns the summary (also written to ``summary.json``)."""
    return _train(config)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    run_cli(PPOConfig, argv, __doc__)


if __name__ == "__main__":
    main()
