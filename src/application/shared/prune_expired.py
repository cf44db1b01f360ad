"""PruneExpiredRecords: the maintenance job that deletes rows whose time is up.

Job receipts past their expiry, outbox messages sent longer ago than their retention and expired
refresh tokens go; later contexts add their own expiring rows to the list in ``__call__``. Deletion
runs in bounded batches, each committed, so that a large backlog never holds one long lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

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


class PruneTransaction(Transaction, Protocol):
    """The shared repositories and the other expiring records this job deletes, by shape only
    (this module imports no context: identity's refresh tokens fit ``ExpiringRecords``)."""

    @property
    def refresh_tokens(self) -> ExpiringRecords: ...


DeleteBatch = Callable[[PruneTransaction], Awaitable[int]]


class PruneExpiredRecords:
    def __init__(self, uow: UnitOfWorkFactory[PruneTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: PruneExpiredCommand | None = None) -> PruneExpiredResult:
        command = command or PruneExpiredCommand()
        if command.batch_size < 1 or command.max_batches < 1:
            raise ValueError("batch_size and max_batches must be positive")
        now = self._clock.now()
        size = command.batch_size
        sent_cutoff = now - command.sent_outbox_retention
        targets: dict[str, DeleteBatch] = {
            "job_receipts": lambda tx: tx.job_receipts.delete_expired(now, batch_size=size),
            "outbox_messages": lambda tx: tx.outbox.delete_sent_before(sent_cutoff, batch_size=size),
            # A refresh token past its expiry can never be exchanged again, used or not.
            "refresh_tokens": lambda tx: tx.refresh_tokens.delete_expired(now, batch_size=size),
        }
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
