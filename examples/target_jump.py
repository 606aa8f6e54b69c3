"""Target jump: the target moves once the hand has left the start, and the controller corrects online.

A centre-out reach (10 cm, go cue) in which, on half of the trials, the target jumps 45 degrees
about the start as soon as the hand is 2 cm from it (Georgopoulos et al. 1981, J Neurophysiol
46:725; Prablanc & Martin 1992, J Neurophysiol 67:455). The task keeps its own episode state (the
jump target, whether and when it jumped), updated every step by :meth:`TargetJump.update`; the
target cue shows the current target. A GRU is trained by backprop through the arm on the task's
cost; the evaluation compares jumped and unjumped trials: where the hand ends, and when it turns
towards the new target (correction latency, from the jump to the first step at which the hand
velocity points closer to the new target than to the old one).

Run from the repository root::

    python -m examples.target_jump --quick      # < 1 min: a smoke test (untrained controller)
    python -m examples.target_jump              # 1500 batches of 64 episodes (~15 min on 2 cores)

Writes ``<out>/summary.json`` and ``<out>/target_jump.png`` (hand paths, jumped trials in colour).
Documented result (full mode, seed 0): see ``docs/extending.md`` "Target jump".
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

import motornet_gym as mg
from agents.backprop import BackpropConfig, train
from motornet_gym.analysis import evaluate
from motornet_gym.dynamics import presets
from motornet_gym.tasks import CentreOut, CentreOutConfig

ENV_ID = "examples/TargetJump-v0"


class JumpState(NamedTuple):
    """The centre-out fields, then the jump's own state (all ``(B, ...)``)."""

    joint_pos: torch.Tensor
    start: torch.Tensor
    target: torch.Tensor  # (B, 2) m, the current target (the jump target once jumped)
    go_step: torch.Tensor
    catch: torch.Tensor
    jump_target: torch.Tensor  # (B, 2) m
    will_jump: torch.Tensor  # (B,) bool
    jumped: torch.Tensor  # (B,) bool
    jump_step: torch.Tensor  # (B,) int64, step of the jump (-1 before)


@dataclass(frozen=True, kw_only=True)
class TargetJumpConfig(CentreOutConfig):
    """Centre-out plus the jump.

    Attributes:
        jump_probability: Fraction of training trials whose target jumps.
        jump_distance: m, hand-to-start distance that triggers the jump.
        jump_angle_deg: Rotation of the target about the start, degrees (sign drawn at random in
            training; counter-clockwise in the evaluation suite).
    """

    jump_probability: float = 0.5
    jump_distance: float = 0.02
    jump_angle_deg: float = 45.0


class TargetJump(CentreOut):
    """Centre-out reaches whose target jumps once the hand has moved ``jump_distance`` from the start.

    Evaluation suite: the ``n_targets`` centre-out trials without a jump, then the same with one.
    """

    config_class = TargetJumpConfig
    config: TargetJumpConfig

    def __init__(self, effector, config=None):
        super().__init__(effector, config)
        self.eval_size = 2 * self.config.n_targets

    def _with_jump(self, ts, will_jump: torch.Tensor, sign: torch.Tensor) -> JumpState:
        a = sign * math.radians(self.config.jump_angle_deg)
        d = ts.target - ts.start
        turned = torch.stack([torch.cos(a) * d[:, 0] - torch.sin(a) * d[:, 1],
                              torch.sin(a) * d[:, 0] + torch.cos(a) * d[:, 1]], dim=-1)  # fmt: skip
        return JumpState(
            **ts._asdict(),
            jump_target=ts.start + turned,
            will_jump=will_jump,
            jumped=torch.zeros_like(will_jump),
            jump_step=torch.full_like(ts.go_step, -1),
        )

    def sample_train(self, batch_size, generator):
        """Centre-out trials; a random half jump, clockwise or counter-clockwise."""
        ts = super().sample_train(batch_size, generator)
        u = torch.rand(batch_size, 2, generator=generator, dtype=ts.target.dtype, device=ts.target.device)
        return self._with_jump(
            ts, u[:, 0] < self.config.jump_probability, torch.where(u[:, 1] < 0.5, -1.0, 1.0)
        )

    def sample_eval(self):
        """The centre-out suite twice: without, then with a counter-clockwise jump."""
        one = super().sample_eval()
        two = mg.tasks.tree_map(lambda t: torch.cat([t, t]), one)
        n = one.target.shape[0]
        will = torch.arange(2 * n, device=one.target.device) >= n
        return self._with_jump(two, will, torch.ones(2 * n, dtype=one.target.dtype, device=one.target.device))

    def update(self, task_state, effector_state, step):
        """Jump (once) when the hand is ``jump_distance`` from the start (no Python branch)."""
        away = torch.linalg.vector_norm(effector_state.fingertip_pos - task_state.start, dim=-1)
        now = task_state.will_jump & ~task_state.jumped & (away > self.config.jump_distance)
        return task_state._replace(
            target=torch.where(now[:, None], task_state.jump_target, task_state.target),
            jumped=task_state.jumped | now,
            jump_step=torch.where(now, step, task_state.jump_step),
        )


def register() -> None:
    """Register :data:`ENV_ID` (once per process)."""
    if ENV_ID not in mg.ENV_SPECS:
        mg.register(
            ENV_ID,
            effector=presets.arm26,
            task=TargetJump,
            description="Centre-out reaches whose target jumps 45 deg once the hand has moved 2 cm.",
        )


register()


def correction_latency(rec, first_jump_trial: int, jump_steps: np.ndarray) -> np.ndarray:
    """S from the jump to the first step whose hand velocity points closer to the new target."""
    out = []
    for j, b in enumerate(range(first_jump_trial, rec.target.shape[0])):
        k = int(jump_steps[j])
        if k < 0:
            out.append(np.nan)
            continue
        old = rec.target[b - first_jump_trial] - rec.start[b]
        new = rec.target[b] - rec.start[b]
        vel = rec.fingertip_vel[k + 1 :, b]
        cos_new = vel @ new / (np.linalg.norm(vel, axis=1) * np.linalg.norm(new) + 1e-12)
        cos_old = vel @ old / (np.linalg.norm(vel, axis=1) * np.linalg.norm(old) + 1e-12)
        turned = np.flatnonzero(cos_new > cos_old)
        out.append((turned[0] + 1) * rec.dt if turned.size else np.nan)
    return np.asarray(out)


def main(argv: list[str] | None = None) -> dict:
    """Train, evaluate and plot; returns the summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a smoke test: a few batches, small network")
    p.add_argument("--out", default="runs/examples/target_jump")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = Path(args.out)
    cfg = BackpropConfig(
        env_id=ENV_ID,
        env_kwargs={"action_noise": 0.01, "proprioception_noise": 0.001, "vision_noise": 0.001},
        n_batches=3 if args.quick else 1500,
        batch_size=16 if args.quick else 64,
        hidden_size=32 if args.quick else 128,
        hidden_noise=0.01,
        eval_every=10_000,
        seed=args.seed,
        out_dir=str(out / "train"),
        compile=not args.quick,
        progress=False,
    )
    summary = train(cfg)
    policy, _ = mg.policies.load_policy(out / "train" / "policy.pt")
    rec = evaluate(policy, ENV_ID)
    n = rec.target.shape[0] // 2
    sim = mg.make_simulator(ENV_ID, batch_size=2 * n)
    sim.reset(options={"suite": "eval"})
    # where each jump happened: replay the recorded hand through the task's own rule
    away = np.linalg.norm(rec.fingertip_pos[1:, n:] - rec.start[None, n:], axis=-1)
    crossed = away > sim.task.config.jump_distance
    jump_steps = np.where(crossed.any(0), crossed.argmax(0), -1)
    final = np.linalg.norm(rec.fingertip_pos[-1] - rec.target, axis=-1) * 100
    latency = correction_latency(rec, n, jump_steps)
    result = {
        "batches": summary["batches"],
        "env_steps": summary["env_steps"],
        "final_error_cm_no_jump": float(np.mean(final[:n])),
        "final_error_cm_jump": float(np.mean(final[n:])),
        "correction_latency_s": float(np.nanmedian(latency)) if np.isfinite(latency).any() else None,
        "jumped_trials": int((jump_steps >= 0).sum()),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    _plot(rec, n, out / "target_jump.png")
    print(json.dumps(result, indent=2))
    return result


def _plot(rec, n: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for b in range(2 * n):
        jumped = b >= n
        xy = rec.fingertip_pos[:, b] * 100
        ax.plot(
            xy[:, 0], xy[:, 1], color=plt.cm.hsv(b % n / n) if jumped else "0.6", lw=1.2 if jumped else 0.8
        )
        ax.plot(*(rec.target[b] * 100), "o" if jumped else "x", color="k", ms=4)
    ax.set_aspect("equal")
    ax.set_xlabel("x (cm)")
    ax.set_ylabel("y (cm)")
    ax.set_title("Target jump (grey: no jump, colour: jumped)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
