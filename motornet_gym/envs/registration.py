"""Registration of every engine id with Gymnasium (``gym.make`` and ``gym.make_vec``)."""

from __future__ import annotations

import gymnasium as gym

from ..registry import ENV_IDS, ENV_SPECS

__all__ = ["register_envs"]

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
        new.append(env_id)
    return tuple(new)
