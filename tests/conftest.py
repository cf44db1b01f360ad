"""Fixtures shared by every test layer."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from src.infrastructure.settings import ObservabilitySettings, Settings, load_settings


def _redis_url_for_this_worker(base: str) -> str:
    """Each pytest-xdist worker flushes its own Redis database: gw0 uses the base one, gw1 the one below, ..."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return base
    head, _, database = base.rpartition("/")
    number = int(database or 0) - int(worker[2:])
    if number < 0:
        raise RuntimeError(f"TEST_REDIS_URL {base} leaves no Redis database for xdist worker {worker}")
    return f"{head}/{number}"


#: pytest-timeout (``timeout`` in pyproject.toml) fails a test that hangs by raising in the main thread
#: from SIGALRM. A main thread that never runs that handler (seen once on CI: a livelock inside
#: greenlet's cleanup of dead threads' states, under coverage's greenlet tracing) would hold the run
#: forever: past this many seconds, a watchdog thread prints every thread's stack and ends the worker,
#: so the run ends with that test failed (pytest-xdist reports the crashed worker and goes on).
HUNG_TEST_EXIT_SECONDS = float(os.environ.get("PARLEY_TEST_HUNG_EXIT_SECONDS", "1200"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    def give_up() -> None:
        import faulthandler
        import sys

        capture = item.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:  # the test's output is captured: write where the run's own goes
            capture.suspend_global_capture(in_=False)
        sys.stderr.write(f"\n{item.nodeid} still running after {HUNG_TEST_EXIT_SECONDS:g} s: ending this worker\n")
        faulthandler.dump_traceback(all_threads=True)
        sys.stderr.flush()
        os._exit(70)

    import threading

    watchdog = threading.Timer(HUNG_TEST_EXIT_SECONDS, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


#: Where the test suite finds its servers; `make test` makes sure they are up.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = _redis_url_for_this_worker(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
TEST_SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"

SettingsFactory = Callable[..., Settings]


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


@pytest.fixture
def make_settings(var_dir: Path) -> SettingsFactory:
    """Settings from a clean environment (nothing of the developer's leaks in)."""

    def build(**variables: Any) -> Settings:
        environ = {"APP_ENV": "test", "PARLEY_VAR_DIR": str(var_dir), "SECRET_KEY": TEST_SECRET_KEY}
        # No web app unless a test asks for one: a local `make web` build must not change API tests.
        environ["WEB_DIST_DIR"] = str(var_dir / "no-web-build")
        environ.update({k: str(v) for k, v in variables.items() if v is not None})
        for key in [k for k, v in variables.items() if v is None]:
            environ.pop(key, None)
        return load_settings(environ, env_file=None)

    return build


async def _admin(statement: str) -> None:
    import asyncpg

    url = make_url(TEST_DATABASE_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"parley_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(var_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(var_dir / 'test.db').as_posix()}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def settings(make_settings: SettingsFactory, database_url: str) -> Settings:
    return make_settings(DATABASE_URL=database_url)


@pytest.fixture
def migrated_settings(settings: Settings) -> Settings:
    """Settings whose database is migrated to head."""
    from src.infrastructure.persistence.migrator import Migrator

    Migrator(settings).upgrade()
    return settings


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, emptied before and after the test."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    try:
        yield TEST_REDIS_URL
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(autouse=True, scope="session")
def _structured_logging() -> None:
    """Route structlog through the standard library as the front doors do, so tests can read it."""
    from src.infrastructure.logging import configure_logging

    configure_logging(Settings(observability=ObservabilitySettings(log_format="console", log_level="INFO")))
