"""``rollout(..., fuse_steps=K)``: K policy+simulator steps per compiled graph, same trajectory."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch._inductor import config as inductor_config

import motornet_gym as mg
from motornet_gym._compile import chunk as chunk_mod
from motornet_gym._compile import fastpath

F64 = torch.float64
NOISY = {"action_noise": 0.02, "proprioception_noise": 0.01, "vision_noise": 0.002, "observation_noise": 0.01}
B, T = 3, 7  # 7 steps in chunks of 3: 3 + 3 + 1 (two graph lengths)


class CountingGRU(mg.policies.GRUPolicy):
    """A GRU policy counting its eager calls (a compiled graph runs without calling the Python)."""

    calls = 0

    def forward(self, obs, hidden):
        if not torch.compiler.is_compiling():  # (skipped while dynamo traces: nothing to replay)
            CountingGRU.calls += 1
        return super().forward(obs, hidden)


def _setup(seed=0):
    sim = mg.make_simulator("motornet/PointMassReach-v0", batch_size=B, dtype=F64, compile=False, **NOISY)
    torch.manual_seed(seed)
    policy = CountingGRU(sim.observation_size, sim.action_size, 8, readout_bias=-1.0).to(F64)
    return sim, policy


def _run(fuse):
    sim, policy = _setup()
    traj = mg.rollout(sim, policy, seed=5, horizon=T, fuse_steps=fuse)
    traj.cost.mean().backward()
    grads = [p.grad.clone() for p in policy.parameters()]
    return sim, policy, traj, grads


def test_fused_rollout_equals_step_by_step_values_gradients_and_final_state():
    sim0, _, want, g0 = _run(1)
    sim1, policy, got, g1 = _run(3)
    for name, a, b in zip(want._fields, want, got, strict=True):
        if isinstance(a, dict):
            assert a.keys() == b.keys()
            for k in a:
                torch.testing.assert_close(b[k], a[k], rtol=1e-9, atol=1e-11, msg=f"{name}[{k}]")
        else:
            assert a.shape == b.shape and a.dtype == b.dtype, name
            torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-11, msg=name)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-7, atol=1e-10)
    for a, b in zip(fastpath.flatten(sim0.state), fastpath.flatten(sim1.state), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-11)
    # The simulator's generator is where the step-by-step run left it (the noise draws in order).
    assert torch.equal(sim0.generator.get_state(), sim1.generator.get_state())
    # A fused rollout calls the policy eagerly once (the shape check), not once per step: the
    # chunks ran as compiled graphs (the step-by-step rollout: T calls).
    CountingGRU.calls = 0
    mg.rollout(sim1, policy, seed=6, horizon=T, fuse_steps=3)
    assert CountingGRU.calls == 1
    CountingGRU.calls = 0
    mg.rollout(sim1, policy, seed=6, horizon=T)
    assert CountingGRU.calls == T


@pytest.mark.parametrize("bad", [0, -2, True, 1.5, "3"])
def test_fuse_steps_must_be_a_positive_integer(bad):
    sim, policy = _setup()
    with pytest.raises(ValueError, match="fuse_steps must be an integer >= 1"):
        mg.rollout(sim, policy, horizon=T, fuse_steps=bad)


def test_fused_rollout_checks_the_action_shape_before_compiling():
    sim, _ = _setup()

    def policy(obs, hidden):
        return torch.zeros(obs.shape[0], 3, dtype=obs.dtype), hidden

    policy.initial_hidden = lambda b: None
    with pytest.raises(ValueError, match=r"policy output must have shape \(3, 4\); got \(3, 3\)"):
        mg.rollout(sim, policy, horizon=T, fuse_steps=3)


def test_without_a_compiler_the_fused_rollout_runs_step_by_step_with_one_warning(monkeypatch):
    monkeypatch.setattr(fastpath, "_warned", False)
    monkeypatch.setattr(chunk_mod, "_COMPILED", {})
    _, _, want, _ = _run(1)
    with inductor_config.patch({"cpp.cxx": (None, "no-such-c++-compiler-xyz")}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, _, got, _ = _run(3)
            _run(3)
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and "no C++ compiler" in msgs[0], msgs
    assert torch.equal(got.cost, want.cost)
