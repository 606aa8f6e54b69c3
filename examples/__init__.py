"""Worked experiments built only on motornet_gym's public API (run ``python -m examples.<name> --quick``)."""
