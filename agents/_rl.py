"""Shared plumbing of the SB3 scripts (``agents.ppo``, ``agents.sac``, ``agents.recurrent_ppo``).

* :class:`RLConfig`: the typed run configuration every RL script shares.
* :func:`load_hyperparams`: per-env hyperparameters from ``agents/hyperparams/<algo>.yaml``
  (rl-baselines3-zoo style), validated against the algorithm's and the policy's signatures so a
  bad key fails before any training starts.
* :func:`make_env`: the SB3 ``VecEnv`` of :func:`motornet_gym.sb3.make_vec_env` (one batched
  engine) plus the RL-only wrappers: actions rescaled from [-1, 1] to the physical excitations in
  [0, 1] (:func:`motornet_gym.sb3_agents.symmetric_actions`, recorded in ``agent.json``) and
  observation (and optionally reward) normalisation (SB3 ``VecNormalize``).
* :func:`train`: the training loop shared by the scripts (periodic evaluation on the task's fixed
  suite with :func:`agents.evaluation.evaluate_controller`, atomic checkpoints, resume).
* :func:`load_agent`: a saved agent (or checkpoint) as an ``evaluate_controller`` controller.

Run-folder layout::

    config.json  summary.json  progress.csv (eval rows)  sb3_logs/ (SB3 training stats)
    checkpoints/step_000000123456/{model.zip, vecnormalize.pkl, replay_buffer.pkl, agent.json}
    checkpoints/latest.json      agent/{model.zip, vecnormalize.pkl, agent.json}   (final agent)
    best/  (same files: the agent of the lowest evaluated final error so far; its agent.json has "eval")
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

import motornet_gym as mg
from agents._common import (
    RunLogger,
    StopFlag,
    WallClock,
    check_env_id,
    config_to_dict,
    parse_config,
    show_progress,
    write_json,
)
from agents._rl_agent import make_env, save_agent_dir, save_checkpoint
from agents._rl_hyperparams import OFF_POLICY, RECURRENT, Hyperparams, load_hyperparams
from motornet_gym.sb3_agents import (
    ACTION_MAPPING,
    AGENT_DIR,
    BEST_DIR,
    CHECKPOINTS,
    FORMAT,
    META,
    MODEL,
    REPLAY,
    VECNORM,
    LSTMState,
    SB3Controller,
    algorithm_class,
    latest_checkpoint,
    load_agent,
    resolve_agent_dir,
    to_excitation,
)

__all__ = [  # the public names, re-exported for the scripts, agents.compare and users
    "ConfigError",
    "LSTMState",
    "RLConfig",
    "SB3Controller",
    "algorithm_class",
    "inherit_field_docs",
    "latest_checkpoint",
    "load_agent",
    "load_hyperparams",
    "make_env",
    "run_cli",
    "to_excitation",
    "train",
]
from agents.evaluation import evaluate_controller


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True, kw_only=True)
class RLConfig:
    """Configuration of a stable-baselines3 training run.

    Attributes:
        env_id: Registered environment id (training).
        eval_env_id: Id whose evaluation suite is logged during training (None: env_id); same
            observation as env_id.
        env_kwargs: Keyword arguments of ``make_simulator`` (delays, noise, episode_duration, ...).
        hyperparams: YAML file of per-env hyperparameters (None: agents/hyperparams/<algo>.yaml).
        hyperparams_override: Top-level entries replacing those of the YAML entry of env_id (same keys).
        n_envs: Environments in the batched engine (None: the YAML's n_envs).
        total_steps: Total environment steps of the run, across resumes (None: the YAML's n_timesteps).
        time_budget_s: Wall-clock budget in seconds, across resumes (None: no limit).
        eval_every: Evaluate on the task's fixed evaluation suite every this many env steps.
        checkpoint_every: Write a checkpoint every this many env steps.
        keep_checkpoints: Number of most recent checkpoints kept on disk.
        save_replay_buffer: Also checkpoint the replay buffer (off-policy algorithms only).
        seed: Seed of the networks, the action sampling and the episodes.
        device: Torch device of the networks ('cpu' or 'cuda'; the engine runs on the CPU).
        n_threads: torch CPU threads (torch.set_num_threads).
        out_dir: Run folder (checkpoints, final agent, progress.csv, config.json, summary.json).
        tensorboard: Log to TensorBoard (None: when installed).
        wandb: wandb mode, 'offline' or 'online' (None: off).
        progress: Show SB3's progress bar (None: when stderr is a terminal).
        resume: Run folder to resume from (its config is used; only total_steps, time_budget_s,
            progress and device given here override it).
        init_from: Saved agent (run folder, agent or checkpoint folder) of the same algorithm whose
            weights and observation statistics initialise this run (e.g. adaptation to a force
            field); its step count is not carried over. Ignored when resuming.
    """

    algorithm: ClassVar[str] = ""

    env_id: str = "motornet/Arm26Reach-v0"
    eval_env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    hyperparams: str | None = None
    hyperparams_override: dict[str, Any] = field(default_factory=dict)
    n_envs: int | None = None
    total_steps: int | None = None
    time_budget_s: float | None = None
    eval_every: int = 50_000
    checkpoint_every: int = 200_000
    keep_checkpoints: int = 2
    save_replay_buffer: bool = False
    seed: int = 0
    device: str = "cpu"
    n_threads: int = 1
    out_dir: str = "runs/rl"
    tensorboard: bool | None = None
    wandb: str | None = None
    progress: bool | None = None
    resume: str | None = None
    init_from: str | None = None

    def __post_init__(self) -> None:
        for name in ("eval_every", "checkpoint_every", "keep_checkpoints", "n_threads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
        for name in ("n_envs", "total_steps"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be an integer >= 1 or None; got {v!r}")
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"time_budget_s must be > 0 or None; got {self.time_budget_s!r}")
        if self.wandb not in (None, "offline", "online"):
            raise ValueError(f"wandb must be 'offline', 'online' or None; got {self.wandb!r}")
        for name in ("env_kwargs", "hyperparams_override"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"{name} must be a dict; got {type(getattr(self, name)).__name__}")
        if self.save_replay_buffer and self.algorithm not in OFF_POLICY:
            raise ValueError(f"save_replay_buffer is for off-policy algorithms only; got {self.algorithm!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:k]'; got {self.device!r}")


def inherit_field_docs(cls: type) -> type:
    """Append the ``Attributes:`` section of :class:`RLConfig` to a subclass docstring (CLI help)."""
    doc = RLConfig.__doc__ or ""
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n" + doc[doc.index("    Attributes:") :]
    return cls


# ----------------------------------------------------------------------------- training
def _callback_class() -> type:
    from stable_baselines3.common.callbacks import BaseCallback

    class RunCallback(BaseCallback):
        """Evaluation, checkpoints, wall-clock budget and SIGINT/SIGTERM for one run.

        Evaluations and checkpoints happen at rollout starts, i.e. right after a policy update, so a
        checkpoint's weights have been trained on every step it counts.
        """

        def __init__(self, run: _Run) -> None:
            super().__init__(verbose=0)
            self.run = run

        def _on_rollout_start(self) -> None:
            self.run.maybe_eval_and_checkpoint()

        def _on_step(self) -> bool:
            return not self.run.should_stop()

    return RunCallback


class _Run:
    """State of one training run shared by the callback and :func:`train`."""

    def __init__(self, config: RLConfig, out: Path, model: Any, venv: Any, logger: RunLogger,
                 clock: WallClock, stop: StopFlag, total: int, replay: bool) -> None:  # fmt: skip
        self.config, self.out, self.model, self.venv, self.logger = config, out, model, venv, logger
        self.clock, self.stop, self.total, self.replay = clock, stop, total, replay
        self.next_eval = (model.num_timesteps // config.eval_every + 1) * config.eval_every
        self.next_ckpt = (model.num_timesteps // config.checkpoint_every + 1) * config.checkpoint_every
        self.last_eval: dict[str, float] = {}
        best_meta = out / BEST_DIR / META
        resumed = config.resume is not None and best_meta.is_file()  # a fresh run ignores a stale best/
        self.best = json.loads(best_meta.read_text())["eval"]["final_error_cm"] if resumed else np.inf
        self.eval_step = -1
        self.ckpt_step = model.num_timesteps if config.resume else -1
        self.reason = "total_steps"
        self._controller: SB3Controller | None = None

    def controller(self) -> SB3Controller:
        """The model as a controller, built once.

        It reads the model and statistics in place; each construction would add another forward hook
        to the actor.
        """
        if self._controller is None:
            from stable_baselines3.common.vec_env import VecNormalize

            norm = self.venv if isinstance(self.venv, VecNormalize) else None
            self._controller = SB3Controller(self.model, norm, self.config.algorithm in RECURRENT)
        return self._controller

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "algorithm": self.config.algorithm, "env_id": self.config.env_id,
            "env_kwargs": dict(self.config.env_kwargs), "env_steps": int(self.model.num_timesteps),
            "wall_time_s": self.clock(), "seed": self.config.seed, "config": config_to_dict(self.config),
            "action_mapping": ACTION_MAPPING,
        }  # fmt: skip

    def evaluate(self) -> None:
        steps = int(self.model.num_timesteps)
        if steps == self.eval_step:
            return
        cfg = self.config
        eval_id = cfg.eval_env_id or cfg.env_id
        self.last_eval = evaluate_controller(self.controller(), eval_id, dict(cfg.env_kwargs))
        self.eval_step = steps
        eps = list(self.model.ep_info_buffer or [])
        ep_rew = float(np.mean([e["r"] for e in eps])) if eps else float("nan")
        ep_cost = float(np.mean([-e["r"] / e["l"] for e in eps])) if eps else float("nan")
        wall = self.clock()
        row = {"env_steps": steps, "wall_time_s": wall, "fps": steps / max(wall, 1e-9),
               "train/ep_rew_mean": ep_rew, "train/cost": ep_cost,
               **{f"eval/{k}": v for k, v in self.last_eval.items()}}  # fmt: skip
        self.logger.log(row, step=steps)
        for k, v in self.last_eval.items():
            self.model.logger.record(f"eval/{k}", v)
        if self.last_eval["final_error_cm"] < self.best:
            self.best = self.last_eval["final_error_cm"]
            save_agent_dir(
                self.out / BEST_DIR, self.model, self.venv, {**self.meta(), "eval": self.last_eval}
            )

    def checkpoint(self) -> None:
        steps = int(self.model.num_timesteps)
        if steps == self.ckpt_step:
            return
        keep = self.config.keep_checkpoints
        save_checkpoint(self.out, self.model, self.venv, self.meta(), keep, self.replay)
        self.ckpt_step = steps

    def maybe_eval_and_checkpoint(self) -> None:
        steps = self.model.num_timesteps
        if steps >= self.next_eval:
            self.evaluate()
            self.next_eval = (steps // self.config.eval_every + 1) * self.config.eval_every
        if steps >= self.next_ckpt:
            self.checkpoint()
            self.next_ckpt = (steps // self.config.checkpoint_every + 1) * self.config.checkpoint_every

    def should_stop(self) -> bool:
        if self.stop.requested:
            self.reason = f"signal {self.stop.signal_name}"
            return True
        if self.config.time_budget_s is not None and self.clock() >= self.config.time_budget_s:
            self.reason = "time_budget_s"
            return True
        return False


def _resolve_resume(config: RLConfig) -> tuple[RLConfig, Path | None]:
    if config.resume is None:
        return config, None
    run_dir = Path(config.resume)
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint to resume from under {str(run_dir / CHECKPOINTS)!r}")
    saved = json.loads((run_dir / "config.json").read_text())
    keep = {k: getattr(config, k) for k in ("total_steps", "time_budget_s") if getattr(config, k) is not None}
    saved.update(keep, resume=str(run_dir), out_dir=str(run_dir))
    saved.update(progress=config.progress, device=config.device)
    names = {f.name for f in dataclasses.fields(type(config))}
    return type(config)(**{k: v for k, v in saved.items() if k in names}), ckpt


def _sb3_logger(out: Path, config: RLConfig, start: int) -> Any:
    from stable_baselines3.common.logger import configure

    formats = ["csv"]
    if config.tensorboard is not False and importlib.util.find_spec("tensorboard") is not None:
        formats.append("tensorboard")
    folder = out / "sb3_logs" / (f"resume_{start:012d}" if start else "run")
    return configure(str(folder), formats)


class ConfigError(ValueError):
    """An invalid run configuration (env id, hyperparameters, env kwargs, resume folder).

    Raised before the run folder is written and before any training step.
    """


def _setup(config: RLConfig) -> tuple[RLConfig, Path | None, Hyperparams, dict[str, Any], Any, Any]:
    """Resolve resume, validate everything, seed, build the env and the model (no training)."""
    from stable_baselines3.common.utils import set_random_seed

    config, ckpt = _resolve_resume(config)
    env_id = check_env_id(config.env_id)
    if config.eval_env_id is not None:
        train_obs = mg.make_simulator(env_id, **config.env_kwargs).observation_parts
        eval_obs = mg.make_simulator(check_env_id(config.eval_env_id), **config.env_kwargs).observation_parts
        if eval_obs != train_obs:
            raise ValueError(
                f"eval_env_id {config.eval_env_id!r} must have the observation of env_id {env_id!r} "
                f"{train_obs}; got {eval_obs}"
            )
    hp = load_hyperparams(config.algorithm, env_id, config.hyperparams, config.hyperparams_override)
    cls = algorithm_class(config.algorithm)
    meta = json.loads((ckpt / META).read_text()) if ckpt is not None else {}
    start_steps = int(meta.get("env_steps", 0))

    # One seeding block: python/numpy/torch, the episodes (engine generator) and the model. A resumed
    # run reseeds with seed + steps so it does not replay the first episodes.
    torch.set_num_threads(config.n_threads)
    run_seed = config.seed + start_steps
    set_random_seed(run_seed)
    init_dir = resolve_agent_dir(config.init_from) if config.init_from and ckpt is None else None
    source = ckpt if ckpt is not None else init_dir
    if init_dir is not None:
        init_algo = json.loads((init_dir / META).read_text()).get("algorithm")
        if init_algo != config.algorithm:
            raise ValueError(
                f"init_from {str(init_dir)!r} is a {init_algo!r} agent; expected {config.algorithm!r}"
            )
    vecnorm_path = source / VECNORM if source is not None and (source / VECNORM).is_file() else None
    n_envs = config.n_envs or hp.n_envs
    venv = make_env(env_id, n_envs, run_seed, config.env_kwargs, hp.normalize, vecnorm_path)
    if ckpt is not None:
        model = cls.load(str(ckpt / MODEL), env=venv, device=config.device)
        model.set_random_seed(run_seed)
        if (ckpt / REPLAY).is_file():
            model.load_replay_buffer(str(ckpt / REPLAY))
    elif init_dir is not None:
        model = cls.load(str(init_dir / MODEL), env=venv, device=config.device)
        model.set_random_seed(run_seed)
        model.num_timesteps = 0
    else:
        model = cls(hp.policy, venv, seed=run_seed, device=config.device, verbose=0, **hp.algo_kwargs)
    return config, ckpt, hp, meta, venv, model


def train(config: RLConfig) -> dict[str, Any]:
    """Run (or resume) one RL training run; returns the summary (also written to ``summary.json``).

    Raises:
        ConfigError: Before the run folder is written and before any training step, on anything
            wrong with the configuration (env id, hyperparameter keys and values, env kwargs,
            resume folder).
    """
    try:
        config, ckpt, hp, meta, venv, model = _setup(config)
    except (ValueError, TypeError, FileNotFoundError, AssertionError) as e:
        raise ConfigError(f"{type(e).__name__}: {e}") from e
    env_id = config.env_id
    n_envs = venv.num_envs
    total = config.total_steps or hp.n_timesteps
    start_steps = int(meta.get("env_steps", 0))

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config_to_dict(config))
    plain = (int, float, str, bool)
    algo_kwargs = {k: v if isinstance(v, plain) else repr(v) for k, v in hp.algo_kwargs.items()}
    hp_record = {"source": hp.source, "policy": hp.policy, "n_envs": n_envs, "normalize": hp.normalize}
    write_json(out / "hyperparams.json", {**hp_record, "algo_kwargs": algo_kwargs})
    model.set_logger(_sb3_logger(out, config, start_steps))
    project = f"motornet_gym-{config.algorithm}"
    logger = RunLogger(out, config_to_dict(config), config.tensorboard, config.wandb, project)
    clock = WallClock(float(meta.get("wall_time_s", 0.0)))
    stop = StopFlag()
    run = _Run(config, out, model, venv, logger, clock, stop, total, config.save_replay_buffer)
    callbacks: list[Any] = [_callback_class()(run)]
    if config.wandb is not None:
        try:
            from wandb.integration.sb3 import WandbCallback
        except ImportError:
            raise ImportError('wandb logging needs wandb: pip install "motornet-gym[wandb]"') from None
        callbacks.append(WandbCallback(verbose=0))
    if ckpt is None:
        run.evaluate()  # the untrained policy: the first point of the learning curve
    with stop.installed():
        remaining = total - model.num_timesteps
        if remaining > 0 and not run.should_stop():
            model.learn(remaining, callback=callbacks, reset_num_timesteps=ckpt is None,
                        progress_bar=show_progress(config.progress))  # fmt: skip
    run.evaluate()
    run.checkpoint()
    save_agent_dir(out / AGENT_DIR, model, venv, run.meta())
    logger.close()
    summary = {"stopped_by": run.reason, "algorithm": config.algorithm, "env_id": env_id,
               "env_steps": int(model.num_timesteps), "wall_time_s": clock(),
               "fps": (model.num_timesteps - start_steps) / max(clock() - clock.offset, 1e-9),
               "eval": run.last_eval, "best_final_error_cm": float(run.best),
               "out_dir": str(out)}  # fmt: skip
    write_json(out / "summary.json", summary)
    if run.reason.startswith("signal"):
        print(f"stopped by {run.reason}; resume with: python -m agents.{config.algorithm} --resume {out}",
              file=sys.stderr)  # fmt: skip
    return summary


def run_cli(config_cls: type[RLConfig], argv: list[str] | None, doc: str) -> None:
    """Command-line entry point shared by the scripts: parse, train, print the summary.

    A configuration error exits with ``error: ...`` and no traceback.
    """
    config = parse_config(config_cls, argv, description=doc.splitlines()[0])
    try:
        summary = train(config)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    print(json.dumps(summary, indent=2))
