"""The transactional outbox on SQLite and PostgreSQL: commits with the change, relays, survives crashes."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from src.application.shared.prune_expired import PruneExpiredCommand, PruneExpiredRecords
from src.application.shared.reconcile_outbox import ReconcileOutbox, ReconcileOutboxCommand
from src.application.shared.relay_outbox import RelayOutbox, RelayOutboxCommand
from src.domain.shared.jobs import JobReceipt
from src.domain.shared.outbox import SENT_MESSAGE_RETENTION
from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.database import build_database_config
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.models import OutboxMessageModel
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.identity import identity_expiring_records
from tests.conftest import SettingsFactory
from tests.fakes.shared import FakeClock, RecordingTaskQueue
from tests.integration.jobs_support import counting_job, wait_until

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
async def uow(migrated_settings: Settings, clock: FakeClock) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    config = build_database_config(migrated_settings)
    yield SqlAlchemyUnitOfWorkFactory.for_database(config, clock)
    await config.get_engine().dispose()


async def stored(uow: SqlAlchemyUnitOfWorkFactory, message_id: Any) -> OutboxMessageModel:
    async with uow() as tx:
        row = await tx.session.get(OutboxMessageModel, message_id)
    assert row is not None
    return row


async def test_an_outbox_message_commits_with_the_change_that_caused_it(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    payload = {"conversation_id": "c-1", "tags": ["a", "ü"], "nested": {"n": 1, "ok": True, "none": None}}
    async with uow() as tx:
        await tx.job_receipts.add(JobReceipt.issue("job", "the-change", now=NOW))
        added = await tx.outbox.add("title_conversation", payload)

    async with uow() as tx:
        assert await tx.job_receipts.exists("job", "the-change")
        backlog = await tx.outbox.backlog()
        (claimed,) = await tx.outbox.claim_due(NOW, limit=10)
    assert (backlog.pending, backlog.oldest_created_at) == (1, NOW)
    assert claimed.id == added.id
    assert claimed.job_name == "title_conversation"
    assert claimed.payload == payload
    assert (claimed.attempts, claimed.sent_at, claimed.available_at) == (0, None, NOW)


async def test_an_outbox_message_disappears_with_a_rollback(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError):  # noqa: PT012 - the writes and the failure belong together
        async with uow() as tx:
            await tx.job_receipts.add(JobReceipt.issue("job", "the-change", now=NOW))
            await tx.outbox.add("title_conversation", {"conversation_id": "c-1"})
            raise RuntimeError("the change failed after the outbox write")

    async with uow() as tx:
        assert not await tx.job_receipts.exists("job", "the-change")
        assert (await tx.outbox.backlog()).pending == 0
        assert await tx.outbox.claim_due(NOW + timedelta(days=1), limit=10) == []


async def test_a_refused_send_leaves_the_row_unsent_then_delivers_it_exactly_once(
    uow: SqlAlchemyUnitOfWorkFactory, clock: FakeClock
) -> None:
    async with uow() as tx:
        message = await tx.outbox.add("count", {"n": 1})
    queue = RecordingTaskQueue(fail_times=2)
    relay = RelayOutbox(uow, queue, clock)

    first = await relay(RelayOutboxCommand())
    row = await stored(uow, message.id)
    assert (first.sent, first.failed) == (0, 1)
    assert (row.attempts, row.sent_at) == (1, None)
    assert row.last_error is not None
    assert row.last_error.startswith("ConnectionError: Error 111")
    assert row.available_at == NOW + timedelta(seconds=1)

    assert (await relay(RelayOutboxCommand())).claimed == 0  # backed off: not tried before its time
    clock.advance(1)
    assert (await relay(RelayOutboxCommand())).failed == 1  # Redis still down: waits 2 s now
    assert (await stored(uow, message.id)).available_at == NOW + timedelta(seconds=3)
    clock.advance(2)
    delivered = await relay(RelayOutboxCommand())

    assert (delivered.sent, delivered.backlog.pending) == (1, 0)
    row = await stored(uow, message.id)
    assert (row.attempts, row.sent_at) == (2, NOW + timedelta(seconds=3))
    clock.advance(3600)
    await relay(RelayOutboxCommand())
    assert queue.enqueued == [("count", {"n": 1}, str(message.id))]


async def test_two_relays_running_at_once_never_send_a_row_twice(
    uow: SqlAlchemyUnitOfWorkFactory, clock: FakeClock, database_url: str
) -> None:
    async with uow() as tx:
        for n in range(60):
            await tx.outbox.add("count", {"n": n})

    class SlowQueue(RecordingTaskQueue):
        async def enqueue(self, job_name: str, payload: Mapping[str, Any] | None = None, **kw: Any) -> str:
            await asyncio.sleep(0.005)  # holds the claimed rows long enough for the other relay to try them
            return await super().enqueue(job_name, payload, **kw)

    queues = [SlowQueue(), SlowQueue()]

    async def drain(queue: RecordingTaskQueue) -> None:
        relay = RelayOutbox(uow, queue, clock)
        while (await relay(RelayOutboxCommand(batch_size=10))).backlog.pending:
            await asyncio.sleep(0)

    await asyncio.gather(*(drain(q) for q in queues))

    sent = [key for q in queues for key in q.dedupe_keys]
    assert len(sent) == 60
    assert len(set(sent)) == 60, "a row was handed to the queue twice"
    if database_url.startswith("postgresql"):
        # SKIP LOCKED: both relays worked at once, on different rows.
        assert all(q.enqueued for q in queues)


async def test_sent_rows_are_pruned_after_their_retention_and_unsent_rows_never(
    uow: SqlAlchemyUnitOfWorkFactory, clock: FakeClock
) -> None:
    async with uow() as tx:
        for n in range(7):
            await tx.outbox.add("count", {"n": n})
    await RelayOutbox(uow, RecordingTaskQueue(), clock)(RelayOutboxCommand())
    async with uow() as tx:
        waiting = await tx.outbox.add("count", {"n": 99})
    clock.advance(SENT_MESSAGE_RETENTION.total_seconds() + 60)

    result = await PruneExpiredRecords(uow, clock, identity_expiring_records())(PruneExpiredCommand(batch_size=3))

    assert result.deleted["outbox_messages"] == 7
    async with uow() as tx:
        backlog = await tx.outbox.backlog()
        remaining = await tx.outbox.claim_due(clock.now(), limit=100)
    assert backlog.pending == 1
    assert [m.id for m in remaining] == [waiting.id]


async def test_listeners_hear_of_commits_that_wrote_outbox_rows_only(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    heard: list[int] = []
    uow.on_outbox_commit(lambda: heard.append(1))

    async with uow() as tx:
        await tx.job_receipts.add(JobReceipt.issue("job", "no-outbox", now=NOW))
    assert heard == []
    with pytest.raises(RuntimeError):  # noqa: PT012
        async with uow() as tx:
            await tx.outbox.add("count", {})
            raise RuntimeError("rolled back")
    assert heard == []
    async with uow() as tx:
        await tx.outbox.add("count", {})
        assert heard == []  # not before the commit
    assert heard == [1]


# --- whole containers: the relay inside the API, the in-process runner, crash safety ----------


@pytest.fixture
async def fast_relay_settings(make_settings: SettingsFactory, database_url: str) -> Settings:
    settings = make_settings(DATABASE_URL=database_url, OUTBOX_RELAY_INTERVAL="0.1")
    await asyncio.to_thread(Migrator(settings).upgrade)
    return settings


async def test_a_job_whose_enqueue_fails_after_commit_is_delivered_later_by_the_relay(
    fast_relay_settings: Settings,
) -> None:
    runs: Counter[int] = Counter()
    # The first process commits the work, its enqueue fails, and it dies before trying again.
    dying = build_container(fast_relay_settings, role="api", extra_jobs=[counting_job(runs)])
    async with dying.uow() as tx:
        await tx.outbox.add("count", {"n": 1})
    failed = await RelayOutbox(dying.uow, RecordingTaskQueue(fail_times=1), dying.clock)(RelayOutboxCommand())
    assert failed.failed == 1
    await dying.shutdown()
    assert runs == Counter()

    # A new process starts: its relay finds the row once the backoff is over, and the job runs.
    restarted = build_container(fast_relay_settings, role="api", extra_jobs=[counting_job(runs)])
    await restarted.startup()
    try:
        await wait_until(lambda: runs[1] == 1)
        assert restarted.in_process_runner is not None
        await restarted.in_process_runner.join()
    finally:
        await restarted.shutdown()

    # Later processes never send it again.
    again = build_container(fast_relay_settings, role="api", extra_jobs=[counting_job(runs)])
    await again.startup()
    try:
        assert again.outbox_relay is not None
        result = await again.outbox_relay.run_once()
        assert (result.claimed, result.backlog.pending) == (0, 0)
    finally:
        await again.shutdown()
    assert runs == Counter({1: 1})


@pytest.fixture
async def api(make_settings: SettingsFactory, database_url: str) -> AsyncIterator[tuple[Container, Counter[int]]]:
    # A relay interval far longer than the test: only a wake-up can deliver in time.
    settings = make_settings(DATABASE_URL=database_url, OUTBOX_RELAY_INTERVAL="600")
    await asyncio.to_thread(Migrator(settings).upgrade)
    runs: Counter[int] = Counter()
    container = build_container(settings, role="api", extra_jobs=[counting_job(runs)])
    await container.startup()
    yield container, runs
    await container.shutdown()


async def test_a_commit_with_outbox_rows_wakes_the_relay_at_once(api: tuple[Container, Counter[int]]) -> None:
    container, runs = api

    def ran_once(n: int) -> Callable[[], bool]:
        return lambda: runs[n] == 1

    for n in (1, 2):
        async with container.uow() as tx:
            await tx.outbox.add("count", {"n": n})
        await wait_until(ran_once(n), timeout=5)
    async with container.uow() as tx:
        assert (await tx.outbox.backlog()).pending == 0


async def test_the_embedded_runner_and_relay_need_no_second_process(api: tuple[Container, Counter[int]]) -> None:
    container, runs = api
    assert container.saq_queue is None
    assert container.outbox_relay is not None
    assert container.outbox_relay.running
    async with container.uow() as tx:
        for n in range(25):
            await tx.outbox.add("count", {"n": n})
    await wait_until(lambda: len(runs) == 25)
    assert container.in_process_runner is not None
    await container.in_process_runner.join()
    assert set(runs.values()) == {1}


async def test_a_sent_job_that_left_no_receipt_is_sent_again_once_and_bounded(
    uow: SqlAlchemyUnitOfWorkFactory, clock: FakeClock
) -> None:
    async with uow() as tx:
        lost = await tx.outbox.add("title_conversation", {"conversation_id": "c-1"})
        ran = await tx.outbox.add("refresh_dictionary", {})
    queue = RecordingTaskQueue()
    await RelayOutbox(uow, queue, clock)(RelayOutboxCommand())
    async with uow() as tx:
        await tx.job_receipts.add(JobReceipt.issue("refresh_dictionary", str(ran.id), now=NOW))
    reconcile = ReconcileOutbox(uow, queue, clock, max_attempts=2)

    assert (await reconcile(ReconcileOutboxCommand())).resent == 0  # within the grace period
    clock.advance(150)
    assert (await reconcile(ReconcileOutboxCommand())).resent == 1
    assert queue.enqueued[-1] == ("title_conversation", {"conversation_id": "c-1"}, str(lost.id))
    row = await stored(uow, lost.id)
    assert (row.attempts, row.sent_at) == (1, NOW + timedelta(seconds=150))
    clock.advance(150)
    assert (await reconcile(ReconcileOutboxCommand())).resent == 1
    clock.advance(150)
    assert (await reconcile(ReconcileOutboxCommand())).resent == 0  # max_attempts reached
    assert len(queue.enqueued) == 4
