"""Telling a database outage from a bug, so front doors answer 503 (try again) rather than 500.

A request that cannot reach the database (server down or restarting, connection refused or cut,
pool exhausted) is not Parley's bug: the client should retry after a moment, and the front door
says so (503 ``service_unavailable`` with ``Retry-After``, or the WebSocket ``error`` frame with
``retry_after``). Everything else the database raises (a constraint, a bad query) stays a 500.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import asyncpg.exceptions as pg
from sqlalchemy import exc as sa

#: What front doors tell clients to wait before trying again.
DATABASE_RETRY_AFTER_SECONDS = 5

# Driver errors that mean "no usable connection": connection failures (SQLSTATE class 08), the
# server shutting down or starting up (57P01-57P03), too many connections (53300), a connection
# the driver already lost.
_PG_OUTAGES: tuple[type[BaseException], ...] = (
    pg.PostgresConnectionError,
    pg.CannotConnectNowError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    pg.TooManyConnectionsError,
    pg.ConnectionDoesNotExistError,
    pg.InterfaceError,
)
_DRIVER_MODULES = ("sqlalchemy.", "asyncpg.", "aiosqlite.", "advanced_alchemy.")


def is_database_outage(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the database could not be reached."""
    for cause in _causes(error):
        if isinstance(cause, sa.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, sa.TimeoutError):  # no pooled connection came free in DB_POOL_TIMEOUT
            return True
        if isinstance(cause, _PG_OUTAGES):
            return True
        if isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause):
            return True
        # asyncpg raises plain OSErrors (connection refused, reset, unreachable host) while it
        # connects; only count those the database driver raised.
        if isinstance(cause, OSError) and _raised_by_driver(cause):
            return True
    return False


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 10:
        seen.add(id(current))
        yield current
        original = getattr(current, "orig", None)
        if isinstance(original, BaseException) and id(original) not in seen:
            yield original
            seen.add(id(original))
        current = current.__cause__ or current.__context__


def _raised_by_driver(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        module = str(traceback.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(_DRIVER_MODULES):
            return True
        traceback = traceback.tb_next
    return False
