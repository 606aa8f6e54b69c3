"""``MotorVectorEnv``: ``num_envs`` copies of a task in one torch batch (a native Gymnasium VectorEnv)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..registry import ENV_SPECS, make_simulator
from ._common import (
    TrailBuffer,
    action_space,
    check_finite,
    check_reset_mask,
    fast_action,
    frame_from_info,
    host_rows,
    host_step,
    info_to_numpy,
    masked_info,
    observation_space,
    render_indices,
    to_numpy,
    validate_action,
    where_info,
)
from .rendering import HumanWindow, LimbRenderer, tile_frames

if TYPE_CHECKING:
    from ..engine import Simulator

__all__ = ["MotorVectorEnv"]

RENDER_MODES = ("human", "rgb_array")


class MotorVectorEnv(VectorEnv):
    """``num_envs`` independent episodes of one registered task, stepped as one torch batch.

    Spaces, reward, starting state and episode end are those of :class:`~motornet_gym.envs.MotorEnv`
    (read its docstring), batched: ``observation_space`` is ``Box(-inf, inf, (num_envs, O))``,
    ``action_space`` ``Box(0, 1, (num_envs, M))`` (out-of-range actions clipped, non-finite ones
    rejected), rewards ``(num_envs,)`` float64, ``terminated`` and ``truncated`` ``(num_envs,)``
    bool, and ``info`` a dict of numpy arrays with the batch first (the engine's info keys). All
    sub-environments share one :class:`~motornet_gym.engine.Simulator` and one random generator.

    ## Autoreset

    ``autoreset_mode`` (also in ``metadata["autoreset_mode"]``), per Gymnasium 1.x
    (https://farama.org/Vector-Autoreset-Mode):

    * ``AutoresetMode.NEXT_STEP`` (default): a sub-environment that ended on step ``t`` is reset on
      step ``t + 1``; that step ignores its action and returns its first observation with reward 0
      and ``terminated = truncated = False``.
    * ``AutoresetMode.SAME_STEP``: it is reset in the step that ends it; the returned observation is
      the new episode's first, and the last observation of the finished episode is in
      ``info["final_obs"]`` (object array, None where not ended; mask ``info["_final_obs"]``), its
      info in ``info["final_info"]`` (arrays with ``"_<key>"`` masks).
    * ``AutoresetMode.DISABLED``: nothing is reset automatically; call
      ``reset(options={"reset_mask": mask})`` before stepping again (stepping an ended
      sub-environment raises ``RuntimeError``).

    ## Seeding

    All sub-environments share one generator. ``reset(seed=s)`` seeds it, so the same seed gives
    the same batch of episodes (sub-environment ``i`` is not the single env seeded ``s + i``).
    ``reset(seed=[s_0, ..., s_{n-1}])`` (Gymnasium's per-env list; ``None`` entries continue the
    stream) starts sub-environment ``i`` exactly as ``gym.make(id).reset(seed=s_i)`` would, the
    same options given to each; with the noises off (the default) its whole episode is then the
    single env's. Noise drawn while stepping, and autoresets, come from the shared generator, which
    continues from the last sub-environment's draw (see :meth:`Simulator.reset`). A partial reset
    (``options["reset_mask"]``) draws from the running generator and takes no seed.

    ## Rendering

    ``render()`` returns one frame: sub-environment 0 by default, or a grid (row-major, near-
    square) of the sub-environments chosen by ``render_envs``. ``"human"`` shows it in a window.

    ## Arguments

    * ``env_id``: registered id (``gymnasium.make_vec`` passes it).
    * ``num_envs``: batch size.
    * ``autoreset_mode``: an :class:`~gymnasium.vector.AutoresetMode` or its value string.
    * ``max_episode_steps``: optional cap on the episode length (``gymnasium.make_vec`` passes the
      registered one); episodes are truncated after ``min(max_episode_steps, episode_duration /
      dt)`` steps, the same rule as ``gymnasium.make``'s ``TimeLimit`` over :class:`MotorEnv`.
    * ``render_mode``: ``None``, ``"rgb_array"`` or ``"human"``.
    * ``render_envs``: an int ``k`` (the first ``k`` sub-environments) or a sequence of indices.
    * ``render_size``: pixels per sub-environment frame.
    * ``device``, ``dtype``: engine placement and precision (a torch.dtype or its name,
      ``"float64"``; observations are float32).
    * every other keyword goes to :func:`motornet_gym.make_simulator`.
    """

    metadata = {
        "render_modes": list(RENDER_MODES),
        "render_fps": 100,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        env_id: str,
        num_envs: int = 1,
        *,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        render_envs: int | Sequence[int] = 1,
        render_size: int = 400,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1; got {num_envs!r}")
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            raise ValueError(
                f"autoreset_mode must be one of {[m.value for m in AutoresetMode]} (or the "
                f"AutoresetMode member); got {autoreset_mode!r}"
            ) from None
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}; got {render_mode!r}")
        self.env_id = env_id
        self.simulator: Simulator = make_simulator(
            env_id, batch_size=num_envs, device=device, dtype=dtype, **kwargs
        )
        sim = self.simulator
        if max_episode_steps is not None and (
            isinstance(max_episode_steps, bool)
            or not isinstance(max_episode_steps, int)
            or max_episode_steps < 1
        ):
            raise ValueError(f"max_episode_steps must be None or an integer >= 1; got {max_episode_steps!r}")
        self.max_episode_steps = (
            sim.max_steps if max_episode_steps is None else min(max_episode_steps, sim.max_steps)
        )
        self._cap_steps = self.max_episode_steps < sim.max_steps
        if self._cap_steps and max_episode_steps == ENV_SPECS[sim.env_id].max_episode_steps:
            gym.logger.warn(
                f"{sim.env_id}: episodes last {sim.max_steps} steps (episode_duration / dt) but end after "
                f"max_episode_steps={max_episode_steps} (the registered default, which gym.make_vec "
                f"passes unless given another); pass max_episode_steps={sim.max_steps} for full episodes"
            )
        self.num_envs = num_envs
        self.autoreset_mode = mode
        self.single_observation_space = observation_space(sim.observation_size)
        self.single_action_space = action_space(sim.action_size)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.metadata = {
            **type(self).metadata,
            "autoreset_mode": mode,
            "render_fps": max(1, round(1.0 / sim.dt)),
        }
        self.render_mode = render_mode
        self.render_envs = render_indices(render_envs, num_envs)
        self.render_size = render_size
        self._device = torch.device(sim.device)
        self._dtype = sim.dtype
        self._action_shape = (num_envs, sim.action_size)
        # Episode bookkeeping on the host (numpy): steps taken, and which rows ended on the last step.
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self._max_elapsed = 0  # max of _elapsed (episodes end by truncation only)
        self._done = np.zeros(num_envs, dtype=bool)
        self._any_done = False
        self._started = False
        self._info: dict[str, Any] | None = None  # last numpy info, for rendering
        self._trails = TrailBuffer(self.render_envs)
        self._renderer: LimbRenderer | None = None
        self._window: HumanWindow | None = None

    @property
    def dt(self) -> float:
        """Time step, s."""
        return self.simulator.dt

    # ------------------------------------------------------------------ reset
    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment, or those in ``options["reset_mask"]`` (``(num_envs,)`` bool).

        Args:
            seed: One int for the whole batch, one int (or None) per sub-environment, or None
                (see "Seeding" in the class docstring).
            options: The task's reset options (batched: ``"joint_pos"`` ``(num_envs, D)``, ...),
                and ``"reset_mask"`` for a partial reset (batched options then apply row-wise;
                a seed cannot be combined with it).

        Returns:
            ``(observations (num_envs, O) float32, info)``.
        """
        if isinstance(seed, Sequence) and not isinstance(seed, str) and all(s is None for s in seed):
            seed = None
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            obs, info = self.simulator.reset(seed=seed, options=options or None)
            first = next((s for s in seed if s is not None), None) if isinstance(seed, Sequence) else seed
            super().reset(seed=None if first is None else int(first))  # np_random: the first seed
            self._elapsed[:] = 0
            self._max_elapsed = 0
            self._done[:] = False
            self._any_done = False
            self._started = True
            reset_np = np.ones(self.num_envs, dtype=bool)
        else:
            if not self._started:
                raise RuntimeError("call reset() without a reset_mask before a partial reset")
            if seed is not None:
                raise ValueError(
                    "options['reset_mask'] cannot be combined with a seed (one generator drives "
                    f"the batch); got seed={seed!r}"
                )
            reset_np = check_reset_mask(mask, self.num_envs)
            m = torch.as_tensor(reset_np, device=self._device)
            obs, info = self._reset_rows(m, options=options or None)
            self._done &= ~reset_np
            self._any_done = bool(self._done.any())
            obs_np, info_np = self._finish(obs, info, reset_np)
            # As Gymnasium's SyncVectorEnv: after a partial reset only the reset rows have info.
            return obs_np, masked_info(info_np, reset_np)
        return self._finish(obs, info, reset_np)

    def _reset_rows(
        self,
        mask: torch.Tensor,
        info: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Reset the masked rows; return the full observation batch and every row's info.

        ``info`` (the last step's, or None after a partial reset) is kept for the other rows;
        the reset rows get the info of their first state (:meth:`Simulator.current_info`).
        """
        obs = self.simulator.reset_where(mask, options)
        self._elapsed[to_numpy(mask)] = 0
        self._max_elapsed = int(self._elapsed.max())
        fresh = self.simulator.current_info()
        if info is None:
            return obs, fresh
        return obs, where_info(mask, fresh, info)

    # ------------------------------------------------------------------ step
    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Advance every sub-environment by ``dt`` (see the class docstring for autoreset)."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        u = fast_action(actions, self._action_shape, self._device, self._dtype)
        if u is None:  # not a finite float array of the right shape: validate (and raise) slowly
            u = validate_action(actions, self._action_shape, self._device, self._dtype)
        mode = self.autoreset_mode
        if mode is AutoresetMode.NEXT_STEP:
            return self._step_packed(u, self._done if self._any_done else None)
        if mode is AutoresetMode.DISABLED and self._any_done:
            ended = np.flatnonzero(self._done).tolist()
            raise RuntimeError(
                f"sub-environments {ended} have ended and autoreset_mode is DISABLED; call "
                "reset(options={'reset_mask': mask}) before stepping them again"
            )
        # Nothing is reset in this step (the common case): no episode ended on the last one and, in
        # SAME_STEP mode, none can end on this one (the task never terminates, and truncation comes
        # at a known step).
        if not self._any_done and (
            mode is not AutoresetMode.SAME_STEP
            or (not self.simulator.task.can_terminate and self._max_elapsed + 1 < self.max_episode_steps)
        ):
            return self._step_packed(u, None)
        obs, reward, terminated, truncated, info = self.simulator.step_unchecked(u)
        self._elapsed += 1
        self._max_elapsed += 1
        if self._cap_steps:
            truncated = truncated | torch.from_numpy(self._elapsed >= self.max_episode_steps).to(self._device)
        extra: dict[str, Any] = {}
        reset_np: np.ndarray | None = None
        done = terminated | truncated
        if mode is AutoresetMode.SAME_STEP and bool(done.any()):
            done_np = to_numpy(done)
            final_obs = obs.detach().to(device="cpu", dtype=torch.float32).numpy()
            extra["final_obs"] = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done_np):
                extra["final_obs"][i] = final_obs[i].copy()
            extra["_final_obs"] = done_np
            extra["final_info"] = masked_info(info_to_numpy(info, self.num_envs), done_np)
            obs, info = self._reset_rows(done, info)
            reset_np = done_np
            done = torch.zeros_like(done)
        self._done = to_numpy(done)
        self._any_done = bool(self._done.any())
        obs_np, info_np = self._finish(obs, info, reset_np)
        info_np.update(extra)
        return (
            obs_np,
            to_numpy(reward).astype(np.float64),
            to_numpy(terminated),
            to_numpy(truncated),
            info_np,
        )

    def _step_packed(
        self, u: torch.Tensor, reset: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """A step from one host copy of :meth:`Simulator.step_packed`; NEXT_STEP-resets ``reset``.

        ``reset`` ``(N,)`` bool (or None: no row): the rows that ended on the last step. They are
        stepped with the others (their outputs dropped), then restarted by
        :meth:`Simulator.reset_where`, and report their first state
        (:meth:`Simulator.current_packed`) with reward 0 and ``terminated = truncated = False``.
        """
        sim = self.simulator
        host = host_step(sim, u)
        self._elapsed += 1
        self._max_elapsed += 1
        if reset is not None:
            if reset.all():  # episodes of one length end together: no rows to select
                host = host_rows(sim.layout, sim.reset_packed().cpu().numpy())
            else:  # (draws what reset_packed draws, then selects the rows)
                sim.reset_where(torch.from_numpy(reset).to(self._device))
                fresh = sim.current_packed().cpu().numpy()
                host = host_rows(sim.layout, np.where(reset[:, None], fresh, host.rows))
            host.reward[reset] = 0.0
            host.terminated[reset] = False
            host.truncated[reset] = False
            self._elapsed[reset] = 0
            self._max_elapsed = int(self._elapsed.max())
        obs_np, reward, truncated = host.observation, host.reward.astype(np.float64), host.truncated
        terminated = host.terminated
        if self._cap_steps:
            truncated |= self._elapsed >= self.max_episode_steps
        done = terminated | truncated
        self._any_done = bool(done.any())
        self._done = done
        info_np = host.info_batch()
        check_finite(obs_np, info_np["step"])
        self._render_step(info_np, reset)
        return obs_np, reward, terminated, truncated, info_np

    def _render_step(self, info_np: dict[str, Any], reset_np: np.ndarray | None) -> None:
        if self.render_mode is not None:
            self._info = info_np
            if reset_np is not None:
                self._trails.clear(reset_np)
            self._trails.append(info_np["fingertip_pos"])
            if self.render_mode == "human":
                self.render()

    def _finish(
        self, obs: torch.Tensor, info: dict[str, Any], reset_np: np.ndarray | None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs_np = obs.detach().to(device="cpu", dtype=torch.float32).numpy().copy()
        info_np = info_to_numpy(info, self.num_envs)
        check_finite(obs_np, info_np["step"])
        self._render_step(info_np, reset_np)
        return obs_np, info_np

    # ------------------------------------------------------------------ render / close
    def render(self) -> np.ndarray | None:
        """One RGB frame: sub-environment 0, or a grid of ``render_envs``; None in human mode."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' or 'human'")
            return None
        if self._info is None:
            raise RuntimeError("call reset() before render()")
        if self._renderer is None:
            self._renderer = LimbRenderer(self.simulator.effector, size=self.render_size)
        frames = [
            self._renderer.draw(frame_from_info(self._info, i, self._trails.trail(i)))
            for i in self.render_envs
        ]
        frame = frames[0] if len(frames) == 1 else tile_frames(frames)
        if self.render_mode == "human":
            if self._window is None:
                self._window = HumanWindow(self.env_id)
            self._window.show(frame, self.metadata["render_fps"])
            return None
        return frame

    def close_extras(self, **kwargs: Any) -> None:
        """Close the render window, if any."""
        if self._window is not None:
            self._window.close()
            self._window = None
