"""Front-end throughput (issue 3): single env, native vector env and SB3 VecEnv vs their baselines.

Run: ``python -m benchmarks.envs [--repeats 5] [--ppo-steps 4096]``. One torch thread; the sides
of the env tables are timed in the same interleaved rounds and a ratio is the median of the paired
ratios; prints tables, asserts nothing. Equal work: a row with noise off on both sides (the
reference's std-0 noise draws removed by patching its ``apply_noise`` to the identity), a row with
the same noise on both, and a row against the reference's own defaults, labelled as such (see
:mod:`benchmarks._reference`).

* ``gym.make(id).step`` (numpy in/out, B = 1, with its wrappers) vs the reference MotorNet
  ``RandomTargetReach(RigidTendonArm26(RigidTendonHillMuscle()), differentiable=False)``, and
  Gymnasium's MuJoCo ``Reacher-v5`` as a peer when ``gymnasium[mujoco]`` is installed (MyoSuite:
  see :mod:`benchmarks.fast` for the command to measure it in its own environment).
* ``MotorVectorEnv`` env-steps/s at 64 and 1024 vs the reference at the same batch size.
* A whole single-env run in a fresh process (``--whole-run-steps``, default 20k): ``gym.make``
  with the default ``compile="auto"``, ``compile=True`` and ``compile=False`` vs the reference,
  creation, compilation and resets included.
* SB3: env stepping (random actions) and PPO training steps/s on ``motornet_gym.sb3.make_vec_env``
  (one batched engine) vs SB3's ``make_vec_env`` over 64 ``gym.make`` envs (``DummyVecEnv``).

Each of ours runs eagerly and with ``compile=True`` (first-call compile time reported).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks import _reference as R
from benchmarks._timing import fmt_rate, interleaved_rates, median, ratio

ENV_ID = "motornet/Arm26Reach-v0"


def _reference(batch: int, setting: str):
    env = R.env(setting)
    env.reset(options={"batch_size": batch})
    a = np.full((batch, 6), 0.05, dtype=np.float32)
    steps = [0]

    def run() -> None:
        env.step(a)
        steps[0] += 1
        if steps[0] % 100 == 0:  # episodes of 100 steps, as ours
            env.reset(options={"batch_size": batch})

    return run


def _single(compiled: bool, setting: str):
    import gymnasium as gym

    import motornet_gym  # noqa: F401  (registers the ids)

    # Through gym.make, with its wrappers, as a user (and the Reacher-v5 peer) steps it.
    env = gym.make(ENV_ID, compile=compiled, **R.ours_kwargs(setting))
    env.reset(seed=0)
    a = np.full(6, 0.05, dtype=np.float32)

    def run() -> None:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()

    return run


def _vector(batch: int, compiled: bool, setting: str):
    import gymnasium as gym

    import motornet_gym  # noqa: F401  (registers the ids)

    env = gym.make_vec(ENV_ID, num_envs=batch, compile=compiled, **R.ours_kwargs(setting))
    env.reset(seed=0)
    a = np.full((batch, 6), 0.05, dtype=np.float32)

    def run() -> None:
        env.step(a)  # NEXT_STEP autoreset

    return run


def _timed(make, *args):
    """(run function, seconds of its first call: the compile time when compiled)."""
    fn = make(*args)
    t0 = time.perf_counter()
    fn()
    return fn, time.perf_counter() - t0


def _table(title: str, batch: int, make, repeats: int, have_ref: bool, peer=None) -> None:
    """Ours (``make(compiled, setting)``) eager and compiled vs the reference, per setting."""
    print(f"\n== {title} (ratio vs the reference of the row, B = {batch}) ==")
    fns, compile_s = {}, {}
    for setting in ("off", "on"):
        for compiled in (False, True):
            fns[(setting, compiled)], compile_s[(setting, compiled)] = _timed(make, compiled, setting)
    if have_ref:
        for setting in ("off", "on", "ref defaults"):
            fns[("ref", setting)] = _reference(batch, setting)
    if peer is not None:
        fns["peer"] = peer
    rates = interleaved_rates(fns, batch, repeats)

    R.print_settings_table(rates, compile_s, have_ref, "peer" if peer is not None else None,
                           ", resets included")  # fmt: skip


def env_tables(repeats: int, have_ref: bool) -> None:
    _table("single env step with a reset every 100 steps, numpy in/out", 1, _single, repeats, have_ref,
           peer=R.reacher_peer(1))  # fmt: skip
    for batch in (64, 1024):

        def make(compiled: bool, setting: str, b: int = batch):
            return _vector(b, compiled, setting)

        _table(f"vector env, {batch} envs (env-steps/s)", batch, make, repeats, have_ref)


# One whole run in a fresh process: what a user's script pays, compilation included. Imports are
# outside the timed span (inductor's is not: ours imports it when it first compiles).
_WHOLE_RUN = """
import sys, time
import numpy as np, torch
torch.set_num_threads(1)
side, steps = sys.argv[1], int(sys.argv[2])
if side == "reference":
    from benchmarks.envs import _reference
    t0 = time.perf_counter()
    run = _reference(1, "off")
    for _ in range(steps):
        run()
else:
    import gymnasium as gym
    import motornet_gym  # noqa: F401
    kw = {} if side == "default" else {"compile": side == "compile=True"}
    t0 = time.perf_counter()
    env = gym.make("motornet/Arm26Reach-v0", **kw)
    env.reset(seed=0)
    a = np.full(6, 0.05, dtype=np.float32)
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
print(time.perf_counter() - t0)
"""


def whole_run_table(repeats: int, steps: int, have_ref: bool) -> None:
    """Seconds of a fresh process's ``steps``-step single-env run, env creation and compilation included."""
    import subprocess
    import sys
    from pathlib import Path

    sides = ["default", "compile=True", "compile=False"] + (["reference"] if have_ref else [])
    root = str(Path(__file__).resolve().parent.parent)
    seconds: dict[str, list[float]] = {side: [] for side in sides}
    for _ in range(repeats):  # interleaved rounds, one fresh process per side and round
        for side in sides:
            out = subprocess.run([sys.executable, "-c", _WHOLE_RUN, side, str(steps)], cwd=root,
                                 capture_output=True, text=True, check=True)  # fmt: skip
            seconds[side].append(float(out.stdout.strip().splitlines()[-1]))
    print(f"\n== a fresh process's {steps}-step run of gym.make (resets every 100 steps), creation and "
          "compilation included (warm on-disk inductor cache) ==")  # fmt: skip
    print(f"{'side':<16} {'seconds':>8} {'steps/s':>8} {'speed-up vs reference (draws removed)':>38}")
    for side in sides:
        rates = [steps / x for x in seconds[side]]
        r = ratio(rates, [steps / x for x in seconds["reference"]]) if have_ref else None
        cell = "-" if r is None else (f"{r:.1f}x" if r >= 0.1 else f"{r:.2g}x")  # a cold compile: 0.04x
        print(f"{side:<16} {median(seconds[side]):>8.2f} {fmt_rate(median(rates)):>8} {cell:>38}")


def _sb3_envs(n_envs: int, compiled: bool | None):
    """Ours (``compiled`` True/False) or SB3's DummyVecEnv of gym.make envs (``compiled`` None)."""
    if compiled is None:
        import gymnasium as gym
        from stable_baselines3.common.env_util import make_vec_env

        import motornet_gym  # noqa: F401

        return make_vec_env(lambda: gym.make(ENV_ID), n_envs=n_envs, seed=0)
    from motornet_gym.sb3 import make_vec_env as mg_make_vec_env

    return mg_make_vec_env(ENV_ID, n_envs=n_envs, seed=0, compile=compiled)


def sb3_table(repeats: int, ppo_steps: int) -> None:
    try:
        from stable_baselines3 import PPO
    except ImportError:
        print('\nstable-baselines3 not installed (pip install "motornet-gym[sb3]"): SB3 table skipped')
        return
    n_envs = 64
    print(f"\n== SB3, {n_envs} envs (ratio vs DummyVecEnv of {n_envs} gym.make MotorEnvs) ==")
    print(f"PPO: MlpPolicy, n_steps=32 (rollout {32 * n_envs} steps), other hyper-parameters SB3's")
    print(f"defaults (10 epochs, minibatch 64); learn({ppo_steps}) after a warm-up learn, 3 rounds")
    print(f"{'variant':<36} {'env steps/s':>11} {'ratio':>7} {'PPO steps/s':>11} {'ratio':>7}")
    variants = {"DummyVecEnv x MotorEnv": None, "mg.sb3.make_vec_env": False,
                "mg.sb3.make_vec_env compile=True": True}  # fmt: skip
    venvs = {name: _sb3_envs(n_envs, compiled) for name, compiled in variants.items()}
    actions = np.full((n_envs, 6), 0.05, dtype=np.float32)
    for venv in venvs.values():
        venv.reset()
    env_rates = interleaved_rates(
        {name: (lambda venv=venv: venv.step(actions)) for name, venv in venvs.items()}, n_envs, repeats
    )
    models = {name: PPO("MlpPolicy", venv, n_steps=32, seed=0, device="cpu", verbose=0)
              for name, venv in venvs.items()}  # fmt: skip
    for model in models.values():
        model.learn(32 * n_envs)  # warm-up (and compile)
    learn = {name: (lambda m=m: m.learn(ppo_steps, reset_num_timesteps=False)) for name, m in models.items()}
    ppo_rates = interleaved_rates(learn, ppo_steps, repeats=3, min_time=0.0)
    base = "DummyVecEnv x MotorEnv"
    for name in variants:
        e, p = env_rates[name], ppo_rates[name]
        print(f"{name:<36} {fmt_rate(median(e)):>11} {ratio(e, env_rates[base]):>6.1f}x "
              f"{fmt_rate(median(p)):>11} {ratio(p, ppo_rates[base]):>6.1f}x")  # fmt: skip


def main() -> None:
    """Print the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--ppo-steps", type=int, default=4096)
    p.add_argument("--whole-run-steps", type=int, default=20_000)
    p.add_argument("--skip", nargs="*", default=[], choices=["envs", "whole", "sb3"])
    args = p.parse_args()
    torch.set_num_threads(1)
    have_ref = R.have_reference()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, median of {args.repeats} rounds")
    if "envs" not in args.skip:
        env_tables(args.repeats, have_ref)
    if "whole" not in args.skip:
        whole_run_table(min(args.repeats, 3), args.whole_run_steps, have_ref)
    if "sb3" not in args.skip:
        sb3_table(args.repeats, args.ppo_steps)


if __name__ == "__main__":
    main()
