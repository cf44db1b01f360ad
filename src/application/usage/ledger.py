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
import uuid
from datetime import datetime

from src.application.shared.ports import UnitOfWorkFactory
from src.application.usage.budget import record_charge_if_near_budget
from src.application.usage.ports import UsageTransaction
from src.domain.usage.model import UsageRecord

#: Records per transaction at most (a longer queue is written in several).
MAX_BATCH = 200


class UsageLedger:
    def __init__(self, uow: UnitOfWorkFactory[UsageTransaction], *, max_batch: int = MAX_BATCH) -> None:
        self._uow = uow
        self._max_batch = max_batch
        self._pending: list[tuple[UsageRecord, int | None, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        #: Transactions committed (for tests and metrics: fewer than records under load).
        self.commits = 0

    async def record(self, record: UsageRecord, *, budget_micros: int | None = None) -> None:
        """Store ``record`` (and add it to the month's total); raises what the write raised. With the
        user's ``budget_micros``, a batch that brings their month to an alert threshold raises
        ``UsageCharged`` in the same transaction (budget alerts follow)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((record, budget_micros, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_pending())
        await asyncio.shield(done)

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                async with self._uow() as tx:
                    await tx.usage.record_many([record for record, _, _ in batch])
                    await _charges_near_budget(tx, batch)
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the failure
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.commits += 1
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)


async def _charges_near_budget(
    tx: UsageTransaction, batch: list[tuple[UsageRecord, int | None, asyncio.Future[None]]]
) -> None:
    """One ``UsageCharged`` per user whose month the batch brought to an alert threshold (one total read
    per user of the batch that gave a budget)."""
    charged: dict[uuid.UUID, tuple[int, int, datetime]] = {}
    for record, budget, _ in batch:
        if budget is None or not record.cost_micros:
            continue
        cost, _, _ = charged.get(record.user_id, (0, budget, record.created_at))
        charged[record.user_id] = (cost + record.cost_micros, budget, record.created_at)
    for user_id, (cost, budget, at) in charged.items():
        await record_charge_if_near_budget(tx, user_id=user_id, cost_micros=cost, budget_micros=budget, now=at)
