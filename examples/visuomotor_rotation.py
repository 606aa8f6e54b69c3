"""Visuomotor rotation: the cursor is rotated 30 degrees about the start; the controller adapts.

The classic adaptation paradigm (Krakauer et al. 2000, J Neurosci 20:8916): the hand is seen
through a cursor rotated about the start position, and the reach must aim the *cursor* at the
target. The task rotates the vision channel of the observation (the :meth:`Task.observe` hook) and
charges the cursor's distance to the target (its :meth:`Task.cost`); proprioception stays veridical.
A GRU is first trained without rotation, then adapted with the rotation on (Adam, lr 1e-4, as the
curl-field protocol of ``agents/adaptation.py``), directly on :func:`motornet_gym.rollout` (the
differentiable API, no trainer). The adaptation curve is the cursor's initial direction error
(angle between the cursor's displacement 150 ms after the go cue and the target direction) on the
8-target evaluation suite after each adaptation batch.

Run from the repository root::

    python -m examples.visuomotor_rotation --quick   # < 1 min: a smoke test
    python -m examples.visuomotor_rotation           # 1000 baseline + 300 adaptation batches

Writes ``<out>/summary.json`` and ``<out>/adaptation.png``.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import motornet_gym as mg
from motornet_gym.dynamics import presets
from motornet_gym.tasks import CentreOut, CentreOutConfig

ENV_ID = "examples/VisuomotorRotation-v0"


@dataclass(frozen=True, kw_only=True)
class RotationConfig(CentreOutConfig):
    """Centre-out plus the cursor rotation.

    Attributes:
        rotation_deg: Counter-clockwise rotation of the cursor about the start, degrees.
    """

    rotation_deg: float = 0.0


class VisuomotorRotation(CentreOut):
    """Centre-out reaches seen through a cursor rotated about the start (cost on the cursor)."""

    config_class = RotationConfig
    config: RotationConfig

    def cursor(self, task_state, hand: torch.Tensor) -> torch.Tensor:
        """``(B, 2)`` m: ``hand`` rotated by ``rotation_deg`` about the start."""
        a = math.radians(self.config.rotation_deg)
        c, s = math.cos(a), math.sin(a)
        d = hand - task_state.start
        return task_state.start + torch.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], -1)

    def observe(self, task_state, parts, step):
        """Vision shows the cursor, not the hand."""
        return {**parts, "vision": self.cursor(task_state, parts["vision"])}

    def cost(self, task_state, effector_state, action, step):
        """The default terms, with ``position`` measured from the cursor."""
        terms = super().cost(task_state, effector_state, action, step)
        desired = self.desired_position(task_state, step)
        cur = self.cursor(task_state, effector_state.fingertip_pos)
        return {**terms, "position": torch.linalg.vector_norm(cur - desired, dim=-1)}


if ENV_ID not in mg.ENV_SPECS:
    mg.register(
        ENV_ID, effector=presets.arm26, task=VisuomotorRotation, description="Rotated-cursor reaches."
    )

NOISE = {"action_noise": 0.01, "proprioception_noise": 0.001, "vision_noise": 0.001}


def direction_error_deg(sim, policy, probe_s: float = 0.15) -> float:
    """Mean |angle| between the cursor's displacement ``probe_s`` after the go cue and the target."""
    with torch.no_grad():
        policy.eval()
        traj = mg.rollout(sim, policy, seed=0, options={"suite": "eval"})
        policy.train()
    ts = sim.state.task
    k = int(ts.go_step[0]) + round(probe_s / sim.dt) - 1
    cur = sim.task.cursor(ts, traj.fingertip_pos[k]) - ts.start
    aim = ts.target - ts.start
    ang = torch.atan2(cur[:, 1], cur[:, 0]) - torch.atan2(aim[:, 1], aim[:, 0])
    return float(torch.rad2deg(torch.atan2(torch.sin(ang), torch.cos(ang))).abs().mean())


def run(sim, policy, opt, n_batches: int, seed0: int, curve=None, eval_sim=None) -> None:
    """``n_batches`` of Adam on the mean task cost (optionally recording the direction error)."""
    for k in range(n_batches):
        traj = mg.rollout(sim, policy, seed=seed0 + k)
        loss = traj.cost.mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        if curve is not None:
            curve.append(direction_error_deg(eval_sim, policy))


def main(argv: list[str] | None = None) -> dict:
    """Baseline, then adaptation; returns the summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke test: a few batches, small network")
    p.add_argument("--out", default="runs/examples/visuomotor_rotation")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    base_n, adapt_n = (3, 3) if args.quick else (1000, 300)
    batch, hidden = (16, 32) if args.quick else (64, 128)
    torch.manual_seed(args.seed)
    kw = {**NOISE, "compile": False, "episode_duration": 0.5} if args.quick else {**NOISE, "compile": "auto"}
    normal = mg.make_simulator(ENV_ID, batch_size=batch, **kw)
    rotated = mg.make_simulator(ENV_ID, batch_size=batch, rotation_deg=30.0, **kw)
    eval_normal = mg.make_simulator(ENV_ID, batch_size=8, **kw)
    eval_rotated = mg.make_simulator(ENV_ID, batch_size=8, rotation_deg=30.0, **kw)
    policy = mg.policies.GRUPolicy(normal.observation_size, normal.action_size, hidden, hidden_noise=0.01)
    run(normal, policy, torch.optim.Adam(policy.parameters(), lr=1e-3), base_n, 10_000 * args.seed)
    before = direction_error_deg(eval_normal, policy)
    curve = [direction_error_deg(eval_rotated, policy)]
    run(rotated, policy, torch.optim.Adam(policy.parameters(), lr=1e-4), adapt_n, 10_000 * args.seed + base_n,
        curve, eval_rotated)  # fmt: skip
    after_effect = direction_error_deg(eval_normal, policy)
    result = {
        "baseline_batches": base_n,
        "adaptation_batches": adapt_n,
        "env_steps": (base_n + adapt_n) * batch * normal.max_steps,
        "direction_error_deg_baseline": before,
        "direction_error_deg_first_rotated": curve[0],
        "direction_error_deg_end_of_adaptation": curve[-1],
        "direction_error_deg_after_effect": after_effect,
        "curve_deg": curve,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    _plot(curve, out / "adaptation.png")
    print(json.dumps({k: v for k, v in result.items() if k != "curve_deg"}, indent=2))
    return result


def _plot(curve: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(np.arange(len(curve)), curve, "k.-", ms=3)
    ax.axhline(30, ls=":", color="0.5")
    ax.set_xlabel("adaptation batch")
    ax.set_ylabel("cursor direction error (deg)")
    ax.set_title("30 deg visuomotor rotation")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
