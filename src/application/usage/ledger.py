"""UsageLedger: usage records written by group commit.

Every usage record also adds its cost to its user's running monthly total, one row per user and month:
concurrent calls of one user (a service calling the gateway with one key, twenty streams at once) all
write that row, and each transaction waits for the one before it to commit. The ledger keeps one write
under way per process: records that arrive while it commits wait for it and go together in the next
transaction, so a burst costs a few commits instead of a queue of row locks (and of pooled connections
held while waiting). ``record`` returns once its record is committed: a caller that answered after it
knows the usage is stored. A caller being cancelled does not cancel the write.
"""

from __future__ import annotations

import asyncio

from src.application.shared.ports import UnitOfWorkFactory
from src.domain.usage.model import UsageRecord

#: Records per transaction at most (a longer queue is written in several).
MAX_BATCH = 200


class UsageLedger:
    def __init__(self, uow: UnitOfWorkFactory, *, max_batch: int = MAX_BATCH) -> None:
        self._uow = uow
        self._max_batch = max_batch
        self._pending: list[tuple[UsageRecord, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Transactions committed (for tests and metrics: fewer than records under load).
        self.commits = 0

    async def record(self, record: UsageRecord) -> None:
        """Store ``record`` (and add it to the month's total); raises what the write raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_pending())
        await asyncio.shield(done)

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                async with self._uow() as tx:
                    await tx.usage.record_many([record for record, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the failure
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.commits += 1
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
