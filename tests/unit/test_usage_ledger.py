"""UsageLedger: records written by group commit, each caller back once its record is committed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from src.application.shared.events import DISPATCH_EVENT_JOB
from src.application.usage.ledger import UsageLedger
from src.domain.llm.model import Usage
from src.domain.usage.model import UsageKind, UsageRecord, month_start
from tests.fakes.shared import FakeUnitOfWorkFactory

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def record(user_id: uuid.UUID, cost: int) -> UsageRecord:
    return UsageRecord(
        id=uuid.uuid4(),
        user_id=user_id,
        kind=UsageKind.COMPLETION,
        model="openai/a",
        provider="openai",
        usage=Usage(input_tokens=3, output_tokens=4),
        cost_micros=cost,
        created_at=NOW,
    )


async def test_a_burst_is_written_in_few_transactions_and_every_record_counts() -> None:
    uow = FakeUnitOfWorkFactory()
    ledger = UsageLedger(uow)
    user = uuid.uuid4()
    await asyncio.gather(*(ledger.record(record(user, cost=10)) for _ in range(50)))
    assert len(uow.database.chat.usage) == 50
    assert uow.database.chat.months[(user, month_start(NOW).date())] == 500
    assert ledger.commits <= 2  # the first record alone, then the other 49 together
    assert uow.database.opened.count("write") == ledger.commits


async def test_a_caller_is_back_only_once_its_record_is_committed() -> None:
    uow = FakeUnitOfWorkFactory()
    ledger = UsageLedger(uow)
    await ledger.record(record(uuid.uuid4(), cost=1))
    assert len(uow.database.chat.usage) == 1
    assert ledger.commits == 1


async def test_batches_are_bounded() -> None:
    uow = FakeUnitOfWorkFactory()
    ledger = UsageLedger(uow, max_batch=5)
    await asyncio.gather(*(ledger.record(record(uuid.uuid4(), cost=1)) for _ in range(12)))
    assert len(uow.database.chat.usage) == 12
    assert ledger.commits >= 3


async def test_a_failed_write_fails_its_callers_and_the_next_ones_are_written() -> None:
    uow = FakeUnitOfWorkFactory()
    failures = [RuntimeError("the database went away")]

    def flaky(*, read_only: bool = False) -> Any:
        if failures:
            raise failures.pop()
        return uow(read_only=read_only)

    ledger = UsageLedger(flaky)
    with pytest.raises(RuntimeError):
        await ledger.record(record(uuid.uuid4(), cost=1))
    await ledger.record(record(uuid.uuid4(), cost=1))
    assert len(uow.database.chat.usage) == 1


async def test_a_cancelled_caller_does_not_cancel_the_write() -> None:
    uow = FakeUnitOfWorkFactory()
    ledger = UsageLedger(uow)
    waiting = asyncio.ensure_future(ledger.record(record(uuid.uuid4(), cost=1)))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(uow.database.chat.usage) == 1


def charge_events(uow: FakeUnitOfWorkFactory) -> list[dict[str, Any]]:
    return [
        dict(m.payload["event"])
        for m in uow.database.shared.outbox.values()
        if m.job_name == DISPATCH_EVENT_JOB and m.payload["type"] == "UsageCharged"
    ]


async def test_a_batch_that_brings_a_month_to_an_alert_threshold_raises_one_charge_event() -> None:
    """Regression: gateway calls never raised UsageCharged, so budget alerts never came for them."""
    uow = FakeUnitOfWorkFactory()
    ledger = UsageLedger(uow)
    near, far = uuid.uuid4(), uuid.uuid4()
    uow.database.chat.months[(near, month_start(NOW).date())] = 790
    await asyncio.gather(
        *(ledger.record(record(near, cost=5), budget_micros=1_000) for _ in range(4)),
        *(ledger.record(record(far, cost=5), budget_micros=1_000) for _ in range(4)),
        ledger.record(record(near, cost=5)),  # no budget given: no check
    )
    events = charge_events(uow)
    assert {e["user_id"] for e in events} == {str(near)}
    assert sum(e["cost_micros"] for e in events) <= 20
