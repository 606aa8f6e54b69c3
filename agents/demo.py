"""A short demo: simulate the point mass and the arm26 effector and print what happened.

Run from the repository root: ``python -m agents.demo``.
"""

from __future__ import annotations

import math
import time

import torch

from motornet_gym.dynamics import presets


def _run(name: str, effector, joint_pos: torch.Tensor, excitation: torch.Tensor, steps: int) -> None:
    state = effector.initial_state(joint_pos)
    start = state.fingertip_pos.clone()
    t0 = time.perf_counter()
    peak_speed = torch.zeros(joint_pos.shape[0])
    for _ in range(steps):
        state = effector.step(state, excitation)
        peak_speed = torch.maximum(peak_speed, state.fingertip_vel.norm(dim=-1))
    wall = time.perf_counter() - t0
    moved = (state.fingertip_pos - start).norm(dim=-1)
    print(
        f"\n{name}: {effector.n_muscles} muscles {effector.muscle_names}, dt={effector.dt} s, "
        f"{steps} steps ({steps * effector.dt:.2f} s simulated) in {wall * 1e3:.0f} ms wall"
    )
    for b in range(joint_pos.shape[0]):
        exc = ", ".join(f"{v:.2f}" for v in excitation[b].tolist())
        print(
            f"  excitation [{exc}] -> fingertip moved {100 * moved[b]:.1f} cm "
            f"from ({start[b, 0]:+.3f}, {start[b, 1]:+.3f}) to "
            f"({state.fingertip_pos[b, 0]:+.3f}, {state.fingertip_pos[b, 1]:+.3f}) m, "
            f"peak speed {peak_speed[b]:.2f} m/s, final forces "
            f"[{', '.join(f'{f:.0f}' for f in state.muscle.force[b].tolist())}] N"
        )


def main() -> None:
    """Simulate both effectors under constant excitations."""
    torch.manual_seed(0)
    pm = presets.point_mass_24()
    _run(
        "point_mass_24 (ReLU muscles)",
        pm,
        torch.zeros(2, 2),
        torch.tensor([[0.05, 0.0, 0.05, 0.0], [0.0, 0.02, 0.0, 0.0]]),
        steps=50,
    )
    arm = presets.arm26()
    q0 = torch.tensor([[math.radians(45), math.radians(90)]] * 3)
    exc = torch.tensor(
        [
            [0.3, 0.0, 0.0, 0.0, 0.0, 0.0],  # pectoralis: shoulder flexion
            [0.0, 0.0, 0.3, 0.0, 0.0, 0.0],  # brachioradialis: elbow flexion
            [0.2, 0.2, 0.2, 0.2, 0.2, 0.2],  # equal excitations: unequal muscles still move the arm
        ]
    )
    _run("arm26 (Kistemaker Hill muscles)", arm, q0, exc, steps=50)


if __name__ == "__main__":
    main()
