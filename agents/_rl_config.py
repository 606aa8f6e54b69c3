"""The run configuration shared by the SB3 scripts (``agents.ppo``, ``agents.sac``, ``agents.recurrent_ppo``).

* :class:`RLConfig`: the typed, validated run configuration.
* :class:`ConfigError`: what :func:`agents._rl.train` raises on a bad configuration.
* :func:`inherit_field_docs`: the ``Attributes:`` section of :class:`RLConfig` on a subclass (CLI help).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from agents._common import check_ints
from agents._rl_hyperparams import OFF_POLICY

__all__ = ["ConfigError", "RLConfig", "inherit_field_docs"]


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
        save_replay_buffer: Also checkpoint the replay buffer (off-policy algorithms only; None: on
            for them, so a resumed SAC run continues exactly as an uninterrupted one would).
        seed: Seed of the networks, the action sampling and the episodes.
        device: Torch device of the networks ('cpu' or 'cuda[:k]'; the engine runs on the CPU).
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
    save_replay_buffer: bool | None = None
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
        check_ints(self, ("eval_every", "checkpoint_every", "keep_checkpoints", "n_threads"))
        check_ints(self, ("n_envs", "total_steps"), allow_none=True)
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

    @property
    def replay(self) -> bool:
        """Whether checkpoints hold the replay buffer (``save_replay_buffer`` resolved)."""
        if self.save_replay_buffer is None:
            return self.algorithm in OFF_POLICY
        return self.save_replay_buffer


def inherit_field_docs(cls: type) -> type:
    """Append the ``Attributes:`` section of :class:`RLConfig` to a subclass docstring (CLI help)."""
    doc = RLConfig.__doc__ or ""
    cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n" + doc[doc.index("    Attributes:") :]
    return cls


class ConfigError(ValueError):
    """An invalid run configuration (env id, hyperparameters, env kwargs, resume folder).

    Raised before the run folder is written and before any training step.
    """
