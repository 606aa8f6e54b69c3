"""motornet_gym: differentiable muscle-driven limbs for Gymnasium, stable-baselines3 and backprop.

The physics (:mod:`motornet_gym.dynamics`) follows MotorNet (Codol et al. 2024, eLife,
doi:10.7554/eLife.88591) and is written in PyTorch, batch-first and differentiable.
"""

from . import dynamics

__version__ = "0.1.0"

__all__ = ["__version__", "dynamics"]
