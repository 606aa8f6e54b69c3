"""Run setup and exact resume of the SB3 scripts.

* :func:`setup`: resolve ``--resume``, validate the configuration, seed, build the env and the model.
* :func:`capture_state` / :func:`restore_state`: everything an interrupted run needs to continue
  exactly as an uninterrupted one, beyond what SB3 saves itself (``model.zip``: weights and
  optimiser state; ``vecnormalize.pkl``: running statistics; ``replay_buffer.pkl``):

  - the RNG streams: Python ``random``, NumPy's global generator (SB3's minibatch shuffles and
    replay sampling), torch's CPU (and CUDA) generator (action sampling), the action space's
    generator (SAC's random warm-up actions) and the engine's generator (episodes and noise);
  - the environment mid-episode: the engine state (:func:`motornet_gym.sb3_agents.engine_state`),
    the ``VecMonitor`` episode counters, ``VecNormalize``'s discounted-return accumulator (which
    SB3 does not pickle) and the algorithm's last observation / episode starts (which
    ``BaseAlgorithm.load`` discards by default), and RecurrentPPO's LSTM states (which its
    ``_setup_model`` resets).

Checkpoints are written right after a policy update (at a rollout start) and a stop request
(signal, wall-clock budget) is honoured there too, so a resume restarts at a rollout boundary
with the state of that moment: on the CPU with one torch thread the resumed run is bit-identical to
an uninterrupted one (tested for PPO, SAC and RecurrentPPO in ``tests/test_rl_resume.py``).
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

import motornet_gym as mg
from agents._common import check_env_id
from agents._rl_agent import RESUME_STATE, make_env
from agents._rl_config import RLConfig
from agents._rl_hyperparams import Hyperparams, load_hyperparams
from motornet_gym.sb3_agents import (
    META,
    MODEL,
    REPLAY,
    VECNORM,
    algorithm_class,
    engine_state,
    latest_checkpoint,
    resolve_agent_dir,
    restore_engine_state,
)

__all__ = ["capture_state", "resolve_resume", "restore_state", "setup"]

_LAST = ("_last_obs", "_last_episode_starts", "_last_original_obs")


def _wrapper(venv: Any, name: str) -> Any:
    """The first wrapper of class ``name`` in the SB3 VecEnv stack (or None)."""
    while venv is not None:
        if type(venv).__name__ == name:
            return venv
        venv = getattr(venv, "venv", None)
    return None


def capture_state(model: Any, venv: Any) -> dict[str, Any]:
    """The resume state of a run at this moment (see the module docstring); picklable with torch.save."""
    monitor, norm = _wrapper(venv, "VecMonitor"), _wrapper(venv, "VecNormalize")
    state: dict[str, Any] = {
        "python_random": random.getstate(),
        "numpy_random": np.random.get_state(),
        "torch_cpu": torch.get_rng_state(),
        "torch_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
        "action_space": model.action_space.np_random.bit_generator.state,
        "engine": engine_state(venv),
        "last": {k: _copy(getattr(model, k, None)) for k in _LAST},
    }
    if monitor is not None:
        state["monitor"] = {k: np.copy(getattr(monitor, k)) for k in ("episode_returns", "episode_lengths")}
        state["monitor"]["episode_count"] = int(monitor.episode_count)
    if norm is not None:
        state["vecnormalize_returns"] = np.copy(norm.returns)
    lstm = getattr(model, "_last_lstm_states", None)
    if lstm is not None:
        state["lstm"] = {
            "pi": tuple(t.detach().cpu().clone() for t in lstm.pi),
            "vf": tuple(t.detach().cpu().clone() for t in lstm.vf),
        }
    return state


def _copy(x: Any) -> Any:
    return np.copy(x) if isinstance(x, np.ndarray) else x


def restore_state(model: Any, venv: Any, state: dict[str, Any]) -> None:
    """Put a freshly loaded model and env back where :func:`capture_state` found them.

    The RNG streams are restored last, after every other step of the setup has drawn from them.
    """
    restore_engine_state(venv, state["engine"])
    monitor, norm = _wrapper(venv, "VecMonitor"), _wrapper(venv, "VecNormalize")
    if monitor is not None and "monitor" in state:
        monitor.episode_returns = np.copy(state["monitor"]["episode_returns"])
        monitor.episode_lengths = np.copy(state["monitor"]["episode_lengths"])
        monitor.episode_count = state["monitor"]["episode_count"]
    if norm is not None and "vecnormalize_returns" in state:
        norm.returns = np.copy(state["vecnormalize_returns"])
    for k, v in state["last"].items():
        setattr(model, k, _copy(v))
    if "lstm" in state:
        from sb3_contrib.common.recurrent.type_aliases import RNNStates

        dev = model.device
        # sb3-contrib keeps the rollout's LSTM states only in this attribute and resets it on load;
        # it has no public setter, so exact resume writes it (pinned by tests/test_rl_resume.py).
        model._last_lstm_states = RNNStates(
            tuple(t.to(dev) for t in state["lstm"]["pi"]), tuple(t.to(dev) for t in state["lstm"]["vf"])
        )
    random.setstate(state["python_random"])
    np.random.set_state(state["numpy_random"])
    torch.set_rng_state(state["torch_cpu"])
    if state["torch_cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])
    model.action_space.np_random.bit_generator.state = state["action_space"]


def resolve_resume(config: RLConfig) -> tuple[RLConfig, Path | None]:
    """The saved configuration of ``config.resume`` (with the allowed overrides) and its latest checkpoint."""
    if config.resume is None:
        return config, None
    run_dir = Path(config.resume)
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint to resume from under {str(run_dir / 'checkpoints')!r}")
    saved = json.loads((run_dir / "config.json").read_text())
    keep = {k: getattr(config, k) for k in ("total_steps", "time_budget_s") if getattr(config, k) is not None}
    saved.update(keep, resume=str(run_dir), out_dir=str(run_dir))
    saved.update(progress=config.progress, device=config.device)
    names = {f.name for f in dataclasses.fields(type(config))}
    return type(config)(**{k: v for k, v in saved.items() if k in names}), ckpt


def setup(config: RLConfig) -> tuple[RLConfig, Path | None, Hyperparams, dict[str, Any], Any, Any]:
    """Resolve resume, validate everything, seed, build the env and the model (no training).

    Returns:
        ``(config, checkpoint or None, hyperparameters, checkpoint metadata, venv, model)``.
    """
    from stable_baselines3.common.utils import set_random_seed

    config, ckpt = resolve_resume(config)
    env_id = check_env_id(config.env_id)
    hp = load_hyperparams(config.algorithm, env_id, config.hyperparams, config.hyperparams_override)
    if hp.env_kwargs:  # the entry's observation settings, under the run's own env_kwargs
        config = dataclasses.replace(config, env_kwargs={**hp.env_kwargs, **config.env_kwargs})
    if config.eval_env_id is not None:
        train_obs = mg.make_simulator(env_id, **config.env_kwargs).observation_parts
        eval_obs = mg.make_simulator(check_env_id(config.eval_env_id), **config.env_kwargs).observation_parts
        if eval_obs != train_obs:
            raise ValueError(
                f"eval_env_id {config.eval_env_id!r} must have the observation of env_id {env_id!r} "
                f"{train_obs}; got {eval_obs}"
            )
    cls = algorithm_class(config.algorithm)
    meta = json.loads((ckpt / META).read_text()) if ckpt is not None else {}
    start_steps = int(meta.get("env_steps", 0))

    # One seeding block: python/numpy/torch, the episodes (engine generator) and the model. A resumed
    # run restores every stream from the checkpoint's resume state; a checkpoint without one (older
    # runs) reseeds with seed + steps so it does not replay the first episodes.
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
        if (ckpt / RESUME_STATE).is_file():
            restore_state(model, venv, torch.load(ckpt / RESUME_STATE, weights_only=False))
    elif init_dir is not None:
        model = cls.load(str(init_dir / MODEL), env=venv, device=config.device)
        model.set_random_seed(run_seed)
        model.num_timesteps = 0
    else:
        model = cls(hp.policy, venv, seed=run_seed, device=config.device, verbose=0, **hp.algo_kwargs)
    return config, ckpt, hp, meta, venv, model
