"""RL vs backprop under one protocol (``python -m agents.compare``), one module per concept.

* :mod:`.config`: :class:`~agents.comparison.config.CompareConfig` and the presets.
* :mod:`.trials`: one (method, seed) trial: train or load, evaluate, adapt, save.
* :mod:`.analysis`: the phenomena values of one trial from its evaluation records.
* :mod:`.runner`: validation, the executors (sequential, Ray Tune) and
  :func:`~agents.comparison.runner.compare`.
* :mod:`.report` and :mod:`.markdown`: ``results.json``, ``metrics.csv``, figures and ``report.md``.

The training protocol itself is :mod:`agents.protocol`; the curl-field block design
:mod:`agents.adaptation`.
"""
