"""Core statements run on the asyncpg connection itself, inside the unit of work's transaction.

Every chat reply runs about ten small statements (read the conversation, claim its reply lock, store
the user's message, read the context, finish the reply, charge it, release the lock). Through the
session each costs ~0.1 ms of CPU in SQLAlchemy (statement cache lookup, parameter processing,
cursor and result objects) on top of the driver's own work; the driver alone is about a third of
that. ``run`` compiles a Core statement once for the engine's dialect (the SQL with asyncpg's
``$n`` placeholders, the order of its parameters, their bind processors and the column defaults
SQLAlchemy would have computed in Python) and then executes it with asyncpg, in the same
transaction as everything else the session does: the transaction is begun first when the
statement is the unit of work's first. asyncpg prepares and caches the statement itself (or, with
``DB_PGBOUNCER``, does not: the cache size is 0 then).

On any other database (SQLite, the embedded default), and on an engine kept on the session
(``database.keep_on_session``: with tracing on, whose instrumentation spans what SQLAlchemy executes, and
with ``DB_ECHO``, which logs it), it is the session's ``execute``; both ways return ``Rows``. Driver
errors go through the same outage test (``outage.py``) as SQLAlchemy's; a statement slower than
``SLOW_QUERY_MS`` is logged, without its parameters, as the session's are.
"""

from __future__ import annotations

import time
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util.concurrency import greenlet_spawn

from src.infrastructure.persistence.database import kept_on_session, log_if_slow

#: The class of a driver result's rows for each list of column names a statement gives: a named tuple, read
#: by column name as attributes (as SQLAlchemy's rows are, in C: ~40 ns an attribute against ~400 through
#: a ``__getattr__`` fallback, ~10 us on a conversation's row) or by position.
_ROW_TYPES: dict[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] = {}


def _row_maker(record: Any) -> Callable[[Any], tuple[Any, ...]]:
    """What makes a row of ``record``'s statement out of each of its asyncpg records."""
    names = tuple(record.keys())
    maker = _ROW_TYPES.get(names)
    if maker is None:
        if len(_ROW_TYPES) >= _COMPILED_MAX:  # bounded as the compiled statements are
            _ROW_TYPES.clear()
        # ``rename``: a column whose name is no identifier (``?column?``) is still read by position.
        row_type: Any = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        maker = _ROW_TYPES[names] = row_type._make
    return maker


@dataclass(frozen=True, slots=True)
class Rows:
    """What a statement gave: its rows (none for a statement without ``RETURNING``) and how many rows
    it changed or returned."""

    rows: Sequence[Any]
    rowcount: int

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)

    def first(self) -> Any | None:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    returns_rows: bool
    #: (parameter name, its bind processor) in the order of the ``$n`` placeholders.
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    #: Values bound when the statement was built (``status == "generating"``): name -> value.
    literals: tuple[tuple[str, Any], ...]
    #: Columns whose value SQLAlchemy computes in Python when the caller gives none (``default=``
    #: on INSERT, ``onupdate=`` on UPDATE): name -> a function of nothing.
    prefetch: tuple[tuple[str, Callable[[], Any]], ...]


_COMPILED: dict[tuple[int, tuple[str, ...]], tuple[Executable, _Compiled]] = {}
#: Statements are built once, at import: more than this many compiled means some are built per call
#: (each would stay here for good): the cache starts over rather than grow.
_COMPILED_MAX = 512


#: ``session.info`` keys: whether the session's statements run on the driver (its dialect, or ``None``), and
#: the engine it was opened on. Read once per session: ``AsyncSession.bind`` rebuilds a map of its binds
#: after each change of bind (``_bind``), ~1.5 % of a chat reply's CPU when read for every statement.
_DIALECT_KEY = "parley.dialect"
_ENGINE_KEY = "parley.engine"


def _on_driver(session: AsyncSession) -> Dialect | None:
    """The dialect when ``session``'s statements may run on the driver (asyncpg, not kept on the session)."""
    info = session.info
    if _DIALECT_KEY in info:
        found: Dialect | None = info[_DIALECT_KEY]
        return found
    bind: Any = session.bind
    dialect: Dialect | None = None
    if bind is not None and bind.dialect.driver == "asyncpg" and not kept_on_session(bind):
        dialect = bind.dialect
    info[_DIALECT_KEY], info[_ENGINE_KEY] = dialect, bind
    return dialect


async def run(session: AsyncSession, statement: Executable, parameters: Mapping[str, Any]) -> Rows:
    """Execute ``statement`` (a Core statement built once, with bound parameters) with ``parameters``
    in ``session``'s transaction: on asyncpg's connection itself on PostgreSQL, through the session
    elsewhere."""
    dialect = _on_driver(session)
    if dialect is None:
        return _rows_of(await session.execute(statement, parameters))
    compiled = _compiled(statement, parameters, dialect)
    driver = await _driver_of(session)
    return await _on(_engine_of(session), driver, compiled, _arguments(compiled, parameters))


async def run_outside_transaction(engine: AsyncEngine, statement: Executable, parameters: Mapping[str, Any]) -> Rows:
    """Execute ``statement`` alone in autocommit on a pooled connection of ``engine``, with no session and
    no BEGIN/COMMIT round trips (a read before any transaction, as the gateway's budget check): on
    asyncpg's connection itself on PostgreSQL, through a SQLAlchemy connection elsewhere."""
    async with autocommit(engine) as connection:
        return await connection.run(statement, parameters)


class Autocommit:
    """A pooled connection of ``autocommit``: each statement ``run`` commits on its own."""

    __slots__ = ("_connection", "_driver", "_engine")

    def __init__(self, engine: AsyncEngine, driver: Any = None, connection: AsyncConnection | None = None) -> None:
        self._engine, self._driver, self._connection = engine, driver, connection

    async def run(self, statement: Executable, parameters: Mapping[str, Any]) -> Rows:
        if self._connection is not None:
            return _rows_of(await self._connection.execute(statement, parameters))
        compiled = _compiled(statement, parameters, self._engine.dialect)
        return await _on(self._engine, self._driver, compiled, _arguments(compiled, parameters))


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[Autocommit]:
    """One pooled connection of ``engine`` in autocommit for a few statements in a row (a chat send's
    reads and its write): checked out once (~70 us of CPU a checkout and checkin). On asyncpg's
    connection itself on PostgreSQL, through a SQLAlchemy connection elsewhere (and with tracing or
    ``DB_ECHO``, whose hooks see what SQLAlchemy executes)."""
    if engine.dialect.driver != "asyncpg" or kept_on_session(engine):
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
            yield Autocommit(engine, connection=connection)
        return
    # The pool's checkout (its idle ping included) and checkin as for any connection; outside a
    # transaction asyncpg is in autocommit.
    pooled = await engine.raw_connection()
    try:
        yield Autocommit(engine, driver=pooled.driver_connection)
    finally:
        await greenlet_spawn(pooled.close)


async def _on(timer: Any, driver: Any, compiled: _Compiled, arguments: list[Any]) -> Rows:
    """``compiled`` with ``arguments`` on the asyncpg connection ``driver``, logged when slow (by the
    threshold of ``timer``, the engine or connection it came from)."""
    started = time.perf_counter()
    if compiled.returns_rows:
        records = await driver.fetch(compiled.sql, *arguments)
        log_if_slow(timer, compiled.sql, time.perf_counter() - started)
        make = _row_maker(records[0]) if records else tuple
        return Rows([make(record) for record in records], len(records))
    status: str = await driver.execute(compiled.sql, *arguments)
    log_if_slow(timer, compiled.sql, time.perf_counter() - started)
    return Rows((), _count(status))


def _rows_of(result: Any) -> Rows:
    if result.returns_rows:
        rows = result.all()
        return Rows(rows, len(rows))
    return Rows((), int(getattr(result, "rowcount", 0) or 0))


async def run_many(session: AsyncSession, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Execute ``statement`` (without ``RETURNING``) once per parameter set of ``rows`` (an INSERT's
    rows share one key set), as ``run`` does: asyncpg's ``executemany`` on PostgreSQL."""
    if not rows:
        return
    if len(rows) == 1:
        await run(session, statement, rows[0])
        return
    dialect = _on_driver(session)
    if dialect is None:
        await session.execute(statement, list(rows))
        return
    compiled = _compiled(statement, rows[0], dialect)
    arguments = [_arguments(compiled, row) for row in rows]
    driver = await _driver_of(session)
    started = time.perf_counter()
    await driver.executemany(compiled.sql, arguments)
    log_if_slow(_engine_of(session), compiled.sql, time.perf_counter() - started)


def _arguments(compiled: _Compiled, parameters: Mapping[str, Any]) -> list[Any]:
    values = dict(compiled.literals)
    values.update(parameters)
    for name, compute in compiled.prefetch:
        if name not in values:
            values[name] = compute()
    return [values[name] if process is None else process(values[name]) for name, process in compiled.binds]


async def fetch_on_driver(session: AsyncSession, sql: str, *args: Any) -> list[Any]:
    """Run ``sql`` (asyncpg's ``$1`` placeholders) on the asyncpg connection under ``session``, in its
    transaction, and return asyncpg's records: PostgreSQL only, for statements written for it (the
    paragraph search's array parameters)."""
    driver = await _driver_of(session)
    started = time.perf_counter()
    records: list[Any] = await driver.fetch(sql, *args)
    log_if_slow(_engine_of(session), sql, time.perf_counter() - started)
    return records


#: Where ``session.info`` keeps the asyncpg connection of the session's current transaction (see ``_driver_of``).
_DRIVER_KEY = "parley.driver"
#: Set by ``connect_on_first_statement``: the session's first statement may check out its connection.
_LAZY_KEY = "parley.lazy"
#: The connection ``_bind`` checked out and bound the session to (``finish`` hands it back).
_BOUND_KEY = "parley.bound"


def connect_on_first_statement(session: AsyncSession) -> None:
    """Let a unit of work's ``session`` skip its own transaction when its first statement runs on the
    driver: that statement checks out a pooled connection, begins its transaction and binds the session to
    it (``_bind``), so that an ORM statement later joins that same transaction. A reply's two units of
    work run only driver statements: the session's transaction bookkeeping (its begin with a snapshot of
    the identity map, its commit, its close) was ~40 % of their CPU on the client side. The unit of work
    then ends the session with ``commit``, ``rollback`` and ``close`` here. Nothing changes where statements
    do not run on the driver (SQLite, tracing, ``DB_ECHO``)."""
    if _on_driver(session) is not None:
        session.info[_LAZY_KEY] = True


async def _driver_of(session: AsyncSession) -> Any:
    """The asyncpg connection of ``session``'s transaction, begun when it was not. Remembered for that
    transaction: a unit of work's later statements skip the connection lookup (~25 us each: a greenlet
    switch, the async proxies); a new transaction (after a commit or a rollback), or one SQLAlchemy
    ended, looks it up again."""
    found = session.info.get(_DRIVER_KEY)
    if found is not None:
        owner, adapted, driver = found
        current: Any = session.sync_session.get_transaction()
        if (adapted._transaction is not None or adapted.isolation_level == "autocommit") and (
            owner is None or (owner is current and current.is_active)
        ):
            return driver
    bound = session.info.get(_BOUND_KEY)
    if bound is None and session.info.get(_LAZY_KEY) and session.sync_session.get_transaction() is None:
        bound = await greenlet_spawn(_bind, session)
    if bound is not None:
        if not bound.in_transaction():  # after a commit or a rollback within the unit of work
            bound.begin()
        driver = await _started(bound.connection)
        session.info[_DRIVER_KEY] = (None, bound.connection.dbapi_connection, driver)
        return driver
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = await _started(raw)
    session.info[_DRIVER_KEY] = (session.sync_session.get_transaction(), raw.dbapi_connection, driver)
    return driver


def _engine_of(session: AsyncSession) -> Any:
    """What ``log_if_slow`` reads the threshold from: the engine the session was opened on."""
    engine = session.info.get(_ENGINE_KEY)
    return engine if engine is not None else session.bind


def _bind(session: AsyncSession) -> Connection:
    """(In a greenlet.) A pooled connection of the session's engine in a transaction, the session bound
    to it: an ORM statement joins that transaction and leaves its end to ``commit`` or ``rollback``
    (``rollback_only``: the session's own rollback ends it too)."""
    engine: Any = session.bind
    connection: Connection = engine.sync_engine.connect()
    try:
        connection.begin()
    except BaseException:
        connection.close()
        raise
    session.bind = AsyncConnection(engine, connection)
    session.sync_session.join_transaction_mode = "rollback_only"
    session.info[_BOUND_KEY] = connection
    return connection


async def _started(pooled: Any) -> Any:
    """The asyncpg connection under the pooled connection ``pooled``, its transaction begun (SQLAlchemy's
    asyncpg adapter begins it lazily, at the first statement it runs itself)."""
    adapted = pooled.dbapi_connection
    if adapted._transaction is None and adapted.isolation_level != "autocommit":
        await adapted._start_transaction()
    return pooled.driver_connection


async def commit(session: AsyncSession) -> None:
    """Commit a unit of work's ``session``: its pending ORM changes flushed, then its connection's
    transaction."""
    bound: Connection | None = session.info.get(_BOUND_KEY)
    if bound is None:
        await session.commit()
        return
    sync = session.sync_session
    if sync.get_transaction() is not None or sync.new or sync.dirty or sync.deleted:
        await session.commit()  # flushes; the transaction is the bound connection's (and ends just below)
    if bound.in_transaction():
        await greenlet_spawn(bound.commit)


async def rollback(session: AsyncSession) -> None:
    """Roll a unit of work's ``session`` back, its connection's transaction with it."""
    bound: Connection | None = session.info.get(_BOUND_KEY)
    if bound is None:
        await session.rollback()
        return
    if session.sync_session.get_transaction() is not None:
        await session.rollback()
    if bound.in_transaction():
        await greenlet_spawn(bound.rollback)


async def close(session: AsyncSession) -> None:
    """Close a unit of work's ``session`` and hand the connection it was bound to back to the pool (a
    transaction still open is rolled back)."""
    bound: Connection | None = session.info.pop(_BOUND_KEY, None)
    session.info.pop(_DRIVER_KEY, None)
    try:
        await session.close()
    finally:
        if bound is not None:
            await greenlet_spawn(bound.close)


def _count(status: str) -> int:
    """The row count of a command status (``UPDATE 1``, ``INSERT 0 1``, ``DELETE 3``)."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


def _compiled(statement: Executable, parameters: Mapping[str, Any], dialect: Dialect) -> _Compiled:
    # An INSERT without .values() takes its columns from the parameters: one compilation per key set.
    keys = tuple(sorted(parameters)) if getattr(statement, "is_insert", False) else ()
    key = (id(statement), keys)
    found = _COMPILED.get(key)
    if found is not None and found[0] is statement:
        return found[1]
    compiler = cast(ClauseElement, statement).compile(dialect=dialect, column_keys=list(keys) if keys else None)
    made = _compile(compiler, dialect)
    if len(_COMPILED) >= _COMPILED_MAX:
        _COMPILED.clear()
    _COMPILED[key] = (statement, made)
    return made


def _compile(compiler: Any, dialect: Dialect) -> _Compiled:
    assert isinstance(compiler, SQLCompiler)
    names = compiler.positiontup or []
    if any(compiler.binds[name].expanding for name in names):
        raise TypeError("statements with expanding IN parameters are not run on the driver")
    binds = tuple((name, compiler.binds[name].type._cached_bind_processor(dialect)) for name in names)
    prefetch = tuple((column.key, _default_of(column, "default")) for column in compiler.insert_prefetch) + tuple(
        (column.key, _default_of(column, "onupdate")) for column in compiler.update_prefetch
    )
    computed = {name for name, _ in prefetch}
    literals = tuple(
        (name, compiler.binds[name].effective_value)
        for name in names
        if name not in computed and not compiler.binds[name].required
    )
    return _Compiled(
        sql=compiler.string,
        returns_rows=bool(getattr(compiler.statement, "is_select", False) or compiler.effective_returning),
        binds=binds,
        literals=literals,
        prefetch=prefetch,
    )


def _default_of(column: Column[Any], which: str) -> Callable[[], Any]:
    default = getattr(column, which)
    if default is None or not (default.is_scalar or default.is_callable):
        raise TypeError(f"{column} has no Python-side {which} to compute")
    if default.is_scalar:
        value = default.arg
        return lambda: value
    function = default.arg
    return lambda: function(None)
