"""Train a GRU policy by backprop through the simulation (BPTT) on a registered task.

Run from the repository root::

    python -m agents.backprop --env-id motornet/Arm26Reach-v0 --n-batches 2000
    python -m agents.backprop --resume runs/backprop          # continue an interrupted run

The loss is the task's own cost (the negative of the Gymnasium reward), averaged over time and
batch, plus optional policy-side regularisers (hidden-activity L2 and its time derivative,
Sussillo et al. 2015, doi:10.1038/nn.4042) that are logged separately and never folded into the
task cost. Checkpoints (policy, optimiser, RNG, counters) are written atomically every
``checkpoint_every`` batches and on SIGINT/SIGTERM; a resumed run reproduces an uninterrupted one
exactly on the CPU because each batch's episodes are seeded from (seed, batch index).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

import motornet_gym as mg
from agents._common import (
    Progress,
    RunLogger,
    StopFlag,
    WallClock,
    check_env_id,
    check_ints,
    config_to_dict,
    parse_config,
    show_progress,
    write_json,
)
from agents.evaluation import evaluate_policy

CHECKPOINT = "checkpoint.pt"
POLICY = "policy.pt"
_FORMAT = "motornet_gym.backprop_checkpoint/1"


@dataclass(frozen=True, kw_only=True)
class BackpropConfig:
    """Configuration of a backprop (BPTT) training run.

    Attributes:
        env_id: Registered environment id (training).
        eval_env_id: Id whose evaluation suite is logged during training (None: env_id); must have
            the same observation as env_id (e.g. train with perturbations, evaluate without).
        env_kwargs: Keyword arguments of ``make_simulator`` (delays, noise, task options).
        batch_size: Episodes per gradient step.
        hidden_size: GRU units.
        lr: Adam learning rate.
        lr_final_fraction: Cosine decay of the learning rate to this fraction of ``lr`` over the run
            (by batches when n_batches is set, else by wall-clock budget); 1 keeps it constant. The
            default 0.05 settles the error: arm26 reach 0.30 cm at 3 min vs 0.5-2 cm with a constant lr.
        grad_clip: Max global gradient norm (0 disables clipping).
        n_batches: Number of gradient steps (None: until the time budget).
        time_budget_s: Wall-clock budget in seconds (None: until n_batches).
        hidden_noise: Standard deviation of the GRU's training-time hidden-state noise (sigma_h).
        hidden_l2: Weight of mean squared hidden activity.
        hidden_l2_derivative: Weight of mean squared time derivative of hidden activity (1/s^2 units).
        eval_every: Evaluate on the task's fixed evaluation suite every this many batches.
        eval_size: Evaluation trials (None: the task's default suite size).
        checkpoint_every: Write a checkpoint every this many batches.
        seed: Seed of the policy initialisation and of every batch's episodes.
        out_dir: Run folder (checkpoint, final policy, progress.csv, config.json).
        device: Torch device.
        n_threads: torch CPU threads (1 is fastest for these small ops, and avoids contention).
        compile: Run the simulator step through torch.compile (3x faster per batch after ~10-20 s of
            compilation; falls back to eager with one warning when no C++ compiler is found).
        compile_policy: Also compile the GRU's step for the training rollouts
            (:func:`motornet_gym.policies.compile_policy`: ~1.2x faster per batch). Off by default:
            its hidden noise then comes from inductor's generator, so a run's numbers differ from
            those of the same run without it (each is reproducible); the published protocol runs
            without it.
        fuse_steps: Run this many consecutive policy-and-simulator steps of a training rollout as
            one compiled graph (``mg.rollout(..., fuse_steps=K)``; 1: step by step). ``K = 5``: ~1.7x
            faster per batch than ``compile_policy`` (arm26, GRU 128, B = 64), after ~15 s more
            compilation with a warm cache (minutes cold). Off by default for the same reason as
            ``compile_policy`` (the hidden noise's generator); it supersedes ``compile_policy``.
        tensorboard: Log to TensorBoard (None: when installed).
        wandb: wandb mode, 'offline' or 'online' (None: off).
        progress: Show a progress bar (None: when stderr is a terminal, so quiet in CI and when piped).
        init_policy: Saved policy (policy.pt) to start from instead of a fresh initialisation
            (e.g. adaptation to a force field after training without one).
        resume: Run folder to resume from (its config is used; other flags are ignored).
    """

    env_id: str = "motornet/Arm26Reach-v0"
    eval_env_id: str | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    hidden_size: int = 128
    lr: float = 1e-3
    lr_final_fraction: float = 0.05
    grad_clip: float = 1.0
    n_batches: int | None = 2000
    time_budget_s: float | None = None
    hidden_noise: float = 0.0
    hidden_l2: float = 0.0
    hidden_l2_derivative: float = 0.0
    eval_every: int = 50
    eval_size: int | None = None
    checkpoint_every: int = 100
    seed: int = 0
    out_dir: str = "runs/backprop"
    device: str = "cpu"
    n_threads: int = 1
    compile: bool = True
    compile_policy: bool = False
    fuse_steps: int = 1
    tensorboard: bool | None = None
    wandb: str | None = None
    progress: bool | None = None
    init_policy: str | None = None
    resume: str | None = None

    def __post_init__(self) -> None:
        check_ints(
            self, ("batch_size", "hidden_size", "eval_every", "checkpoint_every", "n_threads", "fuse_steps")
        )
        if self.n_batches is None and self.time_budget_s is None and self.resume is None:
            raise ValueError("give n_batches or time_budget_s (or both); got neither")
        check_ints(self, ("n_batches",), allow_none=True)
        if self.time_budget_s is not None and not self.time_budget_s > 0:
            raise ValueError(f"time_budget_s must be > 0 or None; got {self.time_budget_s!r}")
        for name in ("lr",):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)!r}")
        for name in ("grad_clip", "hidden_noise", "hidden_l2", "hidden_l2_derivative"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0; got {getattr(self, name)!r}")
        if not 0 < self.lr_final_fraction <= 1:
            raise ValueError(f"lr_final_fraction must be in (0, 1]; got {self.lr_final_fraction!r}")
        if self.wandb not in (None, "offline", "online"):
            raise ValueError(f"wandb must be 'offline', 'online' or None; got {self.wandb!r}")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict; got {type(self.env_kwargs).__name__}")


def batch_seed(seed: int, batch: int) -> int:
    """Seed of the episodes of gradient step ``batch`` (independent of anything else)."""
    return (seed * 1_000_003 + batch) % (2**63 - 1)


def regularisers(hidden: torch.Tensor | None, dt: float) -> dict[str, torch.Tensor]:
    """Hidden-activity L2 and time-derivative L2 of ``hidden (T, B, H)``."""
    if hidden is None:
        return {}
    return {
        "hidden_l2": hidden.pow(2).mean(),
        "hidden_l2_derivative": ((hidden[1:] - hidden[:-1]) / dt).pow(2).mean(),
    }


def learning_rate(config: BackpropConfig, batch: int, elapsed_s: float) -> float:
    """Cosine decay from ``lr`` to ``lr * lr_final_fraction`` over the run's progress in [0, 1]."""
    if config.n_batches is not None:
        progress = batch / config.n_batches
    else:
        progress = elapsed_s / config.time_budget_s  # type: ignore[operator]
    f = config.lr_final_fraction
    return config.lr * (f + (1 - f) * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0))))


def _load_checkpoint(run_dir: Path) -> dict[str, Any]:
    ckpt = mg.io.safe_load(run_dir / CHECKPOINT, "checkpoint")
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        got = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        path = str(run_dir / CHECKPOINT)
        raise ValueError(f"checkpoint {path!r} must have format {_FORMAT!r}; got {got!r}")
    return ckpt


def train(config: BackpropConfig) -> dict[str, Any]:
    """Run (or resume) training; returns a summary dict (also written to ``summary.json``)."""
    ckpt = None
    if config.resume is not None:
        run_dir = Path(config.resume)
        ckpt = _load_checkpoint(run_dir)
        saved = dict(ckpt["config"])
        saved.update(resume=str(run_dir), out_dir=str(run_dir), progress=config.progress)
        config = BackpropConfig(**saved)
    env_id = check_env_id(config.env_id)
    if config.eval_size is not None and "eval_size" not in mg.ENV_SPECS[env_id].valid_kwargs():
        raise ValueError(
            f"eval_size applies to tasks with a random evaluation suite (reach); {env_id} has a fixed "
            f"suite (use its n_targets); got eval_size={config.eval_size}"
        )
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config_to_dict(config))

    # One seeding block: the policy initialisation; each batch's episodes use batch_seed().
    torch.set_num_threads(config.n_threads)
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    fast = {"compile": True} if config.compile else {}
    sim = mg.make_simulator(env_id, batch_size=config.batch_size, device=device, **fast, **config.env_kwargs)
    if config.init_policy is not None:
        policy, _ = mg.policies.load_policy(config.init_policy)
        if not isinstance(policy, mg.policies.GRUPolicy) or policy.obs_size != sim.observation_size:
            raise ValueError(
                f"init_policy must be a GRUPolicy with obs_size {sim.observation_size} for {env_id}; "
                f"got {type(policy).__name__} with obs_size {getattr(policy, 'obs_size', None)}"
            )
        policy.hidden_noise = config.hidden_noise
        policy = policy.to(device)
    else:
        policy = mg.policies.GRUPolicy(
            sim.observation_size, sim.action_size, config.hidden_size, hidden_noise=config.hidden_noise
        ).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    # The training rollouts' policy: the module itself, or its compiled forward (same parameters).
    # (A fused rollout compiles the policy inside its own graph.)
    compiled_net = config.compile_policy and config.fuse_steps == 1
    net = mg.policies.compile_policy(policy, config.batch_size) if compiled_net else policy
    start_batch, env_steps, wall_offset = 0, 0, 0.0
    if ckpt is not None:
        policy.load_state_dict(ckpt["policy"])
        optimizer.load_state_dict(ckpt["optimizer"])
        torch.set_rng_state(ckpt["torch_rng"])
        start_batch, env_steps, wall_offset = ckpt["batch"], ckpt["env_steps"], ckpt["wall_time"]

    eval_id = env_id if config.eval_env_id is None else check_env_id(config.eval_env_id)
    if eval_id != env_id:
        probe = mg.make_simulator(eval_id, **config.env_kwargs)
        if probe.observation_parts != sim.observation_parts:
            raise ValueError(
                f"eval_env_id {eval_id!r} must have the observation of env_id {env_id!r} "
                f"{sim.observation_parts}; got {probe.observation_parts}"
            )
    eval_kwargs = dict(config.env_kwargs)
    if config.eval_size is not None:
        eval_kwargs["eval_size"] = config.eval_size
    logger = RunLogger(out, config_to_dict(config), config.tensorboard, config.wandb, "motornet_gym-backprop")
    clock = WallClock(wall_offset)
    total = config.n_batches
    bar = Progress(total, initial=start_batch, enabled=show_progress(config.progress))
    stop = StopFlag()
    last_eval: dict[str, float] = {}
    batch = start_batch

    def save_checkpoint() -> None:
        mg.io.atomic_save(
            {
                "format": _FORMAT,
                "config": config_to_dict(config),
                "policy": policy.state_dict(),
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "batch": batch,
                "env_steps": env_steps,
                "wall_time": clock(),
            },
            out / CHECKPOINT,
        )

    if ckpt is None:  # the untrained policy: the first point of the learning curve
        last_eval = evaluate_policy(policy, eval_id, eval_kwargs, device=device)
        logger.log({"batch": 0, "env_steps": 0, "wall_time_s": clock(),
                    **{f"eval/{k}": v for k, v in last_eval.items()}}, step=0)  # fmt: skip
    reason = "n_batches"
    with stop.installed():
        while True:
            if config.n_batches is not None and batch >= config.n_batches:
                reason = "n_batches"
                break
            if config.time_budget_s is not None and clock() >= config.time_budget_s:
                reason = "time_budget_s"
                break
            if config.lr_final_fraction < 1:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(config, batch, clock())
            traj = mg.rollout(sim, net, seed=batch_seed(config.seed, batch), fuse_steps=config.fuse_steps)
            task_cost = traj.cost.mean()
            regs = regularisers(traj.hidden, sim.dt)
            loss = task_cost + sum(
                (getattr(config, k) * v for k, v in regs.items() if getattr(config, k) > 0),
                start=torch.zeros((), device=device),
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = (
                torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
                if config.grad_clip > 0
                else torch.zeros(())
            )
            optimizer.step()
            batch += 1
            env_steps += config.batch_size * sim.max_steps
            row: dict[str, Any] = {
                "batch": batch,
                "env_steps": env_steps,
                "wall_time_s": clock(),
                "loss": float(loss.detach()),
                "task_cost": float(task_cost.detach()),
                "grad_norm": float(grad_norm),
                "lr": optimizer.param_groups[0]["lr"],
                **{f"train/{k}": float(v.detach().mean()) for k, v in traj.cost_terms.items()},
                **{k: float(v.detach()) for k, v in regs.items()},
            }
            if batch % config.eval_every == 0 or batch == config.n_batches:
                last_eval = evaluate_policy(policy, eval_id, eval_kwargs, device=device)
                row.update({f"eval/{k}": v for k, v in last_eval.items()})
            logger.log(row, step=batch)
            bar.update(1, cost=row["task_cost"], eval_cm=last_eval.get("final_error_cm", float("nan")))
            if batch % config.checkpoint_every == 0:
                save_checkpoint()
            if stop.requested:
                reason = f"signal {stop.signal_name}"
                break
    bar.close()
    if not last_eval or (batch % config.eval_every != 0 and batch != config.n_batches):
        last_eval = evaluate_policy(policy, eval_id, eval_kwargs, device=device)
        logger.log({"batch": batch, "env_steps": env_steps, "wall_time_s": clock(),
                    **{f"eval/{k}": v for k, v in last_eval.items()}}, step=batch)  # fmt: skip
    save_checkpoint()
    mg.policies.save_policy(
        policy,
        out / POLICY,
        {"env_id": env_id, "env_kwargs": dict(config.env_kwargs), "algorithm": "backprop",
         "batches": batch, "env_steps": env_steps, "wall_time_s": clock(), "seed": config.seed},
    )  # fmt: skip
    logger.close()
    summary = {"stopped_by": reason, "batches": batch, "env_steps": env_steps, "wall_time_s": clock(),
               "eval": last_eval, "out_dir": str(out)}  # fmt: skip
    write_json(out / "summary.json", summary)
    if reason.startswith("signal"):
        print(f"stopped by {reason}; resume with: python -m agents.backprop --resume {out}", file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    config = parse_config(BackpropConfig, argv, description=__doc__.splitlines()[0])
    summary = train(config)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
