"""Train a stable-baselines3 SAC agent on a registered task, on one batched engine.

Run from the repository root::

    python -m agents.sac --env-id motornet/PointMassReach-v0
    python -m agents.sac --env-id motornet/Arm26Reach-v0 --time-budget-s 1200 --out-dir runs/sac_arm
    python -m agents.sac --resume runs/sac_arm --total-steps 20000000   # continue (or extend) a run
    python -m agents.sac --env-id motornet/Arm26Reach-v0 --device cuda  # networks on the GPU

Checkpoints hold the replay buffer by default (``--no-save-replay-buffer``: smaller checkpoints, but
a resumed run then refills an empty buffer instead of continuing exactly).

Hyperparameters come from ``agents/hyperparams/sac.yaml`` (the entry of ``--env-id``, over its
``default`` entry; ``--hyperparams-override '{"batch_size": 512}'`` on top). Reward = -cost, the same
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
class SACConfig(RLConfig):
    """Configuration of a SAC run."""

    algorithm: ClassVar[str] = "sac"
    out_dir: str = "runs/sac"


def train(config: SACConfig) -> dict[str, Any]:
    """Run (or resume) SAC training; returns the summary (also written to ``summary.json``)."""
    return _train(config)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    run_cli(SACConfig, argv, __doc__)


if __name__ == "__main__":
    main()
