"""RL learning curves against error thresholds (issue 15): env steps and time to 3, 2 and 1.5 cm.

Run: ``python -m benchmarks.rl [--methods ppo,sac,recurrent_ppo,ppo_dummy] [--budget-steps 5000000]``.

Each method trains once (seed ``--seed``) with the settings of ``agents/hyperparams/<algo>.yaml``
for ``--env-id`` (the tuned ones where a search has run), evaluating on the task's fixed suite
(:func:`agents.evaluation.evaluate_controller`, mean final error in cm) every ``--eval-every`` env
steps, until the lowest threshold is reached or the budget (env steps) is spent. Methods:

* ``ppo``, ``sac``, ``recurrent_ppo``: on :func:`agents._rl_agent.make_env` (one batched engine,
  symmetric actions, ``VecNormalize`` as the YAML says), as ``agents.<algo>`` trains.
* ``ppo_dummy``: the same PPO settings through SB3's own ``make_vec_env`` (``DummyVecEnv`` over
  ``n_envs`` single ``gym.make`` envs, each in a ``Monitor``), i.e. what a user would do without our
  VecEnv; its ratio column is its time over ``ppo``'s.

Times are training wall-clock seconds without the evaluations (the same for every method); a
threshold is "reached" at the first evaluation at or below it (resolution ``--eval-every``). One
torch thread. Prints a table; asserts nothing.

Measured (2026-11-30, 2 shared CPU cores at load ~4, seed 0, Arm26Reach-v0, ppo.yaml as tuned, one
run each, ``--methods ppo,ppo_dummy --budget-steps 500000 --eval-every 125000``): ``ppo`` 504k env
steps in 99 s of training (5.1k env-steps/s), 36.6 -> 36.2 -> 36.0 -> 21.2 -> 10.5 cm; ``ppo_dummy``
the same steps in 572 s (880 env-steps/s, 0.17x), 36.6 -> 36.1 -> 31.3 -> 24.8 -> 18.6 cm (other
episode draws, one seed). No threshold was reached within that budget; the 3 / 2 / 1.5 cm crossings
need ~1.5M / 2M / 5M steps with these settings (ppo.yaml's notes), more CPU than this session had.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import torch

from agents._rl_agent import make_env
from agents._rl_hyperparams import RECURRENT, load_hyperparams
from agents.evaluation import evaluate_controller
from motornet_gym.sb3_agents import SB3Controller, algorithm_class, symmetric_actions

METHODS = ("ppo", "sac", "recurrent_ppo", "ppo_dummy")
THRESHOLDS_CM = (3.0, 2.0, 1.5)


def _dummy_env(env_id: str, n_envs: int, seed: int, env_kwargs: dict[str, Any], normalize: Any) -> Any:
    """SB3's make_vec_env over ``n_envs`` gym.make envs, with the same RL wrappers as ours."""
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    import motornet_gym  # noqa: F401  (registers the ids)

    venv = symmetric_actions(make_vec_env(lambda: gym.make(env_id, **env_kwargs), n_envs=n_envs, seed=seed))
    return VecNormalize(venv, **normalize) if normalize is not None else venv


def run_method(
    method: str,
    env_id: str,
    budget_steps: int,
    eval_every: int,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    override: dict[str, Any] | None = None,
    n_envs: int | None = None,
    device: str = "cpu",
    thresholds_cm: tuple[float, ...] = THRESHOLDS_CM,
    verbose: bool = False,
) -> dict[str, Any]:
    """Train one method until the lowest threshold or the budget; return its curve and crossings.

    Args:
        method: One of :data:`METHODS`.
        env_id: Registered id (training env and evaluation suite).
        budget_steps: Env steps of training at most.
        eval_every: Env steps between evaluations (the resolution of the crossings).
        seed: Seed of the networks, the sampling and the episodes.
        env_kwargs: ``make_simulator`` keyword arguments.
        override: Hyperparameters replacing the YAML entry's (top-level keys).
        n_envs: Environments (None: the YAML's).
        device: Networks' device.
        thresholds_cm: Final-error thresholds, cm; training stops below the lowest.
        verbose: Print each evaluation.

    Returns:
        ``curve``: ``[(env steps, train seconds, final error cm), ...]`` (step 0 included);
        ``steps_to`` / ``time_to``: threshold (cm) -> first env steps / train seconds at or below it
        (None if not reached); ``env_steps``, ``train_time_s``, ``final_error_cm``, ``fps``.

    Raises:
        ValueError: If ``method`` is not one of :data:`METHODS`.
    """
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.utils import set_random_seed
    from stable_baselines3.common.vec_env import VecNormalize

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    algorithm = "ppo" if method == "ppo_dummy" else method
    env_kwargs = dict(env_kwargs or {})
    hp = load_hyperparams(algorithm, env_id, override=override)
    n = n_envs or hp.n_envs
    set_random_seed(seed)
    if method == "ppo_dummy":
        venv = _dummy_env(env_id, n, seed, env_kwargs, hp.normalize)
    else:
        venv = make_env(env_id, n, seed, env_kwargs, hp.normalize)
    model = algorithm_class(algorithm)(hp.policy, venv, seed=seed, device=device, verbose=0, **hp.algo_kwargs)
    norm = venv if isinstance(venv, VecNormalize) else None
    controller = SB3Controller(model, norm, algorithm in RECURRENT)
    curve: list[tuple[int, float, float]] = []
    clock = {"train": 0.0, "since": time.perf_counter()}

    def evaluate() -> bool:
        clock["train"] += time.perf_counter() - clock["since"]
        err = evaluate_controller(controller, env_id, env_kwargs)["final_error_cm"]
        curve.append((int(model.num_timesteps), clock["train"], err))
        if verbose:
            print(
                f"  {method}: {model.num_timesteps} env steps, {clock['train']:.1f} s, {err:.2f} cm",
                flush=True,
            )
        clock["since"] = time.perf_counter()
        return err > min(thresholds_cm)

    class Curve(BaseCallback):
        def __init__(self) -> None:
            super().__init__(verbose=0)
            self.next_eval, self.go = eval_every, True

        def _on_rollout_start(self) -> None:
            if self.model.num_timesteps >= self.next_eval:
                self.go = evaluate()
                self.next_eval = (self.model.num_timesteps // eval_every + 1) * eval_every

        def _on_step(self) -> bool:
            return self.go

    go = evaluate()
    if go:
        model.learn(budget_steps, callback=Curve())
    if curve[-1][0] != model.num_timesteps and curve[-1][2] > min(thresholds_cm):
        evaluate()
    steps_to = {t: next((s for s, _, e in curve if e <= t), None) for t in thresholds_cm}
    time_to = {t: next((w for _, w, e in curve if e <= t), None) for t in thresholds_cm}
    last = curve[-1]
    return {
        "method": method,
        "env_id": env_id,
        "n_envs": n,
        "curve": curve,
        "steps_to": steps_to,
        "time_to": time_to,
        "env_steps": last[0],
        "train_time_s": last[1],
        "final_error_cm": last[2],
        "best_error_cm": min(e for _, _, e in curve),
        "fps": last[0] / max(last[1], 1e-9),
    }


def _cell(steps: int | None, secs: float | None) -> str:
    return "not reached" if steps is None else f"{steps / 1e6:.2f}M / {secs:.0f} s"


def table(results: list[dict[str, Any]]) -> str:
    """Markdown table: per method, env steps / seconds to each threshold, final error, ratio to ``ppo``."""
    thresholds = tuple(results[0]["steps_to"])
    base = {t: r["time_to"][t] for r in results if r["method"] == "ppo" for t in thresholds}
    base_fps = next((r["fps"] for r in results if r["method"] == "ppo"), None)
    head = [
        "method",
        "n_envs",
        *(f"to {t:g} cm (steps / s)" for t in thresholds),
        "final cm",
        "best cm",
        "env-steps/s",
        "env-steps/s / ppo's",
        "time / ppo's (lowest threshold first)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        ratios = []
        for t in sorted(thresholds):
            mine, ref = r["time_to"][t], base.get(t)
            ratios.append(f"{mine / ref:.2f}x" if mine is not None and ref else "-")
        cells = [
            r["method"],
            str(r["n_envs"]),
            *(_cell(r["steps_to"][t], r["time_to"][t]) for t in thresholds),
            f"{r['final_error_cm']:.2f}",
            f"{r['best_error_cm']:.2f}",
            f"{r['fps']:.0f}",
            f"{r['fps'] / base_fps:.2f}x" if base_fps else "-",
            ", ".join(ratios),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Command-line entry point: run the methods, print the table (and the curves with --json)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="ppo,ppo_dummy", help=f"comma-separated, of {', '.join(METHODS)}")
    p.add_argument("--env-id", default="motornet/Arm26Reach-v0")
    p.add_argument("--env-kwargs", type=json.loads, default={}, help="JSON, make_simulator kwargs")
    p.add_argument("--budget-steps", type=int, default=5_000_000, help="env steps per method")
    p.add_argument("--eval-every", type=int, default=250_000, help="env steps between evaluations")
    p.add_argument("--n-envs", type=int, default=None, help="None: the YAML's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="networks' device (the engine runs on the CPU)")
    p.add_argument("--overrides", type=json.loads, default={}, help='JSON {"ppo": {...}, ...}')
    p.add_argument("--json", default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or args.budget_steps < 1 or args.eval_every < 1:
        p.error(f"--methods must be of {', '.join(METHODS)} (got {bad}); budgets must be >= 1")
    torch.set_num_threads(1)
    results = []
    for m in methods:
        algo = "ppo" if m == "ppo_dummy" else m
        r = run_method(
            m,
            args.env_id,
            args.budget_steps,
            args.eval_every,
            args.seed,
            args.env_kwargs,
            args.overrides.get(algo),
            args.n_envs,
            args.device,
            verbose=True,
        )
        results.append(r)
        print(
            f"{m}: {r['env_steps']} env steps, {r['train_time_s']:.1f} s, final {r['final_error_cm']:.2f} cm",
            flush=True,
        )
    print(f"\n== {args.env_id}: env steps and training seconds to the thresholds (seed {args.seed}) ==")
    print(table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                results, f, indent=2, default=lambda x: None if isinstance(x, float) and math.isnan(x) else x
            )
    return results


if __name__ == "__main__":
    main()
