"""RelayOutbox: hand committed outbox messages to the job queue, and mark them sent.

One round claims a batch of due messages (other relays running at the same time skip them), gives
each to the ``TaskQueue`` with the message id as its dedupe key, and marks it sent. When the queue
refuses one (Redis down, most likely), that message is backed off and the round stops: the rest of
the batch stays as it was, untouched, for a later round. Nothing is lost either way; a message
sent twice (the queue took it but the "sent" mark did not commit) runs once, because the job
handler goes through ``RunJobOnce`` with the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.application.shared.ports import Clock, TaskQueue, Transaction, UnitOfWorkFactory
from src.domain.shared.outbox import DEFAULT_BACKOFF, OutboxBacklog, OutboxBackoff


@dataclass(slots=True, frozen=True)
class RelayOutboxCommand:
    batch_size: int = 100


@dataclass(slots=True, frozen=True)
class RelayOutboxResult:
    claimed: int
    sent: int
    failed: int
    #: Why the last send of this round failed, when one did.
    error: str | None
    #: What still waits after this round.
    backlog: OutboxBacklog
    checked_at: datetime
    batch_size: int

    @property
    def more_due(self) -> bool:
        """A full batch went out cleanly: more messages are probably due right now."""
        return self.failed == 0 and self.claimed >= self.batch_size


class RelayOutbox:
    def __init__(
        self,
        uow: UnitOfWorkFactory[Transaction],
        queue: TaskQueue,
        clock: Clock,
        *,
        backoff: OutboxBackoff = DEFAULT_BACKOFF,
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._backoff = backoff

    async def __call__(self, command: RelayOutboxCommand) -> RelayOutboxResult:
        if command.batch_size < 1:
            raise ValueError("batch_size must be positive")
        now = self._clock.now()
        sent = failed = 0
        error: str | None = None
        async with self._uow() as tx:
            due = await tx.outbox.claim_due(now, limit=command.batch_size)
            for message in due:
                try:
                    await self._queue.enqueue(message.job_name, message.payload, dedupe_key=str(message.id))
                except Exception as exc:  # noqa: BLE001 - any refusal leaves the message waiting
                    error = _describe(exc)
                    message.record_failure(error, now=self._clock.now(), backoff=self._backoff)
                    await tx.outbox.save(message)
                    failed += 1
                    # The queue is most likely unreachable: trying the rest now would only wait
                    # out the same timeout once per message. They stay due for the next round.
                    break
                message.mark_sent(self._clock.now())
                await tx.outbox.save(message)
                sent += 1
            backlog = await tx.outbox.backlog()
        return RelayOutboxResult(
            claimed=len(due),
            sent=sent,
            failed=failed,
            error=error,
            backlog=backlog,
            checked_at=now,
            batch_size=command.batch_size,
        )


def _describe(exc: BaseException) -> str:
    # The class name and first line say what went wrong; the full text may hold a URL or a dump.
    first_line = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__
