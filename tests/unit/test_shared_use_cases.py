from __future__ import annotations

from datetime import timedelta

import pytest

from src.application.shared.check_readiness import CheckReadiness, CheckReadinessCommand
from src.application.shared.prune_expired import PruneExpiredCommand, PruneExpiredRecords
from src.application.shared.run_job_once import RunJobOnce
from src.domain.shared.jobs import JobReceipt
from src.infrastructure.wiring.identity import identity_expiring_records
from tests.fakes.shared import FakeClock, FakeProbe, FakeUnitOfWorkFactory


async def test_readiness_reports_each_component_with_its_latency() -> None:
    clock = FakeClock()
    check = CheckReadiness(
        [
            FakeProbe("database", clock=clock, delay=0.004, details={"backend": "sqlite"}),
            FakeProbe("redis", required=False, clock=clock, delay=0.001),
        ],
        clock,
    )
    report = await check(CheckReadinessCommand())
    by_name = {c.name: c for c in report.components}
    assert report.status == "ready"
    assert by_name["database"].status == "up"
    assert by_name["database"].details == (("backend", "sqlite"),)
    assert by_name["database"].latency_ms >= 4.0


async def test_a_failing_probe_is_down_with_a_short_reason_not_a_crash() -> None:
    check = CheckReadiness(
        [FakeProbe("database", error=ConnectionRefusedError("connect failed: postgres://u:secret@h/db\nmore"))],
        FakeClock(),
    )
    report = await check(CheckReadinessCommand())
    (database,) = report.components
    assert database.status == "down"
    assert database.error == "ConnectionRefusedError: connect failed: postgres://u:secret@h/db"
    assert report.status == "unavailable"


async def test_a_hanging_probe_times_out() -> None:
    check = CheckReadiness([FakeProbe("redis", required=False, delay=5.0)], FakeClock())
    report = await check(CheckReadinessCommand(timeout_seconds=0.05))
    (redis,) = report.components
    assert redis.status == "down"
    assert redis.error == "no answer within 0.05 s"
    assert report.status == "degraded"


async def test_prune_deletes_only_expired_receipts_in_batches() -> None:
    clock = FakeClock()
    uow = FakeUnitOfWorkFactory()
    for i in range(25):
        receipt = JobReceipt.issue("job", f"old-{i}", now=clock.now(), retention=timedelta(hours=1))
        uow.database.shared.job_receipts[(receipt.job_name, receipt.dedupe_key)] = receipt
    fresh = JobReceipt.issue("job", "fresh", now=clock.now(), retention=timedelta(days=3))
    uow.database.shared.job_receipts[("job", "fresh")] = fresh
    clock.advance(2 * 3600)

    result = await PruneExpiredRecords(uow, clock, identity_expiring_records())(PruneExpiredCommand(batch_size=10))

    assert result.deleted == {"job_receipts": 25, "outbox_messages": 0, "refresh_tokens": 0}
    assert result.total == 25
    assert list(uow.database.shared.job_receipts) == [("job", "fresh")]
    assert uow.database.commits >= 3  # one commit per batch


async def test_prune_rejects_nonsense_batches() -> None:
    with pytest.raises(ValueError):
        await PruneExpiredRecords(FakeUnitOfWorkFactory(), FakeClock(), identity_expiring_records())(
            PruneExpiredCommand(batch_size=0)
        )


async def test_a_job_with_a_dedupe_key_runs_once() -> None:
    uow = FakeUnitOfWorkFactory()
    run_once = RunJobOnce(uow, FakeClock())
    calls: list[int] = []

    async def work() -> str:
        calls.append(1)
        return "done"

    first = await run_once("notify", "event-1", work)
    second = await run_once("notify", "event-1", work)
    other = await run_once("notify", "event-2", work)

    assert (first.ran, first.result) == (True, "done")
    assert second.ran is False
    assert other.ran is True
    assert len(calls) == 2


async def test_a_failing_job_leaves_no_receipt_so_a_retry_runs_it() -> None:
    uow = FakeUnitOfWorkFactory()
    run_once = RunJobOnce(uow, FakeClock())

    async def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await run_once("notify", "event-1", broken)
    assert uow.database.shared.job_receipts == {}

    async def fixed() -> str:
        return "ok"

    assert (await run_once("notify", "event-1", fixed)).ran


async def test_a_job_without_a_dedupe_key_always_runs() -> None:
    run_once = RunJobOnce(FakeUnitOfWorkFactory(), FakeClock())

    async def work() -> int:
        return 1

    assert (await run_once("tick", None, work)).ran
    assert (await run_once("tick", None, work)).ran
