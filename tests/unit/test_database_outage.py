"""Which database errors are an outage (503, try again) and which are bugs (500)."""

from __future__ import annotations

import sqlite3

import asyncpg.exceptions as pg
import pytest
from sqlalchemy import exc as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.sql import text

from src.infrastructure.persistence.outage import is_database_outage


def wrapped(error: BaseException, *, invalidated: bool = False) -> sa.DBAPIError:
    return sa.DBAPIError("SELECT 1", None, error, connection_invalidated=invalidated)


def test_a_lost_connection_is_an_outage() -> None:
    assert is_database_outage(wrapped(Exception("connection was closed"), invalidated=True))
    assert is_database_outage(wrapped(pg.ConnectionDoesNotExistError("gone")))
    assert is_database_outage(wrapped(pg.CannotConnectNowError("the database system is starting up")))
    assert is_database_outage(wrapped(pg.TooManyConnectionsError("too many clients")))
    assert is_database_outage(sa.TimeoutError("QueuePool limit reached"))
    assert is_database_outage(wrapped(sqlite3.OperationalError("database is locked")))


def test_bugs_and_bad_data_are_not_an_outage() -> None:
    assert not is_database_outage(sa.IntegrityError("INSERT", None, Exception("duplicate key")))
    assert not is_database_outage(wrapped(pg.UndefinedTableError("relation does not exist")))
    assert not is_database_outage(wrapped(sqlite3.OperationalError("no such table: user_account")))
    assert not is_database_outage(ValueError("a bug"))


def test_a_refused_connection_counts_only_when_the_driver_raised_it() -> None:
    # An OSError of Parley's own (a file store, an HTTP client) is not the database being down.
    assert not is_database_outage(ConnectionRefusedError("not the database"))


async def test_a_database_nobody_listens_on_is_an_outage() -> None:
    engine = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - whatever the driver raises
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert is_database_outage(raised.value)
