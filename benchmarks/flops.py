"""Arithmetic per env-step vs achieved GFLOP/s of the compiled engine step (how far from compute-bound).

Run: ``python -m benchmarks.flops [--batch 1024] [--repeats 5]``. One torch thread.

FLOPs are counted on the eager step of ``motornet/Arm26Reach-v0`` (noise off, ``no_grad``) with a
``TorchDispatchMode``: each pointwise aten op (``torch.Tag.pointwise``: add, mul, exp, where, clamp,
...) counts one FLOP per output element, a reduction one per input element, a matrix product
``2 m n k``; views, copies, concatenations and indexing count nothing. A transcendental function
thus counts 1 although it costs ~10-20 instructions, so the count is a lower bound on the work.
The rate is that of ``Simulator.step_packed`` with ``compile=True`` (the frozen inductor step).
"""

from __future__ import annotations

import argparse

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks._timing import fmt_rate, interleaved_rates, median
from motornet_gym.registry import make_simulator

ENV_ID = "motornet/Arm26Reach-v0"
_MATMUL = {"mm", "bmm", "addmm", "matmul", "baddbmm"}
_REDUCE = {"sum", "mean", "amax", "amin", "max", "min", "norm", "linalg_vector_norm", "prod", "any", "all"}


class FlopCounter(TorchDispatchMode):
    """Counts FLOPs of the aten ops run under it (see the module docstring); ``total``."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: D105
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        name = func.overloadpacket.__name__
        if name in _MATMUL:
            a, b = args[-2:]  # (..., m, k) @ (..., k, n): addmm / baddbmm lead with the added term
            self.total += 2 * a.numel() * b.shape[-1]
        elif name in _REDUCE:
            first = next((x for x in args if isinstance(x, torch.Tensor)), None)
            self.total += first.numel() if first is not None else 0
        elif torch.Tag.pointwise in func.tags and isinstance(out, torch.Tensor) and out.is_floating_point():
            self.total += out.numel()
        return out


def flops_per_env_step(batch: int) -> float:
    """FLOPs of one eager arm26 step divided by the batch size."""
    sim = make_simulator(ENV_ID, batch_size=batch)
    sim.reset(seed=0)
    u = torch.full((batch, sim.action_size), 0.05)
    with torch.no_grad():
        sim.step_packed(u)  # the first step builds the output layout
        with FlopCounter() as counter:
            sim.step_packed(u)
    return counter.total / batch


def main() -> None:
    """Print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    b, steps = args.batch, 50
    flops = flops_per_env_step(b)
    fns = {}
    for compiled in (False, True):
        sim = make_simulator(ENV_ID, batch_size=b, compile=compiled)
        sim.reset(seed=0)
        u = torch.full((b, sim.action_size), 0.05)

        @torch.no_grad()
        def run(sim=sim, u=u) -> None:
            for _ in range(steps):
                sim.step_packed(u)

        fns["compile=True" if compiled else "eager"] = run
    rates = interleaved_rates(fns, b * steps, args.repeats)
    print(f"torch {torch.__version__}, threads 1, {ENV_ID}, B = {b}, median of {args.repeats} rounds")
    print(f"counted FLOPs per env-step (pointwise ops 1 per element; a lower bound): {flops:.0f}")
    print(f"{'step_packed':<14} {'env-steps/s':>12} {'GFLOP/s':>8}")
    for name, r in rates.items():
        print(f"{name:<14} {fmt_rate(median(r)):>12} {median(r) * flops / 1e9:>8.2f}")


if __name__ == "__main__":
    main()
