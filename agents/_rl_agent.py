"""Environments, saved agents and checkpoints of the SB3 scripts.

* :func:`make_env`: the batched SB3 VecEnv plus the RL-only wrappers (action rescaling, VecNormalize).
* :class:`SB3Controller` / :func:`load_agent`: a saved agent as ``act(obs, hidden) -> (action, hidden)``.
* Checkpoints: written to a temporary folder, then renamed (atomic).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

import motornet_gym as mg
from agents._common import write_json
from agents._rl_hyperparams import RECURRENT, algorithm_class
from agents.evaluation import evaluate_controller

AGENT_DIR, BEST_DIR, CHECKPOINTS, LATEST = "agent", "best", "checkpoints", "latest.json"
MODEL, VECNORM, REPLAY, META = "model.zip", "vecnormalize.pkl", "replay_buffer.pkl", "agent.json"
FORMAT = "motornet_gym.sb3_agent/1"


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


