"""Training scripts and the comparison runner, run from the repository root (``python -m agents.demo``)."""
