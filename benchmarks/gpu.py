"""One-command GPU check: compiled-vs-eager parity of every id, engine throughput, a backprop step.

Run on a CUDA machine (about 3-5 minutes, most of it compilation; exits 1 if a parity check fails)::

    python -m benchmarks.gpu                       # B = 1024 ... 262144, backprop at B = 4096
    python -m benchmarks.gpu --device cpu --tiny   # the same code path with tiny sizes (tested)

1. Parity: for every registered id, an eager and a ``compile=True`` simulator step the same
   seeded episode (noise on, random actions, some clipped) under ``no_grad`` (the frozen graph);
   the largest deviation of observation and reward, relative to their scale, must be within
   :data:`RTOL` (:data:`RTOL_COMPLIANT` for the compliant arm), as ``tests/test_compile.py`` asks
   on the CPU (looser here: GPU eager kernels and Triton's round differently).
2. Engine throughput of ``motornet/Arm26Reach-v0`` (env-steps/s = steps x B / s): eager
   ``step_unchecked``, compiled ``step_unchecked`` and ``step_packed``, interleaved rounds, the
   device synchronised at the end of each timed call.
3. One backprop training step (100-step rollout, GRU 128, forward + backward + Adam), eager and
   ``compile=True``, interleaved.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import torch

from benchmarks._timing import fmt_rate, interleaved_rates, median, ratio
from motornet_gym.policies import GRUPolicy
from motornet_gym.registry import ENV_IDS, make_simulator
from motornet_gym.rollout import rollout

ENV_ID = "motornet/Arm26Reach-v0"
NOISE = {"action_noise": 0.02, "proprioception_noise": 0.01, "vision_noise": 0.002, "observation_noise": 0.01}
#: Parity bound: max |compiled - eager| <= RTOL x max |eager| + ATOL (float32).
RTOL, ATOL = 1e-5, 1e-6
#: The compliant arm's stiff tendon amplifies rounding (CPU: measured 4.1e-6 of the force scale).
RTOL_COMPLIANT = 1e-4
BATCHES = (1024, 4096, 16384, 65536, 262144)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def parity(env_id: str, device: torch.device, batch: int, steps: int) -> tuple[float, float]:
    """(worst relative deviation, bound) of a compiled vs an eager episode of ``env_id``."""
    kw = dict(NOISE, episode_duration=steps * 0.01)
    sims = [make_simulator(env_id, batch_size=batch, device=device, compile=c, **kw) for c in (False, True)]
    g = torch.Generator(device=device).manual_seed(0)
    actions = [
        torch.rand(batch, sims[0].action_size, generator=g, device=device) * 1.2 - 0.1 for _ in range(steps)
    ]
    worst = 0.0
    with torch.no_grad():
        outs = []
        for sim in sims:
            obs, _ = sim.reset(seed=0)
            rec = [obs]
            for a in actions:
                obs, reward, *_ = sim.step(a)
                rec += [obs, reward[:, None]]
            outs.append(torch.cat(rec, dim=1).double())
    want, got = outs
    scale = float(want.abs().max())
    worst = float((got - want).abs().max()) / scale
    rtol = RTOL_COMPLIANT if "Compliant" in env_id else RTOL
    return worst, rtol + ATOL / scale


def _engine_fn(env_id: str, batch: int, device: torch.device, compiled: bool, packed: bool, steps: int):
    sim = make_simulator(env_id, batch_size=batch, device=device, compile=compiled)
    sim.reset(seed=0)
    u = torch.rand(batch, sim.action_size, device=device) * 0.1
    step = sim.step_packed if packed else sim.step_unchecked

    @torch.no_grad()
    def run() -> None:
        for _ in range(steps):
            step(u)
        _sync(device)

    t0 = time.perf_counter()
    run()  # compiles
    return run, time.perf_counter() - t0


def _backprop_fn(env_id: str, batch: int, device: torch.device, compiled: bool, hidden: int, horizon: int):
    torch.manual_seed(0)
    sim = make_simulator(env_id, batch_size=batch, device=device, compile=compiled)
    pol = GRUPolicy(sim.observation_size, sim.action_size, hidden).to(device)
    opt = torch.optim.Adam(pol.parameters(), lr=1e-3)

    def run() -> None:
        traj = rollout(sim, pol, seed=0, horizon=horizon)
        opt.zero_grad(set_to_none=True)
        traj.cost.mean().backward()
        opt.step()
        _sync(device)

    t0 = time.perf_counter()
    run()  # compiles
    return run, time.perf_counter() - t0


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Run the three parts and print their tables; returns 1 if a parity check failed, else 0."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="tiny sizes (a smoke test of this script)")
    p.add_argument("--ids", nargs="+", default=list(ENV_IDS), help="ids of the parity check")
    p.add_argument("--batches", type=int, nargs="+", default=None, help=f"engine batches (default {BATCHES})")
    p.add_argument("--env-id", default=ENV_ID, help="id of the engine and backprop timings")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        out("CUDA is not available here: run on a GPU machine, or pass --device cpu --tiny")
        return 2
    torch.set_num_threads(1)
    tiny = args.tiny
    batches = args.batches or ([4] if tiny else list(BATCHES))
    par_b, par_steps = (2, 3) if tiny else (256, 50)
    steps, min_time = (3, 0.0) if tiny else (50, 0.5)
    bp_b, bp_h, bp_t = (4, 8, 5) if tiny else (4096, 128, 100)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    out(f"torch {torch.__version__}, device {device} ({name}){', tiny sizes' if tiny else ''}")
    t_start = time.perf_counter()

    out(f"\n== parity: compiled vs eager, B = {par_b}, {par_steps} steps, noise on, no_grad ==")
    failed = []
    for env_id in args.ids:
        # The compliant arm's 50 RK4 sub-steps: eager costs ~60x an arm26 step, keep it short.
        n = max(2, par_steps // 10) if "Compliant" in env_id else par_steps
        t0 = time.perf_counter()
        worst, bound = parity(env_id, device, par_b, n)
        ok = worst <= bound
        failed += [] if ok else [env_id]
        out(f"{env_id:<34} max |diff| / scale {worst:9.2e} (bound {bound:.1e}) {'ok' if ok else 'FAIL'} "
            f"{time.perf_counter() - t0:6.1f} s")  # fmt: skip

    out(f"\n== engine step, {args.env_id} (env-steps/s; ratio vs eager; compile s = first call) ==")
    out(f"{'B':>7} {'eager':>9} {'compiled':>9} {'ratio':>7} {'packed':>9} {'ratio':>7} {'compile s':>9}")
    for b in batches:
        fns, first = {}, 0.0
        for key, comp, packed in (("eager", False, False), ("compiled", True, False), ("packed", True, True)):
            fns[key], s = _engine_fn(args.env_id, b, device, comp, packed, steps)
            first = max(first, s) if comp else first
        rates = interleaved_rates(fns, b * steps, args.repeats, min_time)
        e, c, k = (rates[x] for x in ("eager", "compiled", "packed"))
        out(f"{b:>7} {fmt_rate(median(e)):>9} {fmt_rate(median(c)):>9} {ratio(c, e):>6.1f}x "
            f"{fmt_rate(median(k)):>9} {ratio(k, e):>6.1f}x {first:>9.1f}")  # fmt: skip

    out(f"\n== backprop step: {bp_t}-step rollout, GRU {bp_h}, B = {bp_b}, fwd + bwd + Adam ==")
    fns, first = {}, {}
    for key, comp in (("eager", False), ("compile=True", True)):
        fns[key], first[key] = _backprop_fn(args.env_id, bp_b, device, comp, bp_h, bp_t)
    rates = interleaved_rates(fns, 1.0, args.repeats, min_time=0.0)
    for key in fns:
        out(f"{key:<14} {1e3 / median(rates[key]):9.1f} ms/step {ratio(rates[key], rates['eager']):6.2f}x "
            f"(first call {first[key]:.1f} s)")  # fmt: skip

    verdict = "FAILED: " + ", ".join(failed) if failed else "ok"
    out(f"\ntotal {time.perf_counter() - t_start:.0f} s; parity {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
