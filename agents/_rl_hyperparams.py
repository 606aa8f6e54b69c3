"""Per-env SB3 hyperparameters from ``agents/hyperparams/<algo>.yaml`` (rl-baselines3-zoo style).

Validated against the algorithm's and the policy's signatures so that a bad key fails before any
training starts.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from motornet_gym.sb3_agents import algorithm_class
from motornet_gym.tasks import TaskConfig

HYPERPARAMS_DIR = Path(__file__).resolve().parent / "hyperparams"

RECURRENT, OFF_POLICY = frozenset({"recurrent_ppo"}), frozenset({"sac"})
#: Hyperparameter keys that are not algorithm arguments.
META_KEYS = ("policy", "n_envs", "n_timesteps", "normalize", "env_kwargs")
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


# ----------------------------------------------------------------------------- hyperparameters
@dataclass(frozen=True)
class Hyperparams:
    """A validated hyperparameter entry.

    Attributes:
        policy: SB3 policy alias (``MlpPolicy``, ``MlpLstmPolicy``).
        n_envs: Environments of the batched engine.
        n_timesteps: Default total env steps.
        normalize: ``VecNormalize`` keyword arguments, or None (no normalisation).
        env_kwargs: ``make_simulator`` keyword arguments the agent needs (e.g. ``action_history``,
            an observation setting), under the run's own ``env_kwargs`` (which win on a clash);
            the task's cost is never set here.
        algo_kwargs: Keyword arguments of the algorithm class (schedules and activations resolved).
        source: ``"<yaml path>:<entry>"`` for messages.
    """

    policy: str
    n_envs: int
    n_timesteps: int
    normalize: dict[str, Any] | None
    algo_kwargs: dict[str, Any]
    source: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)


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
    env_kwargs = _env_kwargs(entry.pop("env_kwargs", None), source)
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
    return Hyperparams(policy, n_envs, n_timesteps, normalize, entry, source, env_kwargs)


#: Cost settings a hyperparameter file may not change (the task config's ``*_weight`` fields): every
#: method is trained on the task's cost.
COST_KWARGS = tuple(f.name for f in fields(TaskConfig) if f.name.endswith("_weight"))


def _env_kwargs(value: Any, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{source}: env_kwargs must be a mapping of make_simulator arguments; got {value!r}")
    cost = sorted(set(value) & set(COST_KWARGS))
    if cost:
        raise ValueError(
            f"{source}: env_kwargs may not set the task cost ({cost[0]!r}): every method optimises "
            "the same cost; pass it with the run's --env-kwargs instead"
        )
    return {k: _number(v) for k, v in value.items()}


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
