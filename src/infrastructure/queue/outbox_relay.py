"""The outbox relay loop: runs ``RelayOutbox`` in the background of the API and of each worker.

A round runs every ``interval`` seconds, at once when woken (right after a transaction that wrote
outbox messages commits, see ``SqlAlchemyUnitOfWorkFactory.on_outbox_commit``), and again straight
away while full batches keep going out. After a failed round (the queue or the database is down)
it waits the whole interval, wake-ups or not, so that an outage is not hammered on every commit.
A failing relay logs once when it starts failing and once when it recovers, not on every round.

Every ``reconcile_every`` seconds it also runs ``ReconcileOutbox``: jobs the queue took but lost
before running them (Redis restarted empty) are handed over again.
"""

from __future__ import annotations

import asyncio

from src.application.shared.ports import Clock
from src.application.shared.reconcile_outbox import ReconcileOutbox, ReconcileOutboxCommand
from src.application.shared.relay_outbox import RelayOutbox, RelayOutboxCommand, RelayOutboxResult
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.tasks import cancel_and_wait, raise_if_cancelled

logger = get_logger("parley.outbox")


class OutboxRelayLoop:
    def __init__(
        self,
        relay: RelayOutbox,
        clock: Clock,
        *,
        interval: float,
        batch_size: int,
        reconcile: ReconcileOutbox | None = None,
        reconcile_every: float = 60.0,
    ) -> None:
        self._relay = relay
        self._reconcile = reconcile
        self._reconcile_every = reconcile_every
        self._reconciled_at: float | None = None
        self._clock = clock
        self._interval = interval
        self._command = RelayOutboxCommand(batch_size=batch_size)
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._failing = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Run a round now rather than at the next tick (a no-op while the loop is stopped)."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def start(self) -> None:
        if self.running:
            return
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="parley-outbox-relay")
        logger.info("outbox_relay_started", interval_s=self._interval, batch_size=self._command.batch_size)

    async def stop(self, grace_seconds: float = 2.0) -> None:
        """Let the round in flight finish (up to ``grace_seconds``), then stop. A round still
        running after that is cancelled: its transaction rolls back, and any message it had
        handed over is sent again later and deduplicated by its id."""
        task, stopping = self._task, self._stopping
        self._task = self._wakeup = self._stopping = None
        if task is None or stopping is None:
            return
        stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_seconds)
        except TimeoutError:
            await cancel_and_wait(task)

    async def run_once(self) -> RelayOutboxResult:
        """One round, observed: metrics updated, failures and recoveries logged."""
        try:
            result = await self._relay(self._command)
        except Exception as exc:
            self._note_failure("database", f"{type(exc).__name__}: {exc}".splitlines()[0])
            raise
        METRICS.outbox_backlog.set(result.backlog.pending)
        METRICS.outbox_oldest_age.set(result.backlog.oldest_age_seconds(self._clock.now()))
        if result.failed:
            self._note_failure("queue", result.error or "unknown error", pending=result.backlog.pending)
        elif self._failing and (result.sent or not result.backlog.pending):
            self._failing = False
            logger.info("outbox_relay_recovered", sent=result.sent, pending=result.backlog.pending)
        return result

    async def _run(self) -> None:
        wakeup, stopping = self._wakeup, self._stopping
        assert wakeup is not None
        assert stopping is not None
        while not stopping.is_set():
            raise_if_cancelled()
            wakeup.clear()
            try:
                result = await self.run_once()
            except Exception:  # noqa: BLE001 - logged by run_once; the loop must outlive an outage
                result = None
            if result is not None and not result.failed:
                await self.reconcile_when_due()
            if result is not None and result.more_due:
                await asyncio.sleep(0)  # let the rest of the process breathe between full batches
                continue
            if result is None or result.failed:
                await _first_of(stopping, timeout=self._interval)
                continue
            await _first_of(stopping, wakeup, timeout=self._interval)

    async def reconcile_when_due(self) -> None:
        if self._reconcile is None:
            return
        now = self._clock.monotonic()
        if self._reconciled_at is not None and now - self._reconciled_at < self._reconcile_every:
            return
        self._reconciled_at = now
        try:
            result = await self._reconcile(ReconcileOutboxCommand(self._command.batch_size))
        except Exception as exc:  # noqa: BLE001 - the next period tries again
            logger.warning("outbox_reconcile_failed", error=f"{type(exc).__name__}"[:300])
            return
        if result.resent:
            METRICS.outbox_resent.inc(result.resent)
            logger.warning("outbox_jobs_resent", resent=result.resent, reason="the queue lost them before they ran")

    def _note_failure(self, cause: str, error: str, **details: object) -> None:
        if self._failing:
            return
        self._failing = True
        logger.warning("outbox_relay_failing", cause=cause, error=error[:300], retry_every_s=self._interval, **details)


async def _first_of(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of ``events`` is set, or ``timeout`` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
