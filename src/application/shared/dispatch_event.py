"""DispatchEvent: run every handler registered for one domain event, each at least once.

Each handler that completes is recorded (event id + handler name) so that a redelivery or a retry
skips it; a handler that fails does not stop the others. When any failed, the job raises and the
runner retries it with backoff: only the failed handlers run again. After the last try the job
lands in the failed-jobs list, naming the handlers that failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from src.application.shared.events import decode_event
from src.application.shared.ports import Clock, Transaction, UnitOfWorkFactory
from src.domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True)
class EventHandler:
    """One reaction to an event. ``name`` is stable: it keys the processed-events record."""

    name: str
    run: Callable[[Any], Awaitable[Any]]


EventHandlerTable = Mapping[type[DomainEvent], Sequence[EventHandler]]


class EventObserver(Protocol):
    """Logs one line per dispatched event and counts it by type and outcome."""

    def dispatched(
        self,
        event: DomainEvent,
        outcome: str,
        *,
        handled: list[str],
        skipped: list[str],
        failed: dict[str, str],
        duration_s: float,
    ) -> None: ...


class EventHandlersFailed(Exception):
    """Some handlers of an event failed; the job is retried (only those run again)."""


@dataclass(frozen=True, slots=True)
class DispatchResult:
    event_type: str
    handled: list[str]
    skipped: list[str]
    failed: dict[str, str]


class DispatchEvent:
    def __init__(
        self, uow: UnitOfWorkFactory[Transaction], clock: Clock, table: EventHandlerTable, observer: EventObserver
    ) -> None:
        names = [h.name for handlers in table.values() for h in handlers]
        if len(names) != len(set(names)):
            raise ValueError("event handler names must be unique")
        self._uow = uow
        self._clock = clock
        self._table = table
        self._observer = observer

    async def __call__(self, payload: Mapping[str, Any]) -> DispatchResult:
        event = decode_event(payload)
        started = self._clock.monotonic()
        handled: list[str] = []
        skipped: list[str] = []
        failed: dict[str, str] = {}
        for handler in self._table.get(type(event), ()):
            async with self._uow(read_only=True) as tx:
                done = await tx.processed_events.exists(event.event_id, handler.name)
            if done:
                skipped.append(handler.name)
                continue
            try:
                await handler.run(event)
            except Exception as exc:  # noqa: BLE001 - one failing handler must not starve the others
                failed[handler.name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
                continue
            async with self._uow() as tx:
                await tx.processed_events.add(event.event_id, handler.name, self._clock.now())
            handled.append(handler.name)
        if failed:
            outcome = "failed"
        elif not handled and not skipped:
            outcome = "unhandled"
        elif handled:
            outcome = "handled"
        else:
            outcome = "duplicate"
        self._observer.dispatched(
            event,
            outcome,
            handled=handled,
            skipped=skipped,
            failed=failed,
            duration_s=self._clock.monotonic() - started,
        )
        if failed:
            raise EventHandlersFailed(
                f"{event.event_name()} {event.event_id}: " + "; ".join(f"{k}: {v}" for k, v in failed.items())
            )
        return DispatchResult(event.event_name(), handled, skipped, failed)
