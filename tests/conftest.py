"""Test-wide settings: one torch thread; with MOTORNET_GYM_REQUIRE_COMPILER=1, no silent compiler skips.

CI (``.ci/run``) exports ``MOTORNET_GYM_REQUIRE_COMPILER=1``: a test skipped because no C++ compiler
(CPU) or Triton (CUDA) was found -- ``pytest.skip(fastpath.compiler_problem(...))`` in
``test_compile.py`` and ``test_packed.py``, or any other skip whose reason says so -- is then
reported as a failure, so the compiled path cannot silently go untested there.
"""

import os
import re

import pytest
import torch

torch.set_num_threads(1)

REQUIRE_COMPILER = os.environ.get("MOTORNET_GYM_REQUIRE_COMPILER", "").strip() not in ("", "0")
#: Reasons of the skips that mean "no compiler" (fastpath.compiler_problem's messages included).
COMPILER_SKIP = re.compile(r"C\+\+ compiler|Triton is not installed")


def require_compiler(device: str = "cpu") -> None:
    """Skip the calling test when no compiler for ``device`` is found (a failure under CI, see above)."""
    from motornet_gym._compile import fastpath

    problem = fastpath.compiler_problem(device)
    if problem is not None:
        pytest.skip(problem)


def compiler_skip_is_failure(reason: str, require: bool = REQUIRE_COMPILER) -> bool:
    """Whether a skip with ``reason`` must be reported as a failure."""
    return require and COMPILER_SKIP.search(reason) is not None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple):  # (path, line, "Skipped: reason")
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if compiler_skip_is_failure(reason):
            report.outcome = "failed"
            report.longrepr = f"MOTORNET_GYM_REQUIRE_COMPILER=1, but this test was skipped: {reason}"
