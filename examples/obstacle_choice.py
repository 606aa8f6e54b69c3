"""Obstacle choice: reach past an obstacle that can be passed on either side; which side, how consistently?

A reach of 15 cm to the right with a disc obstacle (radius 2 cm) in the middle of the straight
path: the two ways round it are equally good, so the controller has to choose (the "two paths"
case the MotorNet reviewers raised; Kaufman et al. 2015, eLife 4:e04677). The task adds an
``obstacle`` cost term (penetration depth into the disc, m, weighted 20) to the usual position and
effort terms, shows the obstacle centre as an observation cue, and, with ``terminate_on_contact``,
ends the episode when the hand enters the disc (Gymnasium ``terminated``). A GRU is trained by
backprop and an SB3 PPO agent by RL, with the repository's trainers (``agents.backprop``,
``agents.ppo``) and the same seeds; for each we report the side each seed chooses (sign of the
hand's lateral position where it passes the obstacle) and how consistently over the evaluation
trials and the seeds.

Run from the repository root::

    python -m examples.obstacle_choice --quick     # < 1 min: a smoke test
    python -m examples.obstacle_choice             # 3 seeds, 800 batches / 1M PPO steps per seed
    python -m examples.obstacle_choice --effector point_mass --out runs/examples/obstacle_point_mass

Writes ``<out>/summary.json`` (per method and seed: side, fraction of trials on that side, final
error, contact fraction).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import motornet_gym as mg
from agents.backprop import BackpropConfig
from agents.backprop import train as train_backprop
from agents.ppo import PPOConfig
from agents.ppo import train as train_ppo
from motornet_gym.analysis import evaluate
from motornet_gym.dynamics import presets
from motornet_gym.tasks import CentreOut, CentreOutConfig

ENV_ID = "examples/ObstacleChoice-v0"
#: The same task on the point mass (a plant symmetric about the reach axis).
POINT_MASS_ENV_ID = "examples/ObstacleChoicePointMass-v0"


@dataclass(frozen=True, kw_only=True)
class ObstacleConfig(CentreOutConfig):
    """Centre-out to one target (0 rad) with a disc obstacle half-way.

    Attributes:
        obstacle_radius: m.
        obstacle_weight: Weight of the penetration depth (per m).
        terminate_on_contact: End the episode when the hand enters the disc.
    """

    reach_distance: float = 0.15
    n_targets: int = 1
    obstacle_radius: float = 0.02
    obstacle_weight: float = 20.0
    terminate_on_contact: bool = False


class ObstacleChoice(CentreOut):
    """Reach to the right past a disc obstacle centred half-way along the straight path."""

    config_class = ObstacleConfig
    config: ObstacleConfig

    def __init__(self, effector, config=None):
        super().__init__(effector, config)
        self.cost_weights = {**self.cost_weights, "obstacle": self.config.obstacle_weight}

    def _straight_ahead(self, ts):
        right = torch.zeros_like(ts.start)
        right[:, 0] = self.config.reach_distance
        return ts._replace(target=ts.start + right)

    def sample_train(self, batch_size, generator):
        """Centre-out trials (go cue, catch trials), every target to the right."""
        return self._straight_ahead(super().sample_train(batch_size, generator))

    def sample_eval(self):
        """One trial: the target to the right."""
        return self._straight_ahead(super().sample_eval())

    def _centre(self, task_state):
        return 0.5 * (task_state.start + task_state.target)

    def _depth(self, task_state, hand):
        gap = torch.linalg.vector_norm(hand - self._centre(task_state), dim=-1)
        return torch.relu(self.config.obstacle_radius - gap)

    def cost(self, task_state, effector_state, action, step):
        """Position and effort, plus the penetration depth into the obstacle (m)."""
        terms = super().cost(task_state, effector_state, action, step)
        return {**terms, "obstacle": self._depth(task_state, effector_state.fingertip_pos)}

    def terminated(self, task_state, effector_state, step):
        """Contact ends the episode when ``terminate_on_contact``."""
        hit = self._depth(task_state, effector_state.fingertip_pos) > 0
        return hit & self.config.terminate_on_contact

    def observation_extras(self, task_state, step):
        """Target and go cue, plus the obstacle centre (m)."""
        return super().observation_extras(task_state, step) + (("obstacle", self._centre(task_state)),)


for _id, _effector in ((ENV_ID, presets.arm26), (POINT_MASS_ENV_ID, presets.point_mass_24)):
    if _id not in mg.ENV_SPECS:
        mg.register(_id, effector=_effector, task=ObstacleChoice, description="Reach past a disc obstacle.")

NOISE = {"action_noise": 0.01, "proprioception_noise": 0.001, "vision_noise": 0.001}


def side_report(rec) -> dict:
    """Side (+1 above, -1 below the straight line) where the hand passes the obstacle, per trial."""
    x = rec.fingertip_pos[:, :, 0] - rec.start[None, :, 0]
    y = rec.fingertip_pos[:, :, 1] - rec.start[None, :, 1]
    half = 0.5 * (rec.target[:, 0] - rec.start[:, 0])
    sides, depth = [], []
    for b in range(x.shape[1]):
        k = np.flatnonzero(x[:, b] >= half[b])
        sides.append(float(np.sign(y[k[0], b])) if k.size else 0.0)
        gap = np.hypot(x[:, b] - half[b], y[:, b])
        depth.append(float((gap < 0.02).any()))
    sides = np.asarray(sides)
    majority = float(np.sign(sides.sum())) if sides.any() else 0.0
    return {
        "side": {1.0: "above", -1.0: "below", 0.0: "none"}[majority],
        "fraction_on_side": float(np.mean(sides == majority)) if majority else 0.0,
        "contact_fraction": float(np.mean(depth)),
        "final_error_cm": float(np.linalg.norm(rec.fingertip_pos[-1] - rec.target, axis=-1).mean() * 100),
    }


def main(argv: list[str] | None = None) -> dict:
    """Train both methods on each seed; returns the summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke test: 1 seed, a few batches / steps")
    p.add_argument("--out", default="runs/examples/obstacle_choice")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--evaluate-only", action="store_true", help="re-evaluate the runs already in --out")
    p.add_argument("--effector", choices=["arm26", "point_mass"], default="arm26")
    args = p.parse_args(argv)
    env_id = ENV_ID if args.effector == "arm26" else POINT_MASS_ENV_ID
    seeds = range(1 if args.quick else args.seeds)
    out = Path(args.out)
    summary: dict = {"backprop": {}, "ppo": {}}
    n_eval = 2 if args.quick else 16
    for seed in seeds:
        bp_dir = out / f"backprop_{seed}"
        ppo_dir = out / f"ppo_{seed}"
        if not args.evaluate_only:
            _train(env_id, args.quick, seed, bp_dir, ppo_dir)
        policy, _ = mg.policies.load_policy(bp_dir / "policy.pt")
        summary["backprop"][seed] = _evaluate(env_id, policy, n_eval)
        summary["ppo"][seed] = _evaluate(env_id, mg.sb3_agents.load_agent(ppo_dir), n_eval)
    for per_seed in summary.values():
        sides = [r["side"] for r in per_seed.values()]
        per_seed["seeds_on_majority_side"] = max(sides.count("above"), sides.count("below")) / len(sides)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return summary


def _train(env_id: str, quick: bool, seed: int, bp_dir: Path, ppo_dir: Path) -> None:
    """Backprop and PPO on ``env_id`` with the repository's trainers."""
    train_backprop(BackpropConfig(
        env_id=env_id, env_kwargs=NOISE, seed=seed, out_dir=str(bp_dir), progress=False,
        n_batches=3 if quick else 800, batch_size=16 if quick else 64, hidden_size=32 if quick else 128,
        hidden_noise=0.01, eval_every=10_000, compile=not quick,
    ))  # fmt: skip
    train_ppo(PPOConfig(
        env_id=env_id, env_kwargs=NOISE, seed=seed, out_dir=str(ppo_dir), progress=False,
        total_steps=2048 if quick else 1_000_000, n_envs=16 if quick else None,
        eval_every=10**9, checkpoint_every=10**9,
    ))  # fmt: skip


def _evaluate(env_id: str, controller, n: int) -> dict:
    """Side report over ``n`` noisy runs of the evaluation trial (go cue at 0.1 s, no catch trial)."""
    return _merge([evaluate(controller, env_id, seed=s, env_kwargs=NOISE) for s in range(n)])


def _merge(recs) -> dict:
    """Side report over several evaluation batches (one record each)."""
    reports = [side_report(r) for r in recs]
    sides = [r["side"] for r in reports]
    majority = max(("above", "below", "none"), key=sides.count)
    return {
        "side": majority,
        "fraction_on_side": float(
            np.mean([r["fraction_on_side"] if r["side"] == majority else 0.0 for r in reports])
        ),
        "contact_fraction": float(np.mean([r["contact_fraction"] for r in reports])),
        "final_error_cm": float(np.mean([r["final_error_cm"] for r in reports])),
    }


if __name__ == "__main__":
    main()
