"""stable-baselines3 front end: one batched engine as an SB3 ``VecEnv`` (no ``DummyVecEnv``).

SB3 cannot take a Gymnasium ``VectorEnv``, so :func:`make_vec_env` builds a ``VecEnv`` whose
``n_envs`` sub-environments are the rows of one :class:`~motornet_gym.engine.Simulator`. It follows
SB3's contract: same-step autoreset, ``infos[i]["terminal_observation"]`` (the true last
observation of the finished episode) and ``infos[i]["TimeLimit.truncated"]``, seeds applied at the
next ``reset()``. stable-baselines3 is imported when :func:`make_vec_env` is called::

    import motornet_gym as mg
    from stable_baselines3 import PPO

    venv = mg.sb3.make_vec_env("motornet/Arm26Reach-v0", n_envs=64, seed=0)
    PPO("MlpPolicy", venv).learn(100_000)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .envs._common import (
    HostStep,
    TrailBuffer,
    action_space,
    check_finite,
    frame_from_info,
    host_step,
    info_to_numpy,
    observation_space,
    to_numpy,
    validate_action,
)
from .envs.rendering import LimbRenderer
from .registry import make_simulator

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

__all__ = ["make_vec_env"]


def _import_sb3() -> Any:
    try:
        import stable_baselines3
    except ImportError as e:
        raise ImportError(
            'motornet_gym.sb3 needs stable-baselines3; install it with `pip install "motornet-gym[sb3]"`'
        ) from e
    return stable_baselines3


def make_vec_env(
    env_id: str,
    n_envs: int,
    seed: int | None = None,
    *,
    monitor: bool = True,
    render_mode: str | None = None,
    render_envs: int | Sequence[int] = 1,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    **kwargs: Any,
) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` episodes of ``env_id`` in one batched engine.

    Args:
        env_id: A registered id (see :data:`motornet_gym.ENV_IDS`).
        n_envs: Number of sub-environments (the engine's batch size).
        seed: Seed of the first ``reset()`` (one generator drives the whole batch); None: random.
        monitor: Wrap in SB3's ``VecMonitor`` so episode returns and lengths reach
            ``model.ep_info_buffer`` and the logger (as SB3's own ``make_vec_env`` does with
            ``Monitor``).
        render_mode: None or ``"rgb_array"`` (``render()`` / ``get_images()``).
        render_envs: Sub-environments ``get_images()`` draws: an int ``k`` (the first ``k``) or
            indices.
        device: Engine device (actions and observations cross as numpy).
        dtype: Engine dtype or its name (``"float64"``); observations are float32.
        **kwargs: Passed to :func:`motornet_gym.make_simulator` (delays, noise, ``episode_duration``,
            task options, ...); unknown names raise ``TypeError``.

    Returns:
        A ``stable_baselines3.common.vec_env.VecEnv`` (a ``VecMonitor`` around
        ``MotorSB3VecEnv`` if ``monitor``).

    Raises:
        ImportError: If stable-baselines3 is not installed.
    """
    _import_sb3()
    from stable_baselines3.common.vec_env import VecMonitor

    cls = _vec_env_class()
    venv = cls(
        env_id, n_envs, render_mode=render_mode, render_envs=render_envs, device=device,
        dtype=dtype, **kwargs,
    )  # fmt: skip
    if seed is not None:
        venv.seed(seed)
    return VecMonitor(venv) if monitor else venv


def __getattr__(name: str) -> Any:
    if name == "MotorSB3VecEnv":
        return _vec_env_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _vec_env_class() -> type:
    """Define ``MotorSB3VecEnv`` on first use (SB3's base class needs SB3 imported)."""
    _import_sb3()
    from stable_baselines3.common.vec_env.base_vec_env import (
        VecEnv,
        VecEnvIndices,
        VecEnvObs,
        VecEnvStepReturn,
    )

    class MotorSB3VecEnv(VecEnv):
        """``n_envs`` episodes of a registered task in one engine batch, as an SB3 ``VecEnv``.

        Spaces, reward and episode end are those of :class:`motornet_gym.envs.MotorEnv`. Ended
        episodes are reset in the same ``step`` (SB3's convention): ``infos[i]`` then holds
        ``"terminal_observation"``; every ``infos[i]`` holds ``"TimeLimit.truncated"``. The full
        batched engine info of the last step (numpy, batch first) is :attr:`last_info`.

        All sub-environments share one simulator and one generator: :meth:`seed` takes effect at
        the next :meth:`reset` through the first sub-environment's seed, ``set_options`` must give
        every sub-environment the same options, and ``set_attr`` applies to all of them.
        ``get_attr``/``env_method`` read the shared environment (``env_method("render")`` draws
        the requested sub-environments).
        """

        def __init__(
            self,
            env_id: str,
            n_envs: int,
            *,
            render_mode: str | None = None,
            render_envs: int | Sequence[int] = 1,
            device: torch.device | str | None = None,
            dtype: torch.dtype | str | None = None,
            **kwargs: Any,
        ) -> None:
            if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
                raise ValueError(f"n_envs must be an integer >= 1; got {n_envs!r}")
            if render_mode not in (None, "rgb_array"):
                raise ValueError(f"render_mode must be None or 'rgb_array'; got {render_mode!r}")
            self.env_id = env_id
            self.simulator = make_simulator(env_id, batch_size=n_envs, device=device, dtype=dtype, **kwargs)
            sim = self.simulator
            self.render_mode = render_mode
            if isinstance(render_envs, int) and not isinstance(render_envs, bool):
                render_envs = range(min(max(render_envs, 1), n_envs))
            self.render_envs = tuple(int(i) for i in render_envs)
            if not self.render_envs or not all(0 <= i < n_envs for i in self.render_envs):
                raise ValueError(f"render_envs must be indices in [0, {n_envs}); got {render_envs}")
            self._device, self._dtype = torch.device(sim.device), sim.dtype
            self._actions: torch.Tensor | None = None
            # The last reset's info (tensors) or step's host copy, converted on demand.
            self._info_t: dict[str, Any] | HostStep | None = None
            self._trails = TrailBuffer(self.render_envs)
            self._renderer: LimbRenderer | None = None
            super().__init__(n_envs, observation_space(sim.observation_size), action_space(sim.action_size))
            self.metadata = {**self.metadata, "render_fps": max(1, round(1.0 / sim.dt))}

        @property
        def dt(self) -> float:
            """Time step, s."""
            return self.simulator.dt

        @property
        def max_episode_steps(self) -> int:
            """Steps after which an episode is truncated."""
            return self.simulator.max_steps

        # -------------------------------------------------------------- core API
        def reset(self) -> VecEnvObs:
            """Reset every sub-environment with the pending seed and options."""
            seed = self._seeds[0]
            opts = [o or {} for o in self._options]
            if any(o != opts[0] for o in opts[1:]):
                raise ValueError(
                    "set_options must give every sub-environment the same options (one engine "
                    f"batch); got {self._options}"
                )
            obs, info = self.simulator.reset(seed=seed, options=opts[0] or None)
            self._reset_seeds()
            self._reset_options()
            self.reset_infos = [{} for _ in range(self.num_envs)]
            self._info_t = info
            self._trails.clear()
            return self._observe(obs, info)

        def step_async(self, actions: np.ndarray) -> None:
            """Validate (shape, finiteness), clip to [0, 1] and store the actions."""
            self._actions = validate_action(
                actions, (self.num_envs, self.simulator.action_size), self._device, self._dtype
            )

        def step_wait(self) -> VecEnvStepReturn:
            """Step the batch; reset the ended episodes in the same call."""
            if self._actions is None:
                raise RuntimeError("call step_async(actions) before step_wait()")
            if self._info_t is None:
                raise RuntimeError("call reset() before stepping")
            # One host copy of every output (Simulator.step_packed). An episode ends when the task
            # terminates it or the step counter reaches max_steps; SB3's "TimeLimit.truncated" is
            # True only for the latter (so value bootstrapping happens on truncation alone).
            sim = self.simulator
            host = host_step(sim, self._actions)
            self._actions = None
            self._info_t = host
            obs_np = host.observation
            done = host.terminated | host.truncated
            check_finite(obs_np, host.column("step"))
            if self.render_mode is not None:
                self._trails.append(host.column("fingertip_pos"))
            cut = host.truncated & ~host.terminated
            infos: list[dict[str, Any]] = [{"TimeLimit.truncated": bool(t)} for t in cut]
            if done.any():
                for i in np.flatnonzero(done):
                    infos[i]["terminal_observation"] = obs_np[i].copy()
                done_t = torch.from_numpy(done).to(self._device)
                obs_np = self._observe(sim.reset_where(done_t), None)
                self._trails.clear(done)
            return obs_np, host.reward.astype(np.float32), done, infos

        def _observe(self, obs: torch.Tensor, info: dict[str, Any] | None) -> np.ndarray:
            obs_np = obs.detach().to(device="cpu", dtype=torch.float32).numpy().copy()
            check_finite(obs_np, to_numpy(self.simulator.state.step))
            if self.render_mode is not None and info is not None:
                self._trails.append(to_numpy(info["fingertip_pos"]))
            return obs_np

        @property
        def last_info(self) -> dict[str, Any]:
            """The engine info of the last reset or step (numpy, batch first)."""
            if self._info_t is None:
                raise RuntimeError("call reset() first")
            return self._info_numpy()

        def _info_numpy(self) -> dict[str, Any]:
            if isinstance(self._info_t, HostStep):
                return self._info_t.info_batch()
            return info_to_numpy(self._info_t, self.num_envs)

        def load_engine_state(self, state: Any, generator_state: torch.Tensor) -> None:
            """Continue from a saved engine state and generator state (exact training resume).

            Resets first if the env never was, so it can step; see
            :func:`motornet_gym.sb3_agents.restore_engine_state`.
            """
            if self._info_t is None:
                self.reset()
            self.simulator.load_state(state)
            self.simulator.generator.set_state(generator_state)
            self._info_t = self.simulator.current_info()

        def close(self) -> None:
            """Nothing to release (no window, no subprocess)."""

        # -------------------------------------------------------------- rendering
        def get_images(self) -> Sequence[np.ndarray | None]:
            """RGB frames of the sub-environments in ``render_envs``."""
            if self.render_mode != "rgb_array":
                raise ValueError(f"get_images needs render_mode='rgb_array'; got {self.render_mode!r}")
            if self._info_t is None:
                raise RuntimeError("call reset() before rendering")
            if self._renderer is None:
                self._renderer = LimbRenderer(self.simulator.effector)
            info = self._info_numpy()
            return [
                self._renderer.draw(frame_from_info(info, i, self._trails.trail(i))) for i in self.render_envs
            ]

        # -------------------------------------------------------------- attribute access
        def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
            """The shared attribute, once per requested sub-environment."""
            value = getattr(self, attr_name)
            return [value for _ in self._get_indices(indices)]

        def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
            """Set a shared attribute; ``indices`` must select every sub-environment."""
            idx = list(self._get_indices(indices))
            if sorted(idx) != list(range(self.num_envs)):
                raise ValueError(
                    "set_attr applies to every sub-environment (they share one engine); "
                    f"indices must be None or all of range({self.num_envs}); got {indices!r}"
                )
            setattr(self, attr_name, value)

        def env_method(
            self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
            **method_kwargs: Any,
        ) -> list[Any]:  # fmt: skip
            """Call a method per requested sub-environment; ``"render"`` draws each one."""
            idx = list(self._get_indices(indices))
            if method_name == "render":
                keep = self.render_envs
                try:
                    self.render_envs = tuple(idx)
                    return list(self.get_images())
                finally:
                    self.render_envs = keep
            method = getattr(self, method_name)
            return [method(*method_args, **method_kwargs) for _ in idx]

        def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
            """Always False: there are no per-env ``gymnasium.Wrapper`` objects."""
            return [False for _ in self._get_indices(indices)]

        def _get_indices(self, indices: VecEnvIndices) -> Iterable[int]:
            idx = list(super()._get_indices(indices))
            bad = [i for i in idx if not 0 <= int(i) < self.num_envs]
            if bad:
                raise IndexError(f"indices must be in [0, {self.num_envs}); got {bad}")
            return idx

    MotorSB3VecEnv.__module__ = __name__
    return MotorSB3VecEnv
