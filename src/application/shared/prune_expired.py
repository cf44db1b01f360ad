"""PruneExpiredRecords: the maintenance job that deletes rows whose time is up.

Later contexts add their own expiring rows (refresh tokens, sent outbox rows, ...) by extending
this use case; deletion runs in bounded batches so that a large backlog never holds one long lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from src.application.shared.ports import Clock, UnitOfWorkFactory


@dataclass(slots=True, frozen=True)
class PruneExpiredCommand:
    batch_size: int = 1000
    max_batches: int = 100


@dataclass(slots=True, frozen=True)
class PruneExpiredResult:
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


class PruneExpiredRecords:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, command: PruneExpiredCommand | None = None) -> PruneExpiredResult:
        command = command or PruneExpiredCommand()
        if command.batch_size < 1 or command.max_batches < 1:
            raise ValueError("batch_size and max_batches must be positive")
        now = self._clock.now()
        deleted = 0
        async with self._uow() as tx:
            for _ in range(command.max_batches):
                removed = await tx.job_receipts.delete_expired(now, batch_size=command.batch_size)
                deleted += removed
                # Commit each batch so locks are short and progress survives an interruption.
                await tx.commit()
                if removed < command.batch_size:
                    break
        return PruneExpiredResult(deleted={"job_receipts": deleted})
