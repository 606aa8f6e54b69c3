"""Helpers to drive the reference package (motornet 0.3.0) side by side with ours, in tests only."""

from __future__ import annotations

import math

import torch

motornet = __import__("pytest").importorskip("motornet")


def reference_effector(name: str):
    """The motornet effector matching one of our presets (by our preset name)."""
    from motornet import effector as E
    from motornet import muscle as M

    if name == "point_mass_24":
        return E.ReluPointMass24()
    if name == "arm24":
        return E.Reacher(muscle=M.ReluMuscle())
    if name == "free_point_mass_24":
        return E.FreePointMass24(muscle=M.ReluMuscle())
    muscle = {
        "arm26_kistemaker": M.RigidTendonHillMuscle,
        "arm26_thelen": M.RigidTendonHillMuscleThelen,
        "arm26_mujoco": M.MujocoHillMuscle,
        "arm26_relu": M.ReluMuscle,
    }[name]()
    return E.RigidTendonArm26(muscle=muscle)


def our_effector(name: str):
    from motornet_gym.dynamics import presets

    if name.startswith("arm26_"):
        return presets.arm26(muscle=name.removeprefix("arm26_"))
    return getattr(presets, name)()


def excitation_sequence(
    kind: str, steps: int, batch: int, n_muscles: int, seed: int, scale: float, base: float = 0.0
):
    """(T, B, M) excitations: random piecewise-constant (holds of 5-20 steps) or sinusoidal."""
    g = torch.Generator().manual_seed(seed)
    if kind == "piecewise":
        out = torch.empty(steps, batch, n_muscles)
        t = 0
        while t < steps:
            hold = int(torch.randint(5, 21, (1,), generator=g))
            out[t : t + hold] = base + torch.rand(batch, n_muscles, generator=g) * scale
            t += hold
        return out
    freq = 0.5 + 2.5 * torch.rand(batch, n_muscles, generator=g)  # Hz
    phase = 2 * math.pi * torch.rand(batch, n_muscles, generator=g)
    time = torch.arange(steps, dtype=torch.float32)[:, None, None] * 0.01
    return base + scale * 0.5 * (1 + torch.sin(2 * math.pi * freq * time + phase))


def run_reference(ref, joint_pos, excitations, endpoint_load=None, joint_load=None):
    """Run the reference from ``joint_pos`` (B, D); returns dict of (T, B, ...) float32 tensors."""
    b = joint_pos.shape[0]
    ref.reset(
        options={"batch_size": b, "joint_state": torch.cat([joint_pos, torch.zeros_like(joint_pos)], 1)}
    )
    out = {k: [] for k in ("joint_pos", "joint_vel", "fingertip_pos", "activation", "force")}
    kwargs = {}
    if endpoint_load is not None:
        kwargs["endpoint_load"] = endpoint_load
    if joint_load is not None:
        kwargs["joint_load"] = joint_load
    d = joint_pos.shape[1]
    for u in excitations:
        ref.step(u, **kwargs)
        st = ref.states
        out["joint_pos"].append(st["joint"][:, :d].clone())
        out["joint_vel"].append(st["joint"][:, d:].clone())
        out["fingertip_pos"].append(st["fingertip"].clone())
        out["activation"].append(st["muscle"][:, 0].clone())
        out["force"].append(st["muscle"][:, -1].clone())
    return {k: torch.stack(v) for k, v in out.items()}


def run_ours(eff, joint_pos, excitations, endpoint_load=None, joint_load=None):
    s = eff.initial_state(joint_pos)
    out = {k: [] for k in ("joint_pos", "joint_vel", "fingertip_pos", "activation", "force")}
    for u in excitations:
        s = eff.step(s, u, endpoint_load=endpoint_load, joint_load=joint_load)
        out["joint_pos"].append(s.joint_pos)
        out["joint_vel"].append(s.joint_vel)
        out["fingertip_pos"].append(s.fingertip_pos)
        out["activation"].append(s.muscle.activation)
        out["force"].append(s.muscle.force)
    return {k: torch.stack(v) for k, v in out.items()}
