"""In-memory fakes of the shared ports, implementing the same Protocols as the adapters."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from src.domain.identity.model import ApiKey, RefreshToken, User
from src.domain.shared.jobs import JobReceipt
from src.domain.shared.outbox import OutboxBacklog, OutboxMessage
from tests.fakes.admin import (
    AdminTables,
    InMemoryAuditLogRepository,
    InMemoryContentReportRepository,
    InMemoryModerationItemRepository,
)
from tests.fakes.chat import (
    ChatTables,
    InMemoryBudgetRepository,
    InMemoryConversationRepository,
    InMemoryMessageRepository,
    InMemoryUsageRepository,
)
from tests.fakes.identity import InMemoryApiKeyRepository, InMemoryRefreshTokenRepository, InMemoryUserRepository
from tests.fakes.knowledge import (
    InMemoryArticleRepository,
    InMemoryParagraphRepository,
    InMemoryWordCountRepository,
    KnowledgeTables,
)
from tests.fakes.notifications import (
    InMemoryEmailRepository,
    InMemoryNotificationRepository,
    InMemoryPreferenceRepository,
    InMemoryProcessedEventRepository,
    NotificationTables,
)


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


class InMemoryDatabase:
    """What the fake units of work commit to."""

    def __init__(self) -> None:
        self.job_receipts: dict[tuple[str, str], JobReceipt] = {}
        self.outbox: dict[uuid.UUID, OutboxMessage] = {}
        self.users: dict[uuid.UUID, User] = {}
        self.refresh_tokens: dict[uuid.UUID, RefreshToken] = {}
        self.api_keys: dict[uuid.UUID, ApiKey] = {}
        self.knowledge = KnowledgeTables()
        self.chat = ChatTables()
        self.notifications = NotificationTables()
        self.admin = AdminTables()
        self.commits = 0
        self.rollbacks = 0
        #: "read" or "write" for every unit of work opened, in order.
        self.opened: list[str] = []


class InMemoryUnitOfWork:
    """Works on a copy of the data; the copy replaces the data only on commit."""

    def __init__(self, database: InMemoryDatabase, clock: FakeClock | None = None) -> None:
        self._database = database
        self._clock = clock or FakeClock()
        self._receipts: dict[tuple[str, str], JobReceipt] = {}
        self._outbox: dict[uuid.UUID, OutboxMessage] = {}
        self._users: dict[uuid.UUID, User] = {}
        self._refresh_tokens: dict[uuid.UUID, RefreshToken] = {}
        self._api_keys: dict[uuid.UUID, ApiKey] = {}
        self._knowledge = KnowledgeTables()
        self._chat = ChatTables()
        self._notifications = NotificationTables()
        self._admin = AdminTables()
        self.read_only = False

    @property
    def job_receipts(self) -> InMemoryJobReceiptRepository:
        return InMemoryJobReceiptRepository(self._receipts)

    @property
    def outbox(self) -> InMemoryOutboxRepository:
        return InMemoryOutboxRepository(self._outbox, self._clock)

    @property
    def processed_events(self) -> InMemoryProcessedEventRepository:
        return InMemoryProcessedEventRepository(self._notifications)

    @property
    def notifications(self) -> InMemoryNotificationRepository:
        return InMemoryNotificationRepository(self._notifications, self._users)

    @property
    def notification_preferences(self) -> InMemoryPreferenceRepository:
        return InMemoryPreferenceRepository(self._notifications)

    @property
    def emails(self) -> InMemoryEmailRepository:
        return InMemoryEmailRepository(self._notifications)

    @property
    def users(self) -> InMemoryUserRepository:
        return InMemoryUserRepository(self._users)

    @property
    def refresh_tokens(self) -> InMemoryRefreshTokenRepository:
        return InMemoryRefreshTokenRepository(self._refresh_tokens)

    @property
    def api_keys(self) -> InMemoryApiKeyRepository:
        return InMemoryApiKeyRepository(self._api_keys)

    @property
    def conversations(self) -> InMemoryConversationRepository:
        return InMemoryConversationRepository(self._chat)

    @property
    def messages(self) -> InMemoryMessageRepository:
        return InMemoryMessageRepository(self._chat)

    @property
    def usage(self) -> InMemoryUsageRepository:
        return InMemoryUsageRepository(self._chat)

    @property
    def budgets(self) -> InMemoryBudgetRepository:
        return InMemoryBudgetRepository(self._chat)

    @property
    def articles(self) -> InMemoryArticleRepository:
        return InMemoryArticleRepository(self._knowledge)

    @property
    def paragraphs(self) -> InMemoryParagraphRepository:
        return InMemoryParagraphRepository(self._knowledge)

    @property
    def word_counts(self) -> InMemoryWordCountRepository:
        return InMemoryWordCountRepository(self._knowledge)

    @property
    def audit(self) -> InMemoryAuditLogRepository:
        return InMemoryAuditLogRepository(self._admin)

    @property
    def moderation_items(self) -> InMemoryModerationItemRepository:
        return InMemoryModerationItemRepository(self._admin)

    @property
    def content_reports(self) -> InMemoryContentReportRepository:
        return InMemoryContentReportRepository(self._admin)

    async def __aenter__(self) -> Self:
        self._load()
        self._database.opened.append("read" if self.read_only else "write")
        return self

    def _load(self) -> None:
        # Entities are mutable: each unit of work gets its own copies.
        self._receipts = dict(self._database.job_receipts)
        self._outbox = dict(self._database.outbox)
        self._users = {k: dataclasses.replace(v) for k, v in self._database.users.items()}
        self._refresh_tokens = {k: dataclasses.replace(v) for k, v in self._database.refresh_tokens.items()}
        self._api_keys = {k: dataclasses.replace(v) for k, v in self._database.api_keys.items()}
        self._knowledge = self._database.knowledge.copy()
        self._chat = self._database.chat.copy()
        self._notifications = self._database.notifications.copy()
        self._admin = self._database.admin.copy()

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
        if self.read_only:
            if (
                self._receipts != self._database.job_receipts
                or self._outbox != self._database.outbox
                or self._users != self._database.users
                or self._refresh_tokens != self._database.refresh_tokens
                or self._api_keys != self._database.api_keys
                or self._knowledge != self._database.knowledge
                or self._chat != self._database.chat
                or self._notifications != self._database.notifications
                or self._admin != self._database.admin
            ):
                raise PermissionError("a read-only unit of work cannot write")
            return
        self._database.job_receipts = dict(self._receipts)
        self._database.outbox = dict(self._outbox)
        self._database.users = {k: dataclasses.replace(v) for k, v in self._users.items()}
        self._database.refresh_tokens = {k: dataclasses.replace(v) for k, v in self._refresh_tokens.items()}
        self._database.api_keys = {k: dataclasses.replace(v) for k, v in self._api_keys.items()}
        self._database.knowledge = self._knowledge.copy()
        self._database.chat = self._chat.copy()
        self._database.notifications = self._notifications.copy()
        self._database.admin = self._admin.copy()
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
