"""Differentiable rollout: run a policy in a :class:`~motornet_gym.engine.Simulator` as one torch graph.

The cost recorded here is the task's one cost function — the same one the Gymnasium environments
return as ``-reward`` — so a policy trained by backprop on ``traj.cost.mean()`` optimises exactly
what an RL agent maximises. Gradients flow from the cost to the policy parameters through the
muscles, the skeleton, the sensory delays and the (additive, reparameterised) noise.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

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


_INFO_FIELDS = (
    "fingertip_pos",
    "fingertip_vel",
    "target",
    "desired_pos",
    "joint_pos",
    "joint_vel",
    "activation",
    "force",
    "endpoint_load",
)


def rollout(
    sim: Simulator,
    policy: Policy,
    seed: int | None = None,
    horizon: int | None = None,
    initial_hidden: torch.Tensor | None = None,
    options: dict | None = None,
) -> Trajectory:
    """Reset ``sim`` and run ``policy`` for one episode (or ``horizon`` steps).

    Args:
        sim: The simulator (its ``batch_size`` episodes run in parallel).
        policy: ``policy(obs, hidden) -> (action, hidden)`` with ``policy.initial_hidden(B)``.
        seed: Seed for the simulator's reset (initial states, targets and noise).
        horizon: Number of steps; defaults to ``sim.max_steps``.
        initial_hidden: Hidden state to start from; ``policy.initial_hidden(B)`` if ``None``.
        options: Reset options of the task (e.g. ``{"suite": "eval"}``).

    Returns:
        A :class:`Trajectory`.

    Raises:
        ValueError: If the policy's action has the wrong shape or ``horizon`` is invalid.
        FloatingPointError: If the cost becomes non-finite (naming the step and batch index).
    """
    steps = sim.max_steps if horizon is None else horizon
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"horizon must be a positive integer or None; got {horizon!r}")
    b = sim.batch_size
    obs, _ = sim.reset(seed=seed, options=options)
    hidden = policy.initial_hidden(b) if initial_hidden is None else initial_hidden
    record: dict[str, list] = {k: [] for k in ("observation", "action", "cost", "hidden", *_INFO_FIELDS)}
    terms: dict[str, list] = {}
    ended: list[torch.Tensor] = []
    for t in range(steps):
        action, hidden = policy(obs, hidden)
        if t == 0 and (not isinstance(action, torch.Tensor) or tuple(action.shape) != (b, sim.action_size)):
            got = tuple(action.shape) if isinstance(action, torch.Tensor) else type(action).__name__
            raise ValueError(f"policy output must have shape ({b}, {sim.action_size}); got {got}")
        record["observation"].append(obs)
        record["action"].append(action)
        obs, reward, terminated, _, info = sim.step_unchecked(action)
        ended.append(terminated)
        record["cost"].append(info["cost"])
        record["hidden"].append(hidden)
        for k in _INFO_FIELDS:
            record[k].append(info[k])
        for k, v in info["cost_terms"].items():
            terms.setdefault(k, []).append(v)
    term = torch.stack(ended).to(torch.int64)
    alive = (term.cumsum(0) - term) == 0  # no termination before this step
    cost = torch.where(alive, torch.stack(record["cost"]), 0.0)
    finite = torch.isfinite(cost)
    if not bool(finite.all()):
        t, i = torch.nonzero(~finite)[0].tolist()
        raise FloatingPointError(
            f"the rollout cost is non-finite ({cost[t, i].item()}) at step {t + 1}, batch index {i}"
        )
    hid = record.pop("hidden")
    stacked = {k: torch.stack(v) for k, v in record.items() if k != "cost"}
    return Trajectory(
        cost=cost,
        cost_terms={k: torch.where(alive, torch.stack(v), 0.0) for k, v in terms.items()},
        alive=alive,
        hidden=None if hid[0] is None else torch.stack(hid),
        **stacked,
    )
