"""RL vs backprop under one protocol: train, evaluate on the same suites, check the phenomena, report.

Run from the repository root::

    python -m agents.compare --preset quick          # the README's main job (< 10 min, 2 cores)
    python -m agents.compare --preset standard       # about an hour: docs/results.md
    python -m agents.compare --preset paper --executor ray --out-dir runs/paper
    python -m agents.compare --methods backprop,ppo --n-seeds 3 --backprop-batches 2000 --rl-steps 3000000
    python -m agents.compare --load '{"ppo": ["runs/ppo"]}' --methods ppo   # evaluate existing runs

Each (method, seed) trial trains under the protocol of :mod:`agents.protocol` (noise, delays,
catch trials, variable go cue, random pulses and loads) for a budget in gradient steps (backprop)
or environment steps (RL), then is evaluated on the centre-out suite, on the perturbation suite
(pulse vs no pulse), through the curl-field block design of :mod:`agents.adaptation`
(NF1 -> FF1 -> NF2 -> FF2) and, for the representation check, a controller trained the same way
on the point mass. Compilation, evaluation and checkpoints are never charged to a budget; the
report lists each phase's wall-clock separately. Everything a trial produces is written under
``<out_dir>/trials/<method>/seed<k>/``; a finished trial is not redone and an interrupted training
run resumes from its checkpoint, so rerunning the same command continues where it stopped.
"""

from __future__ import annotations

import sys
import time

import torch

from agents._common import parse_config
from agents.comparison.config import CompareConfig, with_preset
from agents.comparison.runner import compare
from agents.comparison.trials import Interrupted


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    config = with_preset(parse_config(CompareConfig, argv, description=__doc__.splitlines()[0]), argv)
    torch.set_num_threads(1)  # the ops are small: extra threads only add contention
    t0 = time.perf_counter()
    try:
        path = compare(config)
    except Interrupted as e:
        print(f"[compare] {e}; rerun the same command to resume", file=sys.stderr)
        raise SystemExit(130) from None
    print(f"[compare] report written to {path} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
