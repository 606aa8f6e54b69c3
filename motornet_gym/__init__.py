"""motornet_gym: differentiable muscle-driven limbs for Gymnasium, stable-baselines3 and backprop.

The physics (:mod:`motornet_gym.dynamics`) follows MotorNet (Codol et al. 2024, eLife,
doi:10.7554/eLife.88591), written in PyTorch, batch-first and differentiable. The same engine runs
behind the registered Gymnasium environments (``gym.make("motornet/Arm26Reach-v0")``), the native
vector environments (``gym.make_vec``), an SB3 VecEnv (:func:`motornet_gym.sb3.make_vec_env`) and
the differentiable :func:`rollout`.
"""

from . import dynamics, io, policies, sb3, sb3_agents
from .engine import Simulator, SimulatorConfig
from .envs import MotorEnv, MotorVectorEnv, register, register_envs
from .registry import ENV_IDS, ENV_SPECS, env_spec, make_simulator
from .rollout import Trajectory, rollout

__version__ = "0.1.0"

register_envs()


def __getattr__(name: str) -> object:
    """``motornet_gym.analysis``, imported on first use (keeps ``import motornet_gym`` light)."""
    if name == "analysis":
        import importlib

        return importlib.import_module(".analysis", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENV_IDS",
    "ENV_SPECS",
    "MotorEnv",
    "MotorVectorEnv",
    "Simulator",
    "SimulatorConfig",
    "Trajectory",
    "__version__",
    "analysis",
    "dynamics",
    "env_spec",
    "io",
    "make_simulator",
    "policies",
    "register",
    "register_envs",
    "rollout",
    "sb3",
    "sb3_agents",
]
