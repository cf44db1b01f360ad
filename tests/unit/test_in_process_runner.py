"""The embedded job runner: retries with backoff, timeouts, failed jobs kept, dedupe, clean stop."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from src.application.shared.run_job_once import RunJobOnce
from src.infrastructure.queue.catalog import JobCatalog, JobSpec
from src.infrastructure.queue.in_process import InProcessTaskQueue
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory


def catalog(*specs: JobSpec) -> JobCatalog:
    return JobCatalog(list(specs), run_once=RunJobOnce(FakeUnitOfWorkFactory(), FakeClock()))


async def test_jobs_run_in_the_background_with_their_payload() -> None:
    seen: list[Mapping[str, Any]] = []

    async def handler(payload: Mapping[str, Any]) -> None:
        seen.append(payload)

    runner = InProcessTaskQueue(catalog(JobSpec("record", handler)))
    await runner.start()
    try:
        await runner.enqueue("record", {"n": 1})
        await runner.enqueue("record", {"n": 2})
        await asyncio.wait_for(runner.join(), 2)
    finally:
        await runner.stop()
    assert sorted(p["n"] for p in seen) == [1, 2]
    assert runner.completed == 2
    assert await runner.depth() == 0


async def test_a_failing_job_is_retried_with_backoff_then_succeeds() -> None:
    attempts: list[float] = []

    async def flaky(_: Mapping[str, Any]) -> str:
        attempts.append(asyncio.get_running_loop().time())
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    runner = InProcessTaskQueue(catalog(JobSpec("flaky", flaky, retries=3, retry_delay_seconds=0.05)))
    await runner.start()
    try:
        await runner.enqueue("flaky")
        await asyncio.wait_for(runner.join(), 3)
    finally:
        await runner.stop()
    assert len(attempts) == 3
    assert attempts[2] - attempts[1] >= attempts[1] - attempts[0]  # exponential, not constant
    assert runner.failed == []


async def test_a_job_that_keeps_failing_is_kept_as_failed_with_its_error() -> None:
    async def broken(_: Mapping[str, Any]) -> None:
        raise ValueError("bad data")

    runner = InProcessTaskQueue(catalog(JobSpec("broken", broken, retries=1, retry_delay_seconds=0.01)))
    await runner.start()
    try:
        job_id = await runner.enqueue("broken", {"x": 1})
        await asyncio.wait_for(runner.join(), 2)
    finally:
        await runner.stop()
    (failed,) = runner.failed
    assert failed.id == job_id
    assert failed.attempts == 2
    assert failed.error == "ValueError: bad data"
    assert failed.payload == {"x": 1}


async def test_a_job_over_its_timeout_fails() -> None:
    async def slow(_: Mapping[str, Any]) -> None:
        await asyncio.sleep(10)

    runner = InProcessTaskQueue(catalog(JobSpec("slow", slow, timeout_seconds=0.05, retries=0)))
    await runner.start()
    try:
        await runner.enqueue("slow")
        await asyncio.wait_for(runner.join(), 2)
    finally:
        await runner.stop()
    assert [j.error for j in runner.failed] == ["TimeoutError"]


async def test_a_second_delivery_with_the_same_dedupe_key_is_skipped() -> None:
    runs: list[int] = []

    async def once(_: Mapping[str, Any]) -> None:
        runs.append(1)

    runner = InProcessTaskQueue(catalog(JobSpec("once", once)), concurrency=1)
    await runner.start()
    try:
        await runner.enqueue("once", dedupe_key="event-42")
        await runner.enqueue("once", dedupe_key="event-42")
        await asyncio.wait_for(runner.join(), 2)
    finally:
        await runner.stop()
    assert runs == [1]


async def test_unknown_jobs_are_refused_at_enqueue() -> None:
    runner = InProcessTaskQueue(catalog())
    with pytest.raises(KeyError, match="unknown job 'nope'"):
        await runner.enqueue("nope")


async def test_stop_cancels_a_job_that_overruns_the_grace_period() -> None:
    started = asyncio.Event()

    async def endless(_: Mapping[str, Any]) -> None:
        started.set()
        await asyncio.sleep(60)

    runner = InProcessTaskQueue(catalog(JobSpec("endless", endless, timeout_seconds=120)))
    await runner.start()
    await runner.enqueue("endless")
    await asyncio.wait_for(started.wait(), 2)
    loop = asyncio.get_running_loop()
    before = loop.time()
    await runner.stop(grace_seconds=0.1)
    assert loop.time() - before < 1.0


def test_job_names_are_unique() -> None:
    async def handler(_: Mapping[str, Any]) -> None:
        return None

    with pytest.raises(ValueError, match="unique"):
        catalog(JobSpec("a", handler), JobSpec("a", handler))
