"""Curl-field adaptation as a block design: NF1 -> FF1 -> NF2 -> FF2, for backprop and SB3 agents.

A trained controller keeps learning, with the same algorithm it was trained with, through four
blocks: null field (NF1, baseline), curl field (FF1, first exposure and adaptation), null field
(NF2, washout: the after-effect), curl field again (FF2, relearning: savings). This is the design
of force-field savings experiments (e.g. the MotorNet-based savings study, eLife reviewed
preprint 107423; Shadmehr & Mussa-Ivaldi 1994, doi:10.1523/JNEUROSCI.14-05-03208.1994, for the
field and its after-effect).

Per batch (backprop: one gradient step of ``batch_size`` episodes; RL: one chunk of
``rl_chunk_steps`` environment steps) the deterministic controller is first evaluated on the
force-field task's fixed centre-out targets in the block's field (the same trials and noise seed
every time) and the mean signed lateral deviation is recorded, then it is trained on that batch.
Budgets are counted in batches or environment steps, never in seconds.

Stability (backprop): one Adam optimiser for the whole experiment at ``lr`` (3e-4 by default,
a third of the training rate: at 1e-3 a trained network adapts in a few batches but the large
steps can knock it off its attractor, the hand then flies off along the channel and never returns
in washout; at 1e-4 a protocol-trained network removed only half of the deviation in 100
batches; at 3e-4 (a 4000-batch protocol network, blocks 10/100/50/100) the deviation fell smoothly
from 4.1 cm to 0.16 cm (4 %), the after-effect was opposite (5.5 cm) and FF2 reached criterion in
12 batches instead of 30), with the training run's gradient clipping and the same regularisers.
RL agents keep their own optimiser settings and observation statistics, and adapt at their training
run's initial learning rate (a decaying schedule would have frozen them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import motornet_gym as mg
from agents._common import check_ints
from agents.protocol import FORCE_FIELD_ID
from motornet_gym.analysis import metrics as M
from motornet_gym.analysis.evaluate import EvaluationRecord, evaluate

BLOCKS = ("NF1", "FF1", "NF2", "FF2")
#: Blocks run in the curl field.
FIELD_BLOCKS = ("FF1", "FF2")
#: Noise seed of the per-batch evaluations (the same trials and noise at every batch).
EVAL_SEED = 0


@dataclass(frozen=True, kw_only=True)
class AdaptationConfig:
    """The block design.

    Attributes:
        batches: Batches per block, in the order of :data:`BLOCKS`.
        lr: Adam learning rate of backprop adaptation.
        grad_clip: Max global gradient norm of backprop adaptation (0: off).
        batch_size: Episodes per backprop batch.
        rl_chunk_steps: Environment steps per RL "batch" (SB3 rounds it up to whole rollouts: PPO
            collects ``n_steps * n_envs`` at a time, 4096 with the project's settings).
    """

    batches: tuple[int, int, int, int] = (10, 60, 30, 60)
    lr: float = 3e-4
    grad_clip: float = 1.0
    batch_size: int = 64
    rl_chunk_steps: int = 16_384

    def __post_init__(self) -> None:
        b = tuple(self.batches)
        if len(b) != 4 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in b):
            raise ValueError(
                f"batches must be 4 integers >= 1 (one per block {BLOCKS}); got {self.batches!r}"
            )
        object.__setattr__(self, "batches", b)
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0; got {self.lr!r}")
        if not self.grad_clip >= 0:
            raise ValueError(f"grad_clip must be >= 0; got {self.grad_clip!r}")
        check_ints(self, ("batch_size", "rl_chunk_steps"))


def block_kwargs(env_kwargs: Mapping[str, Any], block: str) -> dict[str, Any]:
    """Environment kwargs of a block: the protocol's, with the field switched off in NF blocks."""
    kw = dict(env_kwargs)
    if block not in FIELD_BLOCKS:
        kw["field_strength"] = 0.0
        kw.pop("field_matrix", None)
    return kw


def field_deviation(rec: EvaluationRecord, n_field: int) -> float:
    """Mean signed maximum lateral deviation (cm) over the first ``n_field`` (non-channel) trials."""
    dev = M.signed_max_deviation(rec.fingertip_pos[:, :n_field], rec.start[:n_field], rec.target[:n_field])
    return float(100 * np.mean(dev))


def _run_blocks(
    controller: Any,
    train_batch: Callable[[str, int], None],
    env_kwargs: Mapping[str, Any],
    config: AdaptationConfig,
) -> tuple[dict[str, list[float]], dict[str, EvaluationRecord], Any]:
    """Evaluate-then-train over the four blocks; returns deviations, key records, the controller.

    ``controller`` is updated in place by ``train_batch`` (a policy module, or an SB3 controller
    whose model and statistics train in place).
    """
    n_field = mg.make_simulator(FORCE_FIELD_ID, **dict(env_kwargs)).task.config.n_targets
    deviation: dict[str, list[float]] = {b: [] for b in BLOCKS}
    records: dict[str, EvaluationRecord] = {}
    snapshot = {("NF1", 0): "null", ("FF1", 0): "before", ("NF2", 0): "washout", ("FF2", 0): "relearn"}
    k = 0
    for block, n in zip(BLOCKS, config.batches, strict=True):
        kw = block_kwargs(env_kwargs, block)
        for i in range(n):
            rec = evaluate(controller, FORCE_FIELD_ID, seed=EVAL_SEED, env_kwargs=kw)
            dev = field_deviation(rec, n_field)
            if not math.isfinite(dev):
                raise FloatingPointError(
                    f"adaptation diverged: non-finite deviation in {block} batch {i + 1}"
                )
            deviation[block].append(dev)
            if (block, i) in snapshot:
                records[snapshot[(block, i)]] = rec
            train_batch(block, k)
            k += 1
        if block == "FF1":  # adapted: the controller at the end of the first exposure
            records["after"] = evaluate(controller, FORCE_FIELD_ID, seed=EVAL_SEED, env_kwargs=kw)
    return deviation, records, controller


def adapt_backprop(
    policy_path: Path,
    env_kwargs: Mapping[str, Any],
    config: AdaptationConfig,
    seed: int,
    regulariser_weights: Mapping[str, float] | None = None,
    compile: bool = True,
) -> tuple[dict[str, list[float]], dict[str, EvaluationRecord], torch.nn.Module]:
    """Run the block design on a saved backprop policy; returns deviations, records and the policy."""
    from agents.backprop import batch_seed, regularisers

    policy, meta = mg.policies.load_policy(policy_path)
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.lr)
    fast = {"compile": True} if compile else {}
    sims = {
        b: mg.make_simulator(
            FORCE_FIELD_ID, batch_size=config.batch_size, **fast, **block_kwargs(env_kwargs, b)
        )
        for b in ("NF1", "FF1")
    }
    weights = dict(regulariser_weights or {})

    def train_batch(block: str, k: int) -> None:
        sim = sims["FF1" if block in FIELD_BLOCKS else "NF1"]
        policy.train()
        traj = mg.rollout(sim, policy, seed=batch_seed(seed, 10**7 + k))
        loss = traj.cost.mean()
        for name, v in regularisers(traj.hidden, sim.dt).items():
            if weights.get(name, 0.0) > 0:
                loss = loss + weights[name] * v
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
        optimizer.step()

    return _run_blocks(policy, train_batch, env_kwargs, config)


def adapt_rl(
    agent_dir: Path, env_kwargs: Mapping[str, Any], config: AdaptationConfig, seed: int
) -> tuple[dict[str, list[float]], dict[str, EvaluationRecord], Any]:
    """Run the block design on a saved SB3 agent (its algorithm, hyperparameters and statistics)."""
    from stable_baselines3.common.utils import ConstantSchedule
    from stable_baselines3.common.vec_env import VecNormalize

    from agents._rl_agent import make_env

    agent = mg.sb3_agents.load_agent(agent_dir)
    model, norm = agent.model, agent.normalizer
    model.set_random_seed(seed)
    # Adapt at the training run's initial learning rate: a decaying schedule (lin_<x>) is near 0 at
    # the end of training, and SB3 evaluates it on the progress of the whole run, so it would freeze
    # the agent (each learn() call below adds one chunk to a multi-million-step run).
    lr0 = float(model.lr_schedule(1.0))
    model.learning_rate = lr0
    model.lr_schedule = ConstantSchedule(lr0)
    n_envs = int(model.n_envs)

    hp_file = Path(agent_dir) / "hyperparams.json"
    normalize = json.loads(hp_file.read_text()).get("normalize") if hp_file.is_file() else None
    norm_reward = bool(normalize.get("norm_reward", True)) if isinstance(normalize, dict) else bool(normalize)

    def env_for(block: str, k: int) -> Any:
        venv = make_env(FORCE_FIELD_ID, n_envs, seed + 7919 * (k + 1), block_kwargs(env_kwargs, block))
        if norm is not None:  # the training run's statistics, updated as in training
            wrapped = VecNormalize(
                venv, norm_obs=norm.norm_obs, norm_reward=norm_reward, clip_obs=norm.clip_obs,
                clip_reward=norm.clip_reward, gamma=norm.gamma,
            )  # fmt: skip
            wrapped.obs_rms, wrapped.ret_rms = norm.obs_rms, norm.ret_rms
            venv = wrapped
        return venv

    state = {"block": None}

    def train_batch(block: str, k: int) -> None:
        if state["block"] != block:
            model.set_env(env_for(block, k))
            state["block"] = block
        model.learn(config.rl_chunk_steps, reset_num_timesteps=False)

    # The loaded controller for the whole experiment: its model and statistics update in place.
    return _run_blocks(agent, train_batch, env_kwargs, config)
