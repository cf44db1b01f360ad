"""``SystemProbes``: the database's and Redis's round-trip time, and the state of background jobs."""

from __future__ import annotations

import asyncio
import time

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.admin.ports import DependencyLatency, JobsState
from src.application.shared.ports import Clock, TaskQueue, Transaction, UnitOfWorkFactory
from src.infrastructure.persistence.database import READ_ONLY_OPTIONS
from src.infrastructure.queue.in_process import InProcessTaskQueue
from src.infrastructure.queue.saq_failed_jobs import SaqFailedJobs


def _error(exc: BaseException) -> str:
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:200] if first else type(exc).__name__


class SqlSystemProbes:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        redis: Redis | None,
        uow: UnitOfWorkFactory[Transaction],
        queue: TaskQueue,
        queue_name: str,
        failed_jobs: SaqFailedJobs | None,
        in_process: InProcessTaskQueue | None,
        clock: Clock,
        timeout: float,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._uow = uow
        self._queue = queue
        self._queue_name = queue_name
        self._failed_jobs = failed_jobs
        self._in_process = in_process
        self._clock = clock
        self._timeout = timeout

    async def database(self) -> DependencyLatency:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout), self._engine.connect() as connection:
                connection = await connection.execution_options(**READ_ONLY_OPTIONS)
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - a status page reports a failure, it does not fail
            return DependencyLatency("database", "down", None, _error(exc))
        return DependencyLatency("database", "up", _ms_since(started))

    async def redis(self) -> DependencyLatency:
        if self._redis is None:
            return DependencyLatency("redis", "not_configured", None)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.ping()
        except Exception as exc:  # noqa: BLE001
            return DependencyLatency("redis", "down", None, _error(exc))
        return DependencyLatency("redis", "up", _ms_since(started))

    async def jobs(self) -> JobsState:
        async with self._uow(read_only=True) as tx:
            backlog = await tx.outbox.backlog()
        depth: int | None
        try:
            depth = await self._queue.depth()
        except Exception:  # noqa: BLE001 - the queue out of reach: jobs wait in the outbox meanwhile
            depth = None
        failed: int | None = None
        if self._in_process is not None:
            failed = len(self._in_process.failed)
        elif self._failed_jobs is not None:
            try:
                async with asyncio.timeout(self._timeout * 4):
                    failed = len(await self._failed_jobs.list(limit=self._failed_jobs.keep))
            except Exception:  # noqa: BLE001
                failed = None
        return JobsState(
            queue_depth={self._queue_name: depth},
            failed_jobs=failed,
            outbox_backlog=backlog.pending,
            outbox_oldest_age_seconds=round(backlog.oldest_age_seconds(self._clock.now()), 3),
        )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
