"""The compiled fast path (issue 7): engine step, single env step and a backprop episode.

Run: ``python -m benchmarks.fast [--repeats 5] [--batches 1 64 1024 16384]``. One torch thread,
median of repeats, eager vs ``compile=True`` vs the reference MotorNet package in the same run;
prints tables, asserts nothing. Compile time is the wall time of the first compiled call.

* engine step: ``Simulator.step_unchecked`` of ``motornet/Arm26Reach-v0`` under ``no_grad`` (noise
  drawing, loads, effector, cost, delay lines, observation, info dict of tensors) and
  ``Simulator.step_packed`` (the same outputs in one tensor, what the numpy front ends use) vs the
  reference
  ``RandomTargetReach(RigidTendonArm26(RigidTendonHillMuscle()), differentiable=False).step``.
* single env: ``MotorEnv.step`` (numpy in and out) vs the reference at B = 1.
* backprop episode: arm26, GRU 128, B = 64, 100 steps, forward + backward + Adam.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks._timing import fmt_rate, median_rate
from motornet_gym.policies import GRUPolicy
from motornet_gym.registry import make_simulator
from motornet_gym.rollout import rollout

ENV_ID = "motornet/Arm26Reach-v0"


def _have_reference() -> bool:
    try:
        import motornet  # noqa: F401
    except ImportError:
        print("motornet (reference) not installed: pip install motornet==0.3.0 for the baseline")
        return False
    return True


def _reference_env(differentiable: bool = False, duration: float = 1.0):
    import motornet as mn

    eff = mn.effector.RigidTendonArm26(mn.muscle.RigidTendonHillMuscle())
    return mn.environment.RandomTargetReach(
        effector=eff, max_ep_duration=duration, differentiable=differentiable
    )


def _timed_first(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------- engine step
def _ours_step(batch: int, compiled: bool, steps: int, packed: bool = False):
    sim = make_simulator(ENV_ID, batch_size=batch, compile=compiled)
    sim.reset(seed=0)
    u = torch.rand(batch, sim.action_size) * 0.1
    step = sim.step_packed if packed else sim.step_unchecked

    @torch.no_grad()
    def run() -> None:  # stepping past truncation is fine for timing (no auto-reset here)
        for _ in range(steps):
            step(u)

    compile_s = _timed_first(torch.no_grad()(lambda: step(u))) if compiled else None
    return run, compile_s


def _reference_step(batch: int, steps: int):
    env = _reference_env()
    u = torch.rand(batch, 6) * 0.1

    env.reset(options={"batch_size": batch})

    @torch.no_grad()
    def run() -> None:
        for _ in range(steps):
            env.step(u)

    return run


def engine_table(batches: list[int], repeats: int, have_ref: bool) -> None:
    print("\n== engine step, arm26 (env-steps/s = steps x B / s; ratio vs reference) ==")
    print("step_unchecked: tensors + info dict of tensors; step_packed: one (B, K) tensor (front ends)")
    print(f"{'B':>6} {'reference':>10} {'eager':>9} {'ratio':>7} {'compiled':>9} {'ratio':>7} "
          f"{'packed':>9} {'ratio':>7} {'compile s':>9}")  # fmt: skip
    for b in batches:
        steps = 20 if b >= 16384 else 50
        work = b * steps
        eager_fn, _ = _ours_step(b, False, steps)
        comp_fn, compile_s = _ours_step(b, True, steps)
        packed_fn, _ = _ours_step(b, True, steps, packed=True)
        eager = median_rate(eager_fn, work, repeats)
        comp = median_rate(comp_fn, work, repeats)
        packed = median_rate(packed_fn, work, repeats)
        ref = median_rate(_reference_step(b, steps), work, repeats) if have_ref else None

        def r(x: float, base: float | None) -> str:
            return f"{x / base:>6.1f}x" if base else f"{'-':>7}"

        print(f"{b:>6} {fmt_rate(ref) if ref else '-':>10} {fmt_rate(eager):>9} {r(eager, ref)} "
              f"{fmt_rate(comp):>9} {r(comp, ref)} {fmt_rate(packed):>9} {r(packed, ref)} "
              f"{compile_s:>9.1f}")  # fmt: skip


# ---------------------------------------------------------------------- single env
def _ours_env(compiled: bool, steps: int):
    from motornet_gym.envs import MotorEnv

    env = MotorEnv(ENV_ID, compile=compiled)
    env.reset(seed=0)
    a = np.full(6, 0.05, dtype=np.float32)

    def run() -> None:
        for _ in range(steps):
            env.step(a)

    compile_s = _timed_first(lambda: env.step(a)) if compiled else None
    return run, compile_s


def _reference_env_step(steps: int):
    env = _reference_env()
    a = np.full((1, 6), 0.05, dtype=np.float32)

    env.reset(options={"batch_size": 1})

    def run() -> None:
        for _ in range(steps):
            env.step(a)

    return run


def single_env_table(repeats: int, have_ref: bool) -> None:
    print("\n== single env step, B = 1, numpy in/out (steps/s; ratio vs reference) ==")
    steps = 100
    ref = median_rate(_reference_env_step(steps), steps, repeats) if have_ref else None
    print(f"{'variant':<28} {'steps/s':>9} {'ratio':>7} {'compile s':>9}")
    if ref:
        print(f"{'reference RandomTargetReach':<28} {fmt_rate(ref):>9} {'1.0x':>7} {'-':>9}")
    for compiled in (False, True):
        fn, compile_s = _ours_env(compiled, steps)
        rate = median_rate(fn, steps, repeats)
        name = f"MotorEnv{' compile=True' if compiled else ''}"
        ratio = f"{rate / ref:>6.1f}x" if ref else f"{'-':>7}"
        cs = f"{compile_s:>9.1f}" if compile_s is not None else f"{'-':>9}"
        print(f"{name:<28} {fmt_rate(rate):>9} {ratio} {cs}")


# ---------------------------------------------------------------------- backprop episode
def _ours_backprop(compiled: bool, compile_policy: bool, batch: int, hidden: int):
    torch.manual_seed(0)
    sim = make_simulator(ENV_ID, batch_size=batch, compile=compiled)
    pol = GRUPolicy(sim.observation_size, sim.action_size, hidden)
    opt = torch.optim.Adam(pol.parameters(), lr=1e-3)
    net = torch.compile(pol, fullgraph=True, dynamic=False) if compile_policy else pol

    def run() -> None:
        traj = rollout(sim, net, seed=0)
        opt.zero_grad(set_to_none=True)
        traj.cost.mean().backward()
        opt.step()

    compile_s = _timed_first(run) if compiled or compile_policy else None
    return run, compile_s


def _reference_backprop(batch: int, hidden: int):
    torch.manual_seed(0)
    env = _reference_env(differentiable=True)
    obs_size = env.observation_space.shape[0]
    pol = GRUPolicy(obs_size, 6, hidden)
    opt = torch.optim.Adam(pol.parameters(), lr=1e-3)

    def run() -> None:
        obs, info = env.reset(options={"batch_size": batch})
        h = pol.initial_hidden(batch)
        costs = []
        for _ in range(100):
            a, h = pol(obs, h)
            obs, _, _, _, info = env.step(a)
            tip = info["states"]["fingertip"]
            act = info["states"]["muscle"][:, 0]
            costs.append(torch.linalg.vector_norm(tip - info["goal"], dim=-1) + 0.1 * (act**2).mean(-1))
        loss = torch.stack(costs).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return run


def backprop_table(repeats: int, have_ref: bool) -> None:
    batch, hidden = 64, 128
    print(f"\n== backprop episode: arm26, GRU {hidden}, B = {batch}, 100 steps, fwd + bwd + Adam ==")
    print(f"{'variant':<34} {'ms/episode':>10} {'speed-up':>8} {'compile s':>9}")
    ref_ms = None
    if have_ref:
        ref_ms = 1e3 / median_rate(_reference_backprop(batch, hidden), 1.0, repeats, min_time=0.0)
        print(f"{'reference (differentiable=True)':<34} {ref_ms:>10.0f} {'1.0x':>8} {'-':>9}")
    variants = [("eager", False, False), ("compile=True", True, False),
                ("compile=True + compiled policy", True, True)]  # fmt: skip
    for name, comp, cpol in variants:
        fn, compile_s = _ours_backprop(comp, cpol, batch, hidden)
        ms = 1e3 / median_rate(fn, 1.0, repeats, min_time=0.0)
        sp = f"{ref_ms / ms:>7.1f}x" if ref_ms else f"{'-':>8}"
        cs = f"{compile_s:>9.1f}" if compile_s is not None else f"{'-':>9}"
        print(f"{name:<34} {ms:>10.0f} {sp} {cs}")


def main() -> None:
    """Print the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 16384])
    p.add_argument("--skip", nargs="*", default=[], choices=["engine", "env", "backprop"])
    args = p.parse_args()
    torch.set_num_threads(1)
    have_ref = _have_reference()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, median of {args.repeats}")
    if "engine" not in args.skip:
        engine_table(args.batches, args.repeats, have_ref)
    if "env" not in args.skip:
        single_env_table(args.repeats, have_ref)
    if "backprop" not in args.skip:
        backprop_table(args.repeats, have_ref)


if __name__ == "__main__":
    main()
