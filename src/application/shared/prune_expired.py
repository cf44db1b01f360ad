"""PruneExpiredRecords: the maintenance job that deletes rows whose time is up.

Job receipts past their expiry and outbox messages sent longer ago than their retention go, and so do
the expiring records each context registers (``expiring``, given by the wiring: identity's expired
refresh tokens, ...), so this module names no context. Deletion runs in bounded batches, each
committed, so that a large backlog never holds one long lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from src.application.shared.ports import Clock, Transaction, UnitOfWorkFactory
from src.domain.shared.outbox import SENT_MESSAGE_RETENTION


@dataclass(slots=True, frozen=True)
class PruneExpiredCommand:
    batch_size: int = 1000
    max_batches: int = 100
    sent_outbox_retention: timedelta = SENT_MESSAGE_RETENTION


@dataclass(slots=True, frozen=True)
class PruneExpiredResult:
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


class ExpiringRecords(Protocol):
    async def delete_expired(self, now: datetime, *, batch_size: int) -> int:
        """Delete up to ``batch_size`` records that expired before ``now``; the number deleted."""
        ...


T = TypeVar("T", bound=Transaction)

#: A context's expiring records in a transaction (``lambda tx: tx.refresh_tokens``), by the name the
#: result reports them under.
ExpiringRecordsOf = Callable[[T], ExpiringRecords]


class PruneExpiredRecords(Generic[T]):
    def __init__(
        self, uow: UnitOfWorkFactory[T], clock: Clock, expiring: Mapping[str, ExpiringRecordsOf[T]] | None = None
    ) -> None:
        """``expiring``: what each context registers beside the shared job receipts and outbox."""
        self._uow = uow
        self._clock = clock
        self._expiring = dict(expiring or {})

    async def __call__(self, command: PruneExpiredCommand) -> PruneExpiredResult:
        if command.batch_size < 1 or command.max_batches < 1:
            raise ValueError("batch_size and max_batches must be positive")
        now = self._clock.now()
        size = command.batch_size
        sent_cutoff = now - command.sent_outbox_retention
        targets: dict[str, Callable[[T], Awaitable[int]]] = {
            "job_receipts": lambda tx: tx.job_receipts.delete_expired(now, batch_size=size),
            "outbox_messages": lambda tx: tx.outbox.delete_sent_before(sent_cutoff, batch_size=size),
        }
        for name, records_of in self._expiring.items():
            targets[name] = self._deleting(records_of, now, size)
        deleted: dict[str, int] = {}
        async with self._uow() as tx:
            for name, delete_batch in targets.items():
                deleted[name] = 0
                for _ in range(command.max_batches):
                    removed = await delete_batch(tx)
                    deleted[name] += removed
                    # Commit each batch so locks are short and progress survives an interruption.
                    await tx.commit()
                    if removed < size:
                        break
        return PruneExpiredResult(deleted=deleted)

    @staticmethod
    def _deleting(records_of: ExpiringRecordsOf[T], now: datetime, size: int) -> Callable[[T], Awaitable[int]]:
        def delete_batch(tx: T) -> Awaitable[int]:
            return records_of(tx).delete_expired(now, batch_size=size)

        return delete_batch
