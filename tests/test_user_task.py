"""A task defined outside the package runs through every front end, compiled and eager (issue 12).

The task (tests/_user_tasks.py) keeps its own episode state (a target that jumps once the hand
moves), terminates each episode at a drawn step, and rotates the cursor through the observe hook.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import pytest
import torch

import motornet_gym as mg
from motornet_gym.dynamics import presets
from motornet_gym.engine import Simulator
from motornet_gym.policies import GRUPolicy
from motornet_gym.tasks import CentreOut, Task
from tests import _user_tasks as user
from tests._subprocess import run_snippet

ID = user.ENV_ID


def _run(sim: Simulator, seed: int, n: int = 8):
    """Observations, rewards, terminated and targets of ``n`` steps with fixed actions."""
    g = torch.Generator().manual_seed(seed)
    obs, _ = sim.reset(seed=seed)
    rows = []
    for _ in range(n):
        obs, reward, term, trunc, info = sim.step(torch.rand(sim.batch_size, sim.action_size, generator=g))
        rows.append((obs.clone(), reward.clone(), term.clone(), info["target"].clone()))
    return rows


def test_episode_state_update_termination_and_observe_hook():
    sim = mg.make_simulator(ID, batch_size=4, compile=False)
    sim.reset(seed=3)
    first = sim.state.task
    assert isinstance(first, user.JumpState) and not bool(first.jumped.any())
    terminated = []
    for _ in range(7):
        _, _, term, trunc, info = sim.step(torch.full((4, 6), 0.3))
        terminated.append(term)
        assert not bool(trunc.any())
    state = sim.state.task
    # the target jumped by 90 degrees about the start once the hand moved (the state changed)
    assert bool(state.jumped.all())
    d0, d1 = first.target - first.start, state.target - state.start
    assert torch.allclose((d0 * d1).sum(-1), torch.zeros(4), atol=1e-7)
    # terminated exactly on the drawn step
    steps = torch.arange(1, 8)[:, None]
    assert torch.equal(torch.stack(terminated), steps >= first.end_step[None, :])
    # the cursor (vision) is the fingertip rotated 30 degrees about the start
    rel = info["fingertip_pos"] - state.start
    c, s = math.cos(user.ROTATION), math.sin(user.ROTATION)
    want = state.start + torch.stack([c * rel[:, 0] - s * rel[:, 1], s * rel[:, 0] + c * rel[:, 1]], -1)
    assert torch.allclose(info["obs_parts"]["vision"], want, atol=1e-6)
    assert not torch.allclose(info["obs_parts"]["vision"], info["fingertip_pos"], atol=1e-4)


def test_gym_make_reports_terminated_not_truncated_and_passes_both_checkers():
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(ID)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(gym.make(ID).unwrapped, warn=False)
    env.reset(seed=0)
    end = int(env.unwrapped.simulator.state.task.end_step[0])
    for t in range(1, end + 1):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        assert (term, trunc) == (t == end, False)


def test_module_form_of_the_id_imports_the_users_module():
    out = run_snippet(
        "import gymnasium as gym, motornet_gym as mg\n"
        "env = gym.make('tests._user_tasks:usertest/Jump-v0')\n"
        "print(env.reset(seed=0)[0].shape, mg.env_spec('tests._user_tasks:usertest/Jump-v0').id)\n"
    )
    assert "(17,) usertest/Jump-v0" in out


@pytest.mark.parametrize("mode", ["NextStep", "SameStep"])
def test_make_vec_resets_terminated_episodes(mode):
    from gymnasium.vector import AutoresetMode

    venv = gym.make_vec(ID, num_envs=3, autoreset_mode=AutoresetMode(mode))
    venv.reset(seed=1)
    ends = venv.unwrapped.simulator.state.task.end_step.tolist()
    seen = np.zeros(3, dtype=bool)
    for t in range(1, max(ends) + 2):
        obs, _, term, trunc, info = venv.step(np.full((3, 6), 0.2, dtype=np.float32))
        assert not trunc.any()
        first = ~seen
        want = np.array([t == e for e in ends])
        assert np.array_equal(term[first], want[first]), (t, term, ends)
        if mode == "SameStep" and term.any():
            assert info["_final_obs"].tolist() == term.tolist()
            assert np.all(info["step"][term] == 0)  # already restarted
        if mode == "NextStep":  # the step after the termination restarts the episode
            assert np.all(info["step"][seen & (t - 1 == np.array(ends))] == 0)
        seen |= term
    assert seen.all()


def test_sb3_vec_env_ends_on_termination_without_time_limit_flag():
    from motornet_gym.sb3 import make_vec_env

    venv = make_vec_env(ID, n_envs=2, seed=0)
    venv.reset()
    ends = venv.venv.simulator.state.task.end_step.tolist()
    for t in range(1, max(ends) + 1):
        _, _, done, infos = venv.step(np.full((2, 6), 0.2, dtype=np.float32))
        for i in range(2):
            assert bool(done[i]) == (t == ends[i])
            assert infos[i]["TimeLimit.truncated"] is False
            if done[i]:
                assert "terminal_observation" in infos[i]


def test_rollout_masks_cost_after_termination_and_gradients_match_finite_differences():
    sim = mg.make_simulator(ID, batch_size=2, compile=False, dtype="float64")
    torch.manual_seed(0)
    policy = GRUPolicy(sim.observation_size, sim.action_size, hidden_size=8).double()
    traj = mg.rollout(sim, policy, seed=2, horizon=8)
    ends = sim.state.task.end_step  # episode state at the end; end_step never changes
    t = torch.arange(1, 9)[:, None]
    assert torch.equal(traj.alive, t <= ends[None, :])
    assert bool((traj.cost[~traj.alive] == 0).all()) and bool((traj.cost[traj.alive] > 0).all())
    assert bool((traj.cost_terms["position"][~traj.alive] == 0).all())

    w = policy.readout.bias

    def loss() -> torch.Tensor:
        return mg.rollout(sim, policy, seed=2, horizon=8).cost.sum()

    loss().backward()
    grad = w.grad.clone()
    eps = 1e-6
    for j in range(3):
        with torch.no_grad():
            w[j] += eps
            up = loss()
            w[j] -= 2 * eps
            down = loss()
            w[j] += eps
        fd = (up - down) / (2 * eps)
        assert torch.allclose(grad[j], fd, rtol=1e-4, atol=1e-9), (j, grad[j], fd)


def test_compiled_equals_eager():
    from tests.test_compile import _requires_compiler

    _requires_compiler()
    eager = _run(mg.make_simulator(ID, batch_size=3, compile=False), 4)
    comp_sim = mg.make_simulator(ID, batch_size=3, compile=True)
    with torch.no_grad():
        comp = _run(comp_sim, 4)
    assert comp_sim.compiled
    for (o1, r1, t1, g1), (o2, r2, t2, g2) in zip(eager, comp, strict=True):
        assert torch.equal(t1, t2) and torch.allclose(g1, g2, atol=1e-6)
        assert torch.allclose(o1, o2, atol=1e-5) and torch.allclose(r1, r2, atol=1e-5)


def test_evaluate_accepts_a_user_id():
    from motornet_gym.analysis import evaluate

    sim = mg.make_simulator(ID, batch_size=1)
    sim.reset(options={"suite": "eval", "trial": 0})
    rec = evaluate(lambda obs, hidden: (torch.full((obs.shape[0], 6), 0.3), None), ID)
    assert rec.env_id == ID and rec.target.shape == (8, 2)
    # the recorded target is the jumped one (turned 90 degrees about the start)
    d0 = (sim.state.task.target - sim.state.task.start)[0].numpy()
    assert abs(float(np.dot(rec.target[0] - rec.start[0], d0))) < 1e-6
    assert all(np.isfinite(v) for v in rec.summary().values() if not np.isnan(v))


# ----------------------------------------------------------------------------- bad input
class _Base(NamedTuple):
    joint_pos: torch.Tensor
    start: torch.Tensor
    target: torch.Tensor
    go_step: torch.Tensor
    catch: torch.Tensor


class _BadBatch(NamedTuple):
    joint_pos: torch.Tensor
    start: torch.Tensor
    target: torch.Tensor
    go_step: torch.Tensor
    catch: torch.Tensor
    gain: torch.Tensor


class NotBatchFirst(CentreOut):
    def sample_train(self, batch_size, generator):
        ts = super().sample_train(batch_size, generator)
        return _BadBatch(**ts._asdict(), gain=torch.ones(3, batch_size))


class WrongCue(CentreOut):
    def observation_extras(self, task_state, step):
        return (("target", task_state.target), ("go_cue", task_state.target[:, :1]), ("extra", step))


class WrongTerminated(CentreOut):
    def terminated(self, task_state, effector_state, step):
        return step.float()


class WrongObserve(CentreOut):
    def observe(self, task_state, parts, step):
        return {**parts, "vision": parts["vision"][:, :1]}


class HostSync(CentreOut):
    def loads(self, task_state, effector_state, step):
        if step[0].item() > 1000:
            raise AssertionError
        return super().loads(task_state, effector_state, step)


@pytest.mark.parametrize(
    "task, exc, pattern",
    [
        (
            NotBatchFirst,
            ValueError,
            r"NotBatchFirst: task state field state\.gain must be batch first, "
            r"shape \(1, \.\.\.\); got \(3, 1\)",
        ),
        (
            WrongCue,
            ValueError,
            r"WrongCue\.observation_extras: cue 'extra' must have shape \(B, n\); got \(1,\)",
        ),
        (
            WrongTerminated,
            ValueError,
            r"WrongTerminated\.terminated must return a \(B,\) bool tensor; got torch\.float32",
        ),
        (
            WrongObserve,
            ValueError,
            r"WrongObserve\.observe: part 'vision' must keep shape \(1, 2\); got \(1, 1\)",
        ),
    ],
)
def test_bad_tasks_fail_at_registration_naming_task_and_field(task, exc, pattern):
    with pytest.raises(exc, match=pattern):
        mg.register(f"usertest/{task.__name__}-v0", effector=presets.arm26, task=task)
    assert (
        f"usertest/{task.__name__}-v0" not in mg.ENV_SPECS
        and f"usertest/{task.__name__}-v0" not in gym.registry
    )


def test_registration_refuses_taken_ids_and_unknown_defaults():
    with pytest.raises(ValueError, match="already registered"):
        mg.register(ID, effector=presets.arm26, task=user.JumpTask)
    with pytest.raises(ValueError, match="already registered"):
        mg.register("motornet/Arm26Reach-v0", effector=presets.arm26, task=CentreOut)
    with pytest.raises(TypeError, match="unknown default 'stiffness'"):
        mg.register("usertest/Other-v0", effector=presets.arm26, task=CentreOut, stiffness=1.0)
    with pytest.raises(TypeError, match="task must be a motornet_gym.tasks.Task subclass"):
        mg.register("usertest/Other-v0", effector=presets.arm26, task=object)
    with pytest.raises(ValueError, match="env_id must look like"):
        mg.register("no version", effector=presets.arm26, task=CentreOut)


def test_a_host_sync_in_a_task_hook_names_the_rule_under_compile_true():
    from tests.test_compile import _requires_compiler

    _requires_compiler()
    eff = presets.arm26()
    sim = Simulator(eff, HostSync(eff), batch_size=2, compile=True)
    sim.reset(seed=0)
    action = torch.full((2, 6), 0.1, requires_grad=True)  # the guarded (dynamo) path
    with pytest.raises(
        RuntimeError, match=r"HostSync: the step could not be compiled.*must not branch in Python"
    ):
        sim.step(action)


def test_task_base_class_hooks_are_public_and_documented():
    for name in (
        "sample_train",
        "sample_eval",
        "loads",
        "update",
        "cost",
        "terminated",
        "observe",
        "observation_extras",
        "desired_position",
    ):
        assert getattr(Task, name).__doc__, name
    assert "Rules that keep a task compilable" in Task.__doc__
