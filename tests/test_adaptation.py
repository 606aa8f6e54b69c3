"""The curl-field block design: configuration errors, block environments, deviation sign, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import motornet_gym as mg
from agents.adaptation import FORCE_FIELD_ID, AdaptationConfig, adapt_backprop, block_kwargs, field_deviation
from motornet_gym.analysis.evaluate import evaluate

SHORT = {"episode_duration": 0.3}


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"batches must be 4 integers >= 1 \(one per block"):
        AdaptationConfig(batches=(1, 2, 3))
    with pytest.raises(ValueError, match="lr must be > 0; got 0"):
        AdaptationConfig(lr=0)
    with pytest.raises(ValueError, match="rl_chunk_steps must be an integer >= 1; got 0"):
        AdaptationConfig(rl_chunk_steps=0)


def test_null_blocks_switch_the_field_off_and_field_blocks_keep_it():
    kw = {"field_strength": 13.0, "action_noise": 0.01}
    assert block_kwargs(kw, "NF1")["field_strength"] == block_kwargs(kw, "NF2")["field_strength"] == 0.0
    assert block_kwargs(kw, "FF1") == kw and block_kwargs(kw, "FF2") == kw
    assert kw["field_strength"] == 13.0  # not mutated


def test_clockwise_field_deflects_a_moving_hand_to_its_right():
    """A fixed excitation moves the hand; in the default clockwise curl field the path bends to the right
    of the null-field path (cross product of movement and deflection < 0), counter-clockwise to the left.
    This is the sign convention the after-effect check relies on."""
    n = mg.make_simulator(FORCE_FIELD_ID).task.config.n_targets

    def push(obs, hidden):
        a = torch.zeros(obs.shape[0], 6)
        a[:, 0] = 0.6  # one shoulder muscle: the hand sweeps sideways
        return a, None

    def path(**kw):
        return evaluate(push, FORCE_FIELD_ID, env_kwargs=kw).fingertip_pos[:20, :n]

    null, cw, ccw = path(field_strength=0.0), path(), path(field_direction="ccw")
    move = null[-1] - null[0]
    for bent, sign in ((cw, -1.0), (ccw, 1.0)):
        off = bent[-1] - null[-1]
        cross = move[:, 0] * off[:, 1] - move[:, 1] * off[:, 0]
        assert np.all(np.sign(cross) == sign) and np.abs(off).max() > 1e-3
    assert field_deviation(evaluate(push, FORCE_FIELD_ID), n) != 0.0


def test_backprop_block_design_is_deterministic_and_records_every_batch(tmp_path):
    sim = mg.make_simulator(FORCE_FIELD_ID, **SHORT)
    torch.manual_seed(0)
    policy = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 8, hidden_noise=0.01)
    mg.policies.save_policy(policy, tmp_path / "p.pt", {"env_id": FORCE_FIELD_ID})
    cfg = AdaptationConfig(batches=(1, 2, 1, 2), batch_size=4)
    runs = [adapt_backprop(tmp_path / "p.pt", SHORT, cfg, seed=3, compile=False) for _ in range(2)]
    (dev_a, recs_a, pol_a), (dev_b, _, pol_b) = runs
    assert {k: len(v) for k, v in dev_a.items()} == {"NF1": 1, "FF1": 2, "NF2": 1, "FF2": 2}
    assert dev_a == dev_b
    sa, sb = pol_a.state_dict(), pol_b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert set(recs_a) == {"null", "before", "after", "washout", "relearn"}
    # the first FF1 evaluation is the untrained policy in the field: its deviation is the recorded one
    np.testing.assert_allclose(field_deviation(recs_a["before"], 8), dev_a["FF1"][0])
    # ...and the policy changed (it trained)
    assert not torch.equal(pol_a.readout.weight, policy.readout.weight)


def test_rl_adaptation_runs_at_the_initial_learning_rate_of_a_decaying_schedule(tmp_path):
    """A lin_<x> schedule is ~0 at the end of training (and SB3 evaluates it on the whole run's
    progress): adaptation must train at <x>, or the agent would be frozen and show no adaptation."""
    from agents.adaptation import adapt_rl
    from agents.ppo import PPOConfig, train

    out = tmp_path / "ppo"
    kw = {"field_strength": 0.0, **SHORT}
    train(PPOConfig(
        env_id=FORCE_FIELD_ID, env_kwargs=kw, n_envs=4, total_steps=256, eval_every=256,
        checkpoint_every=256, out_dir=str(out), progress=False, tensorboard=False,
        hyperparams_override={"n_steps": 32, "batch_size": 64, "n_epochs": 1, "learning_rate": "lin_1e-3",
                              "policy_kwargs": {"net_arch": [16]}},
    ))  # fmt: skip
    _, _, agent = adapt_rl(out, kw, AdaptationConfig(batches=(1, 1, 1, 1), rl_chunk_steps=128), seed=0)
    model = agent.model
    assert model.lr_schedule(0.0) == pytest.approx(1e-3)  # the decayed schedule would give 0 here
    assert model.policy.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
