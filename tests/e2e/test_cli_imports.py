"""`parley` commands import only what they use: a guard on start-up cost that does not time anything.

Each command runs as a user would run it, with Python's import profiling on
(``PYTHONPROFILEIMPORTTIME``, the same as ``-X importtime``), and the modules it imported are read
from that report. Building the whole container imports Redis, SAQ, OpenTelemetry, Alembic and the
HTTP framework for ~2 s of CPU; commands that need none of them must not pay for them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import PARLEY, CliResult, RunCli

pytestmark = pytest.mark.e2e

IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")

#: Top-level packages only the full container (or the API, or the worker) needs.
CONTAINER_ONLY = ("redis", "saq", "opentelemetry", "alembic", "openai", "groq", "google", "httpx", "uvicorn")
#: ... and what talking to the database needs.
DATABASE = ("sqlalchemy", "advanced_alchemy", "aiosqlite", "asyncpg", "litestar")


def imported_packages(result: CliResult) -> set[str]:
    modules = {m.group(1) for line in result.stderr.splitlines() if (m := IMPORT_LINE.match(line))}
    assert modules, "the import report is missing: was PYTHONPROFILEIMPORTTIME honoured?"
    return {module.partition(".")[0] for module in modules}


def run_profiled(run_cli: RunCli, *args: str) -> CliResult:
    result = run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.code == 0, result.stderr[-2000:]
    return result


@pytest.mark.parametrize("command", [["--help"], ["config", "show"], ["models"]])
def test_commands_that_read_no_database_import_no_adapter(run_cli: RunCli, command: list[str]) -> None:
    packages = imported_packages(run_profiled(run_cli, *command))

    assert "click" in packages  # the report does list third-party imports
    assert packages.isdisjoint(CONTAINER_ONLY + DATABASE), sorted(packages & {*CONTAINER_ONLY, *DATABASE})


def test_models_lists_the_catalog_without_building_the_container(run_cli: RunCli) -> None:
    result = run_profiled(run_cli, "models")

    assert "offline/echo *" in result.stdout
    assert "openai/gpt-4.1-mini" in result.stdout
    assert "src.infrastructure.container" not in result.stderr


def test_users_list_opens_the_database_and_nothing_else(
    run_cli: RunCli, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_cli("db", "upgrade").code == 0
    created = subprocess.run(
        [PARLEY, "users", "create", "--email", "ada@example.com", "--password-stdin"],
        env=cli_env,
        input="a long and unusual passphrase\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr

    result = run_profiled(run_cli, "users", "list")

    assert "ada@example.com" in result.stdout
    assert "1-1 of 1 users" in result.stdout
    packages = imported_packages(result)
    assert "sqlalchemy" in packages
    assert packages.isdisjoint(CONTAINER_ONLY), sorted(packages & set(CONTAINER_ONLY))
    assert "src.infrastructure.container" not in result.stderr
