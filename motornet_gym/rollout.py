"""Differentiable rollout: run a policy in a :class:`~motornet_gym.engine.Simulator` as one torch graph.

The cost recorded here is the task's one cost function — the same one the Gymnasium environments
return as ``-reward`` — so a policy trained by backprop on ``traj.cost.mean()`` optimises exactly
what an RL agent maximises. Gradients flow from the cost to the policy parameters through the
muscles, the skeleton, the sensory delays and the (additive, reparameterised) noise.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._compile import chunk as _chunk
from ._compile import fastpath
from ._compile.compiled_step import require_grad
from .engine import Simulator
from .policies import Policy


class Trajectory(NamedTuple):
    """One batch of episodes, time-major (``T`` steps, ``B`` episodes).

    Attributes:
        observation: ``(T, B, O)`` the observation the policy acted on at each step.
        action: ``(T, B, M)`` policy outputs (muscle excitations before noise and clipping).
        cost: ``(T, B)`` task cost of each step (= -reward); carries gradients. Steps after the
            episode terminated (the task's ``terminated``) cost 0: the step that terminates counts,
            later ones (the simulator keeps stepping the batch) are masked.
        cost_terms: name -> ``(T, B)`` unweighted cost terms, masked likewise.
        alive: ``(T, B)`` bool, the episode had not terminated before this step.
        fingertip_pos: ``(T, B, 2)`` m after each step.
        fingertip_vel: ``(T, B, 2)`` m/s.
        target: ``(T, B, 2)`` m.
        desired_pos: ``(T, B, 2)`` m, where the task wants the fingertip (start before a go cue).
        joint_pos: ``(T, B, D)`` rad (or m).
        joint_vel: ``(T, B, D)``.
        activation: ``(T, B, M)``.
        force: ``(T, B, M)`` N.
        endpoint_load: ``(T, B, 2)`` N applied by the task (force field, perturbation).
        hidden: ``(T, B, H)`` policy hidden state after each step, or ``None`` (stateless policy).
    """

    observation: torch.Tensor
    action: torch.Tensor
    cost: torch.Tensor
    cost_terms: dict[str, torch.Tensor]
    alive: torch.Tensor
    fingertip_pos: torch.Tensor
    fingertip_vel: torch.Tensor
    target: torch.Tensor
    desired_pos: torch.Tensor
    joint_pos: torch.Tensor
    joint_vel: torch.Tensor
    activation: torch.Tensor
    force: torch.Tensor
    endpoint_load: torch.Tensor
    hidden: torch.Tensor | None


_INFO_FIELDS = _chunk.RECORDED_INFO


def rollout(
    sim: Simulator,
    policy: Policy,
    seed: int | None = None,
    horizon: int | None = None,
    initial_hidden: torch.Tensor | None = None,
    options: dict | None = None,
    fuse_steps: int = 1,
) -> Trajectory:
    """Reset ``sim`` and run ``policy`` for one episode (or ``horizon`` steps).

    Args:
        sim: The simulator (its ``batch_size`` episodes run in parallel).
        policy: ``policy(obs, hidden) -> (action, hidden)`` with ``policy.initial_hidden(B)``.
        seed: Seed for the simulator's reset (initial states, targets and noise).
        horizon: Number of steps; defaults to ``sim.max_steps``.
        initial_hidden: Hidden state to start from; ``policy.initial_hidden(B)`` if ``None``.
        options: Reset options of the task (e.g. ``{"suite": "eval"}``).
        fuse_steps: ``K > 1`` runs ``K`` consecutive policy-and-simulator steps as one compiled
            graph (``torch.compile``, whatever the simulator's ``compile`` setting; the last chunk
            is shorter when ``K`` does not divide the horizon, one more graph). A differentiable
            batch then pays the compiled call's fixed cost once per ``K`` steps, forward and
            backward: arm26, GRU 128, B = 64, 100 steps, ``K = 5``: ~1.7x faster per batch than
            the step-by-step rollout with the policy compiled too (``python -m benchmarks.fast``).
            The first call compiles for ~15 s with a warm inductor cache (a minute or more cold),
            so it pays for training, not for a few rollouts. The trajectory equals the
            step-by-step one to float rounding, except that random ops inside the policy (a GRU's
            hidden noise) draw through inductor's generator, as with
            :func:`~motornet_gym.policies.compile_policy`. The policy must be traceable as one
            graph (no Python branches on tensor values). Without a compiler it runs step by step
            (one warning). Default 1: step by step.

    Returns:
        A :class:`Trajectory`.

    Raises:
        ValueError: If the policy's action has the wrong shape, or ``horizon`` or ``fuse_steps``
            is invalid.
        FloatingPointError: If the cost becomes non-finite (naming the step and batch index).
    """
    steps = sim.max_steps if horizon is None else horizon
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"horizon must be a positive integer or None; got {horizon!r}")
    if isinstance(fuse_steps, bool) or not isinstance(fuse_steps, int) or fuse_steps < 1:
        raise ValueError(f"fuse_steps must be an integer >= 1; got {fuse_steps!r}")
    b = sim.batch_size
    chunk = _chunk.compiled_chunk(sim.device, b) if fuse_steps > 1 else None
    obs, _ = sim.reset(seed=seed, options=options)
    hidden = policy.initial_hidden(b) if initial_hidden is None else initial_hidden
    if chunk is None:
        rec, terms = _step_by_step(sim, policy, obs, hidden, steps)
    else:
        rec, terms = _fused(sim, policy, chunk, obs, hidden, steps, fuse_steps)
    term = rec.pop("terminated").to(torch.int64)
    alive = (term.cumsum(0) - term) == 0  # no termination before this step
    cost = torch.where(alive, rec.pop("cost"), 0.0)
    finite = torch.isfinite(cost)
    if not bool(finite.all()):
        t, i = torch.nonzero(~finite)[0].tolist()
        raise FloatingPointError(
            f"the rollout cost is non-finite ({cost[t, i].item()}) at step {t + 1}, batch index {i}"
        )
    return Trajectory(
        cost=cost,
        cost_terms={k: torch.where(alive, v, 0.0) for k, v in terms.items()},
        alive=alive,
        hidden=rec.pop("hidden", None),
        **rec,
    )


Records = dict[str, torch.Tensor]


def _step_by_step(
    sim: Simulator, policy: Policy, obs: torch.Tensor, hidden: torch.Tensor | None, steps: int
) -> tuple[Records, Records]:
    """``steps`` steps through :meth:`Simulator.step_unchecked`: records and cost terms ``(T, B, ...)``."""
    b = sim.batch_size
    record: dict[str, list] = {k: [] for k in ("observation", "action", "cost", "terminated", *_INFO_FIELDS)}
    hid: list[torch.Tensor] = []
    terms: dict[str, list] = {}
    for t in range(steps):
        action, hidden = policy(obs, hidden)
        if t == 0:
            _check_action(action, b, sim.action_size)
        record["observation"].append(obs)
        record["action"].append(action)
        obs, _, terminated, _, info = sim.step_unchecked(action)
        record["terminated"].append(terminated)
        record["cost"].append(info["cost"])
        if hidden is not None:
            hid.append(hidden)
        for k in _INFO_FIELDS:
            record[k].append(info[k])
        for k, v in info["cost_terms"].items():
            terms.setdefault(k, []).append(v)
    stacked = {k: torch.stack(v) for k, v in record.items()}
    if hid:
        stacked["hidden"] = torch.stack(hid)
    return stacked, {k: torch.stack(v) for k, v in terms.items()}


def _fused(
    sim: Simulator,
    policy: Policy,
    chunk: _chunk.Chunk,
    obs: torch.Tensor,
    hidden: torch.Tensor | None,
    steps: int,
    k: int,
) -> tuple[Records, Records]:
    """``steps`` steps as compiled chunks of ``k`` (see ``rollout``'s ``fuse_steps``)."""
    # The action's shape is checked eagerly once (a compiled graph would fail less clearly).
    with torch.no_grad(), torch.random.fork_rng(devices=[]):  # (no draw of the run's own)
        _check_action(policy(obs, hidden)[0], sim.batch_size, sim.action_size)
    state = sim.state
    params = policy.parameters() if isinstance(policy, torch.nn.Module) else ()
    if torch.is_grad_enabled() and any(p.requires_grad for p in params):
        # One requires_grad pattern from the first chunk on (as the guarded step): one graph.
        state, obs = require_grad(state), fastpath.with_grad(obs)
        hidden = None if hidden is None else fastpath.with_grad(hidden)
    parts: list[Records] = []
    term_parts: list[Records] = []
    done = 0
    while done < steps:
        n = min(k, steps - done)
        draws = [sim.draw_noise() for _ in range(n)]  # the generator's order of a step-by-step run
        noises = type(draws[0])(*[None if x[0] is None else torch.stack(x) for x in zip(*draws, strict=True)])
        # (distinct leaves: a step may return one tensor twice, e.g. the point mass's joint and
        # fingertip positions, and compiled code guards on input aliasing)
        state = fastpath.distinct_leaves(state)
        state, hidden, obs, rec, terms = chunk(sim, policy, state, hidden, obs, noises, n)
        parts.append(rec)
        term_parts.append(terms)
        done += n
    sim.load_state(state)
    return (
        {key: torch.cat([p[key] for p in parts]) for key in parts[0]},
        {key: torch.cat([p[key] for p in term_parts]) for key in term_parts[0]},
    )


def _check_action(action: object, b: int, m: int) -> None:
    if not isinstance(action, torch.Tensor) or tuple(action.shape) != (b, m):
        got = tuple(action.shape) if isinstance(action, torch.Tensor) else type(action).__name__
        raise ValueError(f"policy output must have shape ({b}, {m}); got {got}")
