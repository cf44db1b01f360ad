"""Recording domain events in the outbox, and reading them back.

``record_event(tx, event)`` writes the event as a ``dispatch_event`` outbox message inside the
caller's transaction: the event exists exactly when the change that caused it commits. The job
reads it back with ``decode_event`` and runs its handlers (``DispatchEvent``).

Every event class must be listed in ``EVENT_TYPES`` to travel: an unknown type name in a payload
is refused rather than guessed at.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from src.application.shared.ports import Transaction
from src.domain.chat.events import ReplyFailed
from src.domain.identity.events import ApiKeyCreated, PasswordChanged, RefreshTokenReuseDetected, UserRegistered
from src.domain.knowledge.events import ArticleSummarized, ParagraphsFetched
from src.domain.notifications.events import AnnouncementPublished
from src.domain.shared.events import DomainEvent
from src.domain.usage.events import BudgetThresholdReached, UsageCharged

#: The job every event travels as (its dedupe key is the outbox message id).
DISPATCH_EVENT_JOB = "dispatch_event"

EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.event_name(): cls
    for cls in (
        UserRegistered,
        PasswordChanged,
        RefreshTokenReuseDetected,
        ApiKeyCreated,
        UsageCharged,
        BudgetThresholdReached,
        ArticleSummarized,
        ParagraphsFetched,
        ReplyFailed,
        AnnouncementPublished,
    )
}


class UnknownEvent(ValueError):
    """A payload names an event type this process does not know."""


async def record_event(tx: Transaction, event: DomainEvent) -> None:
    """Write ``event`` to the outbox in ``tx``: dispatched after the commit, never without it."""
    await tx.outbox.add(DISPATCH_EVENT_JOB, encode_event(event))


def encode_event(event: DomainEvent) -> dict[str, Any]:
    if EVENT_TYPES.get(event.event_name()) is not type(event):
        raise UnknownEvent(f"{type(event).__name__} is not listed in EVENT_TYPES")
    data = {f.name: _plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    return {"type": event.event_name(), "event": data}


def decode_event(payload: Mapping[str, Any]) -> DomainEvent:
    name = str(payload.get("type", ""))
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise UnknownEvent(f"unknown event type {name!r}")
    raw = payload.get("event") or {}
    hints = typing.get_type_hints(cls)
    values = {f.name: _typed(raw[f.name], hints[f.name]) for f in dataclasses.fields(cls) if f.name in raw}
    return cls(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _typed(value: Any, hint: Any) -> Any:
    if hint is UUID:
        return UUID(str(value))
    if hint is datetime:
        return datetime.fromisoformat(str(value))
    if typing.get_origin(hint) is tuple:
        return tuple(value)
    return value
