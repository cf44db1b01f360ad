"""RunJobOnce: the idempotency guard every background job handler goes through.

A job that carries a dedupe key runs at most once per key: a second delivery (a retry after a
lost acknowledgement, a relay that sent twice) finds the receipt and is skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from src.application.shared.ports import Clock, Transaction, UnitOfWorkFactory
from src.domain.shared.jobs import JobReceipt


@dataclass(slots=True, frozen=True)
class JobOutcome:
    ran: bool
    result: Any = None


class RunJobOnce:
    def __init__(self, uow: UnitOfWorkFactory[Transaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self,
        job_name: str,
        dedupe_key: str | None,
        work: Callable[[], Awaitable[Any]],
    ) -> JobOutcome:
        if dedupe_key is None:
            return JobOutcome(ran=True, result=await work())
        async with self._uow() as tx:
            if await tx.job_receipts.exists(job_name, dedupe_key):
                return JobOutcome(ran=False)
        result = await work()
        async with self._uow() as tx:
            receipt = JobReceipt.issue(job_name, dedupe_key, now=self._clock.now())
            first = await tx.job_receipts.add(receipt)
        return JobOutcome(ran=first, result=result)
