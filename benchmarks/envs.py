"""Front-end throughput (issue 3): single env, native vector env and SB3 VecEnv vs their baselines.

Run: ``python -m benchmarks.envs [--repeats 5] [--ppo-steps 4096]``. One torch thread, median of
repeats, baselines measured in the same run; prints tables, asserts nothing.

* ``MotorEnv.step`` (numpy in/out, B = 1) vs the reference MotorNet
  ``RandomTargetReach(RigidTendonArm26(RigidTendonHillMuscle()), differentiable=False)``.
* ``MotorVectorEnv`` env-steps/s at 64 and 1024 vs the reference at the same batch size.
* SB3: env stepping (random actions) and PPO training steps/s on ``motornet_gym.sb3.make_vec_env``
  (one batched engine) vs SB3's ``make_vec_env`` over 64 ``gym.make`` envs (``DummyVecEnv``).

Each of ours runs eagerly and with ``compile=True`` (first-call compile time reported).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks._timing import fmt_rate, median_rate

ENV_ID = "motornet/Arm26Reach-v0"


def _reference(batch: int):
    import motornet as mn

    eff = mn.effector.RigidTendonArm26(mn.muscle.RigidTendonHillMuscle())
    env = mn.environment.RandomTargetReach(effector=eff, max_ep_duration=1.0, differentiable=False)
    env.reset(options={"batch_size": batch})
    a = np.full((batch, 6), 0.05, dtype=np.float32)
    steps = [0]

    def run() -> None:
        env.step(a)
        steps[0] += 1
        if steps[0] % 100 == 0:  # episodes of 100 steps, as ours
            env.reset(options={"batch_size": batch})

    return run


def _single(compiled: bool):
    from motornet_gym.envs import MotorEnv

    env = MotorEnv(ENV_ID, compile=compiled)
    env.reset(seed=0)
    a = np.full(6, 0.05, dtype=np.float32)

    def run() -> None:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()

    return run


def _vector(batch: int, compiled: bool):
    import gymnasium as gym

    import motornet_gym  # noqa: F401  (registers the ids)

    env = gym.make_vec(ENV_ID, num_envs=batch, compile=compiled)
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


def _row(name: str, rate: float, base: float | None, first_s: float | None) -> None:
    ratio = f"{rate / base:>6.1f}x" if base else f"{'-':>7}"
    first = f"{first_s:>9.1f}" if first_s is not None else f"{'-':>9}"
    print(f"{name:<36} {fmt_rate(rate):>9} {ratio} {first}")


def env_tables(repeats: int, have_ref: bool) -> None:
    hdr = f"{'variant':<36} {'steps/s':>9} {'ratio':>7} {'compile s':>9}"
    print("\n== single env step, B = 1, numpy in/out (ratio vs reference) ==")
    print(hdr)
    ref = median_rate(_reference(1), 1, repeats) if have_ref else None
    if ref:
        _row("reference RandomTargetReach B=1", ref, ref, None)
    for compiled in (False, True):
        fn, first = _timed(_single, compiled)
        _row(f"MotorEnv{' compile=True' if compiled else ''}", median_rate(fn, 1, repeats), ref,
             first if compiled else None)  # fmt: skip
    for batch in (64, 1024):
        print(f"\n== vector env, {batch} envs (env-steps/s; ratio vs reference at B={batch}) ==")
        print(hdr)
        ref = median_rate(_reference(batch), batch, repeats) if have_ref else None
        if ref:
            _row(f"reference RandomTargetReach B={batch}", ref, ref, None)
        for compiled in (False, True):
            fn, first = _timed(_vector, batch, compiled)
            _row(f"MotorVectorEnv{' compile=True' if compiled else ''}", median_rate(fn, batch, repeats), ref,
                 first if compiled else None)  # fmt: skip


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
    print(f"defaults (10 epochs, minibatch 64); learn({ppo_steps}) timed once after a warm-up learn")
    print(f"{'variant':<36} {'env steps/s':>11} {'ratio':>7} {'PPO steps/s':>11} {'ratio':>7}")
    base_env = base_ppo = None
    for name, compiled in (("DummyVecEnv x MotorEnv", None), ("mg.sb3.make_vec_env", False),
                           ("mg.sb3.make_vec_env compile=True", True)):  # fmt: skip
        venv = _sb3_envs(n_envs, compiled)
        venv.reset()
        actions = np.full((n_envs, 6), 0.05, dtype=np.float32)
        env_rate = median_rate(lambda venv=venv, a=actions: venv.step(a), n_envs, repeats)
        model = PPO("MlpPolicy", venv, n_steps=32, seed=0, device="cpu", verbose=0)
        model.learn(32 * n_envs)  # warm-up (and compile)
        t0 = time.perf_counter()
        model.learn(ppo_steps, reset_num_timesteps=False)
        ppo_rate = ppo_steps / (time.perf_counter() - t0)
        base_env = env_rate if base_env is None else base_env
        base_ppo = ppo_rate if base_ppo is None else base_ppo
        print(f"{name:<36} {fmt_rate(env_rate):>11} {env_rate / base_env:>6.1f}x "
              f"{fmt_rate(ppo_rate):>11} {ppo_rate / base_ppo:>6.1f}x")  # fmt: skip


def main() -> None:
    """Print the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--ppo-steps", type=int, default=4096)
    p.add_argument("--skip", nargs="*", default=[], choices=["envs", "sb3"])
    args = p.parse_args()
    torch.set_num_threads(1)
    try:
        import motornet  # noqa: F401

        have_ref = True
    except ImportError:
        have_ref = False
        print("motornet (reference) not installed: pip install motornet==0.3.0 for the baseline")
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, median of {args.repeats}")
    if "envs" not in args.skip:
        env_tables(args.repeats, have_ref)
    if "sb3" not in args.skip:
        sb3_table(args.repeats, args.ppo_steps)


if __name__ == "__main__":
    main()
