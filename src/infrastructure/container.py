"""The composition root: from settings, build every adapter and use case, once per process.

Every front door (HTTP, CLI, worker) builds a ``Container`` and nothing else constructs adapters.
Services that are not configured fall back to their embedded defaults: SQLite for the database,
and the in-process job runner when there is no Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Literal

from advanced_alchemy.config import SQLAlchemyAsyncConfig
from opentelemetry.sdk.trace import TracerProvider
from redis.asyncio import Redis
from saq import Queue

from src.application.shared.check_readiness import CheckReadiness
from src.application.shared.ports import HealthProbe, TaskQueue
from src.application.shared.prune_expired import PruneExpiredRecords
from src.application.shared.run_job_once import RunJobOnce
from src.infrastructure.clock import SystemClock
from src.infrastructure.health import DatabaseProbe, RedisProbe
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.observability.tracing import JobTracer, build_tracer_provider, instrument_database
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.migrator import ExpectedSchema
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.queue.catalog import JobCatalog, build_job_catalog
from src.infrastructure.queue.in_process import InProcessTaskQueue
from src.infrastructure.queue.saq_queue import SaqTaskQueue, build_saq_queue
from src.infrastructure.settings import Settings

logger = get_logger("parley.container")

Role = Literal["api", "worker", "cli"]


@dataclass(slots=True)
class UseCases:
    check_readiness: CheckReadiness
    prune_expired: PruneExpiredRecords
    run_job_once: RunJobOnce


@dataclass(slots=True)
class Container:
    settings: Settings
    role: Role
    clock: SystemClock
    database: SQLAlchemyAsyncConfig
    uow: SqlAlchemyUnitOfWorkFactory
    redis: Redis | None
    jobs: JobCatalog
    task_queue: TaskQueue
    use_cases: UseCases
    saq_queue: Queue | None = None
    in_process_runner: InProcessTaskQueue | None = None
    tracer_provider: TracerProvider | None = None
    _started: bool = field(default=False, init=False)

    def refresh_gauges(self) -> None:
        """Bring point-in-time gauges up to date just before metrics are read."""
        checked_out = getattr(self.database.get_engine().pool, "checkedout", None)
        if callable(checked_out):
            METRICS.db_pool_in_use.set(checked_out())

    async def startup(self) -> None:
        """Open what needs opening; called by each front door's lifespan."""
        if self._started:
            return
        if self.saq_queue is not None:
            await self.saq_queue.connect()
        # Workers run jobs through SAQ; only the API (and CLI) use the embedded runner.
        if self.in_process_runner is not None and self.role == "api":
            await self.in_process_runner.start()
        self._started = True
        logger.info(
            "container_started",
            role=self.role,
            database=self.settings.database_backend,
            redis=self.redis is not None,
            jobs="saq" if self.saq_queue is not None else "in_process",
        )

    async def shutdown(self) -> None:
        """Close everything in reverse order; one failing close never skips the others."""
        if self.in_process_runner is not None:
            await _close_quietly("job_runner", self.in_process_runner.stop(self.settings.shutdown_timeout / 2))
        if self.saq_queue is not None:
            await _close_quietly("saq_queue", self.saq_queue.disconnect())
        if self.redis is not None:
            await _close_quietly("redis", self.redis.aclose())
        await _close_quietly("database", self.database.get_engine().dispose())
        if self.tracer_provider is not None:
            # Flush spans still buffered; the exporter has its own short timeout.
            await _close_quietly("tracing", asyncio.to_thread(self.tracer_provider.shutdown))
        self._started = False


async def _close_quietly(name: str, closing: Awaitable[object]) -> None:
    try:
        await closing
    except Exception as exc:  # noqa: BLE001 - shutting down: note it and close the rest
        logger.warning("close_failed", resource=name, error=f"{type(exc).__name__}: {exc}")


def redis_client(settings: Settings, *, blocking: bool = False) -> Redis:
    """A Redis client with short timeouts, so a slow or absent Redis never hangs a request.

    ``blocking`` clients (the SAQ worker's, which waits on the queue) keep a short connect timeout
    but no read timeout.
    """
    assert settings.redis_url is not None
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=None if blocking else settings.redis_timeout,
        socket_connect_timeout=settings.redis_timeout,
        health_check_interval=30,
    )


def build_container(settings: Settings, *, role: Role = "api") -> Container:
    clock = SystemClock()
    database = build_database_config(settings)
    uow = SqlAlchemyUnitOfWorkFactory(database.create_session_maker())

    redis = redis_client(settings) if settings.redis_url else None

    run_once = RunJobOnce(uow, clock)
    prune_expired = PruneExpiredRecords(uow, clock)
    tracer_provider = build_tracer_provider(settings, role=role)
    if tracer_provider is not None:
        instrument_database(database.get_engine(), tracer_provider)
    catalog = build_job_catalog(prune_expired=prune_expired, run_once=run_once, tracer=JobTracer(tracer_provider))

    probes: list[HealthProbe] = [DatabaseProbe(database.get_engine(), ExpectedSchema.from_migrations())]
    if redis is not None:
        probes.append(RedisProbe(redis))

    saq_queue: Queue | None = None
    in_process: InProcessTaskQueue | None = None
    task_queue: TaskQueue
    if settings.redis_url:
        saq_queue = build_saq_queue(redis_client(settings, blocking=role == "worker"))
        task_queue = SaqTaskQueue(saq_queue, catalog)
    else:
        in_process = InProcessTaskQueue(catalog, concurrency=min(settings.worker_concurrency, 4))
        task_queue = in_process

    return Container(
        settings=settings,
        role=role,
        clock=clock,
        database=database,
        uow=uow,
        redis=redis,
        jobs=catalog,
        task_queue=task_queue,
        use_cases=UseCases(
            check_readiness=CheckReadiness(probes, clock),
            prune_expired=prune_expired,
            run_job_once=run_once,
        ),
        saq_queue=saq_queue,
        in_process_runner=in_process,
        tracer_provider=tracer_provider,
    )
