"""SAQ on Redis: the production job queue, shared by every API instance and worker."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from saq import Job, Queue
from saq.queue.redis import RedisQueue

from src.infrastructure.queue.catalog import JobCatalog, JobSpec

QUEUE_NAME = "parley"


def saq_job_options(spec: JobSpec) -> dict[str, Any]:
    """Timeout, retries and backoff of a catalogue entry, in SAQ's terms."""
    return {
        "timeout": max(1, math.ceil(spec.timeout_seconds)),
        # SAQ counts the first run as a try: `retries` here is the total number of attempts.
        "retries": spec.retries + 1,
        "retry_delay": spec.retry_delay_seconds,
        "retry_backoff": spec.max_retry_delay_seconds,
    }


def build_saq_queue(client: Redis) -> Queue:
    return RedisQueue(client, name=QUEUE_NAME)


class SaqTaskQueue:
    def __init__(self, queue: Queue, catalog: JobCatalog) -> None:
        self._queue = queue
        self._catalog = catalog

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
        queued = await self._queue.enqueue(job)
        return (queued or job).key

    async def depth(self) -> int:
        return int(await self._queue.count("queued"))
