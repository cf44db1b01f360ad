"""The SAQ sweep on a real Redis: stuck jobs are recovered, just-dequeued ones are left to run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from saq import Job
from saq.job import Status
from saq.utils import now

from src.infrastructure.queue.saq_queue import (
    JOB_HEARTBEAT_SECONDS,
    GracefulSweepRedisQueue,
    build_saq_queue,
    job_heartbeat,
)

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


async def running(queue: GracefulSweepRedisQueue, key: str, *, touched_ago_ms: int) -> Job:
    """A job a worker took and runs (ACTIVE), last touched ``touched_ago_ms`` ago."""
    job = Job(function="work", key=key, retries=2, timeout=600, heartbeat=JOB_HEARTBEAT_SECONDS)
    assert await queue.enqueue(job) is not None
    taken = await queue.dequeue(timeout=1)
    assert taken is not None
    await queue.update(taken, status=Status.ACTIVE, started=now())
    stored = await queue.job(key)
    assert stored is not None
    stored.touched = now() - touched_ago_ms
    await queue.redis.set(stored.id, queue.serialize(stored))
    return taken


async def test_a_job_whose_worker_stopped_touching_it_is_swept_long_before_its_timeout(
    queue: GracefulSweepRedisQueue,
) -> None:
    await running(queue, "alive", touched_ago_ms=1_000)
    await running(queue, "dead", touched_ago_ms=(JOB_HEARTBEAT_SECONDS + 1) * 1000)
    assert await queue.sweep(abort=0.1) == ["saq:job:parley:dead"]
    assert await queue.count("queued") == 1  # retried for another worker
    alive = await queue.job("alive")
    assert alive is not None
    assert alive.status == Status.ACTIVE


class CountingSweeps(GracefulSweepRedisQueue):
    """The real queue, counting how many stuck jobs it recovers at the same time."""

    in_flight = 0
    most = 0

    async def _recover(self, job: Job, abort: float) -> None:
        CountingSweeps.in_flight += 1
        CountingSweeps.most = max(CountingSweeps.most, CountingSweeps.in_flight)
        try:
            await super()._recover(job, abort)
        finally:
            CountingSweeps.in_flight -= 1


async def test_the_stuck_jobs_of_a_killed_worker_are_swept_side_by_side(redis_url: str) -> None:
    queue = CountingSweeps(Redis.from_url(redis_url), name="parley")
    await queue.connect()
    try:
        for index in range(10):
            await running(queue, f"stuck{index}", touched_ago_ms=(JOB_HEARTBEAT_SECONDS + 1) * 1000)
        assert len(await queue.sweep(abort=0.2)) == 10
        assert CountingSweeps.most == 10  # all at once, not one after another (5 s each by default)
        assert await queue.count("queued") == 10
        assert await queue.count("active") == 0
    finally:
        await queue.disconnect()


async def test_a_running_job_keeps_itself_from_being_swept(queue: GracefulSweepRedisQueue) -> None:
    job = Job(function="work", key="busy", retries=1, timeout=600, heartbeat=3)
    assert await queue.enqueue(job) is not None
    taken = await queue.dequeue(timeout=1)
    assert taken is not None
    await queue.update(taken, status=Status.ACTIVE, started=now())
    before = taken.touched
    beat = asyncio.create_task(job_heartbeat(taken))
    try:
        async with asyncio.timeout(10):
            while (stored := await queue.job("busy")) is not None and stored.touched == before:
                await asyncio.sleep(0.1)
    finally:
        beat.cancel()
    assert stored is not None
    assert stored.touched > before
    assert stored.status == Status.ACTIVE  # a heartbeat never changes what the worker set
