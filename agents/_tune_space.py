"""Hyperparameter search spaces of ``agents.tune`` (one function per algorithm).

Each function draws one configuration from an Optuna trial and returns it as a
``hyperparams_override`` mapping (the keys of ``agents/hyperparams/<algo>.yaml``), so the best trial
pastes into the YAML file as is. ``policy_kwargs`` is returned whole (an override replaces the YAML
entry's top-level keys, it does not merge into them).

The ranges are centred on the project's hand-set settings (the YAML files' ``default`` entries):
with a few dozen trials on two CPU cores a search can only refine a reasonable start. Each space
also draws the efference copy (``env_kwargs: {action_history: H}``, the last ``H`` commands in the
observation; an observation setting, the cost stays the task's): it made SAC learn the arm (a
13-19 cm plateau without it, 1.7 cm with ``H = 4``) and slowed PPO (sac.yaml, ppo.yaml). gSDE
(``use_sde``) is drawn for the on-policy algorithms: it lifted PPO on the arm (ppo.yaml).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["SPACES", "sample"]


def _ppo(trial: Any) -> dict[str, Any]:
    n_steps = trial.suggest_categorical("n_steps", [32, 64, 128])
    width = trial.suggest_categorical("net_width", [64, 128, 256])
    lr = trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True)
    schedule = trial.suggest_categorical("lr_schedule", ["constant", "linear"])
    return {
        "n_steps": n_steps,
        "batch_size": trial.suggest_categorical("batch_size", [512, 1024, 2048]),
        "n_epochs": trial.suggest_categorical("n_epochs", [5, 10, 20]),
        "gamma": trial.suggest_categorical("gamma", [0.95, 0.98, 0.99]),
        "gae_lambda": trial.suggest_categorical("gae_lambda", [0.9, 0.95, 0.98]),
        "learning_rate": f"lin_{lr:.3g}" if schedule == "linear" else float(f"{lr:.3g}"),
        "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3]),
        "policy_kwargs": {
            "net_arch": {"pi": [width, width], "vf": [width, width]},
            "activation_fn": "tanh",
            "log_std_init": trial.suggest_categorical("log_std_init", [-2.0, -1.5, -1.0, -0.5]),
        },
        **_sde(trial),
        **_efference(trial, [0, 2, 4]),
    }


def _efference(trial: Any, choices: list[int]) -> dict[str, Any]:
    """``env_kwargs`` with an efference copy of ``action_history`` commands (none for 0)."""
    h = trial.suggest_categorical("action_history", choices)
    return {"env_kwargs": {"action_history": h}} if h else {}


def _sde(trial: Any) -> dict[str, Any]:
    """State-dependent exploration (gSDE, resampled every 4 steps) or plain Gaussian noise."""
    on = trial.suggest_categorical("use_sde", [False, True])
    return {"use_sde": True, "sde_sample_freq": 4} if on else {}


def _sac(trial: Any) -> dict[str, Any]:
    width = trial.suggest_categorical("net_width", [64, 128, 256])
    lr = trial.suggest_float("learning_rate", 1e-4, 3e-3, log=True)
    return {
        "learning_rate": float(f"{lr:.3g}"),
        "batch_size": trial.suggest_categorical("batch_size", [128, 256, 512]),
        "gamma": trial.suggest_categorical("gamma", [0.95, 0.98, 0.99]),
        "tau": trial.suggest_categorical("tau", [0.005, 0.01, 0.02]),
        "gradient_steps": trial.suggest_categorical("gradient_steps", [1, 2, 4, 8]),
        "learning_starts": trial.suggest_categorical("learning_starts", [1_000, 10_000]),
        "policy_kwargs": {"net_arch": [width, width]},
        **_efference(trial, [0, 2, 4, 8]),
    }


def _recurrent_ppo(trial: Any) -> dict[str, Any]:
    hidden = trial.suggest_categorical("lstm_hidden_size", [32, 64, 128])
    n_steps = trial.suggest_categorical("n_steps", [50, 100])
    return {
        "n_steps": n_steps,
        "batch_size": n_steps * trial.suggest_categorical("batch_envs", [8, 16, 32]),
        "n_epochs": trial.suggest_categorical("n_epochs", [3, 5, 10]),
        "gamma": trial.suggest_categorical("gamma", [0.95, 0.98, 0.99]),
        "gae_lambda": trial.suggest_categorical("gae_lambda", [0.9, 0.95, 0.98]),
        "learning_rate": float(f"{trial.suggest_float('learning_rate', 1e-4, 3e-3, log=True):.3g}"),
        "clip_range": trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3]),
        "policy_kwargs": {
            "lstm_hidden_size": hidden,
            "n_lstm_layers": 1,
            "net_arch": {"pi": [64], "vf": [64]},
            "log_std_init": trial.suggest_categorical("log_std_init", [-2.0, -1.5, -1.0, -0.5]),
        },
        **_sde(trial),
    }


#: algorithm -> ``sample(trial) -> hyperparams_override``.
SPACES: dict[str, Callable[[Any], dict[str, Any]]] = {
    "ppo": _ppo,
    "sac": _sac,
    "recurrent_ppo": _recurrent_ppo,
}


def sample(algorithm: str, trial: Any) -> dict[str, Any]:
    """One configuration of ``algorithm``'s search space drawn from an Optuna ``trial``.

    Raises:
        ValueError: If ``algorithm`` has no search space.
    """
    if algorithm not in SPACES:
        raise ValueError(f"algorithm must be one of {', '.join(SPACES)}; got {algorithm!r}")
    return SPACES[algorithm](trial)
