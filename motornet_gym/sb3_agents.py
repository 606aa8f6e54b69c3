"""Saved stable-baselines3 agents: symmetric actions, and a loader that scores a run as it trained.

SB3 recommends a symmetric, normalised action box; the environments' actions are muscle
excitations in ``[0, 1]``. :func:`symmetric_actions` wraps an SB3 ``VecEnv`` so the agent acts in
``[-1, 1]`` and the environment receives ``(u + 1) / 2`` (clipped). A run saved by the training
scripts (``agents/``) records that mapping and its ``VecNormalize`` statistics beside the model;
:func:`load_agent` rebuilds a controller that applies both, so
``motornet_gym.analysis.evaluate(load_agent(run_dir), env_id)`` scores the agent exactly as its
training run did. (``evaluate(PPO.load(path), ...)`` on such a model raises instead of scoring raw
``[-1, 1]`` actions as excitations.)

Saved-agent folder layout (format ``motornet_gym.sb3_agent/1``): ``model.zip`` (SB3),
``vecnormalize.pkl`` (optional), ``replay_buffer.pkl`` (optional), ``agent.json`` (``format``,
``algorithm``, ``env_id``, ``env_kwargs``, ``env_steps``, ``action_mapping``, ...). A run folder
holds ``agent/`` (final), ``best/`` and ``checkpoints/step_<n>/`` folders of that layout.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from .sb3 import make_vec_env

__all__ = [
    "ACTION_MAPPING",
    "FORMAT",
    "LSTMState",
    "OBSERVATION_KWARGS",
    "SB3Controller",
    "algorithm_class",
    "engine_state",
    "latest_checkpoint",
    "load_agent",
    "resolve_agent_dir",
    "restore_engine_state",
    "symmetric_actions",
    "to_excitation",
]

FORMAT = "motornet_gym.sb3_agent/1"
#: ``make_simulator`` arguments that change the observation's size (a controller needs its own).
OBSERVATION_KWARGS = ("action_history",)
#: ``agent.json``'s ``action_mapping`` of runs that act through :func:`symmetric_actions`.
ACTION_MAPPING = "symmetric: excitation = (clip(u, -1, 1) + 1) / 2"
AGENT_DIR, BEST_DIR, CHECKPOINTS, LATEST = "agent", "best", "checkpoints", "latest.json"
MODEL, VECNORM, REPLAY, META = "model.zip", "vecnormalize.pkl", "replay_buffer.pkl", "agent.json"
#: algorithm name -> (module, class)
ALGORITHMS: Mapping[str, tuple[str, str]] = {
    "ppo": ("stable_baselines3", "PPO"),
    "sac": ("stable_baselines3", "SAC"),
    "recurrent_ppo": ("sb3_contrib", "RecurrentPPO"),
}
RECURRENT = frozenset({"recurrent_ppo"})


def algorithm_class(algorithm: str) -> type:
    """The SB3 / sb3-contrib class of ``algorithm`` (imported lazily, with a clear error)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}; got {algorithm!r}")
    module, name = ALGORITHMS[algorithm]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as e:
        raise ImportError(f'{name} needs {module}; install it with `pip install "motornet-gym[sb3]"`') from e


def to_excitation(actions: np.ndarray) -> np.ndarray:
    """Agent actions in ``[-1, 1]`` -> muscle excitations ``(u + 1) / 2`` in ``[0, 1]`` (clipped first)."""
    return ((np.clip(actions, -1.0, 1.0) + 1.0) * 0.5).astype(np.float32)


def symmetric_actions(venv: Any) -> Any:
    """Wrap an SB3 ``VecEnv`` with a ``Box(0, 1)`` action space so the agent acts in ``[-1, 1]``.

    Raises:
        ValueError: If the wrapped action space is not ``Box(0, 1)``.
    """
    from gymnasium import spaces
    from stable_baselines3.common.vec_env import VecEnvWrapper

    low, high = venv.action_space.low, venv.action_space.high
    if not (np.all(low == 0.0) and np.all(high == 1.0)):
        raise ValueError(f"venv's action space must be Box(0, 1); got {venv.action_space}")

    class SymmetricActions(VecEnvWrapper):
        """Agent actions in ``[-1, 1]`` -> excitations ``(u + 1) / 2``."""

        def __init__(self, inner: Any) -> None:
            space = spaces.Box(-1.0, 1.0, inner.action_space.shape, np.float32)
            super().__init__(inner, action_space=space)

        def step_async(self, actions: np.ndarray) -> None:
            self.venv.step_async(to_excitation(actions))

        def reset(self) -> Any:
            return self.venv.reset()

        def step_wait(self) -> Any:
            return self.venv.step_wait()

    return SymmetricActions(venv)


def engine_state(venv: Any) -> dict[str, Any]:
    """Snapshot of the batched engine under an SB3 ``VecEnv`` stack (for exact training resume).

    Returns:
        ``{"sim_state": SimState, "generator": ByteTensor}``: the episodes in flight
        (:class:`~motornet_gym.engine.SimState`, cloned tensors with batch size ``n_envs``) and
        the engine generator's state, so :func:`restore_engine_state` continues the very same
        episodes and random stream (picklable with ``torch.save``). Wrapper state (``VecMonitor``
        counters, ``VecNormalize`` statistics) is not included.

    Raises:
        ValueError: If ``venv`` is not (a wrapper of) a ``MotorSB3VecEnv``.
        RuntimeError: If the env was never reset.
    """
    sim = _simulator(venv)
    return {"sim_state": _clone(sim.state), "generator": sim.generator.get_state().clone()}


def restore_engine_state(venv: Any, snapshot: dict[str, Any]) -> None:
    """Put the engine of ``venv`` back where :func:`engine_state` found it.

    The env is reset first if it never was (so it can step), then its episodes and generator are
    overwritten; the next ``step`` continues exactly as the snapshotted env would have.

    Raises:
        ValueError: If ``venv`` is not (a wrapper of) a ``MotorSB3VecEnv``, or the snapshot's batch
            size differs from ``venv``'s.
    """
    sim = _simulator(venv)
    state = snapshot["sim_state"]
    if state.step.shape != (sim.batch_size,):
        raise ValueError(f"snapshot batch size must be {sim.batch_size}; got {tuple(state.step.shape)}")
    venv.unwrapped.load_engine_state(_clone(state), snapshot["generator"])


def _clone(tree: Any) -> Any:
    if isinstance(tree, torch.Tensor):
        return tree.detach().clone()
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(**{k: _clone(v) for k, v in tree._asdict().items()})
    if isinstance(tree, (tuple, list)):
        return type(tree)(_clone(x) for x in tree)
    if isinstance(tree, dict):
        return {k: _clone(v) for k, v in tree.items()}
    return tree


def _simulator(venv: Any) -> Any:
    sim = getattr(getattr(venv, "unwrapped", None), "simulator", None)
    if sim is None:
        raise ValueError(f"venv must wrap a motornet_gym MotorSB3VecEnv; got {type(venv).__name__}")
    return sim


class LSTMState(NamedTuple):
    """RecurrentPPO actor state: ``h`` and ``c``, each ``(n_layers, B, H)``."""

    h: torch.Tensor
    c: torch.Tensor


class SB3Controller:
    """A trained SB3 model as ``act(obs (B, O), hidden) -> (excitation (B, M) in [0, 1], hidden)``.

    Deterministic. Applies the saved ``VecNormalize`` observation statistics, maps actions from
    ``[-1, 1]`` to ``[0, 1]`` when the run acted through :func:`symmetric_actions`, and, for
    RecurrentPPO, carries the LSTM state: ``hidden`` is None at the start of an episode (the
    episode_start flag resets the LSTM) and an :class:`LSTMState` after.

    Attributes:
        model: The SB3 model.
        normalizer: ``VecNormalize`` whose observation statistics are used, or None.
        recurrent: Whether the model is a RecurrentPPO.
        symmetric: Whether actions are mapped from ``[-1, 1]``.
        metadata: ``agent.json`` contents (env_id, env_kwargs, algorithm, env_steps, ...).
        last_activity: ``(B, H)`` output of the actor's last hidden layer at the latest call
            (feed-forward policies): the network activity the comparison report analyses.
    """

    def __init__(self, model: Any, normalizer: Any = None, recurrent: bool = False,
                 metadata: Mapping[str, Any] | None = None, symmetric: bool = True) -> None:  # fmt: skip
        self.model, self.normalizer, self.recurrent = model, normalizer, recurrent
        self.metadata = dict(metadata or {})
        self.symmetric = symmetric
        self.last_activity: torch.Tensor | None = None
        actor = getattr(getattr(model.policy, "mlp_extractor", None), "policy_net", None)  # PPO
        if actor is None:  # SAC
            actor = getattr(getattr(model.policy, "actor", None), "latent_pi", None)
        if actor is not None and not recurrent:
            actor.register_forward_hook(self._record)

    @property
    def observation_kwargs(self) -> dict[str, Any]:
        """The training run's ``make_simulator`` settings that shape the observation the agent acts on.

        (``action_history``, the efference copy.) :func:`motornet_gym.analysis.evaluate` applies them
        under its own ``env_kwargs``, so a saved agent is scored on the observation it was trained on.
        """
        kw = self.metadata.get("env_kwargs") or {}
        return {k: kw[k] for k in OBSERVATION_KWARGS if k in kw}

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
        u = to_excitation(u) if self.symmetric else np.clip(u, 0.0, 1.0).astype(np.float32)
        return torch.as_tensor(u).to(device=obs.device, dtype=obs.dtype), hidden


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint folder of a run (``latest.json``, else the highest step)."""
    root = Path(run_dir) / CHECKPOINTS
    pointer = root / LATEST
    if pointer.is_file():
        cand = root / json.loads(pointer.read_text())["name"]
        if (cand / META).is_file():
            return cand
    done = sorted(p for p in root.glob("step_*") if (p / META).is_file()) if root.is_dir() else []
    return done[-1] if done else None


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
    """Load a saved agent (run folder, its ``agent/`` folder, or a checkpoint) as a controller.

    The controller applies the run's observation normalisation and action mapping, so
    :func:`motornet_gym.analysis.evaluate` scores it as the training run did; ``metadata`` holds
    ``agent.json``.

    Raises:
        FileNotFoundError: If ``path`` holds no saved agent.
        ValueError: If ``agent.json`` has another format.
    """
    from stable_baselines3.common.vec_env import VecNormalize

    folder = resolve_agent_dir(path)
    meta = json.loads((folder / META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder / META}: format must be {FORMAT!r}; got {meta.get('format')!r}")
    model = algorithm_class(meta["algorithm"]).load(str(folder / MODEL), device=device)
    # Format 1 runs written before the mapping was recorded all acted through symmetric_actions.
    symmetric = meta.get("action_mapping", ACTION_MAPPING) == ACTION_MAPPING
    normalizer = None
    if (folder / VECNORM).is_file():
        probe = make_vec_env(meta["env_id"], n_envs=1, **meta.get("env_kwargs", {}))
        wrapped = symmetric_actions(probe) if symmetric else probe
        normalizer = VecNormalize.load(str(folder / VECNORM), wrapped)
        normalizer.training, normalizer.norm_reward = False, False
    return SB3Controller(model, normalizer, meta["algorithm"] in RECURRENT, meta, symmetric)
