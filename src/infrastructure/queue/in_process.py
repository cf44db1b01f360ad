"""The embedded job runner: the job catalogue run by asyncio tasks inside the API process.

Used when no Redis is configured, so ``make run`` needs no second process. Same semantics as the
SAQ workers: per-job timeouts, retries with exponential backoff, failed jobs kept (in memory, the
most recent ones), cron schedules from the catalogue.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.queue.catalog import JobCatalog
from src.infrastructure.tasks import cancel_and_wait, raise_if_cancelled

logger = get_logger("parley.jobs")


@dataclass(slots=True)
class QueuedJob:
    id: str
    name: str
    payload: Mapping[str, Any]
    dedupe_key: str | None
    attempts: int = 0
    error: str | None = None
    failed_at: datetime | None = None
    enqueued_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class InProcessTaskQueue:
    def __init__(self, catalog: JobCatalog, *, concurrency: int = 4, keep_failed: int = 100) -> None:
        self._catalog = catalog
        self._concurrency = concurrency
        self._pending: asyncio.Queue[QueuedJob] = asyncio.Queue()
        self._failed: deque[QueuedJob] = deque(maxlen=keep_failed)
        self._tasks: list[asyncio.Task[None]] = []
        self._delayed: set[asyncio.Task[None]] = set()
        self._running = 0
        self._unfinished = 0  # queued, running or waiting to retry
        self._all_done = asyncio.Event()
        self._all_done.set()
        self._none_running = asyncio.Event()
        self._none_running.set()
        self.completed = 0

    # -- TaskQueue port ---------------------------------------------------------------------
    async def enqueue(
        self,
        job_name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
    ) -> str:
        self._catalog.get(job_name)  # unknown names fail at the caller, not later in a worker
        job = QueuedJob(id=uuid.uuid4().hex, name=job_name, payload=dict(payload or {}), dedupe_key=dedupe_key)
        self._unfinished += 1
        self._all_done.clear()
        self._pending.put_nowait(job)
        METRICS.jobs_enqueued.labels(job_name).inc()
        return job.id

    async def depth(self) -> int:
        return self._pending.qsize() + len(self._delayed)

    # -- what the CLI and tests look at -----------------------------------------------------
    @property
    def failed(self) -> list[QueuedJob]:
        return list(self._failed)

    async def join(self) -> None:
        """Wait until every queued job has finished: succeeded, or failed after its last retry."""
        await self._all_done.wait()

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(self._work(), name=f"parley-job-{i}") for i in range(self._concurrency)]
        for spec in self._catalog.scheduled:
            self._tasks.append(
                asyncio.create_task(self._schedule(spec.name, spec.cron or ""), name=f"cron-{spec.name}")
            )
        logger.info("job_runner_started", runner="in_process", concurrency=self._concurrency)

    async def stop(self, grace_seconds: float = 2.0) -> None:
        if not self._tasks:
            return
        try:
            async with asyncio.timeout(grace_seconds):
                await self._none_running.wait()
        except TimeoutError:
            logger.warning("job_runner_stop_timeout", running=self._running)
        await cancel_and_wait(*self._tasks, *self._delayed)
        self._tasks.clear()
        self._delayed.clear()

    async def _schedule(self, name: str, cron: str) -> None:
        schedule = croniter(cron, datetime.now(UTC))
        while True:
            raise_if_cancelled()
            due: datetime = schedule.get_next(datetime)
            await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
            # The scheduled time is the dedupe key: a tick is never run twice.
            await self.enqueue(name, {}, dedupe_key=f"cron:{name}:{due.isoformat()}")

    async def _work(self) -> None:
        while True:
            raise_if_cancelled()
            job = await self._pending.get()
            self._running += 1
            self._none_running.clear()
            try:
                finished = await self._run(job)
            finally:
                self._running -= 1
                if not self._running:
                    self._none_running.set()
                self._pending.task_done()
            if finished:
                self._unfinished -= 1
                if not self._unfinished:
                    self._all_done.set()

    async def _run(self, job: QueuedJob) -> bool:
        """Run one attempt; ``False`` when the job will be tried again later."""
        spec = self._catalog.get(job.name)
        job.attempts += 1
        log = logger.bind(job=job.name, job_id=job.id, attempt=job.attempts)
        started = asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(spec.timeout_seconds):
                result = await self._catalog.run(job.name, job.payload, job.dedupe_key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            METRICS.job_duration.labels(job.name).observe(asyncio.get_running_loop().time() - started)
            job.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if job.attempts <= spec.retries:
                delay = min(spec.retry_delay_seconds * 2 ** (job.attempts - 1), spec.max_retry_delay_seconds)
                log.warning("job_retry", error=job.error, retry_in_s=delay)
                METRICS.jobs_finished.labels(job.name, "retried").inc()
                self._retry_later(job, delay)
                return False
            job.failed_at = datetime.now(UTC)
            self._failed.append(job)
            METRICS.jobs_finished.labels(job.name, "failed").inc()
            log.error("job_failed", error=job.error, exc_info=exc)
            return True
        elapsed = asyncio.get_running_loop().time() - started
        METRICS.job_duration.labels(job.name).observe(elapsed)
        METRICS.jobs_finished.labels(job.name, "succeeded").inc()
        self.completed += 1
        log.info("job_done", duration_ms=round(elapsed * 1000, 2), result=result)
        return True

    def _retry_later(self, job: QueuedJob, delay: float) -> None:
        async def later() -> None:
            await asyncio.sleep(delay)
            self._pending.put_nowait(job)

        task = asyncio.create_task(later())
        self._delayed.add(task)
        task.add_done_callback(self._delayed.discard)
