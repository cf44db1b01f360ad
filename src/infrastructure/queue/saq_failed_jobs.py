"""Failed SAQ jobs: kept, listed and retried (``parley jobs failed``, ``parley jobs retry ID``).

SAQ keeps a finished job under its key only for the job's ``ttl`` (ten minutes) and has no index
of the failures. So when a job fails for the last time, the worker's ``after_process`` hook
(``SaqJobObserver``) records its key here, in a bounded Redis list, most recent first, and keeps
the job itself for ``retention``. A retry enqueues the same job again under the same key with a
fresh set of attempts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from saq import Job
from saq.job import Status
from saq.queue.redis import RedisQueue
from saq.types import Context

from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS

logger = get_logger("parley.jobs")

DEFAULT_KEEP = 1000
DEFAULT_RETENTION = timedelta(days=7)

_OUTCOMES = {
    Status.COMPLETE: "succeeded",
    Status.QUEUED: "retried",  # the attempt failed and SAQ queued the next one
    Status.FAILED: "failed",
    Status.ABORTED: "aborted",
}


@dataclass(frozen=True, slots=True)
class FailedJob:
    key: str
    job_name: str
    attempts: int
    #: The last line of the traceback: the exception and its message.
    error: str
    failed_at: datetime | None
    payload: dict[str, Any]


class SaqFailedJobs:
    def __init__(
        self,
        queue: RedisQueue,
        *,
        keep: int = DEFAULT_KEEP,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        self._queue = queue
        self._keep = keep
        self._retention_s = int(retention.total_seconds())
        self._index = queue.namespace("parley_failed")

    @property
    def keep(self) -> int:
        """How many failed jobs are kept at most (the oldest are forgotten)."""
        return self._keep

    async def record(self, job: Job) -> None:
        """Remember ``job`` (which has just failed for good) and keep it past SAQ's own ttl."""
        async with self._queue.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self._index, 0, job.key)
            pipe.lpush(self._index, job.key)
            pipe.ltrim(self._index, 0, self._keep - 1)
            pipe.expire(job.id, self._retention_s)
            await pipe.execute()

    async def list(self, limit: int = 50) -> list[FailedJob]:
        """The most recent failures first; jobs retried since, or expired, are left out (and forgotten)."""
        raw_keys = await self._queue.redis.lrange(self._index, 0, limit - 1)
        keys = [raw.decode() if isinstance(raw, bytes) else raw for raw in raw_keys]
        found: list[FailedJob] = []
        stale: list[str] = []
        for key, job in zip(keys, await self._queue.jobs(keys), strict=True):
            if job is None or job.status != Status.FAILED:
                stale.append(key)
            else:
                found.append(_describe(job))
        if stale:
            async with self._queue.redis.pipeline(transaction=False) as pipe:
                for key in stale:
                    pipe.lrem(self._index, 0, key)
                await pipe.execute()
        return found

    async def retry(self, key: str) -> FailedJob | None:
        """Queue the failed job ``key`` again, with all its attempts; ``None`` when no such failed job."""
        job = await self._queue.job(key)
        if job is None or job.status != Status.FAILED:
            return None
        failed = _describe(job)
        job.attempts = 0
        job.error = None
        job.result = None
        job.started = job.completed = job.scheduled = 0
        job.progress = 0.0
        if await self._queue.enqueue(job) is None:
            return None  # queued again meanwhile (another retry, or a new delivery of the same key)
        await self._queue.redis.lrem(self._index, 0, key)
        logger.info("job_retried", job=job.function, job_id=key)
        return failed


class SaqJobObserver:
    """SAQ worker hooks: job durations and outcomes as metrics, and failures recorded for retry."""

    def __init__(self, failed_jobs: SaqFailedJobs) -> None:
        self._failed_jobs = failed_jobs
        self._started: dict[str, float] = {}

    async def before_process(self, ctx: Context) -> None:
        job = ctx.get("job")
        if job is not None:
            self._started[job.key] = time.monotonic()

    async def after_process(self, ctx: Context) -> None:
        job = ctx.get("job")
        if job is None:
            return
        started = self._started.pop(job.key, None)
        if started is not None:
            METRICS.job_duration.labels(job.function).observe(time.monotonic() - started)
        outcome = _OUTCOMES.get(job.status)
        if outcome is not None:
            METRICS.jobs_finished.labels(job.function, outcome).inc()
        if job.status == Status.FAILED:
            await self._failed_jobs.record(job)
            logger.error(
                "job_failed", job=job.function, job_id=job.key, attempts=job.attempts, error=_last_line(job.error)
            )


def _describe(job: Job) -> FailedJob:
    kwargs = job.kwargs or {}
    return FailedJob(
        key=job.key,
        job_name=job.function,
        attempts=job.attempts,
        error=_last_line(job.error),
        failed_at=datetime.fromtimestamp(job.completed / 1000, UTC) if job.completed else None,
        payload=dict(kwargs.get("payload") or {}),
    )


def _last_line(error: str | None) -> str:
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "unknown error"
