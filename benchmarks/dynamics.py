"""Effector-step throughput (env-steps/s) of motornet_gym vs the reference MotorNet, same run.

Run: ``python -m benchmarks.dynamics [--repeats 5]``. One torch thread; the sides are timed in the
same interleaved rounds and a ratio is the median of the paired ratios. Equal work: an effector step
draws no noise on either side (the reference's noise lives in its environment, see
:mod:`benchmarks.fast`), and neither side resets inside the timed loop.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks._timing import fmt_rate, interleaved_rates, median
from benchmarks._timing import ratio as paired
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

    eff.reset(options={"batch_size": batch})  # once: ours starts each call from a prepared state

    @torch.no_grad()
    def run():
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
            fns = {"eager": _ours(name, b, steps)}
            if not args.no_compile:
                fns["compiled"] = _ours(name, b, steps, compiled=True)
            if have_ref:
                fns["ref"] = _reference(name, b, steps)
            rates = interleaved_rates(fns, b * steps, args.repeats)
            eager = median(rates["eager"])
            comp = median(rates["compiled"]) if "compiled" in rates else None
            ref = median(rates["ref"]) if have_ref else None

            def ratio(key, rates=rates):
                if key not in rates or "ref" not in rates:
                    return f"{'-':>6}"
                return f"{paired(rates[key], rates['ref']):>5.2f}x"

            ref_s = fmt_rate(ref) if ref else "-"
            print(
                f"{name:<14} {b:>6} {ref_s:>10} {fmt_rate(eager):>9} {ratio('eager')} "
                f"{fmt_rate(comp) if comp else '-':>9} {ratio('compiled')}"
            )


if __name__ == "__main__":
    main()
