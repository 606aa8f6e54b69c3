"""Shared plumbing of the SB3 scripts (``agents.ppo``, ``agents.sac``, ``agents.recurrent_ppo``).

* :class:`RLConfig`: the typed run configuration every RL script shares (:mod:`agents._rl_config`).
* :func:`load_hyperparams`: per-env hyperparameters from ``agents/hyperparams/<algo>.yaml``
  (rl-baselines3-zoo style), validated against the algorithm's and the policy's signatures so a
  bad key fails before any training starts.
* :func:`make_env`: the SB3 ``VecEnv`` of :func:`motornet_gym.sb3.make_vec_env` (one batched
  engine) plus the RL-only wrappers: actions rescaled from [-1, 1] to the physical excitations in
  [0, 1] (:func:`motornet_gym.sb3_agents.symmetric_actions`, recorded in ``agent.json``) and
  observation (and optionally reward) normalisation (SB3 ``VecNormalize``).
* :func:`train`: the training loop shared by the scripts (periodic evaluation on the task's fixed
  suite with :func:`agents.evaluation.evaluate_controller`, atomic checkpoints, exact resume:
  :mod:`agents._rl_resume`).
* :func:`load_agent`: a saved agent (or checkpoint) as an ``evaluate_controller`` controller.

Run-folder layout::

    config.json  summary.json  progress.csv (eval rows)  sb3_logs/ (SB3 training stats)
    checkpoints/step_000000123456/{model.zip, vecnormalize.pkl, replay_buffer.pkl, resume_state.pt,
                                   agent.json}
    checkpoints/latest.json      agent/{model.zip, vecnormalize.pkl, agent.json}   (final agent)
    best/  (same files: the agent of the lowest evaluated final error so far; its agent.json has "eval")
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents._common import (
    RunLogger,
    StopFlag,
    WallClock,
    config_to_dict,
    parse_config,
    show_progress,
    write_json,
)
from agents._rl_agent import make_env, save_agent_dir, save_checkpoint
from agents._rl_config import ConfigError, RLConfig, inherit_field_docs
from agents._rl_hyperparams import RECURRENT, load_hyperparams
from agents._rl_resume import capture_state, setup
from agents.evaluation import evaluate_controller
from motornet_gym.sb3_agents import (
    ACTION_MAPPING,
    AGENT_DIR,
    BEST_DIR,
    FORMAT,
    META,
    LSTMState,
    SB3Controller,
    algorithm_class,
    latest_checkpoint,
    load_agent,
    to_excitation,
)

#: ``on_eval(env_steps, metrics) -> keep going?`` (see :func:`train`).
OnEval = Callable[[int, dict[str, float]], bool]

__all__ = [  # the public names, re-exported for the scripts, agents.compare and users
    "ConfigError",
    "LSTMState",
    "OnEval",
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


# ----------------------------------------------------------------------------- training
def _callback_class() -> type:
    from stable_baselines3.common.callbacks import BaseCallback

    class RunCallback(BaseCallback):
        """Evaluation, checkpoints, wall-clock budget and SIGINT/SIGTERM for one run.

        Evaluations and checkpoints happen at rollout starts, i.e. right after a policy update, so a
        checkpoint's weights have been trained on every step it counts. A stop request (signal,
        wall-clock budget) is honoured there too: the run checkpoints that boundary and ends at
        the next step, whose half-collected rollout is dropped, so a resume continues exactly.
        """

        def __init__(self, run: _Run) -> None:
            super().__init__(verbose=0)
            self.run = run

        def _on_rollout_start(self) -> None:
            self.run.at_rollout_start = True
            try:
                self.run.maybe_eval_and_checkpoint()
                if self.run.should_stop():
                    self.run.stop_at_boundary()
            finally:
                self.run.at_rollout_start = False

        def _on_step(self) -> bool:
            return self.run.stopped_at is None

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
        self.on_eval: OnEval | None = None
        self.halted = False  # on_eval asked to stop
        self.stopped_at: int | None = None  # env steps of the rollout boundary a stop request ended at
        self._controller: SB3Controller | None = None
        self.at_rollout_start = False
        #: The torch RNG states just before gSDE's last noise draw (see :meth:`_watch_sde_draws`).
        self.pre_draw_rng: tuple[torch.Tensor, list[torch.Tensor] | None] | None = None
        self._watch_sde_draws()

    def _watch_sde_draws(self) -> None:
        """Record the RNG states before each gSDE exploration-matrix draw.

        An on-policy rollout draws the matrix (``policy.reset_noise``) *before* its
        ``on_rollout_start`` callback, where a mid-run checkpoint is written; a resume then draws it
        again at the start of its first rollout. So a checkpoint at a rollout start saves the RNG
        state from before that draw, and the resumed run draws the same matrix.
        """
        policy = self.model.policy
        if not getattr(self.model, "use_sde", False) or not hasattr(policy, "reset_noise"):
            return
        original = policy.reset_noise

        def reset_noise(*args: Any, **kwargs: Any) -> Any:
            cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
            self.pre_draw_rng = (torch.get_rng_state(), cuda)
            return original(*args, **kwargs)

        policy.reset_noise = reset_noise

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
        if self.on_eval is not None and not self.on_eval(steps, dict(self.last_eval)):
            self.halted = True
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
        state = capture_state(self.model, self.venv)
        if self.at_rollout_start and self.pre_draw_rng is not None:  # (see _watch_sde_draws)
            state["torch_cpu"], state["torch_cuda"] = self.pre_draw_rng
        save_checkpoint(self.out, self.model, self.venv, self.meta(), keep, self.replay, state)
        self.ckpt_step = steps

    def stop_at_boundary(self) -> None:
        """Checkpoint this rollout boundary (exact resume point); the run ends at the next step."""
        self.checkpoint()
        self.stopped_at = int(self.model.num_timesteps)

    def maybe_eval_and_checkpoint(self) -> None:
        steps = self.model.num_timesteps
        if steps >= self.next_eval:
            self.evaluate()
            self.next_eval = (steps // self.config.eval_every + 1) * self.config.eval_every
        if steps >= self.next_ckpt:
            self.checkpoint()
            self.next_ckpt = (steps // self.config.checkpoint_every + 1) * self.config.checkpoint_every

    def should_stop(self) -> bool:
        if self.halted:
            self.reason = "on_eval"
            return True
        if self.stop.requested:
            self.reason = f"signal {self.stop.signal_name}"
            return True
        if self.config.time_budget_s is not None and self.clock() >= self.config.time_budget_s:
            self.reason = "time_budget_s"
            return True
        return False


def _sb3_logger(out: Path, config: RLConfig, start: int) -> Any:
    from stable_baselines3.common.logger import configure

    formats = ["csv"]
    if config.tensorboard is not False and importlib.util.find_spec("tensorboard") is not None:
        formats.append("tensorboard")
    folder = out / "sb3_logs" / (f"resume_{start:012d}" if start else "run")
    return configure(str(folder), formats)


def train(config: RLConfig, on_eval: OnEval | None = None) -> dict[str, Any]:
    """Run (or resume) one RL training run; returns the summary (also written to ``summary.json``).

    Args:
        config: The run configuration.
        on_eval: Called after each evaluation with ``(env steps, metrics)`` (the metrics of
            :func:`agents.evaluation.evaluate_controller`); returning False ends the run at the
            next rollout boundary (``stopped_by`` ``"on_eval"``; used by ``agents.tune``'s pruning
            and ``benchmarks/rl.py``'s early stop).

    Raises:
        ConfigError: Before the run folder is written and before any training step, on anything
            wrong with the configuration (env id, hyperparameter keys and values, env kwargs,
            resume folder).
    """
    try:
        config, ckpt, hp, meta, venv, model = setup(config)
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
    hp_record = {"source": hp.source, "policy": hp.policy, "n_envs": n_envs, "normalize": hp.normalize,
                 "env_kwargs": hp.env_kwargs}  # fmt: skip
    write_json(out / "hyperparams.json", {**hp_record, "algo_kwargs": algo_kwargs})
    model.set_logger(_sb3_logger(out, config, start_steps))
    project = f"motornet_gym-{config.algorithm}"
    logger = RunLogger(out, config_to_dict(config), config.tensorboard, config.wandb, project)
    clock = WallClock(float(meta.get("wall_time_s", 0.0)))
    stop = StopFlag()
    run = _Run(config, out, model, venv, logger, clock, stop, total, config.replay)
    run.on_eval = on_eval
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
    if run.stopped_at is not None:
        # Stopped one step into a rollout that is dropped: the weights are those of the boundary,
        # whose checkpoint a resume continues from (redoing that step).
        model.num_timesteps = run.stopped_at
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
