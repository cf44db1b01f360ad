"""`parley` commands import only what they use: a guard on start-up cost that does not time anything.

Each command runs as a user would run it, with Python's import profiling on
(``PYTHONPROFILEIMPORTTIME``, the same as ``-X importtime``), and the modules it imported are read
from that report. Building the whole container imports Redis, SAQ, OpenTelemetry, Alembic, the
provider SDKs and the HTTP framework for ~2 s of CPU; a command builds only the parts it uses
(src/infrastructure/wiring/cli.py), so commands that need none of them must not pay for them.
No command that only talks to the database imports advanced-alchemy (which imports Litestar and
pydantic): they run on SQLAlchemy alone (src/infrastructure/persistence/orm.py, database.py).
Every command of ``parley`` is listed below in one of the groups; a new command must join one.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from src.interfaces.cli.main import cli
from tests.conftest import TEST_SECRET_KEY
from tests.e2e.conftest import PARLEY, CliResult, RunCli

pytestmark = pytest.mark.e2e

IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$")

#: Top-level packages only the full container (or the API, or the worker) needs.
CONTAINER_ONLY = ("redis", "saq", "opentelemetry", "alembic", "openai", "groq", "google", "httpx", "uvicorn")
#: What only the API's database config needs: importing any of advanced-alchemy imports all of it,
#: Litestar and pydantic with it. Commands open the same database on SQLAlchemy alone.
API_ONLY = ("advanced_alchemy", "litestar", "pydantic")
#: ... and what talking to the database needs.
DATABASE = ("sqlalchemy", "aiosqlite", "asyncpg", *API_ONLY)
#: structlog, and the Rich console it imports for tracebacks: set up with the first line logged
#: (``configure_logging_on_first_line``), so a command that logs nothing never imports them.
LOGGING = ("structlog", "rich")
#: The modules that build the whole application.
FULL_CONTAINER = "src.infrastructure.container"

ADA = "ada@example.com"
#: The user the commands that switch an account off and on act on (ADA stays active for the others).
BOB = "bob@example.com"
PASSWORD = "a long and unusual passphrase\n"
UNKNOWN_ID = str(uuid.UUID(int=1))


@dataclass(frozen=True)
class Case:
    """``parley *args`` exits ``code`` and imports none of ``forbidden``."""

    args: tuple[str, ...]
    forbidden: tuple[str, ...] = CONTAINER_ONLY + API_ONLY + LOGGING
    code: int = 0
    stdin: str = ""


#: Commands that read no database: no adapter at all.
NO_DATABASE = {
    "--help": Case(("--help",), CONTAINER_ONLY + DATABASE + LOGGING),
    "version": Case(("version",), CONTAINER_ONLY + DATABASE + LOGGING),
    "config show": Case(("config", "show"), CONTAINER_ONLY + DATABASE + LOGGING),
    "models": Case(("models",), CONTAINER_ONLY + DATABASE + LOGGING),
    # Without REDIS_URL these say so before building anything.
    "jobs failed": Case(("jobs", "failed"), CONTAINER_ONLY + DATABASE + LOGGING, code=2),
    "jobs retry": Case(("jobs", "retry", "some-job"), CONTAINER_ONLY + DATABASE + LOGGING, code=2),
    # The job table (queue/schedule.py), not the catalog of handlers the container builds.
    "jobs list": Case(("jobs", "list"), CONTAINER_ONLY + DATABASE + LOGGING),
}
#: Commands that run use cases on the database (and the adapters each of those needs).
ON_THE_DATABASE = {
    "users create": Case(("users", "create", "--email", "grace@example.com", "--password-stdin"), stdin=PASSWORD),
    "users list": Case(("users", "list")),
    "users set-role": Case(("users", "set-role", ADA, "admin")),
    "users set-tier": Case(("users", "set-tier", ADA, "pro")),
    "users deactivate": Case(("users", "deactivate", BOB)),
    "users activate": Case(("users", "activate", BOB)),
    "users reset-password": Case(("users", "reset-password", ADA, "--password-stdin"), stdin=PASSWORD),
    "users set-budget": Case(("users", "set-budget", ADA, "5")),
    "usage user": Case(("usage", ADA)),
    "usage report": Case(("usage", "report")),
    "conversations export": Case(("conversations", "export", UNKNOWN_ID), code=1),
    "paragraphs search": Case(("paragraphs", "search", "word")),
    "articles import": Case(("articles", "import", "articles", "--user", ADA)),
    "notifications broadcast": Case(("notifications", "broadcast", "--title", "Hello", "--body", "Everyone")),
    "mail list": Case(("mail", "list")),
    "mail show": Case(("mail", "show", UNKNOWN_ID), code=1),
    "audit tail": Case(("audit", "tail")),
    # The provider check loads the SDKs of configured providers only (here: the offline one).
    "providers check": Case(("providers", "check")),
    # These two talk to HTTP services (the offline stand-ins here), through httpx.
    "paragraphs fetch": Case(("paragraphs", "fetch"), tuple(p for p in CONTAINER_ONLY if p != "httpx") + API_ONLY),
    "dictionary": Case(("dictionary",), tuple(p for p in CONTAINER_ONLY if p != "httpx") + API_ONLY),
    # Migrations are Alembic's: nothing else of the container. Reading the database's revision
    # and comparing it with the models run no migration file (those import advanced-alchemy).
    "db current": Case(("db", "current"), tuple(p for p in CONTAINER_ONLY if p != "alembic") + API_ONLY),
    "db check": Case(("db", "check"), tuple(p for p in CONTAINER_ONLY if p != "alembic") + API_ONLY),
}
#: The same code path as a guarded command above (``db``'s migrator).
SAME_PATH_AS_GUARDED = {"db upgrade", "db downgrade", "db revision"}
#: Commands that need the whole application wired together (they build the full container), and
#: the front doors, which start the API or the worker.
WHOLE_APPLICATION = {
    "chat",
    "ai summarize",
    "ai classify",
    "ai moderate",
    "ai generate",
    "jobs run",
    "status",
    "serve",
    "worker",
}
GUARDED = {**NO_DATABASE, **ON_THE_DATABASE}


def every_command(group: click.Group, prefix: str = "") -> Iterator[str]:
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from every_command(command, f"{path} ")
        else:
            yield path


def test_every_command_is_in_one_group() -> None:
    commands = set(every_command(cli))
    listed = set(GUARDED) - {"--help"} | SAME_PATH_AS_GUARDED | WHOLE_APPLICATION

    assert commands - listed == set(), "a new command: add it to a group of tests/e2e/test_cli_imports.py"
    assert listed - commands == set()


def imported_modules(result: CliResult) -> set[str]:
    modules = {m.group(1) for line in result.stderr.splitlines() if (m := IMPORT_LINE.match(line))}
    assert modules, "the import report is missing: was PYTHONPROFILEIMPORTTIME honoured?"
    return modules


def packages_of(modules: set[str]) -> set[str]:
    return {module.partition(".")[0] for module in modules}


@dataclass
class World:
    env: dict[str, str]
    cwd: Path

    def run(self, *args: str, stdin: str = "", profiled: bool = True) -> CliResult:
        env = {**self.env, "PYTHONPROFILEIMPORTTIME": "1"} if profiled else self.env
        completed = subprocess.run(
            [PARLEY, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, cwd=self.cwd
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One migrated SQLite database with two users (and Markdown to import), for every command."""
    root = tmp_path_factory.mktemp("cli-imports")
    (root / "var").mkdir()
    (root / "articles").mkdir()
    (root / "articles" / "note.md").write_text("# A note\n\nSome words.\n")
    passed = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k in passed or k.startswith("COVERAGE_")}
    env |= {"APP_ENV": "test", "PARLEY_VAR_DIR": str(root / "var"), "SECRET_KEY": TEST_SECRET_KEY}
    env |= {"LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"}
    world = World(env, root)
    assert world.run("db", "upgrade", profiled=False).code == 0
    for email in (ADA, BOB):
        created = world.run("users", "create", "--email", email, "--password-stdin", stdin=PASSWORD, profiled=False)
        assert created.code == 0, created.stderr
    return world


@pytest.mark.parametrize("name", sorted(GUARDED))
def test_a_command_imports_only_what_it_uses(world: World, name: str) -> None:
    case = GUARDED[name]

    result = world.run(*case.args, stdin=case.stdin)

    assert result.code == case.code, result.stderr[-2000:]
    modules = imported_modules(result)
    packages = packages_of(modules)
    assert "click" in packages  # the report does list third-party imports
    assert packages.isdisjoint(case.forbidden), sorted(packages & set(case.forbidden))
    assert FULL_CONTAINER not in modules


#: Each context's tables and repositories (the usage tables are declared with chat's).
PERSISTENCE_OF = {
    context: (f"src.infrastructure.persistence.{stem}_models", f"src.infrastructure.persistence.{stem}_repositories")
    for context, stem in {
        "chat": "chat",
        "knowledge": "knowledge",
        "notifications": "notification",
        "admin": "admin",
    }.items()
}
#: The contexts whose tables a command reads: it loads their models and repositories and no others.
CONTEXTS_READ = {
    "users list": set(),
    "mail list": {"notifications"},
    "paragraphs search": {"knowledge"},
    "conversations export": {"chat"},
    "audit tail": {"admin"},
}


@pytest.mark.parametrize("name", sorted(CONTEXTS_READ))
def test_a_command_loads_the_tables_of_the_contexts_it_reads_and_no_others(world: World, name: str) -> None:
    case = GUARDED[name]

    result = world.run(*case.args, stdin=case.stdin)

    assert result.code == case.code, result.stderr[-2000:]
    modules = imported_modules(result)
    loaded = {context for context, parts in PERSISTENCE_OF.items() if modules & set(parts)}
    assert loaded == CONTEXTS_READ[name]
    # Settings read the chat context's defaults, not its grounding and injection-scanning code.
    assert "src.domain.chat.grounding" not in modules or "chat" in loaded


def test_models_lists_the_catalog_without_building_the_container(run_cli: RunCli) -> None:
    result = run_cli("models", env={"PYTHONPROFILEIMPORTTIME": "1"})

    assert result.code == 0, result.stderr[-2000:]
    assert "offline/echo *" in result.stdout
    assert "openai/gpt-4.1-mini" in result.stdout
    assert FULL_CONTAINER not in imported_modules(result)


def test_users_list_opens_the_database_and_nothing_else(world: World) -> None:
    result = world.run("users", "list")

    assert result.code == 0, result.stderr[-2000:]
    assert ADA in result.stdout
    packages = packages_of(imported_modules(result))
    assert "sqlalchemy" in packages
    assert packages.isdisjoint(CONTAINER_ONLY + API_ONLY), sorted(packages & {*CONTAINER_ONLY, *API_ONLY})
