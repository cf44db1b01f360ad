"""Server-sent events for reply streams.

Each reply event goes out as ``id: <event id>``, ``event: <kind>``, ``data: <json>``; a comment
(``: heartbeat``) every ``SSE_HEARTBEAT_SECONDS`` (15 by default) keeps proxies from closing an
idle stream. Headers: ``text/event-stream``, ``Cache-Control: no-cache``, ``X-Accel-Buffering: no``
(nginx must not buffer). Reading the stream is all the response does: a client that goes away
stops its own reading, never the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import msgspec
from litestar.response import Stream

from src.application.chat.ports import ReplyEvent
from src.domain.shared.errors import DomainError

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
HEARTBEAT = b": heartbeat\n\n"

_encoder = msgspec.json.Encoder()


def encode_event(event: ReplyEvent) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, event.kind.encode(), _encoder.encode(dict(event.data)))


def sse_response(events: AsyncIterator[ReplyEvent], *, heartbeat_seconds: float) -> Stream:
    return Stream(_frames(events, heartbeat_seconds), media_type=MEDIA_TYPE, headers=HEADERS, status_code=200)


async def _frames(events: AsyncIterator[ReplyEvent], heartbeat_seconds: float) -> AsyncIterator[bytes]:
    iterator = aiter(events)
    pending: asyncio.Future[ReplyEvent] = asyncio.ensure_future(anext(iterator))
    last_id = 0
    try:
        while True:
            # Wait for the next event without cancelling the read when a heartbeat is due.
            done, _ = await asyncio.wait({pending}, timeout=heartbeat_seconds)
            if not done:
                yield HEARTBEAT
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            except DomainError as exc:
                yield encode_event(ReplyEvent(last_id + 1, "error", {"code": exc.code, "detail": exc.detail}))
                return
            last_id = event.id
            yield encode_event(event)
            if event.terminal:
                return
            pending = asyncio.ensure_future(anext(iterator))
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
