"""Differentiable rollout: gradients vs finite differences, one cost for RL and backprop, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import motornet_gym as mg

F64 = torch.float64
NOISY = {"action_noise": 0.02, "proprioception_noise": 0.01, "vision_noise": 0.002, "observation_noise": 0.01}


def _sim(noise: bool, batch: int = 2):
    kwargs = dict(NOISY) if noise else {}
    return mg.make_simulator(
        "motornet/Arm26Reach-v0", batch_size=batch, dtype=F64, vision_delay=0.02,
        proprioception_delay=0.01, **kwargs,
    )  # fmt: skip


def _policy(sim, seed=0):
    torch.manual_seed(seed)
    # A readout bias of -1 keeps the sigmoid away from saturation so gradients are not tiny.
    return mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 16, readout_bias=-1.0).to(F64)


def _loss(sim, policy, q0=None, horizon=8):
    opts = {"joint_pos": q0} if q0 is not None else None
    return mg.rollout(sim, policy, seed=3, horizon=horizon, options=opts).cost.mean()


@pytest.mark.parametrize("noise", [False, True], ids=["noise-off", "noise-on"])
def test_policy_gradient_matches_finite_differences(noise):
    sim = _sim(noise)
    policy = _policy(sim)
    (grad_w,) = torch.autograd.grad(_loss(sim, policy), [policy.gru.weight_ih])
    (grad_b,) = torch.autograd.grad(_loss(sim, policy), [policy.readout.bias])
    eps = 1e-6
    for param, grad, idx in [(policy.gru.weight_ih, grad_w, (5, 3)), (policy.readout.bias, grad_b, (2,)),
                             (policy.gru.weight_ih, grad_w, (40, 0))]:  # fmt: skip
        with torch.no_grad():
            old = param[idx].item()
            param[idx] = old + eps
            up = _loss(sim, policy).item()
            param[idx] = old - eps
            down = _loss(sim, policy).item()
            param[idx] = old
        fd = (up - down) / (2 * eps)
        assert abs(grad[idx].item()) > 1e-8, "gradient vanished: the check would be vacuous"
        assert grad[idx].item() == pytest.approx(fd, rel=1e-5, abs=1e-10)


@pytest.mark.parametrize("noise", [False, True], ids=["noise-off", "noise-on"])
def test_initial_state_gradient_matches_finite_differences(noise):
    sim = _sim(noise)
    policy = _policy(sim)
    q0 = torch.tensor([[0.8, 1.2], [0.6, 1.5]], dtype=F64, requires_grad=True)
    (grad,) = torch.autograd.grad(_loss(sim, policy, q0), [q0])
    eps = 1e-6
    for idx in [(0, 0), (0, 1), (1, 0)]:
        q = q0.detach().clone()
        q[idx] += eps
        up = _loss(sim, policy, q).item()
        q[idx] -= 2 * eps
        down = _loss(sim, policy, q).item()
        assert grad[idx].item() == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-10)


def test_trajectory_shapes_and_fields():
    sim = mg.make_simulator("motornet/Arm26CentreOut-v0", batch_size=8)
    gru = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 32)
    traj = mg.rollout(sim, gru, seed=0)
    t, b = sim.max_steps, 8
    assert traj.cost.shape == (t, b) and traj.observation.shape == (t, b, sim.observation_size)
    assert traj.action.shape == (t, b, 6) and traj.hidden.shape == (t, b, 32)
    assert traj.fingertip_pos.shape == (t, b, 2) and traj.joint_pos.shape == (t, b, 2)
    assert set(traj.cost_terms) == {"position", "effort"}
    weights = sim.task.cost_weights
    total = sum(weights[k] * v for k, v in traj.cost_terms.items())
    torch.testing.assert_close(traj.cost, total)
    mlp = mg.policies.MLPPolicy(sim.observation_size, sim.action_size, (32,))
    assert mg.rollout(sim, mlp, seed=0, horizon=5).hidden is None
    # The initial excitation of a fresh GRU policy is near rest (readout bias -5).
    assert float(traj.action[0].detach().max()) < 0.01


def test_rollout_cost_is_minus_gym_reward():
    """One cost, two signs: replaying the rollout's actions in the vector env gives reward = -cost."""
    env_id = "motornet/Arm26Reach-v0"
    sim = mg.make_simulator(env_id, batch_size=4)
    policy = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 16, readout_bias=-1.0)
    with torch.no_grad():
        traj = mg.rollout(sim, policy, seed=7)
    venv = mg.MotorVectorEnv(env_id, num_envs=4)
    obs, _ = venv.reset(seed=7)
    np.testing.assert_allclose(obs, traj.observation[0].numpy(), rtol=1e-6, atol=1e-7)
    for t in range(sim.max_steps):
        obs, reward, *_ = venv.step(traj.action[t].numpy())
        np.testing.assert_allclose(reward, -traj.cost[t].numpy(), rtol=1e-5, atol=1e-7)


def test_gradient_flows_through_dynamics_to_position_cost():
    sim = mg.make_simulator("motornet/PointMassReach-v0", batch_size=4)
    policy = mg.policies.GRUPolicy(sim.observation_size, sim.action_size, 16, readout_bias=-1.0)
    traj = mg.rollout(sim, policy, seed=0, horizon=10)
    (g,) = torch.autograd.grad(traj.cost_terms["position"].mean(), [policy.readout.bias])
    assert float(g.abs().sum()) > 0


def test_bad_inputs():
    sim = mg.make_simulator("motornet/PointMassReach-v0", batch_size=3)

    class WrongShape(torch.nn.Module):
        def initial_hidden(self, b):
            return None

        def forward(self, obs, h):
            return torch.zeros(obs.shape[0], 5), None

    with pytest.raises(ValueError, match=r"policy output must have shape \(3, 4\); got \(3, 5\)"):
        mg.rollout(sim, WrongShape())

    class NaNAt(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.t = 0

        def initial_hidden(self, b):
            return None

        def forward(self, obs, h):
            self.t += 1
            a = torch.full((obs.shape[0], 4), 0.01)
            if self.t == 4:
                a[1, 2] = float("nan")
            return a, None

    with pytest.raises(FloatingPointError, match="non-finite.*at step 4, batch index 1"):
        mg.rollout(sim, NaNAt())
    with pytest.raises(ValueError, match="horizon must be a positive integer"):
        mg.rollout(sim, WrongShape(), horizon=0)
    with pytest.raises(ValueError, match="unknown env_id 'motornet/Nope-v0'; expected one of"):
        mg.make_simulator("motornet/Nope-v0")
