"""``compile="auto"``: eager first steps, compiled later ones, eager results; else eager + one warning."""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import torch
from torch._inductor import config as inductor_config

from motornet_gym._compile import fastpath
from motornet_gym._compile.compiled_step import CompiledStep
from motornet_gym.engine import _auto as compiled_step
from motornet_gym.policies import GRUPolicy
from motornet_gym.registry import make_simulator
from motornet_gym.rollout import rollout
from tests.test_compile import GRAD_RTOL, NOISY, RTOL, _close, _kwargs, _requires_compiler

ARM = "motornet/Arm26Reach-v0"
B = 3  # as tests/test_compile.py: the compiled graphs are shared


def _actions(n: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(B, 6, generator=g) * 1.2 - 0.1 for _ in range(n)]


def _record(sim, actions, seed: int, on_step=None) -> torch.Tensor:
    obs, _ = sim.reset(seed=seed)
    rows = [obs]
    for u in actions:
        obs, reward, _, _, info = sim.step(u)
        rows += [obs, reward[:, None], info["fingertip_pos"], info["force"]]
        if on_step is not None:
            on_step()
    return torch.cat(rows, dim=1)


def test_auto_steps_eagerly_then_compiled_with_the_eager_trajectory(monkeypatch):
    _requires_compiler()
    n = 7
    monkeypatch.setattr(compiled_step, "AUTO_COMPILE_STEPS", n)
    compiled_calls = []
    frozen = CompiledStep.step_frozen
    monkeypatch.setattr(
        CompiledStep, "step_frozen", lambda c, *a: (compiled_calls.append(1), frozen(c, *a))[1]
    )
    kw = {**_kwargs(ARM), **NOISY}
    auto = make_simulator(ARM, batch_size=B, compile="auto", **kw)
    eager = make_simulator(ARM, batch_size=B, compile=False, **kw)
    assert not auto.compiled
    seen = []
    steps = auto.max_steps
    got = [_record(auto, _actions(steps, s), s, lambda: seen.append((len(compiled_calls), auto.compiled)))
           for s in (0, 1)]  # fmt: skip
    want = [_record(eager, _actions(steps, s), s) for s in (0, 1)]
    # Steps 1..n eager (no compiled call), then every step compiled, across the reset.
    assert seen == [(max(0, i - n), i > n) for i in range(1, 2 * steps + 1)]
    assert auto._compiled.frozen_initial not in (None, False)  # the second reset ran compiled
    for g, w in zip(got, want, strict=True):
        _close("trajectory", g, w, RTOL)
    # The eager part runs the same code as the eager simulator: bit-identical.
    o = auto.observation_size
    k = o + n * (o + 1 + 2 + 6)  # first observation, then (obs, reward, fingertip, force) per step
    assert torch.equal(got[0][:, :k], want[0][:, :k])


def test_auto_switch_in_a_differentiable_rollout_keeps_the_gradients(monkeypatch):
    _requires_compiler()
    monkeypatch.setattr(compiled_step, "AUTO_COMPILE_STEPS", 2)
    kw = {**_kwargs(ARM), **NOISY}
    torch.manual_seed(0)
    sims = {c: make_simulator(ARM, batch_size=B, compile=c, **kw) for c in (False, "auto")}
    pol = GRUPolicy(sims[False].observation_size, 6, hidden_size=16)
    grads = {}
    for c, sim in sims.items():
        pol.zero_grad()
        rollout(sim, pol, seed=3, horizon=5).cost.mean().backward()
        grads[c] = torch.cat([p.grad.reshape(-1) for p in pol.parameters()])
    assert sims["auto"].compiled and float(grads[False].abs().max()) > 0
    _close("policy gradient", grads["auto"], grads[False], rtol=GRAD_RTOL, atol=0.0)


def test_auto_without_a_compiler_stays_eager_with_one_warning(monkeypatch):
    monkeypatch.setattr(compiled_step, "AUTO_COMPILE_STEPS", 2)
    monkeypatch.setattr(fastpath, "_warned", False)
    kw = dict(episode_duration=0.05, **NOISY)
    eager = make_simulator("motornet/PointMassReach-v0", batch_size=B, compile=False, **kw)
    with inductor_config.patch({"cpp.cxx": (None, "no-such-c++-compiler-xyz")}):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sims = [make_simulator("motornet/PointMassReach-v0", batch_size=B, compile="auto", **kw)
                    for _ in range(2)]  # fmt: skip
            runs = [_record(s, [u[:, :4] for u in _actions(5)], 0) for s in sims]
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and "no C++ compiler" in msgs[0] and "eagerly" in msgs[0], msgs
    assert not any(s.compiled for s in sims)
    want = _record(eager, [u[:, :4] for u in _actions(5)], 0)
    for r in runs:
        assert torch.equal(r, want)


def test_auto_stays_eager_with_one_warning_when_compiling_fails(monkeypatch):
    """A task the compiler cannot trace (a host sync in its loads): eager results, noise stream kept."""
    _requires_compiler()
    monkeypatch.setattr(compiled_step, "AUTO_COMPILE_STEPS", 3)
    monkeypatch.setattr(compiled_step, "_warned", False)
    kw = dict(episode_duration=0.1, **NOISY)
    sims = [make_simulator(ARM, batch_size=2, compile=c, **kw) for c in ("auto", "auto", False)]
    for sim in sims[:2]:
        base = sim.task.loads

        def loads(task_state, effector_state, step, base=base):
            if step[0].item() > 100:  # data-dependent Python branch: not traceable
                raise AssertionError
            return base(task_state, effector_state, step)

        monkeypatch.setattr(sim.task, "loads", loads)
    actions = [u[:2] for u in _actions(8)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs = [_record(sim, actions, 0) for sim in sims]
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and "stays eager" in msgs[0], msgs
    assert not sims[0].compiled and not sims[1].compiled
    assert torch.equal(runs[0], runs[2]) and torch.equal(runs[1], runs[2])


def test_compile_accepts_auto_and_rejects_other_strings():
    gym = pytest.importorskip("gymnasium")
    import motornet_gym  # noqa: F401  (registers the ids)

    with pytest.raises(ValueError, match="compile must be True, False or 'auto'; got 'yes'"):
        make_simulator(ARM, compile="yes")
    env = gym.make(ARM, compile="auto")
    venv = gym.make_vec(ARM, num_envs=2, compile="auto")
    sims = [env.unwrapped.simulator, venv.unwrapped.simulator]
    if importlib.util.find_spec("stable_baselines3") is not None:
        from motornet_gym.sb3 import make_vec_env

        sims.append(make_vec_env(ARM, n_envs=2, seed=0, compile="auto").venv.simulator)
    for sim in sims:
        assert sim._auto is not None and not sim.compiled
