"""Ports shared by every bounded context.

Adapters for these live in ``src/infrastructure``; in-memory fakes for unit tests in ``tests/fakes``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar
from uuid import UUID

from src.domain.shared.jobs import JobReceipt
from src.domain.shared.outbox import OutboxBacklog, OutboxMessage
from src.domain.shared.rate_limit import RateDecision

T = TypeVar("T")


class Clock(Protocol):
    """Time is a port so that use cases and tests agree on it."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary point, for measuring durations."""
        ...


class JobReceiptRepository(Protocol):
    async def exists(self, job_name: str, dedupe_key: str) -> bool: ...

    async def add(self, receipt: JobReceipt) -> bool:
        """Store a receipt; ``False`` when one for the same job and key is already there."""
        ...

    async def delete_expired(self, now: datetime, *, batch_size: int) -> int:
        """Delete up to ``batch_size`` receipts that expired before ``now``; the number deleted."""
        ...


class ProcessedEventRepository(Protocol):
    """Which event handlers have completed for which events (what makes dispatch idempotent)."""

    async def exists(self, event_id: UUID, handler: str) -> bool: ...

    async def add(self, event_id: UUID, handler: str, now: datetime) -> bool:
        """Record a completed handler; ``False`` when it was recorded already."""
        ...

    async def delete_before(self, cutoff: datetime, *, batch_size: int) -> int: ...


class OutboxRepository(Protocol):
    """Background work waiting to be handed to the queue, written in the caller's transaction."""

    async def add(self, job_name: str, payload: Mapping[str, Any] | None = None) -> OutboxMessage:
        """Write a message for ``job_name``: it commits with the rest of the transaction, or not at all.

        ``payload`` must be plain JSON (the job receives it as it comes back from JSON).
        """
        ...

    async def claim_due(self, now: datetime, *, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` unsent messages available at ``now``, oldest first, held for this
        transaction: a relay running at the same time skips them instead of sending them too."""
        ...

    async def save(self, message: OutboxMessage) -> None:
        """Store a claimed message's attempts, last error, availability and sent time."""
        ...

    async def backlog(self) -> OutboxBacklog:
        """How many messages wait to be sent, and since when the oldest has waited."""
        ...

    async def sent_before(
        self, sent_before: datetime, *, created_after: datetime, max_attempts: int, limit: int
    ) -> list[OutboxMessage]:
        """Up to ``limit`` messages created after ``created_after``, sent before ``sent_before``, with
        fewer than ``max_attempts`` attempts, oldest first, held for this transaction (``save`` them)."""
        ...

    async def delete_sent_before(self, cutoff: datetime, *, batch_size: int) -> int:
        """Delete up to ``batch_size`` messages sent before ``cutoff``; the number deleted."""
        ...


class Transaction(Protocol):
    """One database transaction and the shared repositories bound to it.

    ``async with uow() as tx:`` commits when the block ends normally and rolls back when it raises.
    Each context extends this with its own repositories in its ``ports.py`` (``ChatTransaction``,
    ``IdentityTransaction``, ...); a use case asks for the narrowest one it needs, and the adapter
    (``src/infrastructure/persistence/unit_of_work.py``) satisfies them all. This module names no
    context: ``src/application/unit_of_work.py`` gathers them.
    """

    @property
    def job_receipts(self) -> JobReceiptRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def processed_events(self) -> ProcessedEventRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None:
        """Commit now (the block may go on in a new transaction)."""
        ...

    async def rollback(self) -> None: ...


TxT_co = TypeVar("TxT_co", bound=Transaction, covariant=True)


class UnitOfWorkFactory(Protocol[TxT_co]):
    """Opens a fresh unit of work: ``async with uow() as tx:``, ``tx`` a ``TxT_co``.

    A use case names the transaction it needs: ``uow: UnitOfWorkFactory[ChatTransaction]``.

    ``read_only=True`` is for queries: the transaction takes no write lock (SQLite) and refuses
    writes (PostgreSQL), so readers never queue behind writers.
    """

    def __call__(self, *, read_only: bool = False) -> TxT_co: ...


class HealthProbe(Protocol):
    """One dependency that readiness checks (the database, Redis, ...)."""

    name: str
    required: bool

    async def check(self) -> Mapping[str, str | int | float | None]:
        """Return details when healthy; raise any exception when not."""
        ...


JobHandler = Callable[[Mapping[str, Any]], Awaitable[Any]]


class TaskQueue(Protocol):
    """Hands work to the background: SAQ on Redis, or an in-process runner."""

    async def enqueue(
        self,
        job_name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        dedupe_key: str | None = None,
    ) -> str:
        """Queue ``job_name`` with ``payload``; returns the job id."""
        ...

    async def depth(self) -> int:
        """Jobs waiting to run."""
        ...


class RateLimiter(Protocol):
    """Counts hits per key in a sliding window; shared by every instance when backed by Redis."""

    async def hit(self, key: str, limit: int, window_seconds: float, *, cost: int = 1) -> RateDecision:
        """Record ``cost`` hits for ``key`` and decide; a rejected hit is not counted."""
        ...

    async def peek(self, key: str, limit: int, window_seconds: float) -> RateDecision:
        """Decide as ``hit`` would for one more hit, recording nothing (sign-in checks whether its
        failure allowance is spent before it checks the password, and counts failures only)."""
        ...


class Cache(Protocol):
    """A key-value cache with expiry. Misses are normal: an unreachable backend is a miss."""

    async def get(self, key: str, type_: type[T]) -> T | None:
        """The value stored under ``key`` decoded as ``type_``, or ``None``."""
        ...

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every key that starts with ``prefix``; the number deleted (best effort)."""
        ...


class FileStore(Protocol):
    """Files by key (``avatars/<user id>/<name>``): a local folder, or S3-compatible object storage.

    Keys are relative paths of lower-case letters, digits, ``-``, ``_``, ``.`` and ``/`` (no ``..``).
    Writes are whole: a reader sees the old file or the new one, never part of one.
    """

    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The file's bytes, or ``None`` when there is no such file."""
        ...

    async def delete(self, *keys: str) -> None:
        """Remove the files; keys without a file are skipped."""
        ...


class CacheStats(Protocol):
    """Counts cache lookups by the cache's logical name (``conversations``, ``http:articles``)."""

    def record(self, cache: str, *, hit: bool) -> None: ...
