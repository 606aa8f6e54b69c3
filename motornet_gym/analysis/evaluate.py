"""Run any controller on a task's fixed evaluation suite and record what it did.

:func:`evaluate` accepts a :mod:`motornet_gym.policies` policy, an object with an SB3-style
``predict(obs, state, episode_start, deterministic)`` method (recurrent ones included), or a plain
callable ``act(obs (B, O) tensor, hidden) -> (action (B, M), hidden)``. Every controller sees the
same trials (the task's evaluation suite) and the same noise (seeded), so records from different
controllers can be compared trial by trial.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..registry import make_simulator
from . import metrics as M
from .metrics import MOVEMENT_FRACTION

Controller = Any


@dataclass(frozen=True)
class EvaluationRecord:
    """Per-trial trajectories (time-major numpy arrays, ``T`` steps, ``B`` trials) and metrics.

    Attributes:
        env_id: Registered id.
        env_kwargs: Keyword arguments the simulator was made with.
        seed: Noise seed.
        dt: Step, s.
        muscle_names: Muscle names (``M``).
        fingertip_pos: ``(T + 1, B, 2)`` m, including the initial position.
        fingertip_vel: ``(T + 1, B, 2)`` m/s.
        target: ``(B, 2)`` m, at the end of the trial (tasks may move it during the episode).
        start: ``(B, 2)`` m.
        go_step: ``(B,)`` step of the go cue (0 without one; a large value on catch trials).
        catch: ``(B,)`` bool.
        activation: ``(T, B, M)``.
        force: ``(T, B, M)`` N.
        endpoint_load: ``(T, B, 2)`` N applied by the task.
        action: ``(T, B, M)``.
        cost: ``(T, B)``.
        hidden: ``(T, B, H)`` controller hidden state, or the activity a feed-forward controller
            exposes as ``last_activity`` (``None`` when there is neither).
        metrics: name -> ``(B,)`` per-trial metric (nan where undefined, e.g. catch trials).
    """

    env_id: str
    env_kwargs: dict[str, Any]
    seed: int
    dt: float
    muscle_names: tuple[str, ...]
    fingertip_pos: np.ndarray
    fingertip_vel: np.ndarray
    target: np.ndarray
    start: np.ndarray
    go_step: np.ndarray
    catch: np.ndarray
    activation: np.ndarray
    force: np.ndarray
    endpoint_load: np.ndarray
    action: np.ndarray
    cost: np.ndarray
    hidden: np.ndarray | None
    metrics: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """Mean of every metric over the trials where it is defined."""
        return {
            k: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for k, v in self.metrics.items()
        }

    def save(self, path: str | os.PathLike) -> None:
        """Save as a compressed ``.npz`` (arrays plus JSON metadata); read back with :meth:`load`."""
        arrays = {k: v for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
        arrays.update({f"metric__{k}": v for k, v in self.metrics.items()})
        meta = {"env_id": self.env_id, "env_kwargs": self.env_kwargs, "seed": self.seed, "dt": self.dt,
                "muscle_names": list(self.muscle_names)}  # fmt: skip
        np.savez_compressed(path, __meta__=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> EvaluationRecord:
        """Read a record written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
        metrics = {
            k.removeprefix("metric__"): arrays.pop(k) for k in list(arrays) if k.startswith("metric__")
        }
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(
            env_id=meta["env_id"], env_kwargs=meta["env_kwargs"], seed=meta["seed"], dt=meta["dt"],
            muscle_names=tuple(meta["muscle_names"]), hidden=arrays.pop("hidden", None),
            metrics=metrics, **{k: v for k, v in arrays.items() if k in fields},
        )  # fmt: skip


def _hidden_array(hidden: Any) -> np.ndarray | None:
    """``(B, H)`` numpy view of a controller's hidden state (GRU tensor, LSTM ``(h, c)``, SB3 states)."""
    if hidden is None:
        return None
    if isinstance(hidden, (tuple, list)):
        hidden = hidden[0]  # LSTM: (h, c) -> h
    h = hidden.detach().cpu().numpy() if isinstance(hidden, torch.Tensor) else np.asarray(hidden)
    if h.ndim == 3:  # (layers, B, H): last layer
        h = h[-1]
    return h.reshape(h.shape[0], -1) if h.ndim >= 2 else None


def as_controller(controller: Controller) -> Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]:
    """Normalise any supported controller to ``act(obs, hidden) -> (action, hidden)``."""
    if isinstance(controller, torch.nn.Module) and hasattr(controller, "initial_hidden"):
        return lambda obs, h: controller(obs, h)  # evaluate() puts modules in eval mode
    if hasattr(controller, "predict"):
        _check_action_space(controller)
        starts = {"first": True}

        def act(obs: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
            b = obs.shape[0]
            ep_start = np.full(b, starts["first"], dtype=bool)
            starts["first"] = False
            action, state = controller.predict(obs.cpu().numpy(), state=state, episode_start=ep_start,
                                               deterministic=True)  # fmt: skip
            return torch.as_tensor(np.asarray(action), dtype=obs.dtype), state

        return act
    if callable(controller):
        return controller
    raise TypeError(
        "controller must be a motornet_gym policy, an object with an SB3-style predict(), or a callable "
        f"act(obs, hidden) -> (action, hidden); got {type(controller).__name__}"
    )


def _check_action_space(model: Any) -> None:
    """Refuse an SB3 model trained on a rescaled action box: its raw actions are not excitations."""
    space = getattr(model, "action_space", None)
    low = getattr(space, "low", None)
    high = getattr(space, "high", None)
    if low is None or high is None:
        return
    if np.any(np.asarray(low) < 0) or np.any(np.asarray(high) > 1):
        raise ValueError(
            "controller's action space must be the environments' excitation box [0, 1]; got "
            f"[{float(np.min(low))}, {float(np.max(high))}]: this model was trained through an action "
            "rescaling wrapper (and maybe VecNormalize), so its raw predictions are not excitations; load "
            "the saved run with its wrappers instead: motornet_gym.sb3_agents.load_agent(run_dir)"
        )


def antagonist_pairs(moment_arm: np.ndarray) -> list[tuple[int, int]]:
    """Pair muscles whose moment-arm vectors ``(D, M)`` point most nearly in opposite directions."""
    r = moment_arm / np.maximum(np.linalg.norm(moment_arm, axis=0, keepdims=True), 1e-12)
    cos = r.T @ r
    free, pairs = set(range(r.shape[1])), []
    candidates = [(i, j) for i in range(len(cos)) for j in range(i + 1, len(cos))]
    for i, j in sorted(candidates, key=lambda p: cos[p]):
        if i in free and j in free and cos[i, j] < 0:
            pairs.append((i, j))
            free -= {i, j}
    return pairs


@torch.no_grad()
def evaluate(
    controller: Controller,
    env_id: str,
    suite: str = "eval",
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    device: Any = "cpu",
    target_radius: float = 0.02,
    hold_window: int = 10,
) -> EvaluationRecord:
    """Run ``controller`` on the task's evaluation suite and compute per-trial metrics.

    Args:
        controller: See the module docstring.
        env_id: Registered id.
        suite: ``"eval"`` (the task's fixed evaluation trials) or ``"train"`` (random draws).
        seed: Seed of the simulator (noise, and trial draws for ``"train"``).
        env_kwargs: Keyword arguments of :func:`motornet_gym.make_simulator` (noise, delays, ...),
            over the controller's own ``observation_kwargs`` if it has them (a saved SB3 agent's
            efference copy: the observation it was trained on).
        device: Torch device.
        target_radius: m, radius for ``time_to_target``.
        hold_window: Steps at the end of the trial averaged by ``hold_error``.

    Returns:
        An :class:`EvaluationRecord`.
    """
    if suite not in ("eval", "train"):
        raise ValueError(f"suite must be 'eval' or 'train'; got {suite!r}")
    kwargs = {**dict(getattr(controller, "observation_kwargs", None) or {}), **dict(env_kwargs or {})}
    probe = make_simulator(env_id, batch_size=1, **kwargs)
    sim = make_simulator(env_id, batch_size=probe.task.eval_size, device=device, **kwargs)
    act = as_controller(controller)
    was_training = isinstance(controller, torch.nn.Module) and controller.training
    if was_training:  # deterministic controller: no training-time noise (e.g. hidden_noise)
        controller.eval()
    try:
        return _run(controller, act, sim, env_id, suite, seed, kwargs, target_radius, hold_window)
    finally:
        if was_training:
            controller.train()


def _run(controller: Controller, act: Callable, sim: Any, env_id: str, suite: str, seed: int,
         kwargs: dict[str, Any], target_radius: float, hold_window: int) -> EvaluationRecord:  # fmt: skip
    obs, info = sim.reset(seed=seed, options={"suite": suite})
    task_state = sim.state.task
    hidden = controller.initial_hidden(sim.batch_size) if hasattr(controller, "initial_hidden") else None
    rec: dict[str, list] = {k: [] for k in ("pos", "vel", "act", "force", "load", "action", "cost", "hidden")}
    rec["pos"].append(info["fingertip_pos"])
    rec["vel"].append(info["fingertip_vel"])
    for _ in range(sim.max_steps):
        action, hidden = act(obs, hidden)
        action = torch.as_tensor(action, dtype=obs.dtype, device=obs.device).clamp(0.0, 1.0)
        obs, _, _, _, info = sim.step(action)
        for k, src in (("pos", "fingertip_pos"), ("vel", "fingertip_vel"), ("act", "activation"),
                       ("force", "force"), ("load", "endpoint_load"), ("cost", "cost")):  # fmt: skip
            rec[k].append(info[src])
        rec["action"].append(action)
        # Network activity: the recurrent state, or what a feed-forward controller exposes as
        # ``last_activity`` (e.g. the actor's last hidden layer of an SB3 MLP policy).
        activity = hidden if hidden is not None else getattr(controller, "last_activity", None)
        rec["hidden"].append(_hidden_array(activity))

    def stack(k):
        return torch.stack(rec[k]).cpu().numpy().astype(np.float64)

    hid = None if rec["hidden"][0] is None else np.stack(rec["hidden"]).astype(np.float64)
    go = task_state.go_step.cpu().numpy()
    record = EvaluationRecord(
        env_id=sim.env_id, env_kwargs=kwargs, seed=seed, dt=sim.dt, muscle_names=tuple(sim.muscle_names),
        fingertip_pos=stack("pos"), fingertip_vel=stack("vel"),
        target=info["target"].cpu().numpy().astype(np.float64),  # at the end (a task may move it)
        start=task_state.start.cpu().numpy().astype(np.float64),
        go_step=go, catch=task_state.catch.cpu().numpy(), activation=stack("act"), force=stack("force"),
        endpoint_load=stack("load"), action=stack("action"), cost=stack("cost"), hidden=hid,
    )  # fmt: skip
    pairs = antagonist_pairs(sim.state.effector.geometry.moment_arm[0].cpu().numpy())
    record.metrics.update(trial_metrics(record, target_radius, hold_window, pairs))
    return record


def remeasure(rec: EvaluationRecord, target_radius: float = 0.02, hold_window: int = 10) -> EvaluationRecord:
    """A saved record with its per-trial metrics recomputed by the current :func:`trial_metrics`.

    Antagonist pairs come from the moment arms of the record's task at its first evaluation trial's
    initial posture (the pairing of flexors and extensors does not change over the workspace).
    """
    sim = make_simulator(rec.env_id, batch_size=1, **rec.env_kwargs)
    sim.reset(seed=rec.seed, options={"suite": "eval", "trial": 0})
    pairs = antagonist_pairs(sim.state.effector.geometry.moment_arm[0].cpu().numpy())
    return dataclasses.replace(rec, metrics=trial_metrics(rec, target_radius, hold_window, pairs))


def trial_metrics(
    rec: EvaluationRecord, target_radius: float, hold_window: int, pairs: list[tuple[int, int]]
) -> dict[str, np.ndarray]:
    """Per-trial metrics of a record (kinematics from the go cue on; nan on catch trials)."""
    b = rec.target.shape[0]
    desired = np.where(rec.catch[:, None], rec.start, rec.target)
    pos = rec.fingertip_pos
    out = {
        "final_error_cm": 100 * M.final_error(pos, desired),
        "hold_error_cm": 100 * M.hold_error(pos, desired, hold_window),
        "effort": M.effort(rec.activation),
        "co_contraction": M.co_contraction_index(rec.activation, pairs) if pairs else np.full(b, np.nan),
        "cost": rec.cost.mean(0),
    }
    names = ("time_to_target_s", "max_deviation_cm", "path_length_ratio", "peak_speed", "time_to_peak_s",
             "minimum_jerk_correlation", "normalised_jerk")  # fmt: skip
    per = {k: np.full(b, np.nan) for k in names}
    for i in range(b):
        if rec.catch[i]:
            continue
        g = int(min(max(rec.go_step[i], 0), pos.shape[0] - 2))
        p = pos[g:, i]
        per["time_to_target_s"][i] = M.time_to_target(p, rec.target[i], target_radius, rec.dt)
        per["max_deviation_cm"][i] = 100 * M.max_perpendicular_deviation(p, rec.start[i], rec.target[i])
        per["path_length_ratio"][i] = M.path_length_ratio(p)
        per["peak_speed"][i] = M.peak_speed(p, rec.dt)
        per["time_to_peak_s"][i] = M.time_to_peak_speed(p, rec.dt)
        per["minimum_jerk_correlation"][i] = M.minimum_jerk_correlation(p, rec.dt, MOVEMENT_FRACTION)
        # Over the primary movement only (speed above 10% of its peak), as the minimum-jerk correlation.
        per["normalised_jerk"][i] = M.normalised_jerk(p, rec.dt, onset_speed=MOVEMENT_FRACTION)
    out.update(per)
    return out
