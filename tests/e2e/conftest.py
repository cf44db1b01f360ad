"""Real processes: the `parley` console script and uvicorn serving the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.redis_process import free_port

PARLEY = str(Path(sys.executable).with_name("parley"))
#: How long a started process (`parley serve`, `parley worker`, a following CLI command) may take to be
#: ready: the bound of a wait that ends as soon as it is, not a timing claim. On CI (three test workers on
#: two cores, coverage tracing the child's imports) a `parley serve` once took over 30 s to answer /health.
PROCESS_START_SECONDS = 120


@pytest.fixture
def cli_env(var_dir: Path) -> dict[str, str]:
    """A clean environment for the CLI: only what the test sets, no developer .env."""
    passed = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}
    # COVERAGE_* lets coverage measure the child processes too.
    keep = {k: v for k, v in os.environ.items() if k in passed or k.startswith("COVERAGE_")}
    return {
        **keep,
        "APP_ENV": "test",
        "PARLEY_VAR_DIR": str(var_dir),
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(cli_env: dict[str, str], tmp_path: Path) -> RunCli:
    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
        completed = subprocess.run(  # the working directory has no .env
            [PARLEY, *args],
            env={**cli_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=tmp_path,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return run


@dataclass
class Server:
    process: subprocess.Popen[str]
    base_url: str
    log_path: Path

    def logs(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10) -> float:
        """Send ``sig`` and return how long the process took to exit."""
        started = time.monotonic()
        self.process.send_signal(sig)
        self.process.wait(timeout=timeout)
        return time.monotonic() - started


@pytest.fixture
def start_server(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        log_path = tmp_path / f"server-{port}.log"
        handle = log_path.open("w")
        process = subprocess.Popen(
            [PARLEY, "serve", "--port", str(port), *args],
            env={**cli_env, **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        servers.append(server)
        deadline = time.monotonic() + PROCESS_START_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"server exited with {process.returncode}:\n{server.logs()}")
            try:
                if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server did not answer /health within {PROCESS_START_SECONDS} s:\n{server.logs()}")

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
