"""`parley audit tail [-f]`: the audit log at the operator's terminal, against a real database."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import PARLEY, PROCESS_START_SECONDS, CliResult, RunCli
from tests.e2e.identity_client import PASSWORD

pytestmark = pytest.mark.e2e


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The next line the process prints, or "" when none comes within ``timeout`` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline()


def test_tail_prints_the_latest_events_and_follow_prints_new_ones(
    run_cli: RunCli, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli("db", "upgrade").code == 0
    created = subprocess.run(
        [PARLEY, "users", "create", "--email", "ada@example.com", "--password-stdin"],
        env=cli_env, input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert run_cli("users", "set-tier", "ada@example.com", "pro").code == 0

    tail = run_cli("audit", "tail", "--json")
    assert tail.code == 0, tail.stderr
    (event,) = [json.loads(line) for line in tail.stdout.splitlines()]
    assert event["action"] == "user.tier_changed"
    assert event["actor_id"] is None  # the operator at the CLI is no user's account
    assert event["data"] == {"from": "free", "to": "pro", "via": "system"}

    follower = subprocess.Popen(
        [PARLEY, "audit", "tail", "-f", "--action", "user.tier_changed", "--interval", "0.2"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        first = read_line(follower, timeout=PROCESS_START_SECONDS)  # the follower starting included
        assert "user.tier_changed" in first
        assert "to=pro" in first
        assert run_cli("users", "set-tier", "ada@example.com", "free").code == 0
        deadline = time.monotonic() + 30
        followed = ""
        while "to=free" not in followed and time.monotonic() < deadline:
            followed = read_line(follower, timeout=max(0.1, deadline - time.monotonic()))
        assert "to=free" in followed
        assert "by system" in followed
    finally:
        follower.send_signal(signal.SIGINT)
        _, errors = follower.communicate(timeout=30)
    assert follower.returncode == 0, errors  # Ctrl-C is how a follow ends


def test_an_unknown_action_is_one_line_and_a_usage_error(run_cli: RunCli) -> None:
    result: CliResult = run_cli("audit", "tail", "--action", "user.exploded")
    assert result.code == 2, (result.stdout, result.stderr)
    said = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert len(said) == 1
    assert "unknown audit action 'user.exploded'" in said[0]
