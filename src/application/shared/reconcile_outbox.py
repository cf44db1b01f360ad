"""ReconcileOutbox: hand the queue again the jobs it lost before running them.

The relay marks an outbox message sent once the queue took its job. If the queue then loses it
(Redis restarted without its data, or was flushed) the job never runs: a title, a summary, a
dictionary refresh that never comes. Every job handed over from the outbox carries the message id
as its dedupe key and leaves a receipt when it completes (``RunJobOnce``), so a message sent a
while ago (``grace``) without a receipt is sent again, with the same key: the queue refuses a
duplicate of a job it still holds, and a job that did run is skipped by its receipt. Bounded: only
messages of the last ``window``, each resent at most ``max_attempts`` times in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from src.application.shared.ports import Clock, TaskQueue, Transaction, UnitOfWorkFactory

#: A job handed over this long ago without a receipt is taken for lost (it would have run by then).
DEFAULT_GRACE = timedelta(minutes=2)
DEFAULT_WINDOW = timedelta(hours=1)
#: Hand-over attempts of one message, failed sends and resends together.
DEFAULT_MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class ReconciledOutbox:
    checked: int
    resent: int


@dataclass(frozen=True, slots=True)
class ReconcileOutboxCommand:
    batch_size: int = 100


class ReconcileOutbox:
    def __init__(
        self,
        uow: UnitOfWorkFactory[Transaction],
        queue: TaskQueue,
        clock: Clock,
        *,
        grace: timedelta = DEFAULT_GRACE,
        window: timedelta = DEFAULT_WINDOW,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._grace = grace
        self._window = window
        self._max_attempts = max_attempts

    async def __call__(self, command: ReconcileOutboxCommand) -> ReconciledOutbox:
        now = self._clock.now()
        resent = 0
        async with self._uow() as tx:
            candidates = await tx.outbox.sent_before(
                now - self._grace,
                created_after=now - self._window,
                max_attempts=self._max_attempts,
                limit=command.batch_size,
            )
            for message in candidates:
                if await tx.job_receipts.exists(message.job_name, str(message.id)):
                    continue  # it ran
                try:
                    await self._queue.enqueue(message.job_name, message.payload, dedupe_key=str(message.id))
                except Exception:  # noqa: BLE001 - the queue is away: the next round tries again
                    break
                message.mark_resent(self._clock.now())
                await tx.outbox.save(message)
                resent += 1
        return ReconciledOutbox(checked=len(candidates), resent=resent)
