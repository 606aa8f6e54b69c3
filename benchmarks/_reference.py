"""The reference MotorNet 0.3.0 environment, set up to do the same work as ours (benchmarks only).

MotorNet's ``Environment.step`` draws four numpy noise arrays per step (action, proprioception,
vision, observation) through ``Environment.apply_noise`` and copies each to torch, even when every
std is 0; ours draws nothing when a noise is off. So that a ratio compares the same computation,
the benchmarks time three settings (:data:`SETTINGS`):

* ``"off"``: noise off on both sides; the reference's draws are removed by replacing its
  ``apply_noise`` with the identity (:func:`remove_noise_draws`; with every std 0 it only adds
  zeros, so the trajectory is unchanged: ``tests/test_benchmarks.py``);
* ``"on"``: the same noise stds (:data:`NOISE`) on both sides; the reference draws each modality
  separately, ours draws their sum as one Gaussian of the combined std (same distribution);
* ``"ref defaults"``: the reference exactly as its defaults make it (std-0 draws, no delay) against
  ours with noise off: the speed a user of each package gets without setting anything.

In the first two the reference's delays give the same lags as ours (MotorNet shows a state
``delay / dt - 1`` steps late, ours ``delay / dt``: :data:`REFERENCE_DELAYS`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Noise stds of the "on" setting, in our keyword names (the reference's names in :func:`env`).
NOISE = {"action_noise": 0.01, "proprioception_noise": 0.01, "vision_noise": 0.01, "observation_noise": 0.01}
#: The reference's delays giving our default lags (proprioception 0.02 s, vision 0.07 s at dt 0.01 s).
REFERENCE_DELAYS = {"proprioception_delay": 0.03, "vision_delay": 0.08}
#: (name, our keyword arguments, label) of the three settings (see the module docstring).
SETTINGS = (
    ("off", {}, "noise off (reference's std-0 draws removed)"),
    ("on", NOISE, "noise on, std 0.01 x 4 on both"),
    ("ref defaults", {}, "reference's own defaults (std-0 draws) vs ours noise off"),
)


def remove_noise_draws(env: Any) -> Any:
    """Make a MotorNet environment skip its noise draws: ``apply_noise`` becomes the identity.

    Only valid with every noise std 0 (then the result is identical: ``loc + 0``). Returns ``env``.
    """
    env.apply_noise = lambda loc, noise: loc
    return env


def env(
    setting: str, differentiable: bool = False, duration: float = 1.0, remove_draws: bool | None = None
) -> Any:
    """``RandomTargetReach(RigidTendonArm26(RigidTendonHillMuscle()))`` in one of :data:`SETTINGS`.

    ``remove_draws`` (default: in the ``"off"`` setting) applies :func:`remove_noise_draws`.
    """
    import motornet as mn

    kw: dict[str, Any] = {}
    if setting in ("off", "on"):
        kw.update(REFERENCE_DELAYS)
    if setting == "on":
        kw.update(action_noise=NOISE["action_noise"], proprioception_noise=NOISE["proprioception_noise"],
                  vision_noise=NOISE["vision_noise"], obs_noise=NOISE["observation_noise"])  # fmt: skip
    eff = mn.effector.RigidTendonArm26(mn.muscle.RigidTendonHillMuscle())
    out = mn.environment.RandomTargetReach(
        effector=eff, max_ep_duration=duration, differentiable=differentiable, **kw
    )
    if remove_draws is None:
        remove_draws = setting == "off"
    return remove_noise_draws(out) if remove_draws else out


def ours_kwargs(setting: str) -> dict[str, Any]:
    """Our keyword arguments of a setting."""
    return dict(next(kw for name, kw, _ in SETTINGS if name == setting))


def print_settings_table(
    rates: dict, compile_s: dict, have_ref: bool, peer_key: str | None = None, peer_label: str = ""
) -> None:
    """The table shared by the env benchmarks: one row per setting of :data:`SETTINGS`, ours eager
    and compiled (keys ``(setting, compiled)``) against the reference of the row (``("ref", setting)``),
    the compile times, and the peer row (``rates[peer_key]``) when given."""
    from benchmarks._timing import fmt_rate, median, ratio, ratio_cell

    labels = {name: label for name, _, label in SETTINGS}
    print(f"{'setting':<58} {'reference':>9} {'eager':>8} {'ratio':>7} {'compile=True':>12} {'ratio':>7}")
    for setting in ("off", "on", "ref defaults"):
        ours = "off" if setting == "ref defaults" else setting
        base = ("ref", setting) if have_ref else None
        ref = fmt_rate(median(rates[base])) if base else "-"
        e, c = (ours, False), (ours, True)
        print(f"{labels[setting]:<58} {ref:>9} {fmt_rate(median(rates[e])):>8} {ratio_cell(rates, e, base)} "
              f"{fmt_rate(median(rates[c])):>12} {ratio_cell(rates, c, base)}")  # fmt: skip
    print(f"compile s (noise off, on): {compile_s[('off', True)]:.1f}, {compile_s[('on', True)]:.1f}")
    if peer_key is not None:
        base = ("ref", "ref defaults") if have_ref else None
        ours_vs_peer = ratio(rates[("off", True)], rates[peer_key])
        print(f"peer: Gymnasium Reacher-v5 (MuJoCo, 2 joints, torque actions){peer_label}: "
              f"{fmt_rate(median(rates[peer_key]))} steps/s ({ratio_cell(rates, peer_key, base).strip()} the "
              f"reference's defaults; ours compile=True is {ours_vs_peer:.1f}x it)")  # fmt: skip


def have_reference() -> bool:
    """Whether ``motornet`` is importable (prints how to install it when not)."""
    try:
        import motornet  # noqa: F401
    except ImportError:
        print("motornet (reference) not installed: pip install motornet==0.3.0 for the baseline")
        return False
    return True


def reacher_peer(steps: int):
    """Gymnasium's MuJoCo ``Reacher-v5`` stepping ``steps`` times (resets included), or None."""
    try:
        import gymnasium as gym
        import mujoco  # noqa: F401
    except ImportError:
        print('gymnasium[mujoco] not installed (pip install "gymnasium[mujoco]"): Reacher-v5 row skipped')
        return None
    env = gym.make("Reacher-v5")
    env.reset(seed=0)
    a = np.full(env.action_space.shape, 0.05, dtype=np.float32)

    def run() -> None:
        for _ in range(steps):
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()

    return run
