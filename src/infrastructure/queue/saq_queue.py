"""SAQ on Redis: the production job queue, shared by every API instance and worker."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from saq import Job, Queue
from saq.job import Status
from saq.queue.redis import RedisQueue

from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.queue.catalog import JobCatalog, JobSpec
from src.infrastructure.tasks import raise_if_cancelled

QUEUE_NAME = "parley"
#: A running job touches itself this often (``job_heartbeat``); one untouched for
#: ``JOB_HEARTBEAT_SECONDS`` belongs to a dead worker and is swept (retried elsewhere).
JOB_HEARTBEAT_SECONDS = 15
#: How often a worker sweeps (and the lock that makes it once per period across workers).
SWEEP_SECONDS = 10

logger = get_logger("parley.jobs")


def saq_job_options(spec: JobSpec) -> dict[str, Any]:
    """Timeout, retries and backoff of a catalogue entry, in SAQ's terms."""
    return {
        "timeout": max(1, math.ceil(spec.timeout_seconds)),
        # SAQ counts the first run as a try: `retries` here is the total number of attempts.
        "retries": spec.retries + 1,
        "retry_delay": spec.retry_delay_seconds,
        "retry_backoff": spec.max_retry_delay_seconds,
        "heartbeat": JOB_HEARTBEAT_SECONDS,
    }


async def job_heartbeat(job: Job) -> None:
    """Touch ``job`` every third of its heartbeat while it runs (cancel when it ends): a job whose
    worker was killed stops being touched and is swept after ``JOB_HEARTBEAT_SECONDS``, not after
    its whole timeout."""
    while True:
        raise_if_cancelled()
        await asyncio.sleep(max(job.heartbeat, 3) / 3)
        with contextlib.suppress(Exception):  # Redis away: the next beat tries again
            await job.update()


class GracefulSweepRedisQueue(RedisQueue):
    """SAQ's Redis queue with a sweep that leaves alone the jobs a worker has just dequeued.

    SAQ's own sweep aborts every job in the active list whose status is not ACTIVE. A worker moves
    a job to the active list first and marks it ACTIVE a moment later, so a sweep in between aborts
    a job that is about to run; it runs anyway and is then retried (twice at once) or marked aborted.
    That window is hit most when a worker starts on a backlog, since the first sweep runs at start:
    exactly after a Redis outage. Here a job that is not ACTIVE is swept only if the previous sweep
    saw it the same way; ACTIVE jobs past their timeout or heartbeat, and missing ones, go at once.

    The jobs found are swept side by side: each waits up to ``abort`` seconds for its (dead) worker to
    acknowledge the abort, so one at a time ten stuck jobs took 50 s to be retried.
    """

    def __init__(self, redis: Redis, **kwargs: Any) -> None:
        super().__init__(redis, **kwargs)
        self._suspects: set[bytes] = set()

    async def sweep(self, lock: int = SWEEP_SECONDS, abort: float = 5.0) -> list[str]:
        # One sweep per `lock` seconds across all workers, as in SAQ.
        if not await self.redis.set(self._sweep, 1, nx=True, ex=lock):
            return []
        ids = [i if isinstance(i, bytes) else i.encode() for i in await self.redis.lrange(self._active, 0, -1)]
        payloads = await self.redis.mget(ids) if ids else []
        swept: list[bytes] = []
        stuck: list[Job] = []
        suspects: set[bytes] = set()
        for job_id, payload in zip(ids, payloads, strict=True):
            job = self.deserialize(payload)
            if job is None:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, job_id.decode())
                    pipe.zrem(self._incomplete, job_id)
                    await pipe.execute()
                swept.append(job_id)
                continue
            if job.status == Status.ACTIVE and not job.stuck:
                continue
            if not job.stuck and job_id not in self._suspects:
                suspects.add(job_id)
                continue
            swept.append(job_id)
            stuck.append(job)
        self._suspects = suspects
        results = await asyncio.gather(*(self._recover(job, abort) for job in stuck), return_exceptions=True)
        for job, result in zip(stuck, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("job_sweep_failed", job=job.function, job_id=job.key, error=type(result).__name__)
        return [job_id.decode() for job_id in swept]

    async def _recover(self, job: Job, abort: float) -> None:
        logger.info("job_swept", job=job.function, job_id=job.key, status=str(job.status))
        await self.abort(job, error=self.swept_error_message)
        with contextlib.suppress(TimeoutError):
            await job.refresh(abort)
        if job.retryable:
            await self.retry(job, error=self.swept_error_message)
        else:
            await self.finish(job, Status.ABORTED, error=self.swept_error_message)


def build_saq_queue(client: Redis) -> RedisQueue:
    return GracefulSweepRedisQueue(client, name=QUEUE_NAME)


class SaqTaskQueue:
    """``timeout`` bounds each call, whatever the client's own socket timeouts (the worker's client
    has none, as it waits on the queue): a hung Redis never holds up the caller, or the outbox
    relay and the rows it has claimed."""

    def __init__(self, queue: Queue, catalog: JobCatalog, *, timeout: float | None = None) -> None:
        self._queue = queue
        self._catalog = catalog
        self._timeout = timeout

    @property
    def queue(self) -> Queue:
        return self._queue

    async def enqueue(
        self,
        job_name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
    ) -> str:
        spec = self._catalog.get(job_name)
        options = saq_job_options(spec)
        job = Job(function=job_name, kwargs={"payload": dict(payload or {}), "dedupe_key": dedupe_key}, **options)
        if dedupe_key:
            # SAQ refuses a second job with the same key while the first is queued or running.
            job.key = f"{job_name}:{dedupe_key}"
        async with asyncio.timeout(self._timeout):
            queued = await self._queue.enqueue(job)
        if queued is not None:  # None: the same key is already queued or running
            METRICS.jobs_enqueued.labels(job_name).inc()
        return (queued or job).key

    async def depth(self) -> int:
        async with asyncio.timeout(self._timeout):
            return int(await self._queue.count("queued"))
