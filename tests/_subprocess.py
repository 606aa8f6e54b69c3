"""Run a Python snippet in a fresh interpreter (import-time behaviour: laziness, registration)."""

from __future__ import annotations

import subprocess
import sys


def run_snippet(code: str) -> str:
    """Run ``code`` with this interpreter; assert it exits 0 and return its stdout."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout
