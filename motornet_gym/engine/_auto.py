"""``compile="auto"``: when a simulator switches from eager to compiled steps (torch only).

:class:`AutoSwitch` only decides and guards; the simulator builds and drops its compiled step
itself (through the callbacks it passes), so no object writes another's attributes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["AUTO_COMPILE_STEPS", "AutoSwitch"]

#: ``compile="auto"``: steps a simulator runs eagerly before switching to the compiled step. Set at
#: the break-even of a process's first switch with a warm inductor cache (compile time / per-step
#: saving), so a run pays at most about twice what the better choice in hindsight costs (the
#: ski-rental argument). Measured, arm26 (point mass), one thread, first switch of a fresh process
#: (most of it importing and initialising inductor; the frozen step and the frozen reset included):
#: no_grad B = 1: 5.9-6.1 s (5.4 s), eager 0.77-1.36 ms/step (0.46), compiled 0.02-0.03 ms (0.02):
#: break-even 4.5k-8.0k steps (12k); with gradients (GRU 32 policy) B = 1: 4.7 s, 3.3 vs 0.8
#: ms/step: 1.9k steps. Later switches in the same process cost 0.4-1.7 s (break-even 300-930
#: steps at B = 64-1024). A cold cache costs 3-5x more (10-25 s): those runs repay it later.
AUTO_COMPILE_STEPS = 5000

_warned = False


class AutoSwitch:
    """Counts eager steps and guards the first compiled calls of one simulator.

    Args:
        after_steps: Eager steps before the switch (default :data:`AUTO_COMPILE_STEPS`).

    Attributes:
        pending: Compiled call kinds (``"step"``, ``"reset"``) not yet known to work.
        done: True once there is nothing left to decide (compiled for good, or eager for good).
    """

    def __init__(self, after_steps: int | None = None) -> None:
        self.steps_left = AUTO_COMPILE_STEPS if after_steps is None else after_steps
        self.pending = {"step", "reset"}
        self.done = False

    def count(self) -> bool:
        """Count one step; True exactly once, on the step that should switch to the compiled step."""
        self.steps_left -= 1
        return self.steps_left == -1

    def call(
        self,
        kind: str,
        compiled: bool,
        fn: Callable[..., Any],
        args: tuple,
        fall_back: Callable[[], None],
        generator: torch.Generator,
    ) -> Any:
        """``fn(*args)``, guarded while a compiled ``kind`` has not yet succeeded.

        On a failure: warn once per process, restore ``generator``, call ``fall_back`` (the
        simulator drops its compiled step) and rerun ``fn`` eagerly.
        """
        if not compiled or kind not in self.pending:
            return fn(*args)
        rng = generator.get_state()
        try:
            out = fn(*args)
        except Exception as err:  # noqa: BLE001  (any compile failure: stay eager, as documented)
            global _warned
            if not _warned:
                _warned = True
                warnings.warn(
                    f"compile='auto': compiling the simulator step failed ({type(err).__name__}: {err}); "
                    "the simulator stays eager (same results, slower). This warning is shown once per "
                    "process.",
                    RuntimeWarning,
                    stacklevel=4,
                )
            generator.set_state(rng)
            fall_back()
            self.done = True
            return fn(*args)
        self.pending.discard(kind)
        self.done = not self.pending
        return out
