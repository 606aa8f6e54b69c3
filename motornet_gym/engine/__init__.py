"""The engine: effector + task + sensory pipeline as one batched, differentiable step (torch only).

* :class:`Simulator`: a batch of episodes (state, random generator, validation, compiled fast path).
* :class:`EpisodeModel`: the pure reset and step functions the simulator runs (and compiles).
* :class:`SimulatorConfig` / :class:`SensoryConfig`: episode length, delays, noise, efference copy.
* :class:`SimState`, :class:`Noise`, :class:`StepOutput`: the step's immutable inputs and outputs.
"""

from ._auto import AUTO_COMPILE_STEPS
from .model import SENSORY_PARTS, EpisodeModel
from .sensory import SensoryConfig
from .simulator import MAX_FUSED_STAGES, Simulator
from .types import Noise, SimState, SimulatorConfig, StepOutput

__all__ = [
    "AUTO_COMPILE_STEPS",
    "MAX_FUSED_STAGES",
    "SENSORY_PARTS",
    "EpisodeModel",
    "Noise",
    "SensoryConfig",
    "SimState",
    "Simulator",
    "SimulatorConfig",
    "StepOutput",
]
