"""Gymnasium front ends over the engine (the only package that imports gymnasium).

* :class:`MotorEnv`: a single :class:`gymnasium.Env` over a batch-1 simulator.
* :class:`MotorVectorEnv`: a native :class:`gymnasium.vector.VectorEnv`, every sub-environment in
  one torch batch (the ``vector_entry_point`` of every id, so ``gym.make_vec`` uses it).
* :func:`register_envs`: registers every id of :data:`motornet_gym.ENV_IDS`; ``import
  motornet_gym`` calls it. :func:`register`: adds your own id (effector + task) to the
  registry and to Gymnasium.
* :mod:`~motornet_gym.envs.rendering`: pygame-ce frames (imported lazily when rendering).
"""

from .motor_env import MotorEnv
from .registration import register, register_envs
from .vector_env import MotorVectorEnv

__all__ = ["MotorEnv", "MotorVectorEnv", "register", "register_envs"]
