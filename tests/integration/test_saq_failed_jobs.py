"""Failed SAQ jobs on a real Redis: kept, listed, retried; and the job metrics of both runners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest
from saq.job import Status

from src.infrastructure.container import Container, build_container
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.queue.catalog import JobSpec
from src.infrastructure.queue.saq_failed_jobs import SaqFailedJobs
from src.infrastructure.settings import Settings
from tests.conftest import SettingsFactory
from tests.integration.jobs_support import saq_worker, wait_until

pytestmark = pytest.mark.redis


class Flaky:
    """A job handler that fails while ``broken`` is set, and counts its attempts."""

    def __init__(self) -> None:
        self.broken = True
        self.attempts = 0
        self.succeeded = 0

    async def __call__(self, payload: Mapping[str, Any]) -> str:
        self.attempts += 1
        if self.broken:
            raise ValueError(f"cannot handle {payload.get('item')}")
        self.succeeded += 1
        return "done"


@pytest.fixture
def flaky() -> Flaky:
    return Flaky()


@pytest.fixture
def jobs(flaky: Flaky) -> list[JobSpec]:
    return [JobSpec("flaky", flaky, retries=1, retry_delay_seconds=0.01, max_retry_delay_seconds=0.02)]


@pytest.fixture
async def settings(make_settings: SettingsFactory, sqlite_url: str, redis_url: str) -> Settings:
    # A short shutdown: an idle SAQ worker waits out its grace period on its blocking dequeue.
    settings = make_settings(DATABASE_URL=sqlite_url, REDIS_URL=redis_url, SHUTDOWN_TIMEOUT="1")
    await asyncio.to_thread(Migrator(settings).upgrade)
    return settings


@pytest.fixture
async def api(settings: Settings, jobs: list[JobSpec]) -> AsyncIterator[Container]:
    container = build_container(settings, role="api", extra_jobs=jobs)
    await container.startup()
    yield container
    await container.shutdown()


def sample(name: str, **labels: str) -> float:
    return METRICS.registry.get_sample_value(name, labels) or 0.0


async def failed_keys(container: Container) -> list[str]:
    assert container.failed_jobs is not None
    return [job.key for job in await container.failed_jobs.list()]


async def test_a_job_that_fails_its_last_retry_is_listed_with_its_error(
    api: Container, settings: Settings, jobs: list[JobSpec], flaky: Flaky
) -> None:
    assert api.failed_jobs is not None
    failed_before = sample("parley_jobs_finished_total", job="flaky", outcome="failed")
    retried_before = sample("parley_jobs_finished_total", job="flaky", outcome="retried")
    enqueued_before = sample("parley_jobs_enqueued_total", job="flaky")

    key = await api.task_queue.enqueue("flaky", {"item": "parcel-7"}, dedupe_key="event-7")
    async with saq_worker(settings, jobs):
        await wait_until(lambda: _listed(api, key))

    (failed,) = await api.failed_jobs.list()
    assert failed.key == key == "flaky:event-7"
    assert failed.job_name == "flaky"
    assert failed.attempts == 2  # the first try and its one retry
    assert failed.error == "ValueError: cannot handle parcel-7"
    assert failed.failed_at is not None
    assert failed.payload == {"item": "parcel-7"}
    assert flaky.attempts == 2
    assert sample("parley_jobs_enqueued_total", job="flaky") == enqueued_before + 1
    assert sample("parley_jobs_finished_total", job="flaky", outcome="retried") == retried_before + 1
    assert sample("parley_jobs_finished_total", job="flaky", outcome="failed") == failed_before + 1


async def _listed(container: Container, key: str) -> bool:
    return key in await failed_keys(container)


async def test_a_retried_job_runs_again_with_all_its_attempts(
    api: Container, settings: Settings, jobs: list[JobSpec], flaky: Flaky
) -> None:
    assert api.failed_jobs is not None
    assert api.saq_queue is not None
    key = await api.task_queue.enqueue("flaky", {"item": "parcel-8"}, dedupe_key="event-8")
    async with saq_worker(settings, jobs):
        await wait_until(lambda: _listed(api, key))
    flaky.broken = False  # the cause is fixed; an operator retries

    retried = await api.failed_jobs.retry(key)

    assert retried is not None
    assert retried.key == key
    assert await failed_keys(api) == []
    queued = await api.saq_queue.job(key)
    assert queued is not None
    assert (queued.status, queued.attempts, queued.error) == (Status.QUEUED, 0, None)
    assert await api.task_queue.depth() == 1
    async with saq_worker(settings, jobs):
        await wait_until(lambda: flaky.succeeded == 1)
        await wait_until(lambda: _status_is(api, key, Status.COMPLETE))
    # The retry ran under the same key, so its dedupe receipt is the job's own.
    async with api.uow() as tx:
        assert await tx.job_receipts.exists("flaky", "event-8")


async def _status_is(container: Container, key: str, status: Status) -> bool:
    assert container.saq_queue is not None
    job = await container.saq_queue.job(key)
    return job is not None and job.status == status


async def test_retry_refuses_unknown_and_not_failed_jobs(api: Container) -> None:
    assert api.failed_jobs is not None
    assert await api.failed_jobs.retry("no-such-job") is None
    waiting = await api.task_queue.enqueue("flaky", {"item": "x"})  # queued, not failed
    assert await api.failed_jobs.retry(waiting) is None


async def test_the_list_of_failures_is_bounded_most_recent_first(
    api: Container, settings: Settings, jobs: list[JobSpec]
) -> None:
    assert api.saq_queue is not None
    keys = [await api.task_queue.enqueue("flaky", {"item": n}, dedupe_key=f"bulk-{n}") for n in range(5)]
    async with saq_worker(settings, jobs):
        await wait_until(lambda: _all_failed(api, keys))
        # The worker records a failure after SAQ marks the job failed: wait for the list itself.
        await wait_until(lambda: _all_listed(api, keys))
    # Recorded in the order they failed; a registry that keeps three keeps the last three.
    everything = await failed_keys(api)
    assert sorted(everything) == sorted(keys)
    small = SaqFailedJobs(api.saq_queue, keep=3)  # type: ignore[arg-type]
    job = await api.saq_queue.job(keys[0])
    assert job is not None
    await small.record(job)  # fails again: moves to the front, and only the three most recent stay
    others = [key for key in everything if key != keys[0]]
    assert [j.key for j in await small.list()] == [keys[0], *others[:2]]


async def _all_listed(container: Container, keys: list[str]) -> bool:
    return sorted(await failed_keys(container)) == sorted(keys)


async def _all_failed(container: Container, keys: list[str]) -> bool:
    assert container.saq_queue is not None
    found = await container.saq_queue.jobs(keys)
    return all(job is not None and job.status == Status.FAILED for job in found)
