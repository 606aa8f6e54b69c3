"""The registered environments and :func:`make_simulator` (torch only; no Gymnasium here).

Every id combines an effector preset, a task and the engine. Keyword arguments shared by every
id: ``dt``, ``integrator``, ``n_ministeps`` (effector), ``episode_duration``,
``proprioception_delay``, ``vision_delay``, ``action_noise``, ``proprioception_noise``,
``vision_noise``, ``observation_noise``, ``action_history`` (engine, see
:class:`~motornet_gym.engine.SimulatorConfig`), ``compile`` (the compiled step, see
:class:`~motornet_gym.engine.Simulator`); the task's configuration fields (e.g.
``n_targets``, ``field_strength``, ``catch_trial_fraction``) are accepted for the ids using it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch

from .dynamics import Effector, presets
from .dynamics._validation import check_dtype
from .engine import Simulator, SimulatorConfig
from .tasks import CentreOut, ForceField, Perturbation, Reach, Task


@dataclass(frozen=True, kw_only=True)
class EnvSpec:
    """A registered environment.

    Attributes:
        id: ``"motornet/<Name>-v<k>"``.
        description: One line.
        effector_factory: ``callable(**effector_kwargs) -> Effector`` (a preset).
        effector_kwargs: Defaults of the effector keyword arguments the id accepts.
        task_factory: Task class, called as ``task_factory(effector, config)``; its
            ``config_class`` fields are the task keyword arguments.
        task_kwargs: Task configuration overrides of this id.
        max_episode_steps: Default ``episode_duration / dt``.
    """

    id: str
    description: str
    effector_factory: Callable[..., Effector]
    effector_kwargs: Mapping[str, Any]
    task_factory: type[Task]
    task_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    max_episode_steps: int = 100

    def valid_kwargs(self) -> tuple[str, ...]:
        """Every keyword argument :func:`make_simulator` accepts for this id, sorted."""
        sim = {f.name for f in dataclasses.fields(SimulatorConfig)}
        task = {f.name for f in dataclasses.fields(self.task_factory.config_class)}
        return tuple(sorted(sim | task | set(self.effector_kwargs)))


def _euler(**extra: Any) -> Mapping[str, Any]:
    return MappingProxyType({"dt": 0.01, "integrator": "euler", "n_ministeps": 1, **extra})


_SPECS = (
    EnvSpec(
        id="motornet/PointMassReach-v0",
        description="1 kg point mass, 4 ReLU muscles: reach random targets in [-1, 1]^2 m.",
        effector_factory=presets.point_mass_24,
        effector_kwargs=_euler(),
        task_factory=Reach,
    ),
    EnvSpec(
        id="motornet/Arm26Reach-v0",
        description="Two-joint arm, 6 Hill muscles: reach targets uniform in joint space.",
        effector_factory=presets.arm26,
        effector_kwargs=_euler(muscle="kistemaker"),
        task_factory=Reach,
    ),
    EnvSpec(
        id="motornet/Arm26CentreOut-v0",
        description="Two-joint arm: centre-out reaches to 10 cm targets after a go cue.",
        effector_factory=presets.arm26,
        effector_kwargs=_euler(muscle="kistemaker"),
        task_factory=CentreOut,
    ),
    EnvSpec(
        id="motornet/Arm26ForceField-v0",
        description="Two-joint arm: centre-out reaches in a velocity-dependent curl field.",
        effector_factory=presets.arm26,
        effector_kwargs=_euler(muscle="kistemaker"),
        task_factory=ForceField,
    ),
    EnvSpec(
        id="motornet/Arm26Perturbation-v0",
        description="Two-joint arm: centre-out reaches and posture under transient force pulses.",
        effector_factory=presets.arm26,
        effector_kwargs=_euler(muscle="kistemaker"),
        task_factory=Perturbation,
    ),
    EnvSpec(
        id="motornet/PointMassCentreOut-v0",
        description="1 kg point mass, 4 ReLU muscles: centre-out reaches to 10 cm targets after a go cue "
        "(the effector-vs-representation comparison, Codol et al. 2024 fig. 6).",
        effector_factory=presets.point_mass_24,
        effector_kwargs=_euler(),
        task_factory=CentreOut,
    ),
    EnvSpec(
        id="motornet/CompliantArm26Reach-v0",
        description="Two-joint arm with compliant-tendon muscles (RK4, 50 sub-steps): random reaches.",
        effector_factory=presets.compliant_arm26,
        effector_kwargs=MappingProxyType({"dt": 0.01, "integrator": "rk4", "n_ministeps": 50}),
        task_factory=Reach,
    ),
)

#: Every registered environment, by id.
ENV_SPECS: Mapping[str, EnvSpec] = MappingProxyType({s.id: s for s in _SPECS})
#: The registered ids, in registration order.
ENV_IDS: tuple[str, ...] = tuple(ENV_SPECS)


def make_simulator(
    env_id: str,
    batch_size: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    compile: bool | str = "auto",
    **kwargs: Any,
) -> Simulator:
    """Build the :class:`~motornet_gym.engine.Simulator` of a registered id.

    Args:
        env_id: One of :data:`ENV_IDS` (a ``"motornet_gym:"`` prefix is accepted).
        batch_size: Number of episodes simulated together.
        device: Torch device (CPU if ``None``).
        dtype: Floating dtype or its name (``"float64"``); ``torch.get_default_dtype()`` if ``None``
            (float64 works end to end).
        compile: Run the step through ``torch.compile``: ``"auto"`` (the default: eager for the
            first :data:`~motornet_gym.engine.AUTO_COMPILE_STEPS` steps, compiled once that pays
            off), ``True`` (from the first step) or ``False`` (never); see
            :class:`~motornet_gym.engine.Simulator`.
        **kwargs: Effector, engine and task keyword arguments (see the module docstring).

    Raises:
        ValueError: On an unknown id (listing the valid ones) or an invalid value.
        TypeError: On an unknown keyword argument (listing the valid ones).
    """
    spec = ENV_SPECS.get(str(env_id).removeprefix("motornet_gym:"))
    if spec is None:
        raise ValueError(f"unknown env_id {env_id!r}; expected one of {', '.join(ENV_IDS)}")
    valid = spec.valid_kwargs()
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(
            f"unknown keyword argument {unknown[0]!r} for {spec.id}; expected any of {', '.join(valid)}"
        )
    sim_names = {f.name for f in dataclasses.fields(SimulatorConfig)}
    task_names = {f.name for f in dataclasses.fields(spec.task_factory.config_class)}
    eff_kwargs = {**spec.effector_kwargs, **{k: v for k, v in kwargs.items() if k in spec.effector_kwargs}}
    task_kwargs = {**spec.task_kwargs, **{k: v for k, v in kwargs.items() if k in task_names}}
    sim_kwargs = {k: v for k, v in kwargs.items() if k in sim_names}
    dtype = check_dtype("dtype", dtype)
    config = SimulatorConfig(**sim_kwargs)
    task_config = spec.task_factory.config_class(**task_kwargs)
    effector = spec.effector_factory(**eff_kwargs, dtype=dtype)
    task = spec.task_factory(effector, task_config)
    return Simulator(
        effector,
        task,
        config,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        env_id=spec.id,
        compile=compile,
    )
