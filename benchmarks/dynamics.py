"""Effector-step throughput (env-steps/s) of motornet_gym vs the reference MotorNet, same run.

Run: ``python -m benchmarks.dynamics [--repeats 5]``. One torch thread; median of repeats.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks._timing import fmt_rate, median_rate
from motornet_gym.dynamics import presets


def _ours(name: str, batch: int, steps: int, compiled: bool = False):
    eff = presets.point_mass_24() if name == "point_mass_24" else presets.arm26()
    lb, ub = eff.pos_lower_bound, eff.pos_upper_bound
    q0 = lb + (ub - lb) * (0.3 + 0.4 * torch.rand(batch, eff.dof))
    u = torch.rand(batch, eff.n_muscles) * 0.05
    s0 = eff.initial_state(q0)
    step = eff.step
    if compiled:
        step = torch.compile(eff.step_unchecked, fullgraph=True, dynamic=False)

    @torch.no_grad()
    def run():
        s = s0
        for _ in range(steps):
            s = step(s, u)

    return run


def _reference(name: str, batch: int, steps: int):
    from motornet import effector as E
    from motornet import muscle as M

    eff = E.ReluPointMass24() if name == "point_mass_24" else E.RigidTendonArm26(M.RigidTendonHillMuscle())
    u = torch.rand(batch, eff.n_muscles) * 0.05

    @torch.no_grad()
    def run():
        eff.reset(options={"batch_size": batch})
        for _ in range(steps):
            eff.step(u)

    return run


def main() -> None:
    """Print the table."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024])
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile column")
    args = p.parse_args()
    torch.set_num_threads(1)
    try:
        import motornet  # noqa: F401

        have_ref = True
    except ImportError:
        have_ref = False
        print("motornet (reference) not installed: pip install motornet==0.3.0 for the baseline")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, median of {args.repeats}")
    print("steps/s = effector steps x batch / s; 'compiled' = torch.compile(step, fullgraph=True)")
    cols = ("effector", "B", "reference", "eager", "ratio", "compiled", "ratio")
    print(f"{cols[0]:<14} {cols[1]:>6} {cols[2]:>10} {cols[3]:>9} {cols[4]:>6} {cols[5]:>9} {cols[6]:>6}")
    for name in ("point_mass_24", "arm26"):
        for b in args.batches:
            steps = 50
            eager = median_rate(_ours(name, b, steps), b * steps, args.repeats)
            comp = None
            if not args.no_compile:
                comp = median_rate(_ours(name, b, steps, compiled=True), b * steps, args.repeats)
            ref = median_rate(_reference(name, b, steps), b * steps, args.repeats) if have_ref else None

            def ratio(x, ref=ref):
                return f"{x / ref:>5.2f}x" if (x is not None and ref) else f"{'-':>6}"

            print(
                f"{name:<14} {b:>6} {fmt_rate(ref) if ref else '-':>10} {fmt_rate(eager):>9} {ratio(eager)} "
                f"{fmt_rate(comp) if comp else '-':>9} {ratio(comp)}"
            )


if __name__ == "__main__":
    main()
