"""The database: one advanced-alchemy config per process, built from settings.

The API and the worker run on advanced-alchemy's ``SQLAlchemyAsyncConfig``
(``build_database_config``). A ``parley`` command opens the same engine, with the same options
and listeners, on SQLAlchemy alone (``build_engine_database``): importing advanced-alchemy
imports all of it (Litestar's DTOs and pydantic among it), several times what the command costs.

Postgres (asyncpg) with a sized pool in production; an SQLite file (aiosqlite, WAL, foreign keys
on) as the embedded default.

A pooled PostgreSQL connection is pinged before use only when it sat idle in the pool for more
than ``DB_POOL_PING_AFTER_SECONDS`` (``0``: before every use, SQLAlchemy's ``pool_pre_ping``). A
connection handed back a moment ago is alive unless the server went away in that moment, and
pinging it anyway is a round trip on every request (~7 % of the CPU of a busy API). When the server
does go away, the first statement on a dead connection fails (that one request errors), SQLAlchemy
sees a disconnect and invalidates the whole pool, so the other connections are replaced on their
next checkout instead of failing too. Statements slower than ``SLOW_QUERY_MS`` are logged with
their SQL text and duration, never their parameters.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from src.infrastructure.logging import get_logger
from src.infrastructure.settings import Settings

if TYPE_CHECKING:
    from advanced_alchemy.config import SQLAlchemyAsyncConfig

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: Execution options of a read-only transaction: deferred BEGIN on SQLite (no write lock, so
#: readers never wait for writers), READ ONLY on PostgreSQL (a write is refused).
READ_ONLY_OPTIONS: dict[str, Any] = {"parley_read_only": True, "postgresql_readonly": True}
VERSION_TABLE = "alembic_version"

logger = get_logger("parley.db")


def pgbouncer_connect_args() -> dict[str, Any]:
    """asyncpg behind PgBouncer in transaction pooling mode (``DB_PGBOUNCER=true``).

    Each transaction may run on a different server connection, so a statement prepared (and cached)
    on one is unknown on the next: asyncpg's statement cache and SQLAlchemy's prepared statement cache
    are turned off, and every statement asyncpg still prepares gets a unique name, so two clients
    sharing a server connection never collide on ``__asyncpg_stmt_1__``.
    """
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _unique_statement_name,
    }


def _unique_statement_name() -> str:
    return f"__parley_{uuid.uuid4().hex}__"


#: Every session's options (advanced-alchemy's ``AsyncSessionConfig`` and the CLI's alike).
SESSION_OPTIONS: dict[str, Any] = {"expire_on_commit": False, "autoflush": False}


class Database(Protocol):
    """What the unit of work and the containers use of a database: its engine and its sessions
    (``SQLAlchemyAsyncConfig`` and ``EngineDatabase`` both are one)."""

    def get_engine(self) -> AsyncEngine: ...

    def create_session_maker(self) -> Callable[[], AsyncSession]: ...


def engine_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``create_async_engine`` for ``DATABASE_URL`` (an SQLite file's
    folder is created on the way)."""
    url = make_url(settings.database.url)
    # Statement parameters (password hashes, key digests, e-mails, message text) never appear in an
    # error's text, so no log line or traceback can carry them.
    engine: dict[str, Any] = {"echo": False, "hide_parameters": True}
    if url.get_backend_name() == "postgresql":
        engine.update(
            pool_size=settings.database.pool_size,
            max_overflow=settings.database.max_overflow,
            pool_timeout=settings.database.pool_timeout,
            pool_pre_ping=settings.database.pool_ping_after <= 0,
            pool_recycle=1800,
            connect_args={
                "timeout": settings.database.pool_timeout,
                "server_settings": {"application_name": "parley"},
                **(pgbouncer_connect_args() if settings.database.pgbouncer else {}),
            },
        )
    else:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine.update(connect_args={"timeout": 30})
    return engine


def build_database_config(settings: Settings) -> SQLAlchemyAsyncConfig:
    """advanced-alchemy's config of the database (the API, the worker, migrations)."""
    from advanced_alchemy.config import AlembicAsyncConfig, AsyncSessionConfig, SQLAlchemyAsyncConfig
    from advanced_alchemy.config.engine import EngineConfig

    config = SQLAlchemyAsyncConfig(
        connection_string=settings.database.url,
        engine_config=EngineConfig(**engine_options(settings)),
        session_config=AsyncSessionConfig(**SESSION_OPTIONS),
        alembic_config=AlembicAsyncConfig(
            script_location=str(MIGRATIONS_DIR),
            script_config=str(MIGRATIONS_DIR / "alembic.ini"),
            version_table_name=VERSION_TABLE,
            compare_type=True,
            render_as_batch=True,
            # Render advanced-alchemy column types by their real module, not as `sa.GUID`.
            user_module_prefix="advanced_alchemy.types.",
        ),
        create_all=False,
    )
    _watch_engine(config.get_engine(), settings)
    return config


class EngineDatabase:
    """The database of ``build_database_config`` on SQLAlchemy alone, for a short-lived process:
    the same engine options and listeners, the same session options, JSON columns encoded as
    advanced-alchemy's default encoder does (msgspec, compact). advanced-alchemy's session
    listeners have nothing to do here: no model has a file column, sessions have no cache, and
    ``updated_at`` is also set by its column's ``onupdate`` (``orm.UUIDv7AuditBase``)."""

    def __init__(self, settings: Settings) -> None:
        import msgspec
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        self._engine = create_async_engine(
            settings.database.url,
            json_serializer=lambda value: msgspec.json.encode(value).decode(),
            json_deserializer=msgspec.json.decode,
            **engine_options(settings),
        )
        _watch_engine(self._engine, settings)
        self._sessions = async_sessionmaker(bind=self._engine, **SESSION_OPTIONS)

    def get_engine(self) -> AsyncEngine:
        return self._engine

    def create_session_maker(self) -> Callable[[], AsyncSession]:
        return self._sessions


def build_engine_database(settings: Settings) -> EngineDatabase:
    return EngineDatabase(settings)


def _watch_engine(engine: AsyncEngine, settings: Settings) -> None:
    instrument_engine(engine, slow_query_ms=settings.database.slow_query_ms)
    if settings.database.echo:
        keep_on_session(engine)  # DB_ECHO logs every statement: none runs past SQLAlchemy
    if engine.dialect.name == "postgresql" and settings.database.pool_ping_after > 0:
        ping_when_idle(engine, after_seconds=settings.database.pool_ping_after)


#: Where a pooled connection's record keeps when it was last handed back.
_IDLE_SINCE = "parley_idle_since"


def ping_when_idle(engine: AsyncEngine, *, after_seconds: float) -> None:
    """Ping a connection at checkout when it was idle in the pool for more than ``after_seconds``;
    a failed ping replaces it (the pool retries the checkout with a new connection)."""
    sync_engine = engine.sync_engine
    dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since <= after_seconds:
            return  # new, or handed back a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"the idle connection failed its ping: {type(error).__name__}") from error
        if alive is False:
            raise exc.DisconnectionError("the idle connection failed its ping")


def keep_on_session(engine: AsyncEngine) -> None:
    """Run every statement on ``engine`` through SQLAlchemy, where its events see them, rather than on
    the driver (``persistence/driver.py``): with tracing on (a span per statement) and with ``DB_ECHO``."""
    engine.sync_engine._parley_on_session = True  # type: ignore[attr-defined]


def kept_on_session(engine: Any) -> bool:
    """Whether ``keep_on_session`` was called for ``engine`` (an ``AsyncEngine`` or its sync engine)."""
    return bool(getattr(getattr(engine, "sync_engine", engine), "_parley_on_session", False))


def log_if_slow(engine: AsyncEngine | AsyncConnection, sql: str, elapsed: float) -> None:
    """The ``slow_query`` warning of a statement run on the driver itself (SQLAlchemy's own statements
    are timed by ``instrument_engine``'s listeners), without its parameters."""
    if elapsed >= getattr(engine.sync_engine, "_parley_slow_query_s", float("inf")):
        logger.warning("slow_query", duration_ms=round(elapsed * 1000, 2), sql=" ".join(sql.split())[:2000])


def instrument_engine(engine: AsyncEngine, *, slow_query_ms: int) -> None:
    sync_engine = engine.sync_engine
    if getattr(sync_engine, "_parley_instrumented", False):
        return
    sync_engine._parley_instrumented = True  # type: ignore[attr-defined]
    sync_engine._parley_slow_query_s = slow_query_ms / 1000  # type: ignore[attr-defined]

    if sync_engine.dialect.name == "sqlite":

        @event.listens_for(sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The sqlite3 driver's own transaction handling breaks savepoints (a RELEASE would
            # commit); turn it off and let SQLAlchemy's "begin" event below start transactions.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            # WAL lets readers and one writer work at once; busy_timeout waits instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            if connection.get_execution_options().get("parley_read_only"):
                connection.exec_driver_sql("BEGIN")
                return
            # IMMEDIATE takes the write lock up front: a transaction that reads and then writes
            # waits for busy_timeout instead of failing with SQLITE_BUSY half-way.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    threshold = slow_query_ms / 1000

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _start_timer(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        context._parley_started = time.perf_counter()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _log_slow(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        started = getattr(context, "_parley_started", None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        if elapsed >= threshold:
            # Parameters are deliberately left out: they can hold personal data and secrets.
            logger.warning("slow_query", duration_ms=round(elapsed * 1000, 2), sql=" ".join(statement.split())[:2000])
