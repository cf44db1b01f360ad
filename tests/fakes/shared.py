"""In-memory fakes of the shared ports, implementing the same Protocols as the adapters."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from src.domain.shared.jobs import JobReceipt
from src.domain.shared.outbox import OutboxBacklog, OutboxMessage
from tests.fakes.admin import AdminRepositories, AdminTables
from tests.fakes.chat import ChatRepositories, ChatTables
from tests.fakes.identity import IdentityRepositories, IdentityTables
from tests.fakes.knowledge import KnowledgeRepositories, KnowledgeTables
from tests.fakes.notifications import NotificationRepositories, NotificationTables


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


class InMemoryOutboxRepository:
    """Messages are copied in and out, so a rolled-back change to one never reaches the store."""

    def __init__(self, store: dict[uuid.UUID, OutboxMessage], clock: FakeClock) -> None:
        self._store = store
        self._clock = clock

    async def add(self, job_name: str, payload: Mapping[str, Any] | None = None) -> OutboxMessage:
        message = OutboxMessage.create(job_name, payload or {}, id=uuid.uuid4(), now=self._clock.now())
        self._store[message.id] = dataclasses.replace(message)
        return message

    async def claim_due(self, now: datetime, *, limit: int) -> list[OutboxMessage]:
        due = sorted((m for m in self._store.values() if m.is_due(now)), key=lambda m: (m.available_at, m.created_at))
        return [dataclasses.replace(m) for m in due[:limit]]

    async def sent_before(
        self, sent_before: datetime, *, created_after: datetime, max_attempts: int, limit: int
    ) -> list[OutboxMessage]:
        found = sorted(
            (
                m
                for m in self._store.values()
                if m.sent_at is not None
                and m.sent_at < sent_before
                and m.created_at > created_after
                and m.attempts < max_attempts
            ),
            key=lambda m: m.created_at,
        )
        return [dataclasses.replace(m) for m in found[:limit]]

    async def save(self, message: OutboxMessage) -> None:
        if message.id not in self._store:
            raise LookupError(f"outbox message {message.id} does not exist")
        self._store[message.id] = dataclasses.replace(message)

    async def backlog(self) -> OutboxBacklog:
        waiting = [m.created_at for m in self._store.values() if not m.is_sent]
        return OutboxBacklog(pending=len(waiting), oldest_created_at=min(waiting, default=None))

    async def delete_sent_before(self, cutoff: datetime, *, batch_size: int) -> int:
        old = [k for k, m in self._store.items() if m.sent_at is not None and m.sent_at < cutoff][:batch_size]
        for key in old:
            del self._store[key]
        return len(old)


@dataclass
class SharedTables:
    job_receipts: dict[tuple[str, str], JobReceipt] = field(default_factory=dict)
    outbox: dict[uuid.UUID, OutboxMessage] = field(default_factory=dict)

    def copy(self) -> SharedTables:
        return SharedTables(job_receipts=dict(self.job_receipts), outbox=dict(self.outbox))


class SharedRepositories:
    """The shared repositories (job receipts, outbox) in a fake unit of work."""

    shared_tables: SharedTables
    clock: FakeClock

    @property
    def job_receipts(self) -> InMemoryJobReceiptRepository:
        return InMemoryJobReceiptRepository(self.shared_tables.job_receipts)

    @property
    def outbox(self) -> InMemoryOutboxRepository:
        return InMemoryOutboxRepository(self.shared_tables.outbox, self.clock)


class Tables(Protocol):
    """One context's tables: compared to tell a write, copied so that a unit of work sees its own."""

    def copy(self) -> Self: ...


@dataclass
class InMemoryDatabase:
    """What the fake units of work commit to: each context's tables (a context's fakes module holds its
    ``<Context>Tables`` and the ``<Context>Repositories`` mixin ``InMemoryUnitOfWork`` is made of)."""

    shared: SharedTables = field(default_factory=SharedTables)
    identity: IdentityTables = field(default_factory=IdentityTables)
    knowledge: KnowledgeTables = field(default_factory=KnowledgeTables)
    chat: ChatTables = field(default_factory=ChatTables)
    notifications: NotificationTables = field(default_factory=NotificationTables)
    admin: AdminTables = field(default_factory=AdminTables)
    commits: int = 0
    rollbacks: int = 0
    #: "read" or "write" for every unit of work opened, in order.
    opened: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, Tables]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _BOOKKEEPING}


_BOOKKEEPING = frozenset({"commits", "rollbacks", "opened"})


class InMemoryUnitOfWork(
    SharedRepositories,
    IdentityRepositories,
    KnowledgeRepositories,
    ChatRepositories,
    NotificationRepositories,
    AdminRepositories,
):
    """Works on a copy of every context's tables; the copies replace the database's only on commit.
    Each context's repositories come from its mixin, reading its tables as ``<name>_tables``."""

    def __init__(self, database: InMemoryDatabase, clock: FakeClock | None = None) -> None:
        self._database = database
        self.clock = clock or FakeClock()
        self.read_only = False
        self._load()

    async def __aenter__(self) -> Self:
        self._load()
        self._database.opened.append("read" if self.read_only else "write")
        return self

    def _load(self) -> None:
        # Entities are mutable: each unit of work gets its own copies.
        for name, tables in self._database.tables().items():
            setattr(self, f"{name}_tables", tables.copy())

    def _mine(self) -> dict[str, Tables]:
        return {name: getattr(self, f"{name}_tables") for name in self._database.tables()}

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
        mine = self._mine()
        if self.read_only:
            if mine != self._database.tables():
                raise PermissionError("a read-only unit of work cannot write")
            return
        for name, tables in mine.items():
            setattr(self._database, name, tables.copy())
        self._database.commits += 1

    async def rollback(self) -> None:
        self._load()
        self._database.rollbacks += 1


class FakeUnitOfWorkFactory:
    def __init__(self, database: InMemoryDatabase | None = None, clock: FakeClock | None = None) -> None:
        self.database = database or InMemoryDatabase()
        self.clock = clock or FakeClock()

    def __call__(self, *, read_only: bool = False) -> InMemoryUnitOfWork:
        uow = InMemoryUnitOfWork(self.database, self.clock)
        uow.read_only = read_only
        return uow


class RecordingTaskQueue:
    """A TaskQueue that records what it is given, refusing the first ``fail_times`` enqueues."""

    def __init__(self, *, fail_times: int = 0, error: Exception | None = None) -> None:
        self.fail_times = fail_times
        self.error = error or ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.enqueued: list[tuple[str, dict[str, Any], str | None]] = []
        self.refused = 0

    async def enqueue(
        self,
        job_name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
    ) -> str:
        if self.refused < self.fail_times:
            self.refused += 1
            raise self.error
        self.enqueued.append((job_name, dict(payload or {}), dedupe_key))
        return f"{job_name}:{dedupe_key or len(self.enqueued)}"

    async def depth(self) -> int:
        return len(self.enqueued)

    @property
    def dedupe_keys(self) -> list[str | None]:
        return [key for _, _, key in self.enqueued]


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
