"""The test suite's own backstop (tests/conftest.py): a test whose main thread never runs
pytest-timeout's SIGALRM handler ends its worker with every thread's stack, and the run goes on with
that test failed, instead of holding CI forever (a pytest run in a child process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

HUNG = """
import signal
import time


def test_a_main_thread_that_never_handles_sigalrm():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(120)


def test_the_next_one():
    pass
"""


def test_a_test_that_outlasts_the_timeout_and_ignores_it_fails_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "test_hung.py").write_text(HUNG)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "PYTEST_"))}
    env["PARLEY_TEST_HUNG_EXIT_SECONDS"] = "3"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", os.devnull, "--rootdir", str(tmp_path), "-p", "tests.conftest"]
        + ["-p", "no:cacheprovider", "-o", "timeout=1", "-n", "1", str(tmp_path / "test_hung.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,  # well under the hung test's 120 s: the watchdog, not the sleep, ended it
    )
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "still running after 3 s: ending this worker" in output
    assert "time.sleep" in output or "test_hung.py" in output  # the stacks were printed
    assert "1 failed, 1 passed" in output
