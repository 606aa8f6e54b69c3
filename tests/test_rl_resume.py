"""Interrupt-then-resume equals an uninterrupted run, bit for bit (PPO, SAC, RecurrentPPO).

Tiny budgets: the point mass with 0.2 s episodes (20 steps), 8 envs, a few hundred env steps; the
interruption falls mid-episode, so the engine state, the RNG streams, the VecNormalize statistics
and (SAC) the replay buffer all have to be restored for the runs to agree.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")
pytest.importorskip("yaml")

from agents import _rl  # noqa: E402
from agents.ppo import PPOConfig  # noqa: E402
from agents.recurrent_ppo import RecurrentPPOConfig  # noqa: E402
from agents.sac import SACConfig  # noqa: E402

PM = "motornet/PointMassReach-v0"
SHORT = {"episode_duration": 0.2}
CONFIGS = {"ppo": PPOConfig, "sac": SACConfig, "recurrent_ppo": RecurrentPPOConfig}
TINY = {
    "ppo": {"n_steps": 32, "batch_size": 64, "n_epochs": 2, "policy_kwargs": {"net_arch": [32, 32]}},
    "sac": {
        "learning_starts": 160,
        "batch_size": 32,
        "gradient_steps": 1,
        "buffer_size": 2_000,
        "policy_kwargs": {"net_arch": [16, 16]},
    },  # fmt: skip
    "recurrent_ppo": {
        "n_steps": 25,
        "batch_size": 100,
        "n_epochs": 2,
        # A constant rate: a linear schedule runs over the leg's own total_steps, so a first leg
        # of 600 steps is another run than the first 600 steps of a 1200-step one.
        "learning_rate": 3e-4,
        "policy_kwargs": {"lstm_hidden_size": 8, "net_arch": [8]},
    },  # fmt: skip
}
#: (first leg, whole run) in env steps; the first leg ends mid-episode (20-step episodes x 8 envs).
STEPS = {"ppo": (512, 1024), "sac": (264, 400), "recurrent_ppo": (600, 1200)}


def _config(algorithm: str, out: Path, total: int, **kw: Any) -> Any:
    kw.setdefault("hyperparams_override", TINY[algorithm])
    return CONFIGS[algorithm](
        env_id=PM, env_kwargs=SHORT, n_envs=8, total_steps=total, eval_every=10**9, checkpoint_every=10**9,
        out_dir=str(out), progress=False, tensorboard=False, seed=3, **kw,
    )  # fmt: skip


def _equal(a: Any, b: Any, where: str = "") -> None:
    """Assert two nested structures (dicts, sequences, tensors, arrays, numbers) are identical."""
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _equal(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert a == b, where


def _final_state(run: Path, algorithm: str) -> dict[str, Any]:
    ckpt = _rl.latest_checkpoint(run)
    model = _rl.algorithm_class(algorithm).load(str(ckpt / "model.zip"), device="cpu")
    with (ckpt / "vecnormalize.pkl").open("rb") as f:
        norm = pickle.load(f)
    state = {
        "steps": int(ckpt.name.split("_")[1]),
        "params": model.get_parameters(),  # policy weights and optimiser states
        "obs_rms": (norm.obs_rms.mean, norm.obs_rms.var, norm.obs_rms.count),
        "ret_rms": (norm.ret_rms.mean, norm.ret_rms.var, norm.ret_rms.count),
        "resume": torch.load(ckpt / "resume_state.pt", weights_only=False),
    }
    if (ckpt / "replay_buffer.pkl").is_file():
        with (ckpt / "replay_buffer.pkl").open("rb") as f:
            buf = pickle.load(f)
        keys = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
        state["replay"] = {k: getattr(buf, k) for k in keys} | {"pos": buf.pos, "full": buf.full}
    return state


@pytest.mark.parametrize("algorithm", ["ppo", "sac", "recurrent_ppo"])
def test_interrupted_then_resumed_run_equals_an_uninterrupted_one(algorithm, tmp_path):
    first, total = STEPS[algorithm]
    train = _rl.train
    whole = train(_config(algorithm, tmp_path / "whole", total))
    train(_config(algorithm, tmp_path / "split", first))
    shutil.copytree(tmp_path / "split", tmp_path / "legacy")
    (_rl.latest_checkpoint(tmp_path / "legacy") / "resume_state.pt").unlink()
    resumed = train(_config(algorithm, tmp_path / "ignored", total, resume=str(tmp_path / "split")))
    assert whole["env_steps"] == resumed["env_steps"] == total
    a, b = _final_state(tmp_path / "whole", algorithm), _final_state(tmp_path / "split", algorithm)
    assert a["steps"] == b["steps"] == total
    if algorithm == "sac":
        assert b["replay"]["pos"] == total // 8 and not b["replay"]["full"]
    _equal(a, b)
    _equal(whole["eval"], resumed["eval"])
    # The comparison can fail: without resume_state.pt (the streams reseeded, the episodes restarted)
    # the same checkpoint resumes into different weights.
    train(_config(algorithm, tmp_path / "ignored", total, resume=str(tmp_path / "legacy")))
    with pytest.raises(AssertionError):
        _equal(a["params"], _final_state(tmp_path / "legacy", algorithm)["params"])


@pytest.mark.parametrize("sde", [False, True], ids=["gaussian", "gsde"])
def test_a_stop_request_checkpoints_the_rollout_boundary_and_resumes_exactly(sde, tmp_path, monkeypatch):
    """A signal arriving mid-rollout: the run stops at the next boundary, its checkpoint is exact.

    With gSDE the rollout draws its exploration matrix before the boundary's callback writes the
    checkpoint; the checkpoint keeps the RNG state from before that draw, so the resumed run draws
    the same matrix (without that, the gsde case fails).
    """
    hp = {**TINY["ppo"], "use_sde": True, "sde_sample_freq": 4} if sde else TINY["ppo"]
    whole = _rl.train(_config("ppo", tmp_path / "whole", 1024, hyperparams_override=hp))
    calls = {"n": 0}
    original = _rl._Run.should_stop

    def signal_after_300_steps(self):
        if self.model.num_timesteps >= 300:
            calls["n"] += 1
            self.reason = "signal SIGINT"
            return True
        return original(self)

    with monkeypatch.context() as m:
        m.setattr(_rl._Run, "should_stop", signal_after_300_steps)
        stopped = _rl.train(_config("ppo", tmp_path / "split", 1024, hyperparams_override=hp))
    assert calls["n"] >= 1 and stopped["stopped_by"] == "signal SIGINT"
    assert stopped["env_steps"] == 512  # the first rollout boundary after the request (256 per rollout)
    resumed = _rl.train(_config("ppo", tmp_path / "ignored", 1024, resume=str(tmp_path / "split")))
    assert resumed["env_steps"] == 1024
    if sde:
        assert any("log_std" in k for k in _final_state(tmp_path / "whole", "ppo")["params"]["policy"])
    _equal(_final_state(tmp_path / "whole", "ppo"), _final_state(tmp_path / "split", "ppo"))
    _equal(whole["eval"], resumed["eval"])


def test_ppo_with_gsde_resumes_exactly(tmp_path):
    """gSDE (ppo.yaml's Arm26Reach-v0 entry): the exploration matrix comes back with the RNG streams."""
    sde = {**TINY["ppo"], "use_sde": True, "sde_sample_freq": 4, "policy_kwargs": {"net_arch": [32, 32]}}

    def config(out: Path, total: int, **kw: Any) -> Any:
        return PPOConfig(env_id=PM, env_kwargs=SHORT, n_envs=8, total_steps=total, eval_every=10**9,
                         checkpoint_every=10**9, hyperparams_override=sde, out_dir=str(out), progress=False,
                         tensorboard=False, seed=3, **kw)  # fmt: skip

    first, total = STEPS["ppo"]
    whole = _rl.train(config(tmp_path / "whole", total))
    _rl.train(config(tmp_path / "split", first))
    resumed = _rl.train(config(tmp_path / "ignored", total, resume=str(tmp_path / "split")))
    assert whole["env_steps"] == resumed["env_steps"] == total
    a, b = _final_state(tmp_path / "whole", "ppo"), _final_state(tmp_path / "split", "ppo")
    assert any("log_std" in k for k in a["params"]["policy"])  # gSDE's parameters are there
    _equal(a, b)
    _equal(whole["eval"], resumed["eval"])
