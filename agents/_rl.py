"""Shared plumbing of the SB3 scripts (``agents.ppo``, ``agents.sac``, ``agents.recurrent_ppo``).

* :class:`RLConfig`: the typed run configuration every RL script shares.
* :func:`load_hyperparams`: per-env hyperparameters from ``agents/hyperparams/<algo>.yaml``
  (rl-baselines3-zoo style), validated against the algorithm's and the policy's signatures so a
  bad key fails before any training starts.
* :func:`make_env`: the SB3 ``VecEnv`` of :func:`motornet_gym.sb3.make_vec_env` (one batched
  engine) plus the RL-only wrappers that live here, not in the library: actions rescaled from
  [-1, 1] to the physical excitations in [0, 1] (:class:`UnitActionVecEnv`) and observation
  (and optionally reward) normalisation (SB3 ``VecNormalize``).
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
import inspect
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

import motornet_gym as mg
from agents._common import RunLogger, StopFlag, WallClock, check_env_id, config_to_dict, write_json
from agents.evaluation import evaluate_controller

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "hyperparams"
AGENT_DIR, BEST_DIR, CHECKPOINTS, LATEST = "agent", "best", "checkpoints", "latest.json"
MODEL, VECNORM, REPLAY, META = "model.zip", "vecnormalize.pkl", "replay_buffer.pkl", "agent.json"
FORMAT = "motornet_gym.sb3_agent/1"

#: algorithm name -> (module, class)
ALGORITHMS: Mapping[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "sac": ("stable_baselines3", "SAC"),
    "recurrent_ppo": ("sb3_contrib", "RecurrentPPO"),
}
RECURRENT, OFF_POLICY = frozenset({"recurrent_ppo"}), frozenset({"sac"})
#: Hyperparameter keys that are not algorithm arguments.
META_KEYS = ("policy", "n_envs", "n_timesteps", "normalize")
#: Algorithm arguments the scripts set themselves (from the run config).
RESERVED = frozenset({"self", "policy", "env", "tensorboard_log", "verbose", "seed", "device",
                      "_init_setup_model"})  # fmt: skip
NORMALIZE_KEYS = ("norm_obs", "norm_reward", "clip_obs", "clip_reward", "epsilon")
SCHEDULE_KEYS = ("learning_rate", "clip_range", "clip_range_vf")
ACTIVATIONS: Mapping[str, type[torch.nn.Module]] = {
    "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU, "leaky_relu": torch.nn.LeakyReLU,
    "silu": torch.nn.SiLU, "gelu": torch.nn.GELU,
}  # fmt: skip
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def algorithm_class(algorithm: str) -> type:
    """The SB3 / sb3-contrib class of ``algorithm`` (imported lazily, with a clear error)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}")
    module, name = ALGORITHMS[algorithm]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as e:
        raise ImportError(f'{name} needs {module}; install it with `pip install "motornet-gym[sb3]"`') from e


# ----------------------------------------------------------------------------- config
@dataclass(frozen=True, kw_only=True)
class RLConfig:
    """Configuration of a stable-baselines3 training run.

    Attributes:
        env_id: Registered environment id.
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
        progress: Show SB3's progress bar.
        resume: Run folder to resume from (its config is used; only total_steps, time_budget_s,
            progress and device given here override it).
        init_from: Saved agent (run folder, agent or checkpoint folder) of the same algorithm whose
            weights and observation statistics initialise this run (e.g. adaptation to a force
            field); its step count is not carried over. Ignored when resuming.
    """

    algorithm: ClassVar[str] = ""

    env_id: str = "motornet/Arm26Reach-v0"
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
    progress: bool = True
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


# ----------------------------------------------------------------------------- hyperparameters
@dataclass(frozen=True)
class Hyperparams:
    """A validated hyperparameter entry.

    Attributes:
        policy: SB3 policy alias (``MlpPolicy``, ``MlpLstmPolicy``).
        n_envs: Environments of the batched engine.
        n_timesteps: Default total env steps.
        normalize: ``VecNormalize`` keyword arguments, or None (no normalisation).
        algo_kwargs: Keyword arguments of the algorithm class (schedules and activations resolved).
        source: ``"<yaml path>:<entry>"`` for messages.
    """

    policy: str
    n_envs: int
    n_timesteps: int
    normalize: dict[str, Any] | None
    algo_kwargs: dict[str, Any]
    source: str


class LinearSchedule:
    """``progress_remaining * initial`` (SB3 schedules get progress remaining, 1 -> 0); picklable."""

    def __init__(self, initial: float) -> None:
        self.initial = float(initial)

    def __call__(self, progress_remaining: float) -> float:
        return progress_remaining * self.initial

    def __repr__(self) -> str:
        return f"lin_{self.initial:g}"


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``3e-4`` as a string: turn numeric strings into floats."""
    if isinstance(value, str) and _FLOAT.match(value):
        return float(value)
    return value


def load_hyperparams(
    algorithm: str,
    env_id: str,
    path: str | os.PathLike | None = None,
    override: Mapping[str, Any] | None = None,
) -> Hyperparams:
    """Read, merge (``default`` < entry of ``env_id`` < ``override``) and validate hyperparameters.

    Raises:
        FileNotFoundError: If the YAML file does not exist.
        ValueError: On an unknown key, a missing entry or a value of the wrong kind (naming the file,
            the entry, the key and the valid keys).
    """
    import yaml

    cls = algorithm_class(algorithm)
    path = Path(path) if path is not None else HYPERPARAMS_DIR / f"{algorithm}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"hyperparameter file {str(path)!r} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping env id -> hyperparameters; got {type(data).__name__}")
    if env_id not in data and "default" not in data:
        raise ValueError(f"{path}: no entry for {env_id!r} and no 'default' entry; entries: {sorted(data)}")
    entry: dict[str, Any] = {}
    for name in ("default", env_id):
        part = data.get(name) or {}
        if not isinstance(part, dict):
            raise ValueError(f"{path}: entry {name!r} must be a mapping; got {type(part).__name__}")
        entry.update(part)
    entry.update(override or {})
    source = f"{path}:{env_id if env_id in data else 'default'}"

    sig = inspect.signature(cls.__init__).parameters
    valid = sorted(set(META_KEYS) | (set(sig) - RESERVED))
    unknown = sorted(set(entry) - set(valid))
    if unknown:
        raise ValueError(
            f"{source}: unknown hyperparameter {unknown[0]!r} for {cls.__name__}; "
            f"expected any of {', '.join(valid)}"
        )
    entry = {k: _number(v) for k, v in entry.items()}
    policy = entry.pop("policy", "MlpLstmPolicy" if algorithm in RECURRENT else "MlpPolicy")
    if policy not in cls.policy_aliases:
        raise ValueError(f"{source}: policy must be one of {', '.join(cls.policy_aliases)}; got {policy!r}")
    n_envs = entry.pop("n_envs", 64)
    n_timesteps = int(entry.pop("n_timesteps", 1_000_000))
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"{source}: n_envs must be an integer >= 1; got {n_envs!r}")
    normalize = _normalize_kwargs(entry.pop("normalize", False), source)
    for key in SCHEDULE_KEYS:
        v = entry.get(key)
        if isinstance(v, str) and v.startswith("lin_") and _FLOAT.match(v[4:]):
            entry[key] = LinearSchedule(float(v[4:]))
        elif isinstance(v, str):
            raise ValueError(f"{source}: {key} must be a number or 'lin_<number>'; got {v!r}")
    if isinstance(entry.get("train_freq"), list):
        entry["train_freq"] = tuple(entry["train_freq"])
    if "policy_kwargs" in entry:
        entry["policy_kwargs"] = _policy_kwargs(cls.policy_aliases[policy], entry["policy_kwargs"], source)
    if normalize is not None:
        normalize.setdefault("gamma", float(entry.get("gamma", sig["gamma"].default)))
    return Hyperparams(policy, n_envs, n_timesteps, normalize, entry, source)


def _normalize_kwargs(value: Any, source: str) -> dict[str, Any] | None:
    if value is False or value is None:
        return None
    if value is True:
        return {"norm_obs": True, "norm_reward": False}
    if not isinstance(value, dict):
        raise ValueError(f"{source}: normalize must be true, false or a mapping; got {value!r}")
    bad = sorted(set(value) - set(NORMALIZE_KEYS))
    if bad:
        raise ValueError(
            f"{source}: unknown normalize key {bad[0]!r}; expected any of {', '.join(NORMALIZE_KEYS)}"
        )
    return {k: _number(v) for k, v in value.items()}


def _policy_kwargs(policy_cls: type, value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{source}: policy_kwargs must be a mapping; got {value!r}")
    valid = set(inspect.signature(policy_cls.__init__).parameters) - {
        "self", "observation_space", "action_space", "lr_schedule", "use_sde"}  # fmt: skip
    bad = sorted(set(value) - valid)
    if bad:
        raise ValueError(
            f"{source}: unknown policy_kwargs key {bad[0]!r} for {policy_cls.__name__}; "
            f"expected any of {', '.join(sorted(valid))}"
        )
    out = {k: _number(v) for k, v in value.items()}
    if "activation_fn" in out:
        name = out["activation_fn"]
        if name not in ACTIVATIONS:
            raise ValueError(f"{source}: activation_fn must be one of {', '.join(ACTIVATIONS)}; got {name!r}")
        out["activation_fn"] = ACTIVATIONS[name]
    return out


# ----------------------------------------------------------------------------- environments
def _unit_action_class() -> type:
    from gymnasium import spaces
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class UnitActionVecEnv(VecEnvWrapper):
        """Agent actions in [-1, 1] (symmetric, as SB3 recommends) -> excitations ``(u + 1) / 2``."""

        def __init__(self, venv: Any) -> None:
            low, high = venv.action_space.low, venv.action_space.high
            if not (np.all(low == 0.0) and np.all(high == 1.0)):
                raise ValueError(f"expected an action space Box(0, 1); got {venv.action_space}")
            space = spaces.Box(-1.0, 1.0, venv.action_space.shape, np.float32)
            super().__init__(venv, action_space=space)

        def step_async(self, actions: np.ndarray) -> None:
            self.venv.step_async(to_excitation(actions))

        def reset(self) -> Any:
            return self.venv.reset()

        def step_wait(self) -> Any:
            return self.venv.step_wait()

    return UnitActionVecEnv


def to_excitation(actions: np.ndarray) -> np.ndarray:
    """Agent actions in [-1, 1] -> muscle excitations in [0, 1] (clipped first)."""
    return ((np.clip(actions, -1.0, 1.0) + 1.0) * 0.5).astype(np.float32)


def make_env(
    env_id: str,
    n_envs: int,
    seed: int | None,
    env_kwargs: Mapping[str, Any],
    normalize: Mapping[str, Any] | None = None,
    vecnormalize_path: Path | None = None,
) -> Any:
    """One batched engine as an SB3 VecEnv, plus the RL-only wrappers.

    Stack: ``MotorSB3VecEnv`` -> ``VecMonitor`` -> :class:`UnitActionVecEnv` -> ``VecNormalize``
    (when ``normalize`` is given; statistics loaded from ``vecnormalize_path`` when given).
    """
    from stable_baselines3.common.vec_env import VecNormalize

    venv = mg.sb3.make_vec_env(env_id, n_envs=n_envs, seed=seed, **dict(env_kwargs))
    venv = _unit_action_class()(venv)
    if vecnormalize_path is not None:
        venv = VecNormalize.load(str(vecnormalize_path), venv)
        venv.training = True
    elif normalize is not None:
        venv = VecNormalize(venv, **normalize)
    return venv


# ----------------------------------------------------------------------------- controller
class LSTMState(NamedTuple):
    """RecurrentPPO actor state: ``h`` and ``c``, each ``(n_layers, B, H)``."""

    h: torch.Tensor
    c: torch.Tensor


class SB3Controller:
    """A trained SB3 model as ``act(obs (B, O), hidden) -> (excitation (B, M) in [0, 1], hidden)``.

    Deterministic. Applies the saved ``VecNormalize`` observation statistics, maps actions from
    [-1, 1] back to [0, 1] and, for RecurrentPPO, carries the LSTM state: ``hidden`` is None at the
    start of an episode (the episode_start flag resets the LSTM) and an :class:`LSTMState` after.

    Attributes:
        model: The SB3 model.
        normalizer: ``VecNormalize`` whose observation statistics are used, or None.
        recurrent: Whether the model is a RecurrentPPO.
        metadata: ``agent.json`` contents (env_id, env_kwargs, algorithm, env_steps, wall_time_s, ...).
    """

    def __init__(self, model: Any, normalizer: Any = None, recurrent: bool = False,
                 metadata: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        self.model, self.normalizer, self.recurrent = model, normalizer, recurrent
        self.metadata = dict(metadata or {})
        #: ``(B, H)`` output of the actor's last hidden layer at the latest call (feed-forward
        #: policies): the "network activity" that the comparison report analyses (PCA, CKA).
        self.last_activity: torch.Tensor | None = None
        actor = getattr(getattr(model.policy, "mlp_extractor", None), "policy_net", None)  # PPO
        if actor is None:  # SAC
            actor = getattr(getattr(model.policy, "actor", None), "latent_pi", None)
        if actor is not None and not recurrent:
            actor.register_forward_hook(self._record)

    def _record(self, module: Any, inputs: Any, output: Any) -> None:
        self.last_activity = output.detach() if isinstance(output, torch.Tensor) else None

    @torch.no_grad()
    def __call__(self, obs: torch.Tensor, hidden: Any = None) -> tuple[torch.Tensor, Any]:
        """One deterministic action for a batch of observations."""
        x = obs.detach().to("cpu", torch.float32).numpy()
        if self.normalizer is not None and self.normalizer.norm_obs:
            x = self.normalizer.normalize_obs(x)
        if self.recurrent:
            b = x.shape[0]
            if hidden is None:
                state, start = None, np.ones(b, dtype=bool)
            else:
                state, start = (hidden.h.cpu().numpy(), hidden.c.cpu().numpy()), np.zeros(b, dtype=bool)
            u, state = self.model.predict(x, state=state, episode_start=start, deterministic=True)
            hidden = LSTMState(torch.as_tensor(state[0]), torch.as_tensor(state[1]))
        else:
            u, _ = self.model.predict(x, deterministic=True)
        return torch.as_tensor(to_excitation(u)).to(device=obs.device, dtype=obs.dtype), hidden

    def evaluate(
        self, env_id: str | None = None, env_kwargs: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """:func:`agents.evaluation.evaluate_controller` on the saved task (or another)."""
        env_id = env_id or self.metadata["env_id"]
        kwargs = dict(self.metadata.get("env_kwargs", {}) if env_kwargs is None else env_kwargs)
        return evaluate_controller(self, env_id, kwargs)


def resolve_agent_dir(path: str | os.PathLike) -> Path:
    """The saved-agent folder of ``path``: itself, ``path/agent`` or ``path``'s latest checkpoint."""
    path = Path(path)
    if (path / META).is_file():
        return path
    if (path / AGENT_DIR / META).is_file():
        return path / AGENT_DIR
    latest = latest_checkpoint(path)
    if latest is None:
        raise FileNotFoundError(f"no saved agent or checkpoint under {str(path)!r} (looked for {META})")
    return latest


def load_agent(path: str | os.PathLike, device: str = "cpu") -> SB3Controller:
    """Load a saved RL agent (run folder, its ``agent/`` folder, or a checkpoint) as a controller.

    The controller's ``metadata`` holds env_id, env_kwargs, algorithm, env_steps and wall_time_s.
    """
    from stable_baselines3.common.vec_env import VecNormalize

    folder = resolve_agent_dir(path)
    meta = json.loads((folder / META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder / META}: format must be {FORMAT!r}; got {meta.get('format')!r}")
    cls = algorithm_class(meta["algorithm"])
    model = cls.load(str(folder / MODEL), device=device)
    normalizer = None
    if (folder / VECNORM).is_file():
        probe = make_env(meta["env_id"], 1, None, meta.get("env_kwargs", {}))
        normalizer = VecNormalize.load(str(folder / VECNORM), probe)
        normalizer.training, normalizer.norm_reward = False, False
    return SB3Controller(model, normalizer, meta["algorithm"] in RECURRENT, meta)


# ----------------------------------------------------------------------------- checkpoints
def _fsync_tree(folder: Path) -> None:
    for p in folder.iterdir():
        with p.open("rb") as f:
            os.fsync(f.fileno())


def save_agent_dir(
    target: Path, model: Any, venv: Any, meta: Mapping[str, Any], replay: bool = False
) -> None:
    """Write model, VecNormalize statistics, optional replay buffer and ``agent.json`` atomically.

    Everything goes into a temporary sibling folder first, which is then renamed onto ``target``
    (an existing ``target`` is moved aside first and deleted after), so a crash leaves either the
    old folder or the new one, never a mix.
    """
    from stable_baselines3.common.vec_env import VecNormalize

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        model.save(str(tmp / MODEL))
        if isinstance(venv, VecNormalize):
            venv.save(str(tmp / VECNORM))
        if replay:
            model.save_replay_buffer(str(tmp / REPLAY))
        (tmp / META).write_text(json.dumps(dict(meta), indent=2, sort_keys=True))
        _fsync_tree(tmp)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder of a run (``latest.json``, else the highest step)."""
    root = Path(run_dir) / CHECKPOINTS
    pointer = root / LATEST
    if pointer.is_file():
        cand = root / json.loads(pointer.read_text())["name"]
        if (cand / META).is_file():
            return cand
    done = sorted(p for p in root.glob("step_*") if (p / META).is_file()) if root.is_dir() else []
    return done[-1] if done else None


def save_checkpoint(
    run_dir: Path, model: Any, venv: Any, meta: Mapping[str, Any], keep: int, replay: bool
) -> Path:
    """Write ``checkpoints/step_<env steps>/``, point ``latest.json`` at it, prune old ones."""
    root = run_dir / CHECKPOINTS
    name = f"step_{int(meta['env_steps']):012d}"
    save_agent_dir(root / name, model, venv, meta, replay)
    write_json(root / LATEST, {"name": name, "env_steps": int(meta["env_steps"])})
    for old in sorted(root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return root / name


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

    def controller(self) -> SB3Controller:
        from stable_baselines3.common.vec_env import VecNormalize

        norm = self.venv if isinstance(self.venv, VecNormalize) else None
        return SB3Controller(self.model, norm, self.config.algorithm in RECURRENT)

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "algorithm": self.config.algorithm, "env_id": self.config.env_id,
            "env_kwargs": dict(self.config.env_kwargs), "env_steps": int(self.model.num_timesteps),
            "wall_time_s": self.clock(), "seed": self.config.seed, "config": config_to_dict(self.config),
        }  # fmt: skip

    def evaluate(self) -> None:
        steps = int(self.model.num_timesteps)
        if steps == self.eval_step:
            return
        cfg = self.config
        self.last_eval = evaluate_controller(self.controller(), cfg.env_id, dict(cfg.env_kwargs))
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
                        progress_bar=config.progress)  # fmt: skip
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
