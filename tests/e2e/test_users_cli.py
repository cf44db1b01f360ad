"""`parley users ...`: the operator's account commands, run as an operator would."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import PARLEY, CliResult, RunCli
from tests.e2e.identity_client import NEW_PASSWORD, PASSWORD, bearer, me

pytestmark = pytest.mark.e2e

USERS_COMMANDS = ["create", "list", "set-role", "set-tier", "deactivate", "activate", "reset-password"]

RunWithInput = Callable[..., CliResult]


@pytest.fixture
def parley(cli_env: dict[str, str], tmp_path: Path, run_cli: RunCli) -> RunWithInput:
    """The CLI on a migrated database, with text on stdin."""
    assert run_cli("db", "upgrade").code == 0

    def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> CliResult:
        completed = subprocess.run(
            [PARLEY, *args],
            env={**cli_env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return run


def one_line_error(result: CliResult, code: int, *words: str) -> None:
    assert result.code == code, (result.stdout, result.stderr)
    said = [line for line in result.stderr.splitlines() if not line.startswith("{")]  # log lines are JSON
    assert len(said) == 1, result.stderr
    assert said[0].startswith("error: "), result.stderr
    for word in words:
        assert word in said[0]


@pytest.mark.parametrize("command", [[], *([c] for c in USERS_COMMANDS)])
def test_every_users_command_has_help(run_cli: RunCli, command: list[str]) -> None:
    result = run_cli("users", *command, "--help")
    assert result.code == 0, result.stderr
    assert "Usage: parley users" in result.stdout


def test_create_and_list(parley: RunWithInput) -> None:
    assert parley("users", "list").stdout == "no users\n"
    created = parley("users", "create", "--email", " Ada@Example.com", "--password-stdin", stdin=PASSWORD + "\n")
    assert created.code == 0, created.stderr
    assert created.stdout.startswith("created ada@example.com (")
    assert "creator, free, active" in created.stdout
    assert PASSWORD not in created.stdout + created.stderr
    admin = parley(
        "users", "create", "--email", "root@example.com", "--role", "admin", "--display-name", "Root",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert admin.code == 0, admin.stderr
    assert "admin, free, active" in admin.stdout

    listed = parley("users", "list")
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "EMAIL", "NAME", "ROLE", "TIER", "STATUS", "CREATED", "(UTC)"]
    assert [line.split()[1:5] for line in lines[1:3]] == [
        ["root@example.com", "Root", "admin", "free"],
        ["ada@example.com", "Ada", "creator", "free"],
    ]
    assert lines[-1] == "1-2 of 2 users"
    searched = parley("users", "list", "--q", "ADA")
    assert [line.split()[1] for line in searched.stdout.splitlines()[1:-1]] == ["ada@example.com"]
    assert "no users matching 'nobody'" in parley("users", "list", "--q", "nobody").stdout


def test_create_without_a_role_gives_the_default_role(parley: RunWithInput) -> None:
    """Regression: ``--role`` said "Default: DEFAULT_ROLE" but the CLI always made creators."""
    created = parley(
        "users", "create", "--email", "vi@example.com", "--password-stdin",
        stdin=PASSWORD + "\n", env={"DEFAULT_ROLE": "viewer"},
    )  # fmt: skip
    assert created.code == 0, created.stderr
    assert "viewer, free, active" in created.stdout


def test_create_refuses_bad_input_in_one_line(parley: RunWithInput) -> None:
    assert parley("users", "create", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD).code == 0
    one_line_error(
        parley("users", "create", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD),
        1,
        "already registered",
    )
    one_line_error(parley("users", "create", "--email", "b@example.com", "--password-stdin", stdin="short\n"), 2)
    one_line_error(parley("users", "create", "--email", "not-an-email", "--password-stdin", stdin=PASSWORD), 2)
    one_line_error(parley("users", "create", "--email", "c@example.com", "--password-stdin", stdin=""), 2, "stdin")
    assert parley("users", "create", "--email", "d@example.com", "--role", "owner", stdin=PASSWORD).code == 2


def test_create_prompts_for_the_password_twice(parley: RunWithInput) -> None:
    mismatch = parley("users", "create", "--email", "ada@example.com", stdin=f"{PASSWORD}\n{NEW_PASSWORD}\n")
    assert mismatch.code != 0
    assert "do not match" in mismatch.stderr
    created = parley("users", "create", "--email", "ada@example.com", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert created.code == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr  # never echoed


def test_role_tier_status_and_password_changes_take_effect(
    parley: RunWithInput, start_server: Any, redis_url: str
) -> None:
    # With Redis, as in production: the CLI's changes reach a running API on its next request.
    with_redis = {"REDIS_URL": redis_url}
    created = parley("users", "create", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD)
    user_id = created.stdout.split("(")[1].split(")")[0]

    assert "admin, free" in parley("users", "set-role", "ada@example.com", "admin").stdout
    assert "admin, pro" in parley("users", "set-tier", user_id, "pro").stdout
    deactivated = parley("users", "deactivate", "ADA@example.com")
    assert deactivated.code == 0, deactivated.stderr
    assert "deactivated" in deactivated.stdout
    assert "deactivated" in parley("users", "list").stdout

    server = start_server(env={"RATE_LIMIT_ENABLED": "false", **with_redis})
    with httpx.Client(base_url=server.base_url, timeout=10) as client:

        def token(password: str) -> httpx.Response:
            return client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": "ada@example.com", "password": password},
            )

        assert token(PASSWORD).json()["error"] == "invalid_grant"
        assert parley("users", "activate", "ada@example.com", env=with_redis).code == 0
        signed_in = token(PASSWORD)
        assert signed_in.status_code == 200
        profile = me(client, signed_in.json()["access_token"]).json()
        assert (profile["role"], profile["tier"]) == ("admin", "pro")

        reset = parley(
            "users", "reset-password", "ada@example.com", "--password-stdin", stdin=NEW_PASSWORD + "\n", env=with_redis
        )
        assert reset.code == 0, reset.stderr
        assert reset.stdout == "password reset for ada@example.com\n"
        assert me(client, signed_in.json()["access_token"]).status_code == 401  # sessions ended
        assert token(PASSWORD).json()["error"] == "invalid_grant"
        fresh = token(NEW_PASSWORD)
        assert fresh.status_code == 200
        assert client.get("/api/v1/admin/users", headers=bearer(fresh.json()["access_token"])).status_code == 200


def test_unknown_users_and_bad_values_are_one_line_errors(parley: RunWithInput) -> None:
    assert parley("users", "create", "--email", "ada@example.com", "--password-stdin", stdin=PASSWORD).code == 0
    for command in (
        ["set-role", "nobody@example.com", "admin"],
        ["set-tier", "00000000-0000-7000-8000-000000000000", "pro"],
        ["deactivate", "nobody@example.com"],
        ["activate", "ada@example"],
    ):
        one_line_error(parley("users", *command), 1, "no user")
    one_line_error(
        parley("users", "reset-password", "nobody@example.com", "--password-stdin", stdin=NEW_PASSWORD), 1, "no user"
    )
    one_line_error(parley("users", "reset-password", "ada@example.com", "--password-stdin", stdin="short"), 2)
    assert parley("users", "set-tier", "ada@example.com", "gold").code == 2
