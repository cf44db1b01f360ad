"""``GET /api/v1/notifications/stream``: the caller's notifications as server-sent events.

Subscribes first, then sends what was missed after ``?after=<id>`` (or ``Last-Event-ID``), then each
new notification as ``id: <notification id>``, ``event: notification``, ``data: <json>``; a
``: heartbeat`` comment keeps idle proxies from closing it. A client that fell behind gets
``event: events_lost`` and the stream ends: reconnect with ``after`` to catch up.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from src.application.chat.ports import EventsLost
from src.application.notifications.notifications_after import NotificationsAfterQuery
from src.domain.identity.model import Principal
from src.infrastructure.container import Container

HEARTBEAT = b": heartbeat\n\n"
#: Sent first: how long a client waits before it reconnects (EventSource's ``retry``), and a first
#: chunk so that proxies and clients see the stream open at once.
OPENING = b"retry: 3000\n\n"

_encoder = msgspec.json.Encoder()


def notification_event(notification: dict[str, Any]) -> bytes:
    return b"id: %s\nevent: notification\ndata: %s\n\n" % (
        str(notification["id"]).encode(),
        _encoder.encode(notification),
    )


async def notification_stream(
    container: Container, principal: Principal, after: uuid.UUID | None
) -> AsyncIterator[bytes]:
    heartbeat = container.settings.chat.sse_heartbeat_seconds
    async with container.realtime.user_events.subscribe(principal.user_id) as events:
        yield OPENING
        last = after
        if after is not None:
            missed = await container.notifications.notifications_after(principal, NotificationsAfterQuery(after))
            if missed:
                last = missed[-1].id
                yield b"".join(notification_event(v.to_json()) for v in missed)
        iterator = aiter(events)
        pending: asyncio.Future[Any] = asyncio.ensure_future(anext(iterator))
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=heartbeat)
                if not done:
                    yield HEARTBEAT
                    continue
                try:
                    event = pending.result()
                except EventsLost:
                    yield b'event: events_lost\ndata: {"code": "events_lost"}\n\n'
                    return
                pending = asyncio.ensure_future(anext(iterator))
                if event.type != "notification":
                    continue
                notification_id = uuid.UUID(str(event.data["id"]))
                if last is not None and notification_id <= last:
                    continue  # already sent in the catch-up
                yield notification_event(dict(event.data))
        finally:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
