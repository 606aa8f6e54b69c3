"""The compiled front ends equal eager ones where test_compile.py / test_packed.py do not look.

Frozen graphs are built once per simulator (never again at a reset), the step after a partial reset,
SB3's same-step autoreset, Gymnasium's SameStep post-reset observation, the guarded branch of
``step_unchecked`` at B >= 8192, float64, and the compliant arm's RK4 compiled as one fused graph.
Most configurations are those of test_packed.py (arm26, B = 3, 50 ms episodes, proprioceptive
noise), so the process compiles them once.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch._dynamo
from conftest import require_compiler

from motornet_gym._compile import fastpath
from motornet_gym._compile.compiled_step import FROZEN_UNCHECKED_MAX_BATCH
from motornet_gym.envs import MotorVectorEnv, register_envs
from motornet_gym.registry import make_simulator

register_envs()

ARM = "motornet/Arm26Reach-v0"
B = 3
KW = {"episode_duration": 0.05, "proprioception_noise": 0.01}  # 5 steps; test_packed.py's


def _actions(n: int, b: int, m: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(b, m, generator=g) for _ in range(n)]


def _close(got, want, name: str, rtol: float = 2e-6, atol: float = 2e-7) -> None:
    """|got - want| <= rtol * max|want| + atol (float32: inductor rounds differently)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, name
    scale = float(np.abs(want).max()) if want.size else 0.0
    err = float(np.abs(got - want).max()) if want.size else 0.0
    assert err <= rtol * scale + atol, f"{name}: max error {err:.3g} (scale {scale:.3g})"


# ---------------------------------------------------------------------------- frozen graphs
def test_frozen_graphs_are_built_once_per_simulator(monkeypatch):
    """The frozen step and initial-state graphs: built at the first step and reset, then reused."""
    require_compiler()
    builds = []
    freeze = fastpath.freeze

    def counting(fn, example, device, batch_size):
        builds.append(len(example))
        return freeze(fn, example, device, batch_size)

    monkeypatch.setattr(fastpath, "freeze", counting)
    sim = make_simulator(ARM, batch_size=B, compile=True, **KW)
    sim.reset(seed=0)
    sim.step(torch.full((B, 6), 0.5))
    assert len(builds) == 2  # the initial state's graph and the step's
    with torch._dynamo.config.patch(error_on_recompile=True):
        for seed, u in enumerate(_actions(4, B, 6)):
            sim.reset(seed=seed, options={"joint_pos": torch.tensor([0.6, 1.1])} if seed == 2 else None)
            for _ in range(sim.max_steps + 1):  # past the truncation
                sim.step(u)
                sim.step_packed(u)
            sim.reset_where(torch.tensor([True, False, True]))
            sim.step(u)
        env = MotorVectorEnv(ARM, B, compile=True, **KW)  # a new simulator builds its own
        env.reset(seed=0)
        env.step(np.zeros((B, 6), np.float32))
    assert len(builds) == 4


def test_step_after_reset_where_matches_eager():
    require_compiler()
    comp, eager = (make_simulator(ARM, batch_size=B, compile=c, **KW) for c in (True, False))
    for sim in (comp, eager):
        sim.reset(seed=4)
    for t, u in enumerate(_actions(6, B, 6, seed=1)):  # past the truncation (no autoreset here)
        if t in (1, 3):  # partial resets: rows 0 and 2, then row 1 (the generator draws for all)
            mask = torch.tensor([True, False, True] if t == 1 else [False, True, False])
            _close(comp.reset_where(mask), eager.reset_where(mask), f"reset_where obs {t}")
        (o_c, r_c, _, tr_c, i_c), (o_e, r_e, _, tr_e, i_e) = comp.step(u), eager.step(u)
        _close(o_c, o_e, f"obs {t}")
        _close(r_c, r_e, f"reward {t}")
        assert torch.equal(i_c["step"], i_e["step"]) and torch.equal(tr_c, tr_e)
        for key in ("joint_pos", "joint_vel", "fingertip_pos", "target", "activation"):
            _close(i_c[key], i_e[key], f"{key} {t}")
    assert comp.state.step.tolist() == [5, 3, 5]  # the rows really restarted


# ---------------------------------------------------------------------------- autoreset front ends
def test_sb3_same_step_autoreset_through_the_frozen_state_matches_eager():
    require_compiler()
    from motornet_gym import sb3 as mg_sb3

    comp, eager = (mg_sb3.make_vec_env(ARM, B, seed=7, compile=c, monitor=False, **KW) for c in (True, False))
    assert comp.simulator.compiled and not eager.simulator.compiled
    _close(comp.reset(), eager.reset(), "reset obs")
    n = comp.simulator.max_steps
    ended = 0
    for t, u in enumerate(_actions(2 * n + 1, B, 6, seed=2)):
        o_c, r_c, d_c, infos_c = comp.step(u.numpy())
        o_e, r_e, d_e, infos_e = eager.step(u.numpy())
        assert d_c.tolist() == d_e.tolist() == [(t + 1) % n == 0] * B, t
        _close(o_c, o_e, f"obs {t}")  # after an end: the new episode's first observation
        _close(r_c, r_e, f"reward {t}")
        for ic, ie in zip(infos_c, infos_e, strict=True):
            assert ic["TimeLimit.truncated"] == ie["TimeLimit.truncated"]
            assert ("terminal_observation" in ic) == ("terminal_observation" in ie) == bool(d_e[0])
            if "terminal_observation" in ie:
                ended += 1
                _close(ic["terminal_observation"], ie["terminal_observation"], f"terminal obs {t}")
        _close(comp.last_info["joint_pos"], eager.last_info["joint_pos"], f"joint_pos {t}")
    assert ended == 2 * B


def test_gymnasium_same_step_post_reset_observation_matches_eager():
    require_compiler()
    comp, eager = (
        gym.make_vec(ARM, num_envs=B, compile=c, autoreset_mode="SameStep", **KW) for c in (True, False)
    )
    _close(comp.reset(seed=3)[0], eager.reset(seed=3)[0], "reset obs")
    n = comp.unwrapped.simulator.max_steps
    for t, u in enumerate(_actions(n + 2, B, 6, seed=4)):
        o_c, r_c, _, tr_c, i_c = comp.step(u.numpy())
        o_e, r_e, _, tr_e, i_e = eager.step(u.numpy())
        assert tr_c.tolist() == tr_e.tolist() == [t == n - 1] * B
        _close(o_c, o_e, f"obs {t}")
        _close(r_c, r_e, f"reward {t}")
        np.testing.assert_array_equal(i_c["step"], i_e["step"])
        if t == n - 1:  # the returned observation is the new episode's first
            assert (i_e["step"] == 0).all()
            for env, o in ((comp, o_c), (eager, o_e)):
                np.testing.assert_array_equal(o, env.unwrapped.simulator.state.observation.numpy())
            assert not np.allclose(o_e, np.stack(i_e["final_obs"]))
            _close(np.stack(i_c["final_obs"]), np.stack(i_e["final_obs"]), "final_obs")
            _close(i_c["target"], i_e["target"], "new target")


# ---------------------------------------------------------------------------- other branches
def test_large_batch_steps_through_the_guarded_graph_and_matches_eager(monkeypatch):
    """B >= FROZEN_UNCHECKED_MAX_BATCH: step_unchecked runs the guarded graph, step_packed the frozen."""
    require_compiler()
    env_id, b = "motornet/PointMassReach-v0", FROZEN_UNCHECKED_MAX_BATCH
    kw = {"episode_duration": 0.03}  # 3 steps
    comp, eager = (gym.make_vec(env_id, num_envs=b, compile=c, **kw) for c in (True, False))
    _close(comp.reset(seed=1)[0], eager.reset(seed=1)[0], "reset obs")
    u = np.full((b, 4), 0.5, np.float32)
    _close(comp.step(u)[0], eager.step(u)[0], "first obs")
    half = np.arange(b) % 2 == 0  # stagger the episodes: every step then advances some of them
    _close(comp.reset(options={"reset_mask": half})[0], eager.reset(options={"reset_mask": half})[0], "reset")
    compiled = comp.unwrapped.simulator._compiled
    calls = []
    for name in ("step_frozen", "advance"):
        method = getattr(compiled, name)
        monkeypatch.setattr(compiled, name, lambda *a, _m=method, _n=name: calls.append(_n) or _m(*a))
    for t, u in enumerate(_actions(8, b, 4, seed=5)):
        o_c, r_c, _, tr_c, i_c = comp.step(u.numpy())
        o_e, r_e, _, tr_e, i_e = eager.step(u.numpy())
        _close(o_c, o_e, f"obs {t}")
        _close(r_c, r_e, f"reward {t}")
        assert tr_c.tolist() == tr_e.tolist()
        _close(i_c["fingertip_vel"], i_e["fingertip_vel"], f"fingertip_vel {t}")
    # NEXT_STEP, 3-step episodes: the odd rows end on steps 1 and 5, the even ones on 2 and 6; every
    # step, those that restart rows included, runs through step_packed (frozen) ...
    assert calls == ["step_frozen"] * 8
    # ... while step_unchecked at this batch runs the guarded graph.
    sim = comp.unwrapped.simulator
    sim.step_unchecked(torch.full((b, 4), 0.5))
    assert calls[-1] == "advance"


def test_float64_compiled_matches_eager_to_float64_rounding():
    require_compiler()
    comp, eager = (gym.make(ARM, dtype="float64", compile=c, **KW).unwrapped for c in (True, False))
    assert comp.simulator.dtype == torch.float64 and comp.simulator.compiled
    comp.reset(seed=2)
    eager.reset(seed=2)
    rng = np.random.default_rng(6)
    for t in range(7):
        u = rng.random(6)  # float64 actions, not float32-representable: nothing may round them
        o_c, r_c, _, tr_c, i_c = comp.step(u)
        o_e, r_e, _, tr_e, i_e = eager.step(u)
        assert i_c["joint_pos"].dtype == np.float64 and tr_c == tr_e
        for key in ("joint_pos", "joint_vel", "force", "cost"):
            _close(i_c[key], i_e[key], f"{key} {t}", rtol=1e-12, atol=1e-14)
        assert r_c == pytest.approx(r_e, rel=1e-12)
    assert comp.simulator._compiled.frozen not in (None, False)


def test_compliant_arm_rk4_as_one_fused_graph_matches_eager():
    """n_ministeps x 4 RK4 stages <= MAX_FUSED_STAGES: the compliant muscle in the frozen graph."""
    require_compiler()
    env_id = "motornet/CompliantArm26Reach-v0"
    # One RK4 step of 2 ms per step: coarse for the stiff tendons (they go slack after ~9 steps),
    # fine for 6 steps, over which the tendon force builds up to hundreds of newtons.
    kw = {"n_ministeps": 1, "dt": 0.002, "episode_duration": 0.012}
    comp, eager = (make_simulator(env_id, batch_size=2, compile=c, **kw) for c in (True, False))
    assert comp._compiled.fused and comp.effector.integrator.order == 4
    comp.reset(seed=0)
    eager.reset(seed=0)
    for t, u in enumerate(_actions(6, 2, 6, seed=7)):
        u = 0.4 + 0.2 * u
        (o_c, _, _, _, i_c), (o_e, _, _, _, i_e) = comp.step(u), eager.step(u)
        _close(o_c, o_e, f"obs {t}", rtol=1e-5)
        _close(i_c["force"], i_e["force"], f"force {t}", rtol=1e-5)
    assert comp._compiled.frozen not in (None, False)
    assert float(i_e["force"].abs().max()) > 10.0  # the tendons are loaded
