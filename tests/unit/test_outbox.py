"""The outbox: its rules (backoff, payloads), the relay use case and pruning, on the in-memory fakes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from src.application.shared.prune_expired import PruneExpiredCommand, PruneExpiredRecords
from src.application.shared.relay_outbox import RelayOutbox, RelayOutboxCommand
from src.domain.shared.outbox import (
    SENT_MESSAGE_RETENTION,
    OutboxBacklog,
    OutboxBackoff,
    OutboxMessage,
)
from src.infrastructure.wiring.identity import identity_expiring_records
from tests.fakes.shared import FakeClock, FakeUnitOfWorkFactory, RecordingTaskQueue

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def message(**changes: object) -> OutboxMessage:
    created = OutboxMessage.create("title_conversation", {"conversation_id": "c-1"}, id=uuid.uuid4(), now=NOW)
    for name, value in changes.items():
        setattr(created, name, value)
    return created


# --- rules ------------------------------------------------------------------------------------


def test_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    backoff = OutboxBackoff(base=timedelta(seconds=2), cap=timedelta(seconds=30))
    delays = [backoff.delay(n).total_seconds() for n in range(1, 8)]
    assert delays == [2, 4, 8, 16, 30, 30, 30]


def test_backoff_stays_at_its_cap_after_thousands_of_failures() -> None:
    assert OutboxBackoff().delay(10_000) == timedelta(seconds=60)


@pytest.mark.parametrize(("base", "cap"), [(0, 10), (-1, 10), (10, 5)])
def test_backoff_refuses_nonsense(base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        OutboxBackoff(base=timedelta(seconds=base), cap=timedelta(seconds=cap))


def test_there_is_no_delay_before_a_first_failure() -> None:
    with pytest.raises(ValueError, match="attempts start at 1"):
        OutboxBackoff().delay(0)


def test_a_new_message_is_due_at_once_and_unsent() -> None:
    created = message()
    assert created.is_due(NOW)
    assert not created.is_sent
    assert created.attempts == 0
    assert created.created_at == created.available_at == NOW


def test_a_failed_send_counts_keeps_the_reason_and_backs_off() -> None:
    failing = message()
    failing.record_failure("ConnectionError: refused", now=NOW)
    failing.record_failure("ConnectionError: refused", now=NOW + timedelta(seconds=1))
    assert failing.attempts == 2
    assert failing.last_error == "ConnectionError: refused"
    assert failing.available_at == NOW + timedelta(seconds=1) + timedelta(seconds=2)
    assert not failing.is_due(NOW + timedelta(seconds=2))
    assert failing.is_due(NOW + timedelta(seconds=3))


def test_a_long_error_is_cut_short() -> None:
    failing = message()
    failing.record_failure("x" * 10_000, now=NOW)
    assert failing.last_error is not None
    assert len(failing.last_error) == 500


def test_a_sent_message_is_no_longer_due_and_cannot_be_sent_or_failed_again() -> None:
    sent = message()
    sent.mark_sent(NOW)
    assert sent.is_sent
    assert not sent.is_due(NOW + timedelta(days=1))
    with pytest.raises(ValueError, match="already sent"):
        sent.mark_sent(NOW)
    with pytest.raises(ValueError, match="already sent"):
        sent.record_failure("late", now=NOW)


def test_the_payload_is_what_the_job_will_receive_after_json() -> None:
    created = OutboxMessage.create("job", {"ids": ("a", "b"), "n": 1}, id=uuid.uuid4(), now=NOW)
    assert created.payload == {"ids": ["a", "b"], "n": 1}


@pytest.mark.parametrize("value", [datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4(), float("nan"), {1, 2}])
def test_a_payload_json_cannot_carry_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="plain JSON"):
        OutboxMessage.create("job", {"value": value}, id=uuid.uuid4(), now=NOW)


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_a_message_needs_a_sensible_job_name(name: str) -> None:
    with pytest.raises(ValueError, match="job name"):
        OutboxMessage.create(name, {}, id=uuid.uuid4(), now=NOW)


def test_a_message_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OutboxMessage.create("job", {}, id=uuid.uuid4(), now=datetime(2026, 1, 1))  # noqa: DTZ001


def test_backlog_age_is_that_of_the_oldest_waiting_message() -> None:
    assert OutboxBacklog(pending=0, oldest_created_at=None).oldest_age_seconds(NOW) == 0.0
    backlog = OutboxBacklog(pending=3, oldest_created_at=NOW - timedelta(seconds=90))
    assert backlog.oldest_age_seconds(NOW) == 90.0


# --- the relay use case -----------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def uow(clock: FakeClock) -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory(clock=clock)


async def add_messages(uow: FakeUnitOfWorkFactory, *payloads: dict[str, int]) -> list[OutboxMessage]:
    async with uow() as tx:
        return [await tx.outbox.add("count", payload) for payload in payloads]


async def test_the_relay_hands_each_message_to_the_queue_with_its_id_as_dedupe_key(
    uow: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    added = await add_messages(uow, {"n": 1}, {"n": 2})
    queue = RecordingTaskQueue()

    result = await RelayOutbox(uow, queue, clock)(RelayOutboxCommand())

    assert queue.enqueued == [("count", {"n": 1}, str(added[0].id)), ("count", {"n": 2}, str(added[1].id))]
    assert (result.claimed, result.sent, result.failed) == (2, 2, 0)
    assert result.backlog.pending == 0
    assert all(m.sent_at == NOW for m in uow.database.shared.outbox.values())
    # Sent messages are not sent again.
    await RelayOutbox(uow, queue, clock)(RelayOutboxCommand())
    assert len(queue.enqueued) == 2


async def test_a_refused_send_keeps_the_message_with_a_backoff_and_stops_the_round(
    uow: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    first, second = await add_messages(uow, {"n": 1}, {"n": 2})
    queue = RecordingTaskQueue(fail_times=1)

    result = await RelayOutbox(uow, queue, clock)(RelayOutboxCommand())

    assert (result.claimed, result.sent, result.failed) == (2, 0, 1)
    assert result.error == "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    assert result.backlog.pending == 2
    stored = uow.database.shared.outbox[first.id]
    assert (stored.attempts, stored.sent_at) == (1, None)
    assert stored.last_error == result.error
    assert stored.available_at == NOW + timedelta(seconds=1)
    # The rest of the batch was not tried: it is untouched and still due.
    untouched = uow.database.shared.outbox[second.id]
    assert (untouched.attempts, untouched.available_at) == (0, NOW)
    assert queue.enqueued == []


async def test_a_backed_off_message_goes_out_once_its_wait_is_over_exactly_once(
    uow: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    (only,) = await add_messages(uow, {"n": 1})
    queue = RecordingTaskQueue(fail_times=2)
    relay = RelayOutbox(uow, queue, clock)

    await relay(RelayOutboxCommand())  # refused: waits 1 s
    await relay(RelayOutboxCommand())  # not due yet: nothing is tried
    assert queue.refused == 1
    clock.advance(1)
    await relay(RelayOutboxCommand())  # refused again: waits 2 s
    clock.advance(2)
    result = await relay(RelayOutboxCommand())

    assert result.sent == 1
    assert queue.dedupe_keys == [str(only.id)]
    stored = uow.database.shared.outbox[only.id]
    assert stored.attempts == 2
    assert stored.sent_at == NOW + timedelta(seconds=3)
    await relay(RelayOutboxCommand())
    assert queue.dedupe_keys == [str(only.id)]


async def test_the_relay_sends_oldest_first_in_batches(uow: FakeUnitOfWorkFactory, clock: FakeClock) -> None:
    for n in range(5):
        await add_messages(uow, {"n": n})
        clock.advance(1)
    queue = RecordingTaskQueue()
    relay = RelayOutbox(uow, queue, clock)

    first = await relay(RelayOutboxCommand(batch_size=2))
    assert first.more_due
    await relay(RelayOutboxCommand(batch_size=2))
    last = await relay(RelayOutboxCommand(batch_size=2))

    assert [payload["n"] for _, payload, _ in queue.enqueued] == [0, 1, 2, 3, 4]
    assert not last.more_due
    assert last.backlog == OutboxBacklog(pending=0, oldest_created_at=None)


async def test_a_message_added_in_a_rolled_back_transaction_is_never_sent(
    uow: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    with pytest.raises(RuntimeError):  # noqa: PT012 - the write and the failure belong together
        async with uow() as tx:
            await tx.outbox.add("count", {"n": 1})
            raise RuntimeError("the change failed")
    queue = RecordingTaskQueue()
    result = await RelayOutbox(uow, queue, clock)(RelayOutboxCommand())
    assert (result.claimed, queue.enqueued) == (0, [])


async def test_the_relay_refuses_an_empty_batch(uow: FakeUnitOfWorkFactory, clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        await RelayOutbox(uow, RecordingTaskQueue(), clock)(RelayOutboxCommand(batch_size=0))


# --- pruning ----------------------------------------------------------------------------------


async def test_prune_deletes_messages_sent_before_their_retention_and_keeps_the_rest(
    uow: FakeUnitOfWorkFactory, clock: FakeClock
) -> None:
    old = await add_messages(uow, *({"n": n} for n in range(12)))
    waiting, recent = await add_messages(uow, {"n": 100}, {"n": 101})
    await RelayOutbox(uow, RecordingTaskQueue(), clock)(RelayOutboxCommand(batch_size=12))
    clock.advance(SENT_MESSAGE_RETENTION.total_seconds() + 1)
    async with uow() as tx:  # sent recently; `waiting` is never sent
        (claimed,) = [m for m in await tx.outbox.claim_due(clock.now(), limit=100) if m.id == recent.id]
        claimed.mark_sent(clock.now())
        await tx.outbox.save(claimed)

    result = await PruneExpiredRecords(uow, clock, identity_expiring_records())(PruneExpiredCommand(batch_size=5))

    assert result.deleted == {"job_receipts": 0, "outbox_messages": len(old), "refresh_tokens": 0}
    assert set(uow.database.shared.outbox) == {waiting.id, recent.id}
