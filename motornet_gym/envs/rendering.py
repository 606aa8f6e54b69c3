"""pygame-ce rendering of an effector: limb, muscles coloured by activation, target, trail, load.

The renderer is stateless between frames: the caller passes one :class:`LimbFrame` per sub-
environment (numpy arrays in SI units, taken from the engine's ``info``) and gets an RGB image
``(size, size, 3)`` ``uint8``. pygame-ce (a core dependency) is imported when a renderer is created,
so importing the package does not start SDL; ``SDL_VIDEODRIVER=dummy`` renders headless (only
``"human"`` mode opens a window).

How muscles are drawn:

The limb is whatever the skeleton says it is: :meth:`Skeleton.segments
<motornet_gym.dynamics.skeletons.Skeleton.segments>` gives the chain of points from the base to the
fingertip (``K`` links, ``K + 1`` points), drawn as ``K`` bones; a chain of one point (``K = 0``, a
point mass) is drawn as a disc. No skeleton type is special-cased here.

How muscles are drawn:

* :class:`~motornet_gym.dynamics.geometry.PathGeometry` (the point mass, the three-joint arm): the
  muscle path through its fixation points, from ``skeleton.point_kinematics``.
* Any other geometry on a linked chain (arm26's polynomial geometry has no path points): a line
  beside the bones of every joint the muscle spans, on the flexor side (counter-clockwise, the
  inside of the joint angle) where its moment arm is negative and on the extensor side otherwise,
  wrapping round the joint at a distance that grows with the moment arm.
* Any other geometry on a chain without links: a short line from the point in the direction it
  pulls.

Colour runs from blue (activation 0) to red (activation 1), and the line widens with activation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from ..dynamics import Effector
from ..dynamics.geometry import PathGeometry

__all__ = ["HumanWindow", "LimbFrame", "LimbRenderer", "tile_frames"]

_BACKGROUND = (250, 250, 250)
_BONE = (60, 60, 60)
_TARGET = (40, 170, 70)
_TRAIL = (250, 160, 40)
_FORCE = (170, 40, 170)
_LOW = np.array((70.0, 110.0, 210.0))  # activation 0
_HIGH = np.array((220.0, 35.0, 35.0))  # activation 1


class LimbFrame(NamedTuple):
    """What one frame shows of one sub-environment (numpy, SI units).

    Attributes:
        joint_pos: ``(D,)`` rad (m for the point mass).
        target: ``(2,)`` m.
        activation: ``(M,)`` in [0, 1].
        endpoint_load: ``(2,)`` N, external force applied at the fingertip.
        trail: ``(T, 2)`` m, recent fingertip positions, oldest first (may be empty).
    """

    joint_pos: np.ndarray
    target: np.ndarray
    activation: np.ndarray
    endpoint_load: np.ndarray
    trail: np.ndarray


def import_pygame() -> Any:
    """Import pygame-ce, failing loudly with what to install."""
    try:
        import pygame
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "rendering needs pygame-ce, a dependency of motornet-gym that is missing here; "
            'install it with `pip install "pygame-ce>=2.4"`'
        ) from e
    return pygame


class LimbRenderer:
    """Draws frames of an effector with pygame.

    Args:
        effector: The effector to draw (its skeleton, geometry and bounds are read, never stepped).
        size: Width and height of a frame, pixels.
        force_scale: Arrow length per newton of endpoint load, m/N.

    Attributes:
        size: Frame width and height, pixels.
    """

    def __init__(self, effector: Effector, *, size: int = 400, force_scale: float = 0.004) -> None:
        if not isinstance(size, int) or size < 32:
            raise ValueError(f"size must be an integer >= 32 pixels; got {size!r}")
        self._pygame = import_pygame()
        self.effector = effector
        self.size = size
        self.force_scale = float(force_scale)
        lb = effector.pos_lower_bound
        mid = self.limb_points(((lb + effector.pos_upper_bound) / 2).detach().cpu().double().numpy())
        self._n_links = len(mid) - 1
        self._reach = float(np.linalg.norm(np.diff(mid, axis=0), axis=-1).sum())  # m, 0 without links
        if self._n_links > 0:
            self._centre = mid[0]
            self._half = 1.05 * self._reach
        else:
            lb = effector.pos_lower_bound.detach().cpu().double().numpy()
            ub = effector.pos_upper_bound.detach().cpu().double().numpy()
            self._centre = (lb + ub) / 2
            self._half = 0.55 * float(np.max(ub - lb))
        self._scale = size / (2 * self._half)  # pixels per m
        self._surface = self._pygame.Surface((size, size))

    # ------------------------------------------------------------------ public API
    def draw(self, frame: LimbFrame) -> np.ndarray:
        """Render one frame; returns ``(size, size, 3)`` ``uint8`` RGB."""
        pg, surf = self._pygame, self._surface
        surf.fill(_BACKGROUND)
        q = np.asarray(frame.joint_pos, dtype=np.float64)
        chain = self.limb_points(q)
        if self._n_links > 0:
            pg.draw.circle(surf, (232, 232, 232), self._px(chain[0]), int(self._reach * self._scale), width=1)
        trail = np.asarray(frame.trail, dtype=np.float64).reshape(-1, 2)
        if len(trail) >= 2:
            pg.draw.lines(surf, _TRAIL, False, [self._px(p) for p in trail], 2)
        pg.draw.circle(surf, _TARGET, self._px(frame.target), max(4, int(0.012 * self._scale)))
        activation = np.clip(np.asarray(frame.activation, dtype=np.float64), 0.0, 1.0)
        for m, path in enumerate(self._muscle_paths(q, chain)):
            a = float(activation[m])
            colour = tuple(int(c) for c in _LOW + (_HIGH - _LOW) * a)
            pg.draw.lines(surf, colour, False, [self._px(p) for p in path], 2 + round(4 * a))
        tip = self._draw_limb(chain)
        self._draw_force(tip, np.asarray(frame.endpoint_load, dtype=np.float64))
        pixels = pg.surfarray.array3d(surf)  # (W, H, 3)
        return np.ascontiguousarray(np.transpose(pixels, (1, 0, 2)))

    def limb_points(self, joint_pos: np.ndarray) -> np.ndarray:
        """The chain the limb is drawn as: ``(K + 1, 2)`` m from :meth:`Skeleton.segments`.

        Args:
            joint_pos: ``(D,)`` joint configuration.
        """
        ref = self.effector.pos_lower_bound
        qt = torch.as_tensor(np.asarray(joint_pos, dtype=np.float64), dtype=ref.dtype, device=ref.device)
        with torch.no_grad():
            chain = self.effector.skeleton.segments(qt[None])[0]
        return chain.detach().cpu().double().numpy()

    # ------------------------------------------------------------------ drawing helpers
    def _px(self, p: Sequence[float] | np.ndarray) -> tuple[int, int]:
        x = (float(p[0]) - self._centre[0]) * self._scale + self.size / 2
        y = self.size / 2 - (float(p[1]) - self._centre[1]) * self._scale
        return int(round(x)), int(round(y))

    def _draw_limb(self, chain: np.ndarray) -> np.ndarray:
        pg, surf = self._pygame, self._surface
        if len(chain) == 1:
            pg.draw.circle(surf, _BONE, self._px(chain[0]), max(5, int(0.03 * self._scale)))
            return chain[0]
        pts = [self._px(p) for p in chain]
        pg.draw.lines(surf, _BONE, False, pts, max(3, int(0.012 * self._scale)))
        for p in pts[:-1]:
            pg.draw.circle(surf, _BONE, p, max(4, int(0.014 * self._scale)))
        pg.draw.circle(surf, (20, 20, 20), pts[-1], max(3, int(0.009 * self._scale)))
        return chain[-1]

    def _draw_force(self, tip: np.ndarray, force: np.ndarray) -> None:
        norm = float(np.hypot(force[0], force[1]))
        if not math.isfinite(norm) or norm < 1e-9:
            return
        length = min(norm * self.force_scale, 0.35 * self._half)
        u = force / norm
        end = tip + u * length
        pg = self._pygame
        pg.draw.line(self._surface, _FORCE, self._px(tip), self._px(end), 3)
        head = 0.03 * self._half
        n = np.array([-u[1], u[0]])
        wing1, wing2 = end - u * head + n * head * 0.5, end - u * head - n * head * 0.5
        pg.draw.polygon(self._surface, _FORCE, [self._px(end), self._px(wing1), self._px(wing2)])

    def _muscle_paths(self, q: np.ndarray, chain: np.ndarray) -> list[np.ndarray]:
        """One polyline ``(P, 2)`` m per muscle at joint configuration ``q``, limb ``chain``."""
        eff = self.effector
        ref = eff.pos_lower_bound
        qt = torch.as_tensor(q, dtype=ref.dtype, device=ref.device)[None]
        with torch.no_grad():
            if isinstance(eff.geometry, PathGeometry):
                return _path_polylines(eff.geometry, qt)
            moment_arm = eff.geometry(qt, torch.zeros_like(qt)).moment_arm[0]
        r = moment_arm.detach().cpu().double().numpy()  # (D, M)
        if len(chain) > 1 and r.shape[0] == len(chain) - 1:  # one joint per link
            return [_lateral_path(chain, r[:, m]) for m in range(r.shape[1])]
        out = []
        for m in range(r.shape[1]):
            d = -r[:2, m] / max(float(np.linalg.norm(r[:2, m])), 1e-12)  # pull direction
            out.append(np.stack([chain[-1], chain[-1] + 0.15 * self._half * d]))
        return out


def _ccw(v: np.ndarray) -> np.ndarray:
    return np.array([-v[1], v[0]])


def _lateral_path(chain: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Schematic path of a muscle with moment arms ``r`` ``(K,)`` m on a chain ``(K + 1, 2)`` m.

    A negative moment arm drives the joint counter-clockwise (MotorNet's convention), so the
    muscle lies on the counter-clockwise side of the bones there (inside the joint angle).
    """
    spans = [j for j in range(len(r)) if abs(r[j]) > 1e-9]
    if not spans:
        return np.zeros((2, 2))
    links = np.diff(chain, axis=0)
    lengths = np.linalg.norm(links, axis=-1)
    dirs = links / lengths[:, None]
    trunk = np.array([1.0, 0.0])  # the trunk, continuing into the first link at zero angle
    extra = 0.008 if len(spans) >= 2 else 0.0
    pts: list[np.ndarray] = []
    for j in spans:
        joint, vd, ld = chain[j], dirs[j], lengths[j]
        vp = trunk if j == 0 else dirs[j - 1]
        lp = lengths[0] if j == 0 else lengths[j - 1]
        side = 1.0 if r[j] < 0 else -1.0
        off = 0.012 + min(abs(float(r[j])), 0.04) + extra
        inside = vd - vp
        n = np.linalg.norm(inside)
        inside = inside / n if n > 1e-6 else _ccw(vp)
        if not pts:
            pts.append(joint - 0.3 * lp * vp + side * off * _ccw(vp))
        pts.append(joint + side * off * inside)
        dist = 0.35 * ld if j == spans[-1] else 0.3 * ld
        pts.append(joint + dist * vd + side * off * _ccw(vd))
    return np.stack(pts)


def _path_polylines(geometry: PathGeometry, q: torch.Tensor) -> list[np.ndarray]:
    pos, _ = geometry.skeleton.point_kinematics(q, geometry.body, geometry.coords)
    pts = pos[0].detach().cpu().double().numpy()  # (P, 2)
    seg_muscle = geometry.segment_to_muscle.argmax(-1).tolist()
    starts, ends = geometry.seg_start.tolist(), geometry.seg_end.tolist()
    paths: list[list[np.ndarray]] = [[] for _ in range(geometry.n_muscles)]
    for s, m in enumerate(seg_muscle):
        if not paths[m]:
            paths[m].append(pts[starts[s]])
        paths[m].append(pts[ends[s]])
    return [np.stack(p) for p in paths]


def tile_frames(frames: Sequence[np.ndarray], n_cols: int | None = None) -> np.ndarray:
    """Tile equally sized ``(H, W, 3)`` frames row-major into a near-square grid (white padding)."""
    if len(frames) == 0:
        raise ValueError("frames must contain at least one frame; got an empty sequence")
    h, w, c = frames[0].shape
    cols = n_cols if n_cols is not None else math.ceil(math.sqrt(len(frames)))
    rows = math.ceil(len(frames) / cols)
    grid = np.full((rows * h, cols * w, c), 255, dtype=np.uint8)
    for i, f in enumerate(frames):
        r, col = divmod(i, cols)
        grid[r * h : (r + 1) * h, col * w : (col + 1) * w] = f
    return grid


class HumanWindow:
    """A pygame window that shows RGB frames (``render_mode="human"``).

    Args:
        title: Window caption.
    """

    def __init__(self, title: str = "motornet_gym") -> None:
        self._pygame = import_pygame()
        self.title = title
        self._screen: Any = None
        self._clock: Any = None

    def show(self, frame: np.ndarray, fps: float) -> None:
        """Display ``frame`` ``(H, W, 3)`` uint8 and wait to keep ``fps`` frames per second."""
        pg = self._pygame
        h, w = frame.shape[:2]
        if self._screen is None or self._screen.get_size() != (w, h):
            pg.display.init()
            pg.display.set_caption(self.title)
            self._screen = pg.display.set_mode((w, h))
            self._clock = pg.time.Clock()
        pg.surfarray.blit_array(self._screen, np.transpose(frame, (1, 0, 2)))
        pg.event.pump()
        pg.display.flip()
        self._clock.tick(fps)

    def close(self) -> None:
        """Close the window (safe to call more than once)."""
        if self._screen is not None:
            self._pygame.display.quit()
            self._screen = None
