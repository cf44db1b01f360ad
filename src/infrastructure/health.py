"""Readiness probes for the services Parley depends on."""

from __future__ import annotations

from collections.abc import Mapping

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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
