"""The compiled fast path (``compile=True``): same trajectories and gradients as eager, one graph.

Compilation is process-wide per (id, batch size, dtype, device, grad pattern), so the tests share
it by using one batch size (and short episodes); the whole file compiles each id once without and
once with gradients.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch._dynamo
from torch._inductor import config as inductor_config

from motornet_gym._compile import fastpath
from motornet_gym.engine import MAX_FUSED_STAGES, Simulator
from motornet_gym.policies import GRUPolicy
from motornet_gym.registry import ENV_IDS, make_simulator
from motornet_gym.rollout import rollout

B = 3
NOISY = dict(action_noise=0.05, proprioception_noise=0.01, vision_noise=0.002, observation_noise=0.01)
# Float32 agreement: |compiled - eager| <= RTOL * max|eager| over the trajectory, + ATOL. Inductor
# fuses and reassociates float32 arithmetic, so the two round differently in the last bits.
# ATOL (one float32 ulp at 1.0) covers quantities that are small differences of O(0.1-1) numbers:
# the position cost |fingertip - desired| before a go cue is ~1e-3 m computed from ~0.3 m
# positions whose ulp is 3e-8 (measured worst 3.0e-8).
RTOL = 1e-6
ATOL = 1.2e-7
# The compliant arm integrates a stiff tendon over 50 RK4 sub-steps: its muscle force (~1e3 N)
# amplifies fibre-length rounding; measured worst 4.1e-6 of the force scale over an episode.
RTOL_COMPLIANT = 1e-5
# Policy gradients of a short rollout, relative to the largest gradient element; measured worst
# 5.2e-7 (Arm26ForceField-v0). Trajectories: measured worst 6.2e-7 of the scale (arm26 fingertip
# velocity) for every id but the compliant one.
GRAD_RTOL = 2e-6


def _kwargs(env_id: str) -> dict:
    # The compliant arm (50 RK4 sub-steps) is ~60x slower eagerly: keep its episode short.
    return {"episode_duration": 0.05 if "Compliant" in env_id else 0.2}


def _requires_compiler():
    problem = fastpath.compiler_problem("cpu")
    if problem is not None:
        pytest.skip(problem)


def _close(name: str, got: torch.Tensor, want: torch.Tensor, rtol: float = RTOL, atol: float = ATOL) -> None:
    if not want.is_floating_point():
        assert torch.equal(got, want), name
        return
    scale = float(want.abs().max()) if want.numel() else 0.0
    err = float((got.double() - want.double()).abs().max()) if want.numel() else 0.0
    bound = rtol * scale + atol
    assert err <= bound, f"{name}: max error {err:.3g} > {rtol:g} x scale {scale:.3g} + {atol:g}"


def _episode(sim: Simulator, seed: int, n_steps: int, action_seed: int = 0) -> dict[str, torch.Tensor]:
    """Observations, rewards and info of ``n_steps`` steps after ``reset(seed)``, stacked."""
    obs, _ = sim.reset(seed=seed)
    g = torch.Generator().manual_seed(action_seed)
    rec: dict[str, list[torch.Tensor]] = {"obs": [obs]}
    for _ in range(n_steps):
        a = torch.rand(sim.batch_size, sim.action_size, generator=g) * 1.2 - 0.1  # some clipped
        obs, reward, terminated, truncated, info = sim.step(a)
        for k, v in [("obs", obs), ("reward", reward), ("truncated", truncated)]:
            rec.setdefault(k, []).append(v)
        for k in ("fingertip_pos", "fingertip_vel", "joint_pos", "joint_vel", "activation", "force",
                  "endpoint_load", "desired_pos", "cost"):  # fmt: skip
            rec.setdefault(k, []).append(info[k])
        for k, v in info["cost_terms"].items():
            rec.setdefault(f"cost_terms.{k}", []).append(v)
    return {k: torch.stack(v) for k, v in rec.items()}


@pytest.mark.parametrize("noisy", [False, True], ids=["quiet", "noisy"])
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_compiled_trajectory_matches_eager(env_id, noisy):
    """A whole episode and a later reset, with noise on (same seed) and off; no recompilation."""
    _requires_compiler()
    kw = {**_kwargs(env_id), **(NOISY if noisy else {})}
    eager = make_simulator(env_id, batch_size=B, **kw)
    comp = make_simulator(env_id, batch_size=B, compile=True, **kw)
    assert comp.compiled and not eager.compiled
    n = comp.max_steps
    comp.reset(seed=0)
    comp.step(torch.full((B, comp.action_size), 0.5))  # compiles (or reuses) the step's graph(s)
    # One compilation serves the whole episode and the episodes after a reset.
    with torch._dynamo.config.patch(error_on_recompile=True):
        got = [_episode(comp, seed, n, action_seed=seed) for seed in (0, 1)]
        comp.reset_where(torch.tensor([True] + [False] * (B - 1)))
        comp.step(torch.full((B, comp.action_size), 0.25))
    want = [_episode(eager, seed, n, action_seed=seed) for seed in (0, 1)]
    rtol = RTOL_COMPLIANT if "Compliant" in env_id else RTOL
    for g, w in zip(got, want, strict=True):
        assert bool(g["truncated"][-1].all()) and not bool(g["truncated"][:-1].any())
        for k in w:
            _close(k, g[k], w[k], rtol)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_compiled_rollout_gradients_match_eager(env_id):
    """Gradients of a short differentiable rollout agree; the grad graph compiles once."""
    _requires_compiler()
    kw = {**_kwargs(env_id), **NOISY}
    horizon = 3 if "Compliant" in env_id else 5
    torch.manual_seed(0)
    sims = {c: make_simulator(env_id, batch_size=B, compile=c, **kw) for c in (False, True)}
    pol = GRUPolicy(sims[False].observation_size, sims[False].action_size, hidden_size=16)
    grads, costs = {}, {}
    for c, sim in sims.items():
        pol.zero_grad()
        traj = rollout(sim, pol, seed=3, horizon=horizon)
        traj.cost.mean().backward()
        costs[c] = traj.cost.detach()
        grads[c] = torch.cat([p.grad.reshape(-1) for p in pol.parameters()])
    assert float(grads[False].abs().max()) > 0
    _close("cost", costs[True], costs[False], RTOL_COMPLIANT if "Compliant" in env_id else RTOL)
    _close("policy gradient", grads[True], grads[False], rtol=GRAD_RTOL, atol=0.0)
    with torch._dynamo.config.patch(error_on_recompile=True):  # a second episode: no recompile
        rollout(sims[True], pol, seed=4, horizon=horizon).cost.mean().backward()


def _transition_parts(sim: Simulator):
    """The functions the compiled path compiles, with example arguments."""
    state, action = sim.state, torch.full((sim.batch_size, sim.action_size), 0.3)
    noise = sim.draw_noise()
    if sim.effector.n_ministeps * sim.effector.integrator.order <= MAX_FUSED_STAGES:
        return [(type(sim).transition, (sim, state, action, noise))]

    command, excitation, ep, jl = sim._begin(state, action, noise)
    jl = ep.new_zeros(1, sim.effector.dof) if jl is None else jl
    eff = sim.effector.step_unchecked(state.effector, excitation, ep, jl)
    return [
        (type(sim)._begin, (sim, state, action, noise)),
        (fastpath.ministep, (sim.effector, state.effector, excitation, ep, jl)),
        (type(sim)._finish, (sim, state, eff, command, ep, noise)),
    ]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_is_one_graph_without_breaks(env_id):
    """``torch._dynamo.explain``: each compiled function is a single graph with no break."""
    sim = make_simulator(env_id, batch_size=B, **_kwargs(env_id), **NOISY)
    sim.reset(seed=0)
    for fn, args in _transition_parts(sim):
        torch._dynamo.reset()
        ex = torch._dynamo.explain(fn)(*args)
        assert ex.graph_break_count == 0, ex.break_reasons
        assert ex.graph_count == 1
    torch._dynamo.reset()


def test_a_graph_break_in_the_step_fails_loudly(monkeypatch):
    """fullgraph=True: a host sync in a task's loads raises instead of silently running eagerly."""
    _requires_compiler()
    sim = make_simulator("motornet/Arm26Reach-v0", batch_size=2, compile=True, episode_duration=0.05)
    base = sim.task.loads

    def loads(task_state, effector_state, step):
        if step[0].item() > 100:  # data-dependent Python branch: a graph break
            raise AssertionError
        return base(task_state, effector_state, step)

    monkeypatch.setattr(sim.task, "loads", loads)
    sim.reset(seed=0)
    with pytest.raises(Exception, match=r"(?i)graph break|item|data.dependent|unsupported"):
        sim.step(torch.zeros(2, sim.action_size))


def test_no_compiler_warns_once_and_runs_eager(monkeypatch):
    monkeypatch.setattr(fastpath, "_warned", False)
    with inductor_config.patch({"cpp.cxx": (None, "no-such-c++-compiler-xyz")}):
        assert "no C++ compiler" in fastpath.compiler_problem("cpu")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sims = [
                make_simulator("motornet/PointMassReach-v0", batch_size=2, compile=True) for _ in range(2)
            ]
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(msgs) == 1 and "no C++ compiler" in msgs[0] and "eagerly" in msgs[0], msgs
    assert not any(s.compiled for s in sims)
    eager = make_simulator("motornet/PointMassReach-v0", batch_size=2)
    a = torch.full((2, 4), 0.3)
    for s in (sims[0], eager):
        s.reset(seed=5)
    torch.testing.assert_close(sims[0].step(a)[0], eager.step(a)[0], rtol=0, atol=0)


def test_compiler_problem_is_none_with_a_compiler():
    import shutil

    if not shutil.which("g++") and not shutil.which("c++"):
        pytest.skip("no C++ compiler here")
    with inductor_config.patch({"cpp.cxx": (None, "g++" if shutil.which("g++") else "c++")}):
        assert fastpath.compiler_problem("cpu") is None
    assert "does not support" in fastpath.compiler_problem("meta")


def test_compile_flag_reaches_the_front_ends():
    """gym.make / gym.make_vec / sb3.make_vec_env pass compile=True through to the simulator."""
    _requires_compiler()
    gym = pytest.importorskip("gymnasium")
    import motornet_gym  # noqa: F401  (registers the ids)

    kw = dict(episode_duration=0.2)
    venv = gym.make_vec("motornet/Arm26Reach-v0", num_envs=B, compile=True, **kw)
    ref = gym.make_vec("motornet/Arm26Reach-v0", num_envs=B, **kw)
    assert venv.unwrapped.simulator.compiled and not ref.unwrapped.simulator.compiled
    o1, _ = venv.reset(seed=2)
    o2, _ = ref.reset(seed=2)
    a = torch.rand(B, 6, generator=torch.Generator().manual_seed(0)).numpy()
    for _ in range(5):
        o1, r1, *_ = venv.step(a)
        o2, r2, *_ = ref.step(a)
    torch.testing.assert_close(torch.as_tensor(o1), torch.as_tensor(o2), rtol=1e-5, atol=1e-6)
    env = gym.make("motornet/Arm26Reach-v0", compile=True, **kw)
    assert env.unwrapped.simulator.compiled
    pytest.importorskip("stable_baselines3")
    from motornet_gym.sb3 import make_vec_env

    sb3v = make_vec_env("motornet/Arm26Reach-v0", n_envs=B, seed=0, compile=True, **kw)
    assert sb3v.venv.simulator.compiled
