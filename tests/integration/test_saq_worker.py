"""SAQ on a real Redis: the API side enqueues, `parley worker`'s worker runs the catalogue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from saq.job import Status

from src.infrastructure.container import Container, build_container
from src.infrastructure.queue.schedule import PRUNE_EXPIRED
from src.infrastructure.settings import Settings
from src.interfaces.worker.main import build_worker, serve_worker
from tests.conftest import SettingsFactory

pytestmark = pytest.mark.redis


@pytest.fixture
async def redis_settings(make_settings: SettingsFactory, sqlite_url: str, redis_url: str) -> Settings:
    from src.infrastructure.persistence.migrator import Migrator

    settings = make_settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url)
    await asyncio.to_thread(Migrator(settings).upgrade)
    return settings


@pytest.fixture
async def api(redis_settings: Settings) -> AsyncIterator[Container]:
    container = build_container(redis_settings, role="api")
    await container.startup()
    yield container
    await container.shutdown()


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve_worker(settings, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def wait_for_status(container: Container, key: str, timeout: float = 10) -> Status:
    assert container.saq_queue is not None
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        job = await container.saq_queue.job(key)
        if job is not None and job.status in (Status.COMPLETE, Status.FAILED, Status.ABORTED):
            return job.status
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {key} did not finish within {timeout} s")


async def test_the_api_uses_saq_when_redis_is_configured(api: Container) -> None:
    assert api.saq_queue is not None
    assert api.in_process_runner is None
    assert await api.task_queue.depth() == 0


async def test_a_job_enqueued_by_the_api_runs_on_the_worker_exactly_once(
    api: Container, redis_settings: Settings
) -> None:
    key = await api.task_queue.enqueue(PRUNE_EXPIRED, {"batch_size": 50}, dedupe_key="event-1")
    assert await api.task_queue.depth() == 1  # waiting: no worker yet

    async with running_worker(redis_settings):
        assert await wait_for_status(api, key) == Status.COMPLETE

    assert await api.task_queue.depth() == 0
    async with api.uow() as tx:
        assert await tx.job_receipts.exists(PRUNE_EXPIRED, "event-1")

    # A second delivery of the same event is recognised and does no work.
    assert api.saq_queue is not None
    result = await api.jobs.run(PRUNE_EXPIRED, {}, "event-1")
    assert result == {"skipped": "already_done", "dedupe_key": "event-1"}


async def test_the_worker_registers_every_job_and_every_schedule(redis_settings: Settings) -> None:
    container = build_container(redis_settings, role="worker")
    try:
        worker = build_worker(container)
        assert set(worker.functions) == {spec.name for spec in container.jobs}
        assert {job.cron for job in worker.cron_jobs} == {spec.cron for spec in container.jobs.scheduled}
    finally:
        await container.shutdown()


async def test_enqueue_refuses_unknown_jobs(api: Container) -> None:
    with pytest.raises(KeyError, match="unknown job"):
        await api.task_queue.enqueue("no_such_job")
