"""Registration with Gymnasium (``gym.make`` and ``gym.make_vec``): the built-in ids and user ids."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import gymnasium as gym

from ..dynamics import Effector
from ..engine import SimulatorConfig
from ..registry import ENV_IDS, ENV_SPECS, EnvSpec, add_spec, check_new_id, simulator_from_spec
from ..tasks import Task

__all__ = ["register", "register_envs"]

_ENTRY_POINT = "motornet_gym.envs.motor_env:MotorEnv"
_VECTOR_ENTRY_POINT = "motornet_gym.envs.vector_env:MotorVectorEnv"


def register_envs() -> tuple[str, ...]:
    """Register every id of :data:`motornet_gym.registry.ENV_IDS` (idempotent).

    Each id gets ``entry_point`` :class:`~motornet_gym.envs.MotorEnv`, ``vector_entry_point``
    :class:`~motornet_gym.envs.MotorVectorEnv` (so ``gym.make_vec(id, num_envs=N)`` builds one
    batched engine) and ``max_episode_steps`` the default episode length in steps (so
    ``gym.spec(id).max_episode_steps`` reports it; episodes end, by truncation, after
    ``episode_duration / dt`` steps in the engine itself, see :class:`~motornet_gym.envs.MotorEnv`
    "Episode End" for how gym.make's ``TimeLimit`` relates). Keyword arguments of ``gym.make`` /
    ``gym.make_vec`` go to :func:`motornet_gym.make_simulator`.

    Returns:
        The ids registered by this call (empty when they already were).
    """
    new = []
    for env_id in ENV_IDS:
        if env_id in gym.registry:
            continue
        _gym_register(env_id)
        new.append(env_id)
    return tuple(new)


def register(
    env_id: str,
    *,
    effector: Callable[..., Effector],
    task: type[Task],
    description: str = "",
    **defaults: Any,
) -> EnvSpec:
    """Register your own environment: an effector and a task, for every front end and tool.

    After ``register("mylab/TargetJump-v0", effector=presets.arm26, task=TargetJump)`` the id works
    with ``gym.make``, ``gym.make_vec``, :func:`motornet_gym.sb3.make_vec_env`,
    :func:`motornet_gym.make_simulator`, :func:`motornet_gym.analysis.evaluate`, the trainers in
    ``agents/`` and ``python -m agents.compare --env-id``. Call it at import time of your module and
    the id also works as ``"my_package.my_module:TargetJump-v0"`` (the module is imported on demand).

    The environment is built once here (batch 1, eager) and reset, so a task or effector that breaks
    the rules of :class:`~motornet_gym.tasks.Task` fails now, with a message naming the task and the
    field, not at the first training step.

    Args:
        env_id: ``"namespace/Name-v0"`` or ``"Name-v0"``, not registered yet.
        effector: ``callable(**kwargs) -> Effector``, e.g. a preset of
            :mod:`motornet_gym.dynamics.presets` or your own function; its keyword parameters
            become keyword arguments of the id (``dtype`` is passed when it accepts one).
        task: A :class:`~motornet_gym.tasks.Task` subclass; its ``config_class`` fields become
            keyword arguments of the id.
        description: One line for listings.
        **defaults: Default keyword arguments of the id: effector parameters, engine settings
            (fields of :class:`~motornet_gym.engine.SimulatorConfig`, e.g. ``episode_duration``,
            ``vision_delay``) and task configuration fields. ``max_episode_steps`` defaults to
            ``episode_duration / dt``.

    Returns:
        The :class:`~motornet_gym.registry.EnvSpec` added.

    Raises:
        ValueError: On a malformed or already registered id (in this registry or Gymnasium's), or
            an invalid task or effector (the probe build's message).
        TypeError: On a ``task`` that is not a Task subclass, an ``effector`` that is not callable,
            or a default that is no keyword argument of the effector, engine or task.
    """
    if not (isinstance(task, type) and issubclass(task, Task)):
        raise TypeError(f"task must be a motornet_gym.tasks.Task subclass; got {task!r}")
    if not callable(effector):
        raise TypeError(f"effector must be a callable returning an Effector; got {effector!r}")
    check_new_id(env_id)
    if env_id in gym.registry:
        raise ValueError(f"env_id {env_id!r} is already registered with Gymnasium; choose another name")
    sim_names = {f.name for f in dataclasses.fields(SimulatorConfig)}
    task_names = {f.name for f in dataclasses.fields(task.config_class)}
    probe = EnvSpec(
        id=str(env_id),
        description=description,
        effector_factory=effector,
        effector_kwargs=MappingProxyType({}),
        task_factory=task,
    )
    eff_names = set(probe.effector_names())
    unknown = sorted(set(defaults) - sim_names - task_names - eff_names)
    if unknown:
        valid = ", ".join(sorted(sim_names | task_names | eff_names))
        raise TypeError(f"unknown default {unknown[0]!r} for {env_id}; expected any of {valid}")
    spec = dataclasses.replace(
        probe,
        effector_kwargs=MappingProxyType({k: v for k, v in defaults.items() if k in eff_names}),
        task_kwargs=MappingProxyType({k: v for k, v in defaults.items() if k in task_names}),
        sim_kwargs=MappingProxyType({k: v for k, v in defaults.items() if k in sim_names}),
    )
    sim = simulator_from_spec(spec, compile=False)
    sim.reset(seed=0)
    sim.step_unchecked(sim.state.action_history.new_zeros(1, sim.action_size))
    spec = add_spec(dataclasses.replace(spec, max_episode_steps=sim.max_steps))
    _gym_register(spec.id)
    return spec


def _gym_register(env_id: str) -> None:
    gym.register(
        id=env_id,
        entry_point=_ENTRY_POINT,
        vector_entry_point=_VECTOR_ENTRY_POINT,
        # The default episode length in steps (episode_duration / dt with the defaults). The engine
        # truncates itself; gym.make's TimeLimit(max_episode_steps) and gym.make_vec's cap end
        # default episodes on the same step and can only end longer ones earlier (MotorEnv's
        # "Episode End").
        max_episode_steps=ENV_SPECS[env_id].max_episode_steps,
        # Every id passes gymnasium.utils.env_checker.check_env in the tests. Gymnasium's
        # PassiveEnvChecker (1.x) breaks an env whose first reset raised: it keeps no reset
        # data, so the first step after the next successful reset raises TypeError.
        disable_env_checker=True,
        kwargs={"env_id": env_id},
    )
