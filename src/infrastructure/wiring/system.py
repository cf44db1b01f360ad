"""Wiring of the platform's own use cases (readiness, pruning, jobs, the outbox relay) and of where
jobs run: SAQ on Redis when configured, else the in-process runner."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from saq.queue.redis import RedisQueue
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.shared.check_readiness import CheckReadiness
from src.application.shared.ports import Clock, HealthProbe, TaskQueue
from src.application.shared.prune_expired import PruneExpiredRecords
from src.application.shared.reconcile_outbox import ReconcileOutbox
from src.application.shared.relay_outbox import RelayOutbox
from src.application.shared.run_job_once import RunJobOnce
from src.application.unit_of_work import AppUnitOfWorkFactory, UnitOfWork
from src.infrastructure.health import DatabaseProbe, JobsProbe, RedisProbe
from src.infrastructure.persistence.migrator import ExpectedSchema
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.queue.catalog import JobCatalog
from src.infrastructure.queue.in_process import InProcessTaskQueue
from src.infrastructure.queue.outbox_relay import OutboxRelayLoop
from src.infrastructure.queue.saq_failed_jobs import SaqFailedJobs
from src.infrastructure.queue.saq_queue import SaqTaskQueue, build_saq_queue
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.adapters import redis_client


@dataclass(frozen=True, slots=True)
class SystemUseCases:
    check_readiness: CheckReadiness
    prune_expired: PruneExpiredRecords[UnitOfWork]
    run_job_once: RunJobOnce
    relay_outbox: RelayOutbox


@dataclass(frozen=True, slots=True)
class JobRunners:
    """Where jobs run (concrete: the container connects, starts and stops them)."""

    task_queue: TaskQueue
    #: With Redis: the SAQ queue, and its failed jobs (listable and retryable).
    saq_queue: RedisQueue | None
    failed_jobs: SaqFailedJobs | None
    #: Without Redis: the embedded runner.
    in_process: InProcessTaskQueue | None
    #: Moves committed outbox messages to ``task_queue``; runs in the API and in each worker.
    outbox_relay: OutboxRelayLoop
    relay_outbox: RelayOutbox


def build_job_runners(
    settings: Settings, *, role: str, uow: SqlAlchemyUnitOfWorkFactory, clock: Clock, catalog: JobCatalog
) -> JobRunners:
    """``uow`` is the SQLAlchemy factory: a commit that wrote outbox messages wakes the relay."""
    saq_queue: RedisQueue | None = None
    in_process: InProcessTaskQueue | None = None
    task_queue: TaskQueue
    if settings.redis.url:
        saq_queue = build_saq_queue(redis_client(settings, blocking=role == "worker"))
        task_queue = SaqTaskQueue(saq_queue, catalog, timeout=settings.redis.timeout)
    else:
        in_process = InProcessTaskQueue(catalog, concurrency=min(settings.jobs.worker_concurrency, 4))
        task_queue = in_process
    relay_outbox = RelayOutbox(uow, task_queue, clock)
    outbox_relay = OutboxRelayLoop(
        relay_outbox,
        clock,
        interval=settings.jobs.outbox_relay_interval,
        batch_size=settings.jobs.outbox_batch_size,
        reconcile=ReconcileOutbox(uow, task_queue, clock),
    )
    # Low latency without polling hard: a commit that wrote outbox messages wakes the relay.
    uow.on_outbox_commit(outbox_relay.wake)
    return JobRunners(
        task_queue=task_queue,
        saq_queue=saq_queue,
        failed_jobs=SaqFailedJobs(saq_queue) if saq_queue is not None else None,
        in_process=in_process,
        outbox_relay=outbox_relay,
        relay_outbox=relay_outbox,
    )


def build_system(
    *,
    engine: AsyncEngine,
    redis: Redis | None,
    uow: AppUnitOfWorkFactory,
    clock: Clock,
    runners: JobRunners,
    prune_expired: PruneExpiredRecords[UnitOfWork],
    run_job_once: RunJobOnce,
) -> SystemUseCases:
    """Readiness probes the database (and its schema), Redis when configured, and the jobs."""
    probes: list[HealthProbe] = [DatabaseProbe(engine, ExpectedSchema.from_migrations())]
    if redis is not None:
        probes.append(RedisProbe(redis))
    runner = "saq" if runners.saq_queue is not None else "in_process"
    probes.append(JobsProbe(uow, runners.task_queue, clock, runner=runner))
    return SystemUseCases(
        check_readiness=CheckReadiness(probes, clock),
        prune_expired=prune_expired,
        run_job_once=run_job_once,
        relay_outbox=runners.relay_outbox,
    )
