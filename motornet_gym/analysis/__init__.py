"""Evaluation suite, metrics, figures and the comparison report (torch, numpy, matplotlib).

* :func:`evaluate` runs any controller (a backprop policy, an SB3-style model, a callable) on a
  task's fixed evaluation suite and returns an :class:`EvaluationRecord` of per-trial trajectories
  and metrics.
* :mod:`.metrics` (kinematics, effort, perturbations, force fields), :mod:`.neural` (participation
  ratio, linear CKA, cosine tuning) and :mod:`.stats` (IQM, bootstrap intervals) are small pure
  functions; :mod:`.plots` and :mod:`.report` draw and write the report (matplotlib is imported only
  when plotting).
"""

from . import metrics, neural, stats
from .evaluate import EvaluationRecord, antagonist_pairs, as_controller, evaluate

__all__ = ["EvaluationRecord", "antagonist_pairs", "as_controller", "evaluate", "metrics", "neural", "stats"]
