"""The compiled fast path (issue 7): engine step, single env step and a backprop episode.

Run: ``python -m benchmarks.fast [--repeats 5] [--batches 1 64 1024 16384]``. One torch thread;
every side of a table is timed in the same interleaved rounds (:func:`interleaved_rates`) and a
ratio is the median over rounds of the paired ratios; prints tables, asserts nothing. Compile time
is the wall time of the first compiled call.

Equal work: each table has a row with noise off on both sides (the reference's std-0 noise draws
removed by patching its ``apply_noise`` to the identity), a row with the same noise on both sides,
and a row against the reference with its own defaults, labelled as such (see
:mod:`benchmarks._reference`).

* engine step: ``Simulator.step_unchecked`` of ``motornet/Arm26Reach-v0`` under ``no_grad`` (noise
  drawing, loads, effector, cost, delay lines, observation, info dict of tensors) and
  ``Simulator.step_packed`` (the same outputs in one tensor, what the numpy front ends use) vs the
  reference ``RandomTargetReach(RigidTendonArm26(RigidTendonHillMuscle()), differentiable=False)``.
* single env: ``gym.make(id).step`` (numpy in and out, with its wrappers) vs the reference at B = 1,
  and Gymnasium's MuJoCo ``Reacher-v5`` as a peer when ``gymnasium[mujoco]`` is installed.
* backprop episode: arm26, GRU 128, B = 64, 100 steps, forward + backward + Adam.

MyoSuite's elbow (a MuJoCo muscle model) is the other natural peer, but MyoSuite pins an older
Gymnasium than ours; measure it in its own environment, e.g.::

    python3 -m venv /tmp/myo && /tmp/myo/bin/pip install myosuite && /tmp/myo/bin/python -c "
    import time; from myosuite.utils import gym; e = gym.make('myoElbowPose1D6MRandom-v0'); e.reset(seed=0)
    a = e.action_space.sample(); t = time.perf_counter(); n = 2000
    for _ in range(n): e.reset() if any(e.step(a)[2:4]) else None
    print(n / (time.perf_counter() - t), 'steps/s')"
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks import _reference as R
from benchmarks._timing import fmt_rate, interleaved_rates, median, ratio_cell
from motornet_gym.policies import GRUPolicy
from motornet_gym.registry import make_simulator
from motornet_gym.rollout import rollout

ENV_ID = "motornet/Arm26Reach-v0"
SETTING_LABELS = {name: label for name, _, label in R.SETTINGS}


def _timed_first(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------- engine step
def _ours_step(batch: int, compiled: bool, steps: int, setting: str, packed: bool = False):
    sim = make_simulator(ENV_ID, batch_size=batch, compile=compiled, **R.ours_kwargs(setting))
    sim.reset(seed=0)
    u = torch.rand(batch, sim.action_size) * 0.1
    step = sim.step_packed if packed else sim.step_unchecked

    @torch.no_grad()
    def run() -> None:  # stepping past truncation is fine for timing (no auto-reset here)
        for _ in range(steps):
            step(u)

    compile_s = _timed_first(torch.no_grad()(lambda: step(u))) if compiled else None
    return run, compile_s


def _reference_step(batch: int, steps: int, setting: str):
    env = R.env(setting)
    u = torch.rand(batch, 6) * 0.1
    env.reset(options={"batch_size": batch})

    @torch.no_grad()
    def run() -> None:
        for _ in range(steps):
            env.step(u)

    return run


def engine_table(batches: list[int], repeats: int, have_ref: bool) -> None:
    print("\n== engine step, arm26 (env-steps/s = steps x B / s; ratio vs the reference of the row) ==")
    print("step_unchecked: tensors + info dict of tensors; step_packed: one (B, K) tensor (front ends)")
    print(f"{'B':>6} {'setting':<58} {'reference':>9} {'eager':>8} {'ratio':>7} {'compiled':>8} "
          f"{'ratio':>7} {'packed':>8} {'ratio':>7}")  # fmt: skip
    for b in batches:
        steps = 20 if b >= 16384 else 50
        fns, compile_s = {}, []
        for setting in ("off", "on"):
            fns[f"eager {setting}"], _ = _ours_step(b, False, steps, setting)
            fns[f"compiled {setting}"], cs = _ours_step(b, True, steps, setting)
            fns[f"packed {setting}"], _ = _ours_step(b, True, steps, setting, packed=True)
            compile_s.append(cs)
        if have_ref:
            for setting in ("off", "on", "ref defaults"):
                fns[f"ref {setting}"] = _reference_step(b, steps, setting)
        rates = interleaved_rates(fns, b * steps, repeats)
        for setting in ("off", "on", "ref defaults"):
            ours = "off" if setting == "ref defaults" else setting
            base = f"ref {setting}" if have_ref else None
            ref = fmt_rate(median(rates[base])) if base else "-"
            cells = " ".join(
                f"{fmt_rate(median(rates[f'{k} {ours}'])):>8} {ratio_cell(rates, f'{k} {ours}', base)}"
                for k in ("eager", "compiled", "packed")
            )
            print(f"{b if setting == 'off' else '':>6} {SETTING_LABELS[setting]:<58} {ref:>9} {cells}")
        print(f"{'':>6} compile s (noise off, on): {compile_s[0]:.1f}, {compile_s[1]:.1f}")


# ---------------------------------------------------------------------- single env
def _ours_env(compiled: bool, steps: int, setting: str):
    import gymnasium as gym

    import motornet_gym  # noqa: F401  (registers the ids)

    # Through gym.make, with its wrappers, as a user (and the Reacher-v5 peer) steps it.
    env = gym.make(ENV_ID, compile=compiled, **R.ours_kwargs(setting))
    env.reset(seed=0)
    a = np.full(6, 0.05, dtype=np.float32)

    def run() -> None:
        for _ in range(steps):
            env.step(a)

    compile_s = _timed_first(lambda: env.step(a)) if compiled else None
    return run, compile_s


def _reference_env_step(steps: int, setting: str):
    env = R.env(setting)
    a = np.full((1, 6), 0.05, dtype=np.float32)
    env.reset(options={"batch_size": 1})

    def run() -> None:
        for _ in range(steps):
            env.step(a)

    return run


def single_env_table(repeats: int, have_ref: bool) -> None:
    print("\n== single env step, B = 1, numpy in/out (steps/s; ratio vs the reference of the row) ==")
    steps = 100
    fns, compile_s = {}, {}
    for setting in ("off", "on"):
        for compiled in (False, True):
            fns[(setting, compiled)], compile_s[(setting, compiled)] = _ours_env(compiled, steps, setting)
    if have_ref:
        for setting in ("off", "on", "ref defaults"):
            fns[("ref", setting)] = _reference_env_step(steps, setting)
    peer = R.reacher_peer(steps)
    if peer is not None:
        fns["reacher"] = peer
    rates = interleaved_rates(fns, steps, repeats)
    R.print_settings_table(rates, compile_s, have_ref, "reacher" if peer is not None else None)


# ---------------------------------------------------------------------- backprop episode
def _ours_backprop(
    compiled: bool, compile_policy: bool, batch: int, hidden: int, setting: str, fuse: int = 1
):
    torch.manual_seed(0)
    sim = make_simulator(ENV_ID, batch_size=batch, compile=compiled, **R.ours_kwargs(setting))
    pol = GRUPolicy(sim.observation_size, sim.action_size, hidden)
    opt = torch.optim.Adam(pol.parameters(), lr=1e-3)
    net = torch.compile(pol, fullgraph=True, dynamic=False) if compile_policy else pol

    def run() -> None:
        traj = rollout(sim, net, seed=0, fuse_steps=fuse)
        opt.zero_grad(set_to_none=True)
        traj.cost.mean().backward()
        opt.step()

    compile_s = _timed_first(run) if compiled or compile_policy or fuse > 1 else None
    return run, compile_s


def _reference_backprop(batch: int, hidden: int, setting: str):
    torch.manual_seed(0)
    env = R.env(setting, differentiable=True)
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
    print("(ms per episode; speed-up vs the reference of the row; compiled policy: torch.compile(GRU) too;")
    print(" fused: rollout(..., fuse_steps=5), 5 policy+simulator steps per compiled graph)")
    fns, compile_s = {}, {}
    for setting in ("off", "on"):
        variants_ = (("eager", False, False, 1), ("compile=True", True, False, 1),
                     ("+ compiled policy", True, True, 1), ("fused", True, False, 5))  # fmt: skip
        for name, comp, cpol, fuse in variants_:
            run, cs = _ours_backprop(comp, cpol, batch, hidden, setting, fuse)
            fns[(setting, name)], compile_s[(setting, name)] = run, cs
    if have_ref:
        for setting in ("off", "on", "ref defaults"):
            fns[("ref", setting)] = _reference_backprop(batch, hidden, setting)
    rates = interleaved_rates(fns, 1.0, repeats, min_time=0.0)
    variants = ("eager", "compile=True", "+ compiled policy", "fused")
    print(f"{'setting':<58} {'reference':>9} " + " ".join(f"{v:>17} {'x':>5}" for v in variants))
    for setting in ("off", "on", "ref defaults"):
        ours = "off" if setting == "ref defaults" else setting
        base = ("ref", setting) if have_ref else None
        ref = f"{1e3 / median(rates[base]):.0f}" if base else "-"
        cells = " ".join(
            f"{1e3 / median(rates[(ours, v)]):>17.0f} {ratio_cell(rates, (ours, v), base).strip():>5}"
            for v in variants
        )
        print(f"{SETTING_LABELS[setting]:<58} {ref:>9} {cells}")
    print("compile s (noise off): " + ", ".join(f"{v} {compile_s[('off', v)]:.1f}" for v in variants[1:]))


def main() -> None:
    """Print the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64, 1024, 16384])
    p.add_argument("--skip", nargs="*", default=[], choices=["engine", "env", "backprop"])
    args = p.parse_args()
    torch.set_num_threads(1)
    have_ref = R.have_reference()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, median of {args.repeats} "
          "interleaved rounds")  # fmt: skip
    if "engine" not in args.skip:
        engine_table(args.batches, args.repeats, have_ref)
    if "env" not in args.skip:
        single_env_table(args.repeats, have_ref)
    if "backprop" not in args.skip:
        backprop_table(args.repeats, have_ref)


if __name__ == "__main__":
    main()
