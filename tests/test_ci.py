"""CI cannot skip silently: MOTORNET_GYM_REQUIRE_COMPILER=1 (set by .ci/run) fails compiler skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import pytest
from torch._inductor import config
from motornet_gym._compile import fastpath

def test_no_compiler():  # the skip of test_compile.py / test_packed.py where no compiler is found
    with config.patch({"cpp.cxx": (None, "no-such-c++-compiler-xyz")}):
        problem = fastpath.compiler_problem("cpu")
    assert problem is not None
    pytest.skip(problem)

def test_other_skip():
    pytest.skip("ray is not installed")

@pytest.mark.skip(reason="no C++ compiler here")
def test_marker():
    pass

def test_passes():
    pass
"""


def test_required_compiler_turns_compiler_skips_into_failures(tmp_path):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {**os.environ, "MOTORNET_GYM_REQUIRE_COMPILER": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    out = res.stdout
    assert res.returncode == 1, out[-3000:]
    assert "FAILED test_probe.py::test_no_compiler" in out, out[-3000:]
    assert "ERROR test_probe.py::test_marker" in out, out[-3000:]  # a skip marker fails at setup
    assert "SKIPPED [1] test_probe.py" in out and "ray is not installed" in out, out[-3000:]
    assert "PASSED test_probe.py::test_passes" in out
    assert "MOTORNET_GYM_REQUIRE_COMPILER=1, but this test was skipped" in out


def test_ci_requires_the_compiler_and_runs_the_readme_command(tmp_path):
    script = (ROOT / ".ci" / "run").read_text()
    run_line = 'bash -euo pipefail -c "$cmd"'
    assert script.count(run_line) == 1 and script.rstrip().endswith(run_line)
    # .ci/run up to its last line, which prints what it would run and with which setting instead.
    probe = script.replace(run_line, 'printf "%s\\n%s" "${MOTORNET_GYM_REQUIRE_COMPILER:-unset}" "$cmd"')
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(probe)
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    env = {k: v for k, v in os.environ.items() if k != "MOTORNET_GYM_REQUIRE_COMPILER"}
    res = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    *_, setting, cmd = res.stdout.splitlines()  # after its own "+ <command>" echo
    assert setting == "1"
    readme = (ROOT / "README.md").read_text()
    second = readme[readme.index("## Quick start") :].split("```bash\n")[2].split("```")[0].strip()
    assert cmd.strip() == second and second.endswith("python -m pytest -q -n 2"), (cmd, second)
