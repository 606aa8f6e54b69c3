"""Environments and checkpoints of the SB3 scripts.

* :func:`make_env`: the batched SB3 VecEnv plus the RL-only wrappers (symmetric actions, VecNormalize).
* Checkpoints and saved agents: written to a temporary folder, then renamed (atomic), in the layout
  that :func:`motornet_gym.sb3_agents.load_agent` reads.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

import motornet_gym as mg
from agents._common import write_json
from motornet_gym.sb3_agents import CHECKPOINTS, LATEST, META, MODEL, REPLAY, VECNORM, symmetric_actions

__all__ = ["RESUME_STATE", "make_env", "save_agent_dir", "save_checkpoint"]

#: Checkpoint file of everything a resume needs beyond the model, statistics and replay buffer.
RESUME_STATE = "resume_state.pt"


# ----------------------------------------------------------------------------- environments
def make_env(
    env_id: str,
    n_envs: int,
    seed: int | None,
    env_kwargs: Mapping[str, Any],
    normalize: Mapping[str, Any] | None = None,
    vecnormalize_path: Path | None = None,
) -> Any:
    """One batched engine as an SB3 VecEnv, plus the RL-only wrappers.

    Stack: ``MotorSB3VecEnv`` -> ``VecMonitor`` -> :func:`motornet_gym.sb3_agents.symmetric_actions`
    -> ``VecNormalize`` (when ``normalize`` is given; statistics loaded from ``vecnormalize_path``).
    """
    from stable_baselines3.common.vec_env import VecNormalize

    venv = symmetric_actions(mg.sb3.make_vec_env(env_id, n_envs=n_envs, seed=seed, **dict(env_kwargs)))
    if vecnormalize_path is not None:
        venv = VecNormalize.load(str(vecnormalize_path), venv)
        venv.training = True
    elif normalize is not None:
        venv = VecNormalize(venv, **normalize)
    return venv


# ----------------------------------------------------------------------------- checkpoints
def _fsync_tree(folder: Path) -> None:
    for p in folder.iterdir():
        with p.open("rb") as f:
            os.fsync(f.fileno())


def save_agent_dir(
    target: Path,
    model: Any,
    venv: Any,
    meta: Mapping[str, Any],
    replay: bool = False,
    resume_state: Mapping[str, Any] | None = None,
) -> None:
    """Write a saved-agent folder atomically.

    Files: model, VecNormalize statistics, optional replay buffer, optional resume state
    (``resume_state.pt``, :mod:`agents._rl_resume`) and ``agent.json``.

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
        if resume_state is not None:
            torch.save(dict(resume_state), tmp / RESUME_STATE)
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


def save_checkpoint(
    run_dir: Path,
    model: Any,
    venv: Any,
    meta: Mapping[str, Any],
    keep: int,
    replay: bool,
    resume_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``checkpoints/step_<env steps>/``, point ``latest.json`` at it, prune old ones."""
    root = run_dir / CHECKPOINTS
    name = f"step_{int(meta['env_steps']):012d}"
    save_agent_dir(root / name, model, venv, meta, replay, resume_state)
    write_json(root / LATEST, {"name": name, "env_steps": int(meta["env_steps"])})
    for old in sorted(root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return root / name
