"""ReconcileOutbox: jobs the queue took and then lost are handed over again (fakes, no I/O)."""

from __future__ import annotations

from datetime import timedelta

from src.application.shared.reconcile_outbox import ReconcileOutbox, ReconcileOutboxCommand
from src.application.shared.relay_outbox import RelayOutbox, RelayOutboxCommand
from src.domain.shared.jobs import JobReceipt
from src.infrastructure.queue.outbox_relay import OutboxRelayLoop
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory, RecordingTaskQueue
from tests.logs import capture_logs


async def sent(uow: FakeUnitOfWorkFactory, queue: RecordingTaskQueue, clock: FakeClock, *names: str) -> None:
    async with uow() as tx:
        for name in names:
            await tx.outbox.add(name, {"name": name})
    await RelayOutbox(uow, queue, clock)(RelayOutboxCommand())


async def test_a_job_the_queue_lost_is_sent_again_with_the_same_key_and_one_that_ran_is_not() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    queue = RecordingTaskQueue()
    await sent(uow, queue, clock, "title_conversation", "refresh_dictionary")
    (lost_key, ran_key) = queue.dedupe_keys
    assert lost_key is not None
    assert ran_key is not None
    async with uow() as tx:  # one of them ran (its receipt), the other vanished with Redis's data
        await tx.job_receipts.add(JobReceipt.issue("refresh_dictionary", ran_key, now=clock.now()))
    reconcile = ReconcileOutbox(uow, queue, clock)

    assert (await reconcile(ReconcileOutboxCommand())).resent == 0  # too soon: it may simply not have run yet
    clock.advance(150)
    result = await reconcile(ReconcileOutboxCommand())
    assert (result.checked, result.resent) == (2, 1)
    assert queue.enqueued[-1] == ("title_conversation", {"name": "title_conversation"}, lost_key)
    assert (await reconcile(ReconcileOutboxCommand())).resent == 0  # sent again just now: its grace starts over


async def test_resends_are_bounded_in_number_and_in_age() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    queue = RecordingTaskQueue()
    await sent(uow, queue, clock, "title_conversation")
    reconcile = ReconcileOutbox(uow, queue, clock, grace=timedelta(minutes=2), max_attempts=3)
    resends = 0
    for _ in range(10):
        clock.advance(150)
        resends += (await reconcile(ReconcileOutboxCommand())).resent
    assert resends == 3  # a job that never completes is not sent for ever

    await sent(uow, queue, clock, "title_conversation")
    clock.advance(timedelta(hours=2).total_seconds())
    assert (await ReconcileOutbox(uow, queue, clock)(ReconcileOutboxCommand())).resent == 0  # older than the window


async def test_the_relay_loop_reconciles_once_a_period_and_says_so() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory(clock=clock)
    queue = RecordingTaskQueue()
    await sent(uow, queue, clock, "title_conversation")
    loop = OutboxRelayLoop(
        RelayOutbox(uow, queue, clock),
        clock,
        interval=1,
        batch_size=10,
        reconcile=ReconcileOutbox(uow, queue, clock),
        reconcile_every=300,
    )
    with capture_logs() as logs:
        await loop.reconcile_when_due()  # nothing lost yet
        clock.advance(150)
        await loop.reconcile_when_due()  # lost by now, but within the period: not looked at again
        assert len(queue.enqueued) == 1
        clock.advance(200)
        await loop.reconcile_when_due()
    assert len(queue.enqueued) == 2
    (resent,) = logs.events("outbox_jobs_resent")
    assert resent["resent"] == 1
