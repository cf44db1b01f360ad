"""The `parley` console script, run as a user would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.e2e.conftest import PARLEY, RunCli

pytestmark = pytest.mark.e2e

SOURCE = Path(__file__).parents[2] / "src"
MIGRATIONS = SOURCE / "infrastructure/persistence/migrations/versions"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["worker"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
        ["db", "revision"],
        ["db", "check"],
        ["config"],
        ["config", "show"],
        ["jobs"],
        ["jobs", "list"],
        ["jobs", "run"],
        ["jobs", "failed"],
        ["jobs", "retry"],
        ["version"],
    ],
)
def test_every_command_has_help(run_cli: RunCli, command: list[str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0, result.stderr
    assert "Usage: parley" in result.stdout


def test_version(run_cli: RunCli) -> None:
    result = run_cli("version")
    assert result.code == 0
    assert re.fullmatch(r"parley \d+\.\d+\.\d+.*\n", result.stdout)


def test_config_show_masks_secrets(run_cli: RunCli) -> None:
    result = run_cli("config", "show", env={"DATABASE_URL": "postgresql+asyncpg://parley:hunter2@db:5432/parley"})
    assert result.code == 0, result.stderr
    assert "SECRET_KEY" in result.stdout
    assert TEST_SECRET_KEY not in result.stdout
    assert "hunter2" not in result.stdout
    assert "postgresql+asyncpg://parley:****@db:5432/parley" in result.stdout

    as_json = run_cli("config", "show", "--json")
    shown = json.loads(as_json.stdout)
    assert shown["SECRET_KEY"] == "****"
    assert shown["PORT"] == "8000"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "eighty", "configuration error: PORT must be a whole number, got 'eighty'"),
        ("REDIS_URL", "redis://host:port", "configuration error: REDIS_URL is not a valid URL"),
        ("SECRET_KEY", "", None),
    ],
)
def test_bad_configuration_is_one_line_and_exit_2(
    run_cli: RunCli, variable: str, value: str, message: str | None
) -> None:
    env = {variable: value}
    if message is None:  # a missing secret in production
        env["APP_ENV"] = "production"
        message = "configuration error: SECRET_KEY is required in production"
    result = run_cli("config", "show", env=env)
    assert result.code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [("serve",), ("worker",), ("users", "list")])
def test_a_weak_admin_password_is_one_line_naming_it_and_exit_2(run_cli: RunCli, command: tuple[str, ...]) -> None:
    result = run_cli(*command, env={"ADMIN_EMAIL": "root@example.com", "ADMIN_PASSWORD": "password123"}, timeout=30)
    assert result.code == 2, result.stderr
    assert result.stderr.startswith("configuration error: ADMIN_PASSWORD is refused by the password policy")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "password123" not in result.stderr


def test_config_show_masks_every_url(run_cli: RunCli) -> None:
    result = run_cli(
        "config",
        "show",
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel:otelpass@collector.example:4318",
            "PARAGRAPH_SOURCE_URL": "https://source.example/p?token=paratoken",
            "DICTIONARY_API_URL": "https://dict.example/api?apikey=dictkey123&format=json",
        },
    )
    assert result.code == 0, result.stderr
    for secret in ("otelpass", "paratoken", "dictkey123"):
        assert secret not in result.stdout
    assert "https://dict.example/api?apikey=****&format=json" in result.stdout


def test_db_upgrade_current_downgrade(run_cli: RunCli, var_dir: Path) -> None:
    before = run_cli("db", "current")
    assert before.code == 0, before.stderr
    assert "none (empty database)" in before.stdout
    assert "behind" in before.stdout

    up = run_cli("db", "upgrade")
    assert up.code == 0, up.stderr
    assert "database upgraded to head" in up.stdout
    assert (var_dir / "parley.db").exists()

    current = run_cli("db", "current")
    assert "up to date" in current.stdout

    check = run_cli("db", "check")
    assert check.code == 0, check.stderr
    assert "models and database agree" in check.stdout

    down = run_cli("db", "downgrade", "base")
    assert down.code == 0, down.stderr
    assert "none (empty database)" in run_cli("db", "current").stdout


def test_db_upgrade_sql_prints_the_migration_without_running_it(run_cli: RunCli, var_dir: Path) -> None:
    result = run_cli("db", "upgrade", "--sql")
    assert result.code == 0, result.stderr
    assert "CREATE TABLE job_receipt" in result.stdout
    assert "none (empty database)" in run_cli("db", "current").stdout


def test_db_revision_writes_a_migration_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    # Run on a copy of the source tree: a revision written into the repository's own migrations
    # would be the head for every other test's `db upgrade` running meanwhile (a database upgraded to
    # it is left at a revision no one can locate once the file is gone).
    root = tmp_path / "tree"
    shutil.copytree(SOURCE, root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    versions = root / MIGRATIONS.relative_to(SOURCE.parent)
    own = {**cli_env, "PYTHONPATH": str(root)}  # ahead of the editable install's path
    own = {key: value for key, value in own.items() if not key.startswith("COVERAGE_")}  # not ours to measure

    def parley(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PARLEY, *args], env=own, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    assert parley("db", "upgrade").returncode == 0
    before = set(versions.glob("*.py"))
    ours = set(MIGRATIONS.glob("*.py"))
    result = parley("db", "revision", "-m", "e2e probe revision", "--empty")
    assert result.returncode == 0, result.stderr
    written = set(versions.glob("*.py")) - before
    assert len(written) == 1
    (path,) = written
    assert f"wrote {path}" in result.stdout
    assert "e2e probe revision" in path.read_text()
    assert set(MIGRATIONS.glob("*.py")) == ours  # the repository's migrations are untouched


def test_db_commands_report_an_unreachable_database_in_one_line(run_cli: RunCli) -> None:
    result = run_cli("db", "upgrade", env={"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:9/parley"})
    assert result.code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ")
    assert "Traceback" not in result.stderr


def test_worker_without_redis_explains_itself(run_cli: RunCli) -> None:
    result = run_cli("worker")
    assert result.code == 2
    assert "REDIS_URL is not set" in result.stderr


def test_jobs_list_and_run(run_cli: RunCli) -> None:
    assert run_cli("db", "upgrade").code == 0
    listed = run_cli("jobs", "list")
    assert listed.code == 0
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert "*/10 * * * *" in lines["prune_expired"]
    assert "deletes expired rows" in lines["prune_expired"]
    assert "when queued" in lines["title_conversation"]
    assert "timeout 900s, 6 retries" in lines["dispatch_event"]

    ran = run_cli("jobs", "run", "prune_expired")
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "job": "prune_expired",
        "result": {"job_receipts": 0, "outbox_messages": 0, "refresh_tokens": 0},
    }


def test_jobs_run_rejects_unknown_jobs_and_bad_payloads(run_cli: RunCli) -> None:
    unknown = run_cli("jobs", "run", "nope")
    assert unknown.code == 2
    assert "unknown job 'nope'" in unknown.stderr
    bad = run_cli("jobs", "run", "prune_expired", "--payload", "{not json")
    assert bad.code == 2
    assert "--payload is not valid JSON" in bad.stderr


def test_serve_rejects_reload_with_workers(run_cli: RunCli) -> None:
    result = run_cli("serve", "--reload", "--workers", "2")
    assert result.code == 2
    assert "--reload and --workers cannot be combined" in result.stderr
