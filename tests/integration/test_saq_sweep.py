"""The SAQ sweep on a real Redis: stuck jobs are recovered, just-dequeued ones are left to run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from saq import Job
from saq.job import Status
from saq.utils import now

from src.infrastructure.queue.saq_queue import GracefulSweepRedisQueue, build_saq_queue

pytestmark = pytest.mark.redis


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[GracefulSweepRedisQueue]:
    queue = build_saq_queue(Redis.from_url(redis_url))
    assert isinstance(queue, GracefulSweepRedisQueue)
    await queue.connect()
    yield queue
    await queue.disconnect()


async def dequeued(queue: GracefulSweepRedisQueue, key: str) -> Job:
    """A job a worker has just taken: in the active list, not yet marked ACTIVE."""
    job = Job(function="work", key=key, retries=1, timeout=60)
    assert await queue.enqueue(job) is not None
    taken = await queue.dequeue(timeout=1)
    assert taken is not None
    assert taken.status == Status.QUEUED
    return taken


async def release_lock(queue: GracefulSweepRedisQueue) -> None:
    await queue.redis.delete(queue._sweep)  # the next sweep may run at once


async def test_a_just_dequeued_job_is_not_swept_at_the_first_sight(queue: GracefulSweepRedisQueue) -> None:
    job = await dequeued(queue, "fresh")
    assert await queue.sweep() == []
    stored = await queue.job("fresh")
    assert stored is not None
    assert stored.status == Status.QUEUED  # untouched: its worker is about to run it

    await queue.update(job, status=Status.ACTIVE, started=now())  # the worker got to it
    await release_lock(queue)
    assert await queue.sweep() == []


async def test_a_job_left_not_active_is_swept_at_the_next_sweep(queue: GracefulSweepRedisQueue) -> None:
    await dequeued(queue, "orphan")  # its worker died before marking it ACTIVE
    assert await queue.sweep() == []
    await release_lock(queue)
    assert await queue.sweep(abort=0.1) == ["saq:job:parley:orphan"]
    # Recovered: back in the queue for another worker, out of the active list.
    assert await queue.count("queued") == 1
    assert await queue.count("active") == 0


async def test_sweeps_run_once_per_lock_period_across_workers(queue: GracefulSweepRedisQueue) -> None:
    await dequeued(queue, "orphan")
    assert await queue.sweep() == []
    assert await queue.sweep() == []  # the lock is held: this sweep did nothing
    stored = await queue.job("orphan")
    assert stored is not None
    assert stored.status == Status.QUEUED
