"""The registered environments and :func:`make_simulator` (torch only; no Gymnasium here).

The registry is open: :func:`add_spec` (reached by users through :func:`motornet_gym.register`,
which also registers the id with Gymnasium) adds an id built from any effector factory and
:class:`~motornet_gym.tasks.Task` subclass. :func:`env_spec` resolves an id, importing the user's
module first for ids written ``"my_package.my_module:MyTask-v0"`` (Gymnasium's form).

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
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch

from ._validation import check_dtype
from .dynamics import Effector, presets
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
        sim_kwargs: Engine configuration overrides of this id (fields of
            :class:`~motornet_gym.engine.SimulatorConfig`, e.g. ``episode_duration``).
        max_episode_steps: Default ``episode_duration / dt``.
    """

    id: str
    description: str
    effector_factory: Callable[..., Effector]
    effector_kwargs: Mapping[str, Any]
    task_factory: type[Task]
    task_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    sim_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    max_episode_steps: int = 100

    def effector_names(self) -> tuple[str, ...]:
        """Keyword arguments of the effector factory (its defaults and every named parameter)."""
        return tuple(sorted(set(self.effector_kwargs) | set(_parameters(self.effector_factory))))

    def valid_kwargs(self) -> tuple[str, ...]:
        """Every keyword argument :func:`make_simulator` accepts for this id, sorted."""
        sim = {f.name for f in dataclasses.fields(SimulatorConfig)}
        task = {f.name for f in dataclasses.fields(self.task_factory.config_class)}
        return tuple(sorted(sim | task | set(self.effector_names())))


def _parameters(factory: Callable[..., Any]) -> tuple[str, ...]:
    """Named keyword parameters of ``factory`` (``dtype`` excluded: :func:`make_simulator` sets it)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return ()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(p.name for p in params if p.kind in kinds and p.name != "dtype")


def _accepts_dtype(factory: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return "dtype" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _euler(**extra: Any) -> Mapping[str, Any]:
    return MappingProxyType({"dt": 0.01, "integrator": "euler", "n_ministeps": 1, **extra})


_BUILT_IN = (
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
        id="motornet/PointMassPerturbation-v0",
        description="1 kg point mass, 4 ReLU muscles: centre-out reaches and posture under force pulses "
        "and loads (the point-mass side of the representation comparison).",
        effector_factory=presets.point_mass_24,
        effector_kwargs=_euler(),
        task_factory=Perturbation,
    ),
    EnvSpec(
        id="motornet/CompliantArm26Reach-v0",
        description="Two-joint arm with compliant-tendon muscles (RK4, 50 sub-steps): random reaches.",
        effector_factory=presets.compliant_arm26,
        effector_kwargs=MappingProxyType({"dt": 0.01, "integrator": "rk4", "n_ministeps": 50}),
        task_factory=Reach,
    ),
)

_SPECS: dict[str, EnvSpec] = {s.id: s for s in _BUILT_IN}
#: Every registered environment, by id: the built-in ones and those added by
#: :func:`motornet_gym.register` (a live, read-only view).
ENV_SPECS: Mapping[str, EnvSpec] = MappingProxyType(_SPECS)
#: The built-in ids, in registration order.
ENV_IDS: tuple[str, ...] = tuple(_SPECS)

_ID_PATTERN = re.compile(r"^(?:[\w.-]+/)?[\w.-]+-v\d+$")


def check_new_id(env_id: Any) -> str:
    """``env_id`` if it is well formed and not registered yet.

    Raises:
        ValueError: If the id is malformed or already registered.
    """
    if not isinstance(env_id, str) or not _ID_PATTERN.match(env_id):
        raise ValueError(
            f"env_id must look like 'namespace/Name-v0' or 'Name-v0' (letters, digits, '_', '.', '-'); "
            f"got {env_id!r}"
        )
    if env_id in _SPECS:
        raise ValueError(f"env_id {env_id!r} is already registered; choose another name or version")
    return env_id


def add_spec(spec: EnvSpec) -> EnvSpec:
    """Add ``spec`` to the registry (no Gymnasium registration; see :func:`motornet_gym.register`).

    Raises:
        ValueError: If the id is malformed or already registered.
    """
    _SPECS[check_new_id(spec.id)] = spec
    return spec


def remove_spec(env_id: str) -> None:
    """Remove a user id from the registry (built-in ids cannot be removed).

    Raises:
        ValueError: For a built-in or unknown id.
    """
    if env_id in ENV_IDS or env_id not in _SPECS:
        raise ValueError(f"env_id must be a user-registered id; got {env_id!r}")
    del _SPECS[env_id]


def env_spec(env_id: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``env_id``.

    Accepts ``"motornet_gym:<id>"`` and Gymnasium's ``"my_package.my_module:<id>"``: the module is
    imported first (it is expected to call :func:`motornet_gym.register`).

    Raises:
        ValueError: On an unknown id (listing the registered ones) or a module that cannot be imported.
    """
    key = str(env_id).removeprefix("motornet_gym:")
    if ":" in key:
        module, key = key.split(":", 1)
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise ValueError(f"env_id {env_id!r}: cannot import module {module!r} ({e})") from None
    spec = _SPECS.get(key)
    if spec is None:
        raise ValueError(f"unknown env_id {env_id!r}; expected one of {', '.join(_SPECS)}")
    return spec


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
        env_id: A registered id (see :func:`env_spec` for the accepted forms).
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
    return simulator_from_spec(env_spec(env_id), batch_size, device, dtype, compile, **kwargs)


def simulator_from_spec(
    spec: EnvSpec,
    batch_size: int = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    compile: bool | str = "auto",
    **kwargs: Any,
) -> Simulator:
    """:func:`make_simulator` of a spec, registered or not (:func:`motornet_gym.register` probes one)."""
    valid = spec.valid_kwargs()
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(
            f"unknown keyword argument {unknown[0]!r} for {spec.id}; expected any of {', '.join(valid)}"
        )
    sim_names = {f.name for f in dataclasses.fields(SimulatorConfig)}
    task_names = {f.name for f in dataclasses.fields(spec.task_factory.config_class)}
    eff_names = set(spec.effector_names())
    eff_kwargs = {**spec.effector_kwargs, **{k: v for k, v in kwargs.items() if k in eff_names}}
    task_kwargs = {**spec.task_kwargs, **{k: v for k, v in kwargs.items() if k in task_names}}
    sim_kwargs = {**spec.sim_kwargs, **{k: v for k, v in kwargs.items() if k in sim_names}}
    dtype = check_dtype("dtype", dtype)
    config = SimulatorConfig(**sim_kwargs)
    task_config = spec.task_factory.config_class(**task_kwargs)
    if _accepts_dtype(spec.effector_factory):
        eff_kwargs["dtype"] = dtype
    effector = spec.effector_factory(**eff_kwargs)
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
