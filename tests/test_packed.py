"""Packed step outputs (``Simulator.step_packed``) and the frozen inference step behind them.

The compiled-vs-eager agreement of every registered id is in ``test_compile.py``; here: the packed
columns are exactly the step's outputs, the state packer round-trips, the frozen step hands its
state over to the differentiable path and back, and a failing inductor degrades with one warning.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from motornet_gym._compile import fastpath
from motornet_gym._compile.packed import OUTPUTS, Layout, StatePacker
from motornet_gym.registry import make_simulator

ARM = "motornet/Arm26Reach-v0"
B = 3


def _requires_compiler():
    problem = fastpath.compiler_problem("cpu")
    if problem is not None:
        pytest.skip(problem)


def _actions(n: int, m: int, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(B, m, generator=g) * 1.4 - 0.2 for _ in range(n)]


def _columns_equal_step(layout: Layout, packed: torch.Tensor, step_out: tuple, exact: bool) -> None:
    obs, reward, terminated, truncated, info = step_out
    want = {
        "observation": obs,
        "reward": reward,
        "terminated": terminated.to(packed.dtype),
        "truncated": truncated.to(packed.dtype),
    }
    for c in layout.columns:
        if c.key in want:
            w = want[c.key]
        else:
            w = info[c.key] if c.sub is None else info[c.key][c.sub]
        got = packed[:, c.start : c.stop].reshape(w.shape)
        if exact:
            assert torch.equal(got, w.to(packed.dtype)), (c.key, c.sub)
        else:
            torch.testing.assert_close(got, w.to(packed.dtype), rtol=1e-5, atol=1e-6, msg=f"{c}")


@pytest.mark.parametrize("env_id", [ARM, "motornet/PointMassReach-v0", "motornet/Arm26ForceField-v0"])
def test_step_packed_columns_are_exactly_the_step_outputs(env_id):
    kw = dict(episode_duration=0.05, action_noise=0.02, observation_noise=0.01)
    a, b = make_simulator(env_id, batch_size=B, **kw), make_simulator(env_id, batch_size=B, **kw)
    a.reset(seed=4)
    b.reset(seed=4)
    for u in _actions(a.max_steps, a.action_size):
        out = a.step(u)
        packed = b.step_packed(u)
        layout = b.layout
        assert packed.shape == (B, layout.width) and packed.dtype == b.dtype
        starts = [c.start for c in layout.columns]
        stops = [c.stop for c in layout.columns]
        assert starts == [0, *stops[:-1]] and stops[-1] == layout.width  # contiguous, no overlap
        _columns_equal_step(layout, packed, out, exact=True)
    assert float(packed[0, layout["truncated"].start]) == 1.0
    assert [c.kind for c in layout.columns if c.key == "step"] == ["i"]


def test_compiled_step_packed_matches_eager_step():
    _requires_compiler()
    kw = dict(episode_duration=0.1, proprioception_noise=0.01)
    eager, comp = (make_simulator(ARM, batch_size=B, compile=c, **kw) for c in (False, True))
    eager.reset(seed=1)
    comp.reset(seed=1)
    for u in _actions(eager.max_steps, 6, seed=2):
        packed = comp.step_packed(u)
        _columns_equal_step(comp.layout, packed, eager.step(u), exact=False)
    assert comp._compiled.frozen not in (None, False)  # the frozen graph ran


def test_state_packer_round_trips_mixed_dtypes_and_shapes():
    g = torch.Generator().manual_seed(0)
    leaves = [
        torch.rand(4, 2, generator=g),
        torch.randint(0, 9, (4,), generator=g),
        torch.rand(4, 3, 6, generator=g),
        torch.rand(4, generator=g) > 0.5,
        torch.randint(0, 9, (4, 2), generator=g),
        torch.rand(4, 1, generator=g),
    ]
    packer = StatePacker(leaves)
    packed = packer.pack(leaves)
    assert packer.dtypes == [torch.float32, torch.int64, torch.bool]
    assert [tuple(p.shape) for p in packed] == [(4, 2 + 18 + 1), (4, 1 + 2), (4, 1)]
    back = packer.unpack(packed)
    for x, y in zip(back, leaves, strict=True):
        assert x.dtype == y.dtype and torch.equal(x, y)


def test_frozen_and_differentiable_steps_hand_the_state_over():
    """No-grad (frozen) steps, then steps recording gradients, then frozen again: same as eager."""
    _requires_compiler()
    kw = dict(episode_duration=0.1, action_noise=0.02)
    eager, comp = (make_simulator(ARM, batch_size=B, compile=c, **kw) for c in (False, True))
    eager.reset(seed=3)
    comp.reset(seed=3)
    acts = _actions(9, 6, seed=5)
    first = None
    for t, u in enumerate(acts):
        grad = 3 <= t < 6
        if grad:
            u = u.clone().requires_grad_(True)
            first = u if first is None else first
        with torch.set_grad_enabled(grad):
            o_c, r_c, *_ = comp.step(u)
            o_e, r_e, *_ = eager.step(u)
        torch.testing.assert_close(o_c, o_e, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(r_c, r_e, rtol=1e-5, atol=1e-6)
        assert r_c.requires_grad == grad
        if t == 5:  # gradients reach the t = 3 action through three compiled (guarded) steps
            (g_c,) = torch.autograd.grad(r_c.sum(), first)
            (g_e,) = torch.autograd.grad(r_e.sum(), first)
            assert float(g_e.abs().max()) > 0
            torch.testing.assert_close(g_c, g_e, rtol=1e-4, atol=1e-7)
    for f_c, f_e in zip(fastpath.flatten(comp.state), fastpath.flatten(eager.state), strict=True):
        torch.testing.assert_close(f_c.detach(), f_e.detach(), rtol=1e-5, atol=1e-6)


def test_inductor_failure_falls_back_to_the_guarded_step_with_one_warning(monkeypatch):
    _requires_compiler()

    def broken(*args, **kwargs):
        raise RuntimeError("simulated inductor failure")

    monkeypatch.setattr(fastpath, "_inductor_compile", broken)
    monkeypatch.setattr(fastpath, "_warned_freeze", False)
    kw = dict(episode_duration=0.05)
    eager = make_simulator(ARM, batch_size=B, **kw)
    sims = [make_simulator(ARM, batch_size=B, compile=True, **kw) for _ in range(2)]
    u = torch.full((B, 6), 0.4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for sim in sims:
            sim.reset(seed=0)
            sim.step(u)
    msgs = [str(w.message) for w in caught if "frozen inference step" in str(w.message)]
    assert len(msgs) == 1 and "simulated inductor failure" in msgs[0], msgs
    assert all(s._compiled.frozen is False and s.compiled for s in sims)
    eager.reset(seed=0)
    want = eager.step(u)[0]
    torch.testing.assert_close(sims[0].step(u)[0], eager.step(u)[0], rtol=1e-5, atol=1e-6)
    assert want.shape == (B, eager.observation_size)


def test_motor_env_compiled_matches_eager_with_the_same_info_types():
    _requires_compiler()
    gym = pytest.importorskip("gymnasium")
    import motornet_gym  # noqa: F401  (registers the ids)

    kw = dict(episode_duration=0.05, vision_noise=0.001)
    envs = [gym.make(ARM, compile=c, **kw) for c in (False, True)]
    for env in envs:
        env.reset(seed=9)
    rng = np.random.default_rng(0)
    kept = None
    for t in range(5):
        a = rng.random(6, dtype=np.float32)
        (o0, r0, te0, tr0, i0), (o1, r1, te1, tr1, i1) = (env.step(a) for env in envs)
        np.testing.assert_allclose(o1, o0, rtol=1e-5, atol=1e-6)
        assert o1.dtype == np.float32 and o1.shape == (envs[0].unwrapped.simulator.observation_size,)
        assert r1 == pytest.approx(r0, rel=1e-5, abs=1e-7) and type(r1) is float
        assert (te1, tr1) == (te0, tr0) and type(tr1) is bool
        assert set(i1) == set(i0) and set(i1["cost_terms"]) == set(i0["cost_terms"])
        assert type(i1["step"]) is np.int64 and int(i1["step"]) == t + 1
        for k in ("fingertip_pos", "joint_pos", "activation", "force", "target"):
            assert i1[k].shape == i0[k].shape
            np.testing.assert_allclose(i1[k], i0[k], rtol=1e-5, atol=1e-6)
        if kept is None:
            kept, copy = o1, o1.copy()
    np.testing.assert_array_equal(kept, copy)  # later steps never overwrite a returned observation


def test_frozen_step_accepts_any_layout_and_dtype_of_action_and_options():
    """The frozen graph checks nothing: strided / transposed / float64 inputs must be made dense."""
    _requires_compiler()
    for b in (B, 256):  # packed state, then separate state tensors
        kw = dict(episode_duration=0.05)
        eager, comp = (make_simulator(ARM, batch_size=b, compile=c, **kw) for c in (False, True))
        g = torch.Generator().manual_seed(0)
        target = (torch.rand(2, b, generator=g) * 0.2 + 0.2).T  # transposed reset option
        acts = [
            torch.rand(b, 6, generator=g),
            torch.rand(6, b, generator=g).T,  # transposed
            torch.rand(b, 12, generator=g)[:, ::2],  # strided
            torch.rand(b, 6, generator=g).double(),  # another dtype (step_unchecked: no cast)
        ]
        for sim in (eager, comp):
            sim.reset(seed=0, options={"target": target})
        for u in acts:
            want = eager.step_unchecked(u)
            got = comp.step_unchecked(u)
            torch.testing.assert_close(got[0], want[0], rtol=1e-5, atol=1e-6)
            for k in ("activation", "target", "cost"):
                torch.testing.assert_close(got[4][k], want[4][k], rtol=1e-5, atol=1e-6, msg=k)


def test_motor_env_takes_strided_read_only_and_reversed_arrays_and_grad_options():
    _requires_compiler()
    gym = pytest.importorskip("gymnasium")
    import motornet_gym  # noqa: F401  (registers the ids)

    base = np.random.default_rng(0).random(12).astype(np.float32)
    read_only = base[:6].copy()
    read_only.flags.writeable = False
    variants = [base[::2], base[:6][::-1], read_only, base[:6].astype(np.float64)]
    for compiled in (False, True):
        env = gym.make(ARM, compile=compiled, episode_duration=0.05)
        ref = gym.make(ARM, episode_duration=0.05)
        for e in (env, ref):
            e.reset(seed=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. torch's "array is not writable" warning
            for a in variants:
                o, *_ = env.step(a)
                o_ref, *_ = ref.step(np.array(a, dtype=np.float32))
                np.testing.assert_allclose(o, o_ref, rtol=1e-5, atol=1e-6)
    env = gym.make(ARM, episode_duration=0.05)
    target = torch.tensor([0.1, 0.5], requires_grad=True)
    env.reset(seed=0, options={"target": target})
    obs, *_ = env.step(np.full(6, 0.2, np.float32))
    assert obs.dtype == np.float32 and np.isfinite(obs).all()


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_vector_env_packed_steps_match_the_engine_info(compiled, mode):
    """The vector env's packed step returns what converting the engine's step output would."""
    if compiled:
        _requires_compiler()
    gym = pytest.importorskip("gymnasium")
    import motornet_gym  # noqa: F401  (registers the ids)
    from motornet_gym.envs._common import info_to_numpy

    kw = dict(episode_duration=0.05, proprioception_noise=0.01)
    venv = gym.make_vec(ARM, num_envs=B, compile=compiled, autoreset_mode=mode, **kw)
    sim = make_simulator(ARM, batch_size=B, **kw)
    venv.reset(seed=2)
    sim.reset(seed=2)
    for t, u in enumerate(_actions(sim.max_steps, 6, seed=3)):
        obs, reward, term, trunc, info = venv.step(u.numpy())
        o, r, te, tr, i = sim.step(u)
        if mode == "SameStep" and t == sim.max_steps - 1:  # reset in this step: see final_obs
            assert trunc.all() and info["_final_obs"].all()
            np.testing.assert_allclose(np.stack(info["final_obs"]), o.numpy(), rtol=1e-5, atol=1e-6)
            return
        want = info_to_numpy(i, B)
        np.testing.assert_allclose(obs, o.numpy(), rtol=1e-5, atol=1e-6)
        assert obs.dtype == np.float32 and obs.flags.c_contiguous and reward.dtype == np.float64
        np.testing.assert_allclose(reward, r.numpy(), rtol=1e-5, atol=1e-7)
        assert term.dtype == trunc.dtype == np.bool_ and not term.any()
        assert trunc.tolist() == tr.tolist() == [t == sim.max_steps - 1] * B
        assert set(info) == set(want)
        for k, w in want.items():
            got = info[k]
            if isinstance(w, dict):
                assert set(got) == set(w)
                for sub in w:
                    np.testing.assert_allclose(got[sub], w[sub], rtol=1e-5, atol=1e-6)
                continue
            assert got.shape == w.shape and got.dtype.kind == w.dtype.kind, k
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6, err_msg=k)
    obs, reward, term, trunc, info = venv.step(np.zeros((B, 6), np.float32))  # NEXT_STEP autoreset
    assert (reward == 0).all() and (info["step"] == 0).all()


def test_frozen_initial_state_matches_eager_and_still_validates():
    _requires_compiler()
    kw = dict(episode_duration=0.05)
    eager, comp = (make_simulator(ARM, batch_size=B, compile=c, **kw) for c in (False, True))
    for seed in (0, 1, 2):  # the first reset builds the frozen graph, the later ones use it
        eager.reset(seed=seed)
        comp.reset(seed=seed)
        for f_c, f_e in zip(fastpath.flatten(comp.state), fastpath.flatten(eager.state), strict=True):
            torch.testing.assert_close(f_c, f_e, rtol=1e-6, atol=1e-7)
    assert comp._compiled.frozen_initial not in (None, False)
    bad = torch.tensor([[0.5, 1.0], [9.0, 1.0], [0.5, 1.0]])
    with pytest.raises(ValueError, match=r"joint_pos'\] must lie within"):
        comp.reset(options={"joint_pos": bad})
    for sim in (eager, comp):  # reset_where: fresh rows from the frozen graph, the others kept
        sim.reset(seed=5)
        sim.step(torch.full((B, 6), 0.3))
        sim.reset_where(torch.tensor([False, True, False]))
    for f_c, f_e in zip(fastpath.flatten(comp.state), fastpath.flatten(eager.state), strict=True):
        torch.testing.assert_close(f_c, f_e, rtol=1e-5, atol=1e-6)


def test_compiled_reset_packed_comes_from_the_frozen_initial_graph():
    """reset_packed of a compiled simulator = the eager one's, packed by the frozen initial graph."""
    _requires_compiler()
    kw = dict(episode_duration=0.05)
    eager, comp = (make_simulator(ARM, batch_size=B, compile=c, **kw) for c in (False, True))
    comp.reset(seed=0)  # builds the frozen initial graph
    taken = []
    take = comp._compiled.take_initial_packed
    comp._compiled.take_initial_packed = lambda: taken.append(take()) or taken[-1]
    for seed in (1, 2):
        want, got = eager.reset_packed(seed=seed), comp.reset_packed(seed=seed)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        assert taken[-1] is got  # not the eager current_packed
        torch.testing.assert_close(got, comp.current_packed(), rtol=1e-5, atol=1e-6)
    comp.step_packed(torch.full((B, 6), 0.3))
    assert comp._compiled.take_initial_packed() is None  # taken once; a step leaves none behind


def _loop_row_info(layout: Layout, row: np.ndarray) -> dict:
    """The info of a packed row by a plain loop over the columns: packed_row_info's reference."""
    out: dict = {key: {} for key in layout.nested}
    for key, sub, start, stop, shape, kind in layout.plan(OUTPUTS):
        if not shape:
            v = row[start] if kind == "f" else (np.int64(row[start]) if kind == "i" else row[start] > 0.5)
        else:
            v = row[start:stop]
            if len(shape) > 1:
                v = v.reshape(shape)
            if kind != "f":
                v = v.astype(np.int64) if kind == "i" else v > 0.5
        if sub is None:
            out[key] = v
        else:
            out[key][sub] = v
    return out


def _assert_same_info(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for key in a:
        if isinstance(a[key], dict):
            _assert_same_info(a[key], b[key])
            continue
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert type(a[key]) is type(b[key]) and x.dtype == y.dtype and x.shape == y.shape, key
        np.testing.assert_array_equal(x, y, err_msg=key)


def test_generated_row_reader_equals_the_column_loop():
    """packed_row_info's generated reader = the plain loop, on a layout with every kind of column."""
    from motornet_gym.envs import _common

    entries = [
        ("observation", None, torch.zeros(2, 3)),
        ("reward", None, torch.zeros(2)),
        ("terminated", None, torch.zeros(2, dtype=torch.bool)),
        ("truncated", None, torch.zeros(2, dtype=torch.bool)),
        ("grid", None, torch.zeros(2, 2, 3)),
        ("it's", "quoted", torch.zeros(2)),
        ("step", None, torch.zeros(2, dtype=torch.int64)),
        ("flags", None, torch.zeros(2, 2, dtype=torch.bool)),
        ("counts", None, torch.zeros(2, 3, dtype=torch.int64)),
        ("it's", "pair", torch.zeros(2, 2)),
        ("hit", None, torch.zeros(2, dtype=torch.bool)),
    ]
    layout = Layout(entries)
    row = np.arange(layout.width, dtype=np.float32) % 2 + np.arange(layout.width) * 0.25
    row = row.astype(np.float32)
    got = _common.packed_row_info(layout, row)
    _assert_same_info(got, _loop_row_info(layout, row))
    assert got["grid"].shape == (2, 3) and got["step"].dtype == np.int64 and got["hit"].dtype == np.bool_
    # Views of the row, as the loop's are (the single env's info costs no copies).
    assert np.shares_memory(got["grid"], row) and np.shares_memory(got["it's"]["pair"], row)
    # And on a real simulator's layout.
    sim = make_simulator(ARM, batch_size=1)
    sim.reset(seed=0)
    r = sim.step_packed(torch.full((1, 6), 0.3)).numpy()[0]
    _assert_same_info(_common.packed_row_info(sim.layout, r), _loop_row_info(sim.layout, r))


def test_direct_inductor_call_is_checked_against_the_wrapped_one(monkeypatch):
    """The frozen step calls inductor's graph directly only if it agrees with AOTAutograd's wrapper."""
    _requires_compiler()
    sim = make_simulator(ARM, batch_size=B, compile=True, episode_duration=0.05)
    sim.reset(seed=0)
    sim.step_packed(torch.full((B, 6), 0.4))
    assert sim._compiled.frozen.__name__ == "call"  # the direct call passed the check
    monkeypatch.setattr(fastpath, "_same_outputs", lambda *a: False)  # a disagreement ...
    other = make_simulator(ARM, batch_size=B, compile=True, episode_duration=0.05)
    other.reset(seed=0)
    other.step_packed(torch.full((B, 6), 0.4))
    assert other._compiled.frozen.__name__ != "call"  # ... keeps the wrapped function
    u = torch.full((B, 6), 0.7)
    torch.testing.assert_close(other.step_packed(u), sim.step_packed(u), rtol=0, atol=0)


def test_single_env_action_buffer_copies_and_falls_back():
    """The single env's persistent action buffer: values copied per step, odd input validated."""
    import gymnasium as gym

    import motornet_gym  # noqa: F401

    env, ref = (gym.make(ARM, compile=False) for _ in range(2))
    env.reset(seed=3)
    ref.reset(seed=3)
    a = np.full(6, 0.2, np.float32)
    for t in range(4):
        a[:] = 0.1 * t  # the same array, mutated: each step must read its current values
        o, r, *_ = env.step(a)
        o_ref, r_ref, *_ = ref.step(torch.full((6,), 0.1 * t).numpy().astype(np.float64))
        np.testing.assert_allclose(o, o_ref, rtol=1e-6, atol=1e-7)
        assert r == pytest.approx(r_ref, rel=1e-6)
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([0.1, 0.1, np.nan, 0.1, 0.1, 0.1], np.float32))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([0.1, np.inf, -np.inf, 0.1, 0.1, 0.1]))  # inf - inf: the sum is NaN
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(5, np.float32))
    huge = np.array([1e308, 1e308, 0, 0, 0, 0])  # finite, but the sum overflows: slow path, clipped
    o, *_ = env.step(huge)
    assert np.isfinite(o).all()
