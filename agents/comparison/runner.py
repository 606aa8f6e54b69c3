"""The comparison's runner: validate everything up front, run the trials (in order or on Ray), report."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import motornet_gym as mg
from agents import protocol as P
from agents._common import check_env_id, config_to_dict, write_json
from agents.comparison.config import CompareConfig
from agents.comparison.report import build_report, publish
from agents.comparison.trials import check_trial_folder, run_trial, trial_dir, trial_phases, trial_settings


# ----------------------------------------------------------------------------- validation
def validate(config: CompareConfig) -> None:
    """Every check that can fail, before any training starts."""
    check_env_id(config.env_id)
    check_env_id(config.train_env_id)
    kw = config.env_kwargs
    ev = mg.make_simulator(config.env_id, **kw)  # unknown kwargs raise here
    ids = {"train_env_id": config.train_env_id, "perturbation suite": P.PERTURBATION_ID}
    if config.adaptation() is not None:
        ids["force-field suite"] = P.FORCE_FIELD_ID
    for name, other in ids.items():
        parts = mg.make_simulator(other, **kw).observation_parts
        if parts != ev.observation_parts:
            raise ValueError(
                f"{name} {other!r} must have the observation of env_id {config.env_id!r} "
                f"{ev.observation_parts}; got {parts}"
            )
    if config.point_mass_batches > 0:
        mg.make_simulator(P.POINT_MASS_ID, **kw)
    if any(m != "backprop" for m in config.method_list()):
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            raise ImportError('RL methods need stable-baselines3: pip install "motornet-gym[sb3]"') from None
    if config.executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ImportError('--executor ray needs Ray: pip install "motornet-gym[ray]"') from None
    for m in config.method_list():
        for s in range(config.n_seeds):
            check_trial_folder(trial_dir(config, m, s), trial_settings(config, m, s))
    for method, dirs in config.load.items():
        for d in dirs[: config.n_seeds]:
            meta = _run_metadata(method, Path(d))
            if meta.get("env_id") not in (config.env_id, config.train_env_id):
                raise ValueError(
                    f"load[{method!r}]: {d} was trained on {meta.get('env_id')!r}; expected "
                    f"{config.env_id!r} or {config.train_env_id!r}"
                )


def _run_metadata(method: str, run: Path) -> dict[str, Any]:
    if method == "backprop":
        path = run / "policy.pt" if run.is_dir() else run
        return mg.policies.load_policy(path)[1]
    return mg.sb3_agents.load_agent(run).metadata


# ----------------------------------------------------------------------------- executors
def _run_sequential(config: CompareConfig, trials: list[tuple[str, int]]) -> None:
    """Run the trials in order; on a terminal, one progress bar over every trial's phases (with an ETA)."""
    units = [(m, s, p) for m, s in trials for p in trial_phases(config, m)]
    bar = None
    if config.show_progress():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=len(units), desc="compare", unit="phase", dynamic_ncols=True)
    inner = dataclasses.replace(config, progress=False) if bar is not None else config  # one bar only
    for i, (method, seed) in enumerate(trials):
        t0 = time.perf_counter()
        if bar is None:
            print(f"[compare] trial {i + 1}/{len(trials)}: {method} seed {seed} ...", file=sys.stderr,
                  flush=True)  # fmt: skip

        def step(name: str, method: str = method, seed: int = seed) -> None:
            if bar is not None:
                bar.set_postfix_str(f"{method} seed {seed}: {name} done")
                bar.update(1)

        if (trial_dir(config, method, seed) / "eval.json").is_file() and bar is not None:
            bar.update(len(trial_phases(config, method)))  # finished earlier
        run_trial(inner, method, seed, on_phase=step)
        if bar is None:
            print(f"[compare] {method} seed {seed} done in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
    if bar is not None:
        bar.close()


def _run_ray(config: CompareConfig, trials: list[tuple[str, int]]) -> None:
    """One Ray Tune trial per (method, seed), one CPU each; results land in the same trial folders."""
    import ray
    from ray import tune

    ray.init(ignore_reinit_error=True, include_dashboard=False)
    cfg = config_to_dict(config)

    def trainable(params: dict[str, Any]) -> dict[str, Any]:
        method, seed = trials[params["pair"]]
        out = run_trial(CompareConfig(**params["config"]), method, seed)
        return {"final_error_cm": out["metrics"].get("final_error_cm")}

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space={"config": cfg, "pair": tune.grid_search(list(range(len(trials))))},
        run_config=tune.RunConfig(storage_path=str(Path(config.out_dir).resolve() / "ray"), name="compare"),
    )
    grid = tuner.fit()
    if grid.errors:
        raise RuntimeError(f"{len(grid.errors)} Ray trial(s) failed; first error: {grid.errors[0]!r}")


def compare(config: CompareConfig) -> Path:
    """Validate, run every trial (skipping finished ones), and write the report."""
    validate(config)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config_to_dict(config))
    trials = [(m, s) for m in config.method_list() for s in range(config.n_seeds)]
    if config.executor == "ray":
        _run_ray(config, trials)
    else:
        _run_sequential(config, trials)
    path = build_report(config)
    if config.publish is not None:
        publish(path, Path(config.publish))
    return path
