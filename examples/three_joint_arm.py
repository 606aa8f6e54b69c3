"""A user's own effector as a first-class environment: the three-joint (shoulder-elbow-wrist) arm.

The script uses only public names. It

1. builds the arm (:func:`motornet_gym.dynamics.presets.arm3`: 3 links, 8 muscles on fixation-point
   paths) and prints its muscles' moment arms;
2. registers a reaching environment for it with :func:`motornet_gym.register` (the built-in
   :class:`~motornet_gym.tasks.Reach` task), so every front end and trainer takes the id;
3. simulates a batch of arms with a constant excitation (:func:`motornet_gym.make_simulator`);
4. trains a GRU policy by backprop through the muscles and the skeleton (``agents.backprop``)
   and an SB3 PPO agent (``agents.ppo``), on the same cost;
5. renders the backprop policy reaching, as a GIF (``gym.make(..., render_mode="rgb_array")``).

Run from the repository root::

    python -m examples.three_joint_arm --quick      # tiny budgets: ~20 s on one core (measured)
    python -m examples.three_joint_arm              # 1500 backprop batches of 64, 2M PPO steps
                                                    # (21 min on 2 cores)

Measured (full mode, seed 0, arm3 with its default joint viscosity): backprop final error 1.96 cm
(median 1.02 cm) on the 32-trial evaluation suite, PPO 4.6 cm (median 4.1 cm).

Writes ``<out>/summary.json`` (moment arms, the simulation, both trainings' evaluations),
``<out>/reach.gif``, and the runs under ``<out>/backprop`` and ``<out>/ppo`` (default ``<out>``:
``runs/examples/three_joint_arm``). The GIF needs Pillow (installed with the ``plot`` extra, through
matplotlib). Importing the module registers :data:`ENV_ID`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

import motornet_gym as mg
from motornet_gym.dynamics import presets
from motornet_gym.tasks import Reach

ENV_ID = "examples/Arm3Reach-v0"


def register() -> str:
    """Register the three-joint arm reaching id once per process; returns the id."""
    if ENV_ID not in mg.ENV_SPECS:
        mg.register(
            ENV_ID,
            effector=presets.arm3,
            task=Reach,
            description="Shoulder-elbow-wrist arm (8 muscles) reaching random targets",
            episode_duration=1.0,
        )
    return ENV_ID


register()


def describe_arm() -> dict[str, list[float]]:
    """Build the effector alone, print its skeleton and the muscles' moment arms (mm) and return them."""
    arm = presets.arm3(dtype=torch.float64)
    q = ((arm.pos_lower_bound + arm.pos_upper_bound) / 2)[None]
    state = arm.initial_state(q)
    print(f"arm3: links {[round(v, 3) for v in arm.skeleton.lengths]} m, {arm.n_muscles} muscles")
    arms = {}
    for m, name in enumerate(arm.muscle_names):
        arms[name] = [round(v, 1) for v in (1000 * state.geometry.moment_arm[0, :, m]).tolist()]
        print(f"  {name:32s} moment arms (shoulder, elbow, wrist) {arms[name]} mm")
    return arms


def simulate(env_id: str) -> float:
    """Run 8 arms for 0.5 s with the flexors on and report where the fingertips went."""
    sim = mg.make_simulator(env_id, batch_size=8)
    sim.reset(seed=0)
    start = sim.current_info()["fingertip_pos"].clone()
    excitation = torch.zeros(8, sim.action_size)
    flexor_names = ("pectoralis", "biceps", "flexor_carpi_ulnaris")
    flexors = [i for i, n in enumerate(sim.muscle_names) if n in flexor_names]
    excitation[:, flexors] = 0.5
    for _ in range(50):
        _, _, _, _, info = sim.step(excitation)
    moved = (info["fingertip_pos"] - start).norm(dim=-1)
    print(f"simulate: flexors at 0.5 for 0.5 s move the fingertips {moved.mean():.3f} m on average")
    return float(moved.mean())


def train_backprop(env_id: str, out: Path, quick: bool) -> dict:
    """Train a GRU policy by backprop through the simulation; returns the trainer's summary."""
    from agents.backprop import BackpropConfig, train

    config = BackpropConfig(
        env_id=env_id,
        batch_size=16 if quick else 64,
        hidden_size=32 if quick else 128,
        n_batches=15 if quick else 1500,
        eval_every=15 if quick else 100,
        eval_size=8 if quick else 32,
        compile=not quick,
        out_dir=str(out / "backprop"),
        progress=False,
    )
    summary = train(config)
    print(f"backprop: {summary['batches']} batches, {summary['env_steps']} env steps, eval {summary['eval']}")
    return summary


def train_ppo(env_id: str, out: Path, quick: bool) -> dict:
    """Train SB3 PPO on the same id and cost (reward = -cost)."""
    from agents.ppo import PPOConfig, train

    config = PPOConfig(
        env_id=env_id,
        n_envs=16 if quick else 64,
        total_steps=2048 if quick else 2_000_000,
        hyperparams_override={"n_steps": 64, "batch_size": 512} if quick else {},
        eval_every=2048 if quick else 100_000,
        out_dir=str(out / "ppo"),
        progress=False,
    )
    summary = train(config)
    print(f"ppo: {summary.get('env_steps', config.total_steps)} env steps, eval {summary.get('eval')}")
    return summary


def render_gif(env_id: str, policy_path: Path, path: Path, quick: bool) -> None:
    """Render one reach of the backprop policy to ``path`` (GIF, 100 fps simulation shown at 25 fps)."""
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('writing the GIF needs Pillow: pip install "motornet-gym[plot]"') from e
    policy, _ = mg.policies.load_policy(policy_path)
    env = gym.make(env_id, render_mode="rgb_array", render_size=160 if quick else 320)
    obs, _ = env.reset(seed=1)
    hidden = policy.initial_hidden(1)
    frames = [env.render()]
    done = False
    with torch.no_grad():
        while not done:
            action, hidden = policy(torch.as_tensor(obs, dtype=torch.float32)[None], hidden)
            obs, _, terminated, truncated, _ = env.step(action[0].numpy().astype(np.float32))
            done = terminated or truncated
            frames.append(env.render())
    env.close()
    images = [Image.fromarray(f) for f in frames[::4]]
    images[0].save(path, save_all=True, append_images=images[1:], duration=40, loop=0)
    print(f"gif: {len(images)} frames -> {path}")


def main(argv: list[str] | None = None) -> dict:
    """Command-line entry point; returns the summary (also written to ``<out>/summary.json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets (under a minute on one core)")
    parser.add_argument("--out", default="runs/examples/three_joint_arm", help="where runs and the GIF go")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    env_id = register()
    summary: dict = {"env_id": env_id, "quick": args.quick, "moment_arms_mm": describe_arm()}
    summary["flexor_displacement_m"] = simulate(env_id)
    backprop = train_backprop(env_id, out, args.quick)
    summary["backprop"] = {k: backprop[k] for k in ("batches", "env_steps", "eval")}
    ppo = train_ppo(env_id, out, args.quick)
    summary["ppo"] = {k: ppo.get(k) for k in ("env_steps", "eval")}
    render_gif(env_id, Path(backprop["out_dir"]) / "policy.pt", out / "reach.gif", args.quick)
    summary["wall_time_s"] = round(time.perf_counter() - t0, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(f"done in {summary['wall_time_s']} s")
    return summary


if __name__ == "__main__":
    main()
