"""In-memory fakes of the shared ports, implementing the same Protocols as the adapters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from src.domain.shared.jobs import JobReceipt


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)
        self.ticks = 0.0

    def now(self) -> datetime:
        return self.current

    def monotonic(self) -> float:
        return self.ticks

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        self.ticks += seconds


class InMemoryJobReceiptRepository:
    def __init__(self, store: dict[tuple[str, str], JobReceipt]) -> None:
        self._store = store

    async def exists(self, job_name: str, dedupe_key: str) -> bool:
        return (job_name, dedupe_key) in self._store

    async def add(self, receipt: JobReceipt) -> bool:
        key = (receipt.job_name, receipt.dedupe_key)
        if key in self._store:
            return False
        self._store[key] = receipt
        return True

    async def delete_expired(self, now: datetime, *, batch_size: int) -> int:
        expired = [k for k, r in self._store.items() if r.expires_at < now][:batch_size]
        for key in expired:
            del self._store[key]
        return len(expired)


class InMemoryDatabase:
    """What the fake units of work commit to."""

    def __init__(self) -> None:
        self.job_receipts: dict[tuple[str, str], JobReceipt] = {}
        self.commits = 0
        self.rollbacks = 0


class InMemoryUnitOfWork:
    """Works on a copy of the data; the copy replaces the data only on commit."""

    def __init__(self, database: InMemoryDatabase) -> None:
        self._database = database
        self._receipts: dict[tuple[str, str], JobReceipt] = {}

    @property
    def job_receipts(self) -> InMemoryJobReceiptRepository:
        return InMemoryJobReceiptRepository(self._receipts)

    async def __aenter__(self) -> Self:
        self._receipts = dict(self._database.job_receipts)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            await self.commit()
        else:
            await self.rollback()

    async def commit(self) -> None:
        self._database.job_receipts = dict(self._receipts)
        self._database.commits += 1

    async def rollback(self) -> None:
        self._receipts = dict(self._database.job_receipts)
        self._database.rollbacks += 1


class FakeUnitOfWorkFactory:
    def __init__(self, database: InMemoryDatabase | None = None) -> None:
        self.database = database or InMemoryDatabase()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.database)


class FakeProbe:
    def __init__(
        self,
        name: str,
        *,
        required: bool = True,
        error: Exception | None = None,
        delay: float = 0.0,
        clock: FakeClock | None = None,
        details: Mapping[str, str | int | float | None] | None = None,
    ) -> None:
        self.name = name
        self.required = required
        self._error = error
        self._delay = delay
        self._clock = clock
        self._details = dict(details or {})

    async def check(self) -> Mapping[str, str | int | float | None]:
        import asyncio

        if self._clock is not None:
            self._clock.advance(self._delay)
        elif self._delay:
            await asyncio.sleep(self._delay)
        if self._error is not None:
            raise self._error
        return self._details
