"""Registration of every engine id with Gymnasium (``gym.make`` and ``gym.make_vec``)."""

from __future__ import annotations

import gymnasium as gym

from ..registry import ENV_IDS

__all__ = ["register_envs"]

_ENTRY_POINT = "motornet_gym.envs.motor_env:MotorEnv"
_VECTOR_ENTRY_POINT = "motornet_gym.envs.vector_env:MotorVectorEnv"


def register_envs() -> tuple[str, ...]:
    """Register every id of :data:`motornet_gym.registry.ENV_IDS` (idempotent).

    Each id gets ``entry_point`` :class:`~motornet_gym.envs.MotorEnv`, ``vector_entry_point``
    :class:`~motornet_gym.envs.MotorVectorEnv` (so ``gym.make_vec(id, num_envs=N)`` builds one
    batched engine) and no ``max_episode_steps``: episodes end (truncation) after
    ``episode_duration / dt`` steps in the engine itself. Keyword arguments of ``gym.make`` /
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
            # No TimeLimit from the registry: the engine truncates after episode_duration / dt, so
            # gym.make, gym.make_vec, the SB3 VecEnv and make_simulator agree for any duration or dt.
            max_episode_steps=None,
            # Every id passes gymnasium.utils.env_checker.check_env in the tests. Gymnasium's
            # PassiveEnvChecker (1.x) breaks an env whose first reset raised: it keeps no reset
            # data, so the first step after the next successful reset raises TypeError.
            disable_env_checker=True,
            kwargs={"env_id": env_id},
        )
        new.append(env_id)
    return tuple(new)
