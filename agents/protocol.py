"""The training protocol of the comparison and its presets, with the sources of every choice.

Every method trains under the same conditions on the same cost; only the learning rule differs.

* **Task.** Centre-out reaching to 10 cm targets with a variable go cue (0.05-0.25 s) and 50 %
  catch trials (no go cue: hold the start), as MotorNet-TF's ``CentreOutReach`` (its default
  ``catch_trial_perc=50``; Codol et al. 2024, doi:10.7554/eLife.88591). With 20 % catch trials the
  networks learned to anticipate the cue: the hand was already moving at 0.17 m/s when it came
  (0.07 m/s with 50 %, 2000-batch probes), which truncates the bell-shaped profile; the controllers
  train on its perturbation variant
  (``motornet/Arm26Perturbation-v0``): in half of the trials a square force pulse of random size
  (0-15 N), duration (30-100 ms), direction and onset (0.05-0.7 s, before or during the reach),
  and a random constant background load (0-3 N), the MotorNet fig. 5 protocol of training with
  mechanical perturbations so that the network learns feedback corrections. Evaluation is on
  the unperturbed centre-out suite (8 targets), the perturbation suite (a 10 N, 50 ms pulse
  orthogonal to each reach), the posture-with-loads suite (:data:`POSTURE_KWARGS`: preferred
  directions of the hidden units, compared with the point mass trained the same way) and the
  curl-field block design (:mod:`agents.adaptation`). The reaching-epoch preferred directions of
  our GRUs were never bimodal (Rayleigh p 0.1-0.9 on doubled angles, 8 targets, 0-300 ms after the
  cue, in every window tried) while the load-tuned ones were, strongly (p < 1e-4, 2000-batch
  probes): the bimodality studies measure it in the load task, so the check does too.
* **Delays.** Proprioception 20 ms, vision 70 ms (Codol et al. 2024; the engine's defaults).
* **Noise.** Motor noise on the excitation (``action_noise`` 0.003), sensory noise on both
  feedback channels (``proprioception_noise`` = ``vision_noise`` = 0.001, as in the MotorNet
  tutorials' noisy environments); backprop adds noise on the GRU hidden state (``hidden_noise``
  0.01, Kalidindi et al. 2021, doi:10.7554/eLife.67256). Noise and the training pulses teach
  feedback control: trained without either the hand drifts after a pulse and never returns. The
  motor noise is additive on an excitation in [0, 1] of muscles of 400-1550 N, so 0.01 is a random
  force of ~10 N per muscle every 10 ms: the trained hand then jitters at rest at 7 cm/s, 11 % of
  its peak reach speed, which drowns the end of the reach in noise (minimum-jerk correlation 0.70,
  hold within 0.9 cm). At 0.003 (probes, 2000 batches, 50 % catch trials) it rests at 2.6 cm/s and
  every reach check passes (0.93, 0.46 cm); 0.005 is in between (3.7 cm/s, 0.85).
* **Cost.** The task's cost, the same for every method: fingertip distance to the desired
  position (m) + ``effort_weight`` x mean squared force-weighted activation. MotorNet-TF weighs its
  activation loss 5x the position loss (position: mean of |dx|, |dy|; ours: the Euclidean
  distance, ~1.4x larger), i.e. ~3.5 in our units. :data:`EFFORT_WEIGHT` is 1.0: in 1500-batch
  probes of the earlier protocol (motor noise 0.01, 20 % catch trials), 1.0 gave 0.53 cm final
  error and 0.53 m/s peak speed, 3.0 gave 0.63 cm and 0.49 m/s (no slower, less accurate);
  without an effort cost (MotorNet-PyTorch's tutorial) a noisy network peaks at 1.2 m/s 100 ms
  after the cue. The task default (0.1) is kept for the plain ids.
  Plus ``velocity_weight`` x squared fingertip speed (m^2/s^2), :data:`VELOCITY_WEIGHT` = 0.2: a
  cost on the hand's velocity, as in the optimal-feedback-control models of reaching whose cost
  holds the final position, the final velocity and the effort (Todorov & Jordan 2002,
  doi:10.1038/nn963), here paid at every step since a trial has no fixed end. It damps the
  corrections: without it (4000-batch probes, seed 0, derivative weight 0.005) the hand overshot
  the unperturbed path by up to 2.3 cm after the 10 N pulse and the slowest of the 8 directions
  took 0.43 s to come back, and reaches peaked at 0.67 m/s. With 0.1 / 0.15 / 0.2 / 0.3: slowest
  return 0.44 / 0.44 / 0.42 / 0.38 s (mean 0.27 / 0.26 / 0.26 / 0.25 s), peak speed 0.53 / 0.49 /
  0.46 / 0.41 m/s, minimum-jerk r 0.95 / 0.94 / 0.91 / 0.73 (at 0.3 the approach to the target
  drags a slow tail); straightness, accuracy and holding passed in all four.
* **Backprop regularisers** (policy side, not part of the task cost): hidden activity
  ``0.1 mean(h^2)`` and its derivative ``0.005 mean((dh/dt)^2)``, MotorNet-TF's GRU regulariser
  ``0.1 (mean(h^2) + 0.05 mean((dh/dt)^2))`` (weight 0.1, derivative weight 0.05 inside it, so
  0.1 x 0.05 = 0.005 outside), after Sussillo et al. 2015, doi:10.1038/nn.4042. Without the velocity
  cost, 4000-batch probes needed 0.01 to keep the reaches in the human range (0.61 m/s instead of
  0.67), but a larger derivative weight slows the corrections after a pulse (slowest return 0.43 s
  at 0.005, 0.50 s at 0.01, 0.62 s at 0.02 with 2000 batches): the network state may not change
  fast enough to brake. A 10x larger weight (0.05) doubled the final error.

Budgets are counted in gradient steps (backprop: one batch of 64 episodes) and environment steps
(RL); compilation, evaluation and checkpoints are never charged to them.
"""

from __future__ import annotations

from typing import Any

#: Where every controller is evaluated (and the id recorded as the comparison's task).
EVAL_ENV_ID = "motornet/Arm26CentreOut-v0"
#: Where the controllers train: the same centre-out trials plus random pulses and loads.
TRAIN_ENV_ID = "motornet/Arm26Perturbation-v0"
PERTURBATION_ID = "motornet/Arm26Perturbation-v0"
FORCE_FIELD_ID = "motornet/Arm26ForceField-v0"
#: The point mass under the same protocol (representation check): trained on its perturbation task,
#: compared with the arm on the posture-with-loads suite.
POINT_MASS_ID = "motornet/PointMassPerturbation-v0"
#: The representation suite (both effectors): hold the start against a constant 3 N endpoint load in
#: 16 directions: the preference distributions of monkey M1 are measured for movements and for
#: loads applied to the limb, and reproduced by networks in both (Lillicrap & Scott 2013,
#: doi:10.1016/j.neuron.2012.12.033).
POSTURE_KWARGS: dict[str, Any] = {"eval_suite": "posture", "n_targets": 16, "eval_load_magnitude": 3.0}

#: Weight of the effort term of the task cost (see the module docstring).
EFFORT_WEIGHT = 1.0
#: Weight of the squared fingertip speed in the task cost (see the module docstring).
VELOCITY_WEIGHT = 0.2
#: Environment keyword arguments of the protocol (every method, every phase).
ENV_KWARGS: dict[str, Any] = {
    "proprioception_delay": 0.02,
    "vision_delay": 0.07,
    "catch_trial_fraction": 0.5,
    "action_noise": 0.003,
    "proprioception_noise": 0.001,
    "vision_noise": 0.001,
    "effort_weight": EFFORT_WEIGHT,
    "velocity_weight": VELOCITY_WEIGHT,
}
#: Backprop-only settings of the protocol (policy noise and regularisers).
BACKPROP_KWARGS: dict[str, Any] = {
    "hidden_noise": 0.01,
    "hidden_l2": 0.1,
    "hidden_l2_derivative": 0.005,
}

#: Presets: methods, seeds and budgets (gradient steps / environment steps), never seconds.
PRESETS: dict[str, dict[str, Any]] = {
    # Smoke level (one seed, short budgets): every section present, < 10 min on 2 cores from a cold
    # compile cache. Labelled as such in the report: do not read science into it.
    "quick": {
        "methods": "backprop,ppo", "n_seeds": 1, "backprop_batches": 600, "rl_steps": 1_000_000,
        "adaptation_batches": "5,30,15,30", "point_mass_batches": 300, "smoke": True,
    },
    # About an hour on 2 idle cores (docs/results.md): two seeds, the full block design. Sized on
    # measurements (seeds 0 and 1): with 6000 batches backprop passes every check (4000 batches: the
    # slowest pulse return 0.42 s in a probe); PPO with 8M steps still missed the targets (final error
    # 1.04 cm, the last 200 ms within 1.27 cm) and with 16M stops (0.78 cm, within 0.81 and 1.10 cm).
    "standard": {
        "methods": "backprop,ppo", "n_seeds": 2, "backprop_batches": 6000, "rl_steps": 16_000_000,
        "adaptation_batches": "10,100,50,100", "point_mass_batches": 1000, "smoke": False,
    },
    # The full comparison for a cluster (--executor ray): every method, five seeds.
    "paper": {
        "methods": "backprop,ppo,sac,recurrent_ppo", "n_seeds": 5, "backprop_batches": 8000,
        "rl_steps": 32_000_000, "adaptation_batches": "10,200,100,200", "point_mass_batches": 3000,
        "smoke": False,
    },
}  # fmt: skip
