"""Backprop through the simulation: speed of one training step and a learning run, vs MotorNet.

Run: ``python -m benchmarks.backprop [--budget-s 180] [--reference-budget-s 180] [--compile]``.

Part 1 times one forward + backward + Adam step with the same settings on both sides (arm26 with
Kistemaker muscles, GRU 128, B = 64, 100 steps of 10 ms, L1 position loss summed over x and y and
averaged over batch and time as in MotorNet's tutorial, Adam 1e-3, gradient clipping 1.0), median
of interleaved rounds, one torch thread; equal work: noise off on both sides (the reference's std-0
noise draws removed by patching its ``apply_noise`` to the identity), the same noise on both, and
the reference with its own defaults, labelled (see :mod:`benchmarks._reference`).

Part 2 trains on ``motornet/Arm26Reach-v0`` with ``agents.backprop`` (the task's own cost) for a
wall-clock budget and reports the mean final fingertip error on a fixed 256-episode evaluation set
against wall-clock time; then MotorNet's tutorial recipe (L1 loss, same network and batch) for its
budget, evaluated every few batches on its own fixed 256 episodes.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import torch

import motornet_gym as mg
from benchmarks import _reference as R
from benchmarks._timing import interleaved_rates, median, ratio

B, T, H = 64, 100, 128
EVAL_N = 256


def _l1(pos: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (pos - target).abs().sum(-1).mean()


def ours_step_fn(compile_: bool, setting: str = "off"):
    """A closure doing one training step of ours; returns (fn, setup seconds)."""
    t0 = time.perf_counter()
    kw = {"compile": True} if compile_ else {}
    sim = mg.make_simulator("motornet/Arm26Reach-v0", batch_size=B, **kw, **R.ours_kwargs(setting))
    torch.manual_seed(0)
    policy = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, H)
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    it = iter(range(10**9))

    def step():
        traj = mg.rollout(sim, policy, seed=next(it))
        loss = _l1(traj.fingertip_pos, traj.target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()

    step()  # warm-up (and compilation)
    return step, time.perf_counter() - t0


def reference_parts(setting: str = "ref defaults"):
    """MotorNet's tutorial recipe on arm26: env, policy, optimiser and an episode function.

    The tutorial's environment is ``"ref defaults"`` (see :mod:`benchmarks._reference`).
    """
    import motornet as mn

    env = R.env(setting, differentiable=True)
    torch.manual_seed(0)
    policy = mn.policy.PolicyGRU(env.observation_space.shape[0], H, env.n_muscles, device="cpu")
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)

    def episode(batch_size: int, seed: int | None = None):
        h = policy.init_hidden(batch_size)
        obs, info = env.reset(seed=seed, options={"batch_size": batch_size})
        done, xy, tg = False, [], []
        while not done:
            action, h = policy(obs, h)
            obs, _, done, _, info = env.step(action=action)
            xy.append(info["states"]["fingertip"])
            tg.append(info["goal"])
        return torch.stack(xy), torch.stack(tg)

    return env, policy, opt, episode


def reference_step_fn(setting: str):
    _, policy, opt, episode = reference_parts(setting)

    def step():
        xy, tg = episode(B)
        loss = _l1(xy, tg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()

    step()
    return step


def learn_ours(budget_s: float, compile_: bool, lr: float, lr_final: float) -> list[tuple[float, int, float]]:
    from agents.backprop import BackpropConfig, train

    out = Path(tempfile.mkdtemp(prefix="bench_backprop_"))
    cfg = BackpropConfig(
        env_id="motornet/Arm26Reach-v0", batch_size=B, hidden_size=H, lr=lr, grad_clip=1.0,
        lr_final_fraction=lr_final,
        n_batches=None, time_budget_s=budget_s, eval_every=25, eval_size=EVAL_N,
        checkpoint_every=10**6, seed=0, out_dir=str(out), compile=compile_, progress=False,
        tensorboard=False,
    )  # fmt: skip
    train(cfg)
    rows = list(csv.DictReader((out / "progress.csv").open()))
    return [(float(r["wall_time_s"]), int(r["batch"]), float(r["eval/final_error_cm"]))
            for r in rows if r.get("eval/final_error_cm")]  # fmt: skip


def learn_reference(budget_s: float) -> list[tuple[float, int, float]]:
    env, policy, opt, episode = reference_parts()
    curve, batch, t0 = [], 0, time.perf_counter()
    while time.perf_counter() - t0 < budget_s:
        xy, tg = episode(B)
        loss = _l1(xy, tg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
        batch += 1
        if batch % 25 == 0:
            with torch.no_grad():
                xy, tg = episode(EVAL_N, seed=12345)  # the same 256 episodes every time
            err = float((xy[-1] - tg[-1]).norm(dim=-1).mean() * 100)
            curve.append((time.perf_counter() - t0, batch, err))
    return curve


def _print_curve(name: str, curve) -> None:
    print(f"\n{name}: wall_s, batch, mean final error (cm) on {EVAL_N} fixed episodes")
    for w, b, e in curve:
        print(f"  {w:7.1f} {b:6d} {e:8.2f}")
    if curve:
        best = min(curve, key=lambda r: r[2])
        hit = next((r for r in curve if r[2] <= 1.0), None)
        print(f"  best {best[2]:.2f} cm at {best[0]:.0f} s; "
              f"<= 1.0 cm first at {f'{hit[0]:.0f} s' if hit else 'never'}")  # fmt: skip


def main() -> None:
    """Print the timing table and the learning curves."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--budget-s", type=float, default=180.0, help="our learning run (0: skip)")
    p.add_argument("--reference-budget-s", type=float, default=180.0, help="reference learning run (0: skip)")
    p.add_argument("--compile", action="store_true", help="use the compiled simulator for our runs")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate of our learning run")
    p.add_argument("--lr-final-fraction", type=float, default=0.05, help="cosine decay of our learning rate")
    args = p.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, threads 1; B={B}, T={T}, GRU {H}; median of {args.repeats} "
          "interleaved rounds")  # fmt: skip
    fns, setups = {}, {}
    for setting in ("off", "on"):
        fns[("ours eager", setting)], setups[("ours eager", setting)] = ours_step_fn(False, setting)
        if args.compile:
            fns[("ours compiled", setting)], setups[("ours compiled", setting)] = ours_step_fn(True, setting)
    have_ref = R.have_reference()
    if have_ref:
        for setting in ("off", "on", "ref defaults"):
            fns[("reference", setting)] = reference_step_fn(setting)
    rates = interleaved_rates(fns, 1.0, args.repeats, min_time=0.0)
    print(f"\n{'':<18} {'setting':<58} {'s / train step':>15} {'speed-up vs ref':>16} {'setup s':>8}")
    labels = {name: label for name, _, label in R.SETTINGS}
    for setting in ("off", "on", "ref defaults"):
        ours = "off" if setting == "ref defaults" else setting
        rows = [("reference", setting)] if have_ref else []
        rows += [(name, ours) for name in ("ours eager", "ours compiled") if (name, ours) in fns]
        for key in rows:
            base = ("reference", setting) if have_ref else None
            sp = f"{ratio(rates[key], rates[base]):.2f}x" if base else "-"
            st = f"{setups[key]:.1f}" if key in setups else ""
            print(f"{key[0]:<18} {labels[setting]:<58} {1 / median(rates[key]):>15.3f} {sp:>16} {st:>8}")
    if args.budget_s > 0:
        _print_curve(
            "ours (agents.backprop, task cost)",
            learn_ours(args.budget_s, args.compile, args.lr, args.lr_final_fraction),
        )
    if args.reference_budget_s > 0 and have_ref:
        _print_curve(
            "reference (tutorial recipe, L1 loss; its defaults)", learn_reference(args.reference_budget_s)
        )


if __name__ == "__main__":
    main()
