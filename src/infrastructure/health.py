"""Readiness probes for the services Parley depends on."""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.shared.ports import Clock, TaskQueue, Transaction, UnitOfWorkFactory
from src.infrastructure.persistence.database import READ_ONLY_OPTIONS
from src.infrastructure.persistence.migrator import ExpectedSchema, current_revisions


class SchemaBehind(Exception):
    """The database misses migrations this code needs."""


class DatabaseProbe:
    name = "database"
    required = True

    def __init__(self, engine: AsyncEngine, expected: ExpectedSchema) -> None:
        self._engine = engine
        self._expected = expected

    async def check(self) -> Mapping[str, str | int | float | None]:
        async with self._engine.connect() as connection:
            connection = await connection.execution_options(**READ_ONLY_OPTIONS)
            await connection.execute(text("SELECT 1"))
            current = await current_revisions(connection)
        schema = self._expected.describe(current)
        if schema == "behind":
            # Serving on an old schema fails request after request: not ready until migrated.
            raise SchemaBehind("the database schema is behind this code: run `parley db upgrade`")
        pool = self._engine.pool
        details: dict[str, str | int | float | None] = {"backend": self._engine.dialect.name, "schema": schema}
        checked_out = getattr(pool, "checkedout", None)
        if callable(checked_out):
            details["pool_in_use"] = int(checked_out())
        return details


class RedisProbe:
    name = "redis"
    # Parley keeps serving without Redis (caches miss, limits go per-process, jobs wait in the
    # outbox), so Redis being down degrades readiness instead of failing it.
    required = False

    def __init__(self, client: Redis) -> None:
        self._client = client

    async def check(self) -> Mapping[str, str | int | float | None]:
        await self._client.ping()
        return {}


class JobsProbe:
    """Background jobs: what waits in the queue and in the outbox.

    Informational: it is down only when the outbox cannot be read (the database probe already
    says why), and a backlog, however large, never makes Parley unready by itself.
    """

    name = "jobs"
    required = False

    def __init__(self, uow: UnitOfWorkFactory[Transaction], queue: TaskQueue, clock: Clock, *, runner: str) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._runner = runner

    async def check(self) -> Mapping[str, str | int | float | None]:
        async with self._uow(read_only=True) as tx:
            backlog = await tx.outbox.backlog()
        details: dict[str, str | int | float | None] = {
            "runner": self._runner,
            "outbox_backlog": backlog.pending,
            "outbox_oldest_age_s": round(backlog.oldest_age_seconds(self._clock.now()), 3),
        }
        try:
            details["queue_depth"] = await self._queue.depth()
        except Exception as exc:  # noqa: BLE001 - the queue being out of reach is a detail here
            # Redis has its own component; jobs wait in the outbox meanwhile.
            details["queue_depth"] = None
            details["queue_error"] = type(exc).__name__
        return details
