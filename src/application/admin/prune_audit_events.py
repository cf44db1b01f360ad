"""PruneAuditEvents: deletes events older than the retention (``AUDIT_RETENTION_DAYS``), in committed batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from src.application.admin.ports import AuditTransaction
from src.application.shared.ports import Clock, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PruneAuditEventsCommand:
    batch_size: int = 1000


class PruneAuditEvents:
    """Deletes events older than the retention (``AUDIT_RETENTION_DAYS``), in committed batches."""

    def __init__(
        self, uow: UnitOfWorkFactory[AuditTransaction], clock: Clock, retention: timedelta, *, max_batches: int = 100
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention
        self._max_batches = max_batches

    async def __call__(self, command: PruneAuditEventsCommand) -> AuditPruneResult:
        if command.batch_size < 1:
            raise ValueError("batch_size must be positive")
        cutoff = self._clock.now() - self._retention
        deleted = 0
        for _ in range(self._max_batches):
            async with self._uow() as tx:
                removed = await tx.audit.delete_before(cutoff, batch_size=command.batch_size)
            deleted += removed
            if removed < command.batch_size:
                break
        return AuditPruneResult(deleted=deleted)


@dataclass(frozen=True, slots=True)
class AuditPruneResult:
    deleted: int
