"""The relay loop around RelayOutbox, and the job metrics of the in-process runner (fakes, no I/O)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from src.application.shared.relay_outbox import RelayOutbox
from src.application.shared.run_job_once import RunJobOnce
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.queue.catalog import JobCatalog, JobSpec
from src.infrastructure.queue.in_process import InProcessTaskQueue
from src.infrastructure.queue.outbox_relay import OutboxRelayLoop
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory, InMemoryUnitOfWork, RecordingTaskQueue
from tests.logs import capture_logs


def relay_events(logs: Any) -> list[str]:
    return [
        e["event"] for e in logs.events() if str(e["event"]).startswith("outbox_relay_") and "started" not in e["event"]
    ]


def gauge(name: str) -> float | None:
    return METRICS.registry.get_sample_value(name)


async def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    async with uow() as tx:
        await tx.outbox.add("count", {"n": 1})
    loop = OutboxRelayLoop(RelayOutbox(uow, RecordingTaskQueue(fail_times=2), clock), clock, interval=60, batch_size=10)

    with capture_logs() as logs:
        await loop.run_once()  # refused
        clock.advance(30)
        assert gauge("parley_outbox_backlog") == 1
        await loop.run_once()  # refused again, not logged again
        assert gauge("parley_outbox_oldest_unsent_age_seconds") == 30
        clock.advance(60)
        result = await loop.run_once()  # delivered

    assert result.sent == 1
    assert relay_events(logs) == ["outbox_relay_failing", "outbox_relay_recovered"]
    (failing,) = logs.events("outbox_relay_failing")
    assert failing["cause"] == "queue"
    assert failing["error"].startswith("ConnectionError")
    assert gauge("parley_outbox_backlog") == 0
    assert gauge("parley_outbox_oldest_unsent_age_seconds") == 0


class UnreachableDatabase(FakeUnitOfWorkFactory):
    """The database refuses the first ``failures`` units of work."""

    def __init__(self, failures: int, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.failures = failures

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("connect call failed")
        return super().__call__(read_only=read_only)


async def test_the_loop_outlives_a_database_outage_and_relays_once_it_is_back() -> None:
    clock = FakeClock()
    uow = UnreachableDatabase(0, clock)
    async with uow() as tx:
        await tx.outbox.add("count", {"n": 1})
    uow.failures = 3
    queue = RecordingTaskQueue()
    loop = OutboxRelayLoop(RelayOutbox(uow, queue, clock), clock, interval=0.01, batch_size=10)

    with capture_logs() as logs:
        await loop.start()
        try:
            async with asyncio.timeout(5):
                while not queue.enqueued:
                    await asyncio.sleep(0.01)
        finally:
            await loop.stop()

    assert len(queue.enqueued) == 1
    assert relay_events(logs) == ["outbox_relay_failing", "outbox_relay_recovered"]
    assert logs.events("outbox_relay_failing")[0]["cause"] == "database"
    assert not loop.running


async def test_a_wake_up_runs_a_round_long_before_the_interval() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    queue = RecordingTaskQueue()
    loop = OutboxRelayLoop(RelayOutbox(uow, queue, clock), clock, interval=600, batch_size=10)
    loop.wake()  # stopped: a no-op, not an error
    async with uow() as tx:
        await tx.outbox.add("count", {"n": 1})
    await loop.start()
    try:
        async with asyncio.timeout(5):
            while len(queue.enqueued) < 1:  # the first round runs at start
                await asyncio.sleep(0.01)
            async with uow() as tx:
                await tx.outbox.add("count", {"n": 2})
            loop.wake()  # what a commit that wrote outbox rows does
            while len(queue.enqueued) < 2:
                await asyncio.sleep(0.01)
    finally:
        await loop.stop()
    assert [payload["n"] for _, payload, _ in queue.enqueued] == [1, 2]


async def test_a_full_batch_is_followed_at_once_by_the_next() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    async with uow() as tx:
        for n in range(7):
            await tx.outbox.add("count", {"n": n})
    queue = RecordingTaskQueue()
    loop = OutboxRelayLoop(RelayOutbox(uow, queue, clock), clock, interval=600, batch_size=2)
    await loop.start()
    try:
        async with asyncio.timeout(5):
            while len(queue.enqueued) < 7:
                await asyncio.sleep(0.01)
    finally:
        await loop.stop()


# --- metrics of the in-process runner ---------------------------------------------------------


def finished(job: str, outcome: str) -> float:
    return METRICS.registry.get_sample_value("parley_jobs_finished_total", {"job": job, "outcome": outcome}) or 0.0


async def test_the_in_process_runner_counts_enqueued_succeeded_retried_and_failed_jobs() -> None:
    calls: dict[str, int] = {"shaky": 0}

    async def fine(_: Mapping[str, Any]) -> None:
        return None

    async def shaky(_: Mapping[str, Any]) -> None:
        calls["shaky"] += 1
        raise RuntimeError("always")

    catalog = JobCatalog(
        [JobSpec("metrics_fine", fine), JobSpec("metrics_shaky", shaky, retries=1, retry_delay_seconds=0.01)],
        run_once=RunJobOnce(FakeUnitOfWorkFactory(), FakeClock()),
    )
    before = {
        "enqueued": METRICS.registry.get_sample_value("parley_jobs_enqueued_total", {"job": "metrics_fine"}) or 0.0,
        "durations": METRICS.registry.get_sample_value("parley_job_duration_seconds_count", {"job": "metrics_fine"})
        or 0.0,
        "succeeded": finished("metrics_fine", "succeeded"),
        "retried": finished("metrics_shaky", "retried"),
        "failed": finished("metrics_shaky", "failed"),
    }
    runner = InProcessTaskQueue(catalog)
    await runner.start()
    try:
        await runner.enqueue("metrics_fine")
        await runner.enqueue("metrics_fine")
        await runner.enqueue("metrics_shaky")
        await asyncio.wait_for(runner.join(), 5)
    finally:
        await runner.stop()

    enqueued = METRICS.registry.get_sample_value("parley_jobs_enqueued_total", {"job": "metrics_fine"})
    durations = METRICS.registry.get_sample_value("parley_job_duration_seconds_count", {"job": "metrics_fine"})
    assert enqueued == before["enqueued"] + 2
    assert durations == before["durations"] + 2
    assert finished("metrics_fine", "succeeded") == before["succeeded"] + 2
    assert finished("metrics_shaky", "retried") == before["retried"] + 1
    assert finished("metrics_shaky", "failed") == before["failed"] + 1
    assert calls["shaky"] == 2


class SlowQueue(RecordingTaskQueue):
    """Holds each enqueue until released: a round is in flight while the test stops the loop."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def enqueue(self, job_name: str, payload: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
        self.entered.set()
        await self.release.wait()
        return await super().enqueue(job_name, payload, **kwargs)


async def test_stop_lets_the_round_in_flight_finish_and_mark_its_messages_sent() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    async with uow() as tx:
        await tx.outbox.add("count", {"n": 1})
    queue = SlowQueue()
    loop = OutboxRelayLoop(RelayOutbox(uow, queue, clock), clock, interval=60, batch_size=10)
    await loop.start()
    await asyncio.wait_for(queue.entered.wait(), 2)

    stopping = asyncio.create_task(loop.stop(grace_seconds=5))
    await asyncio.sleep(0.05)
    assert not stopping.done()  # waiting for the round, not cancelling it
    queue.release.set()
    await asyncio.wait_for(stopping, 5)

    assert not loop.running
    assert [m.sent_at is not None for m in uow.database.shared.outbox.values()] == [True]


async def test_stop_cancels_a_round_that_outlasts_the_grace_period() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    async with uow() as tx:
        await tx.outbox.add("count", {"n": 1})
    queue = SlowQueue()  # never released
    loop = OutboxRelayLoop(RelayOutbox(uow, queue, clock), clock, interval=60, batch_size=10)
    await loop.start()
    await asyncio.wait_for(queue.entered.wait(), 2)

    await asyncio.wait_for(loop.stop(grace_seconds=0.05), 2)

    assert not loop.running
    assert [m.sent_at for m in uow.database.shared.outbox.values()] == [None]  # rolled back: sent again later
