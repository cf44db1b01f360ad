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
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any, cast

import msgspec
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Receive, Send

from src.application.chat.ports import ReplyEvent, ReplyEventBatches
from src.domain.shared.errors import DomainError

MEDIA_TYPE = "text/event-stream"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
HEARTBEAT = b": heartbeat\n\n"

_encoder = msgspec.json.Encoder()


def encode_event(event: ReplyEvent) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (event.id, event.kind.encode(), _encoder.encode(dict(event.data)))


def sse_response(
    events: AsyncIterator[ReplyEvent], *, heartbeat_seconds: float, shown: Sequence[ReplyEvent] = ()
) -> Stream:
    """``shown``: events already there (``ReplyHandle.shown``), sent first, at once, by the responding
    task itself, right after the response's start (``_SseBody``); ``events`` follows from after them."""
    return _SseStream(
        _frames(events, heartbeat_seconds, shown), media_type=MEDIA_TYPE, headers=HEADERS, status_code=200
    )


class _Last(bytes):
    """The body's last chunk (the events up to a terminal one, or the error that ends the stream): sent with
    the body's end, one write rather than two."""

    __slots__ = ()


class _SseBody(ASGIStreamingResponse):
    """Litestar's streaming response, its body sent from the responding task itself while one plain task
    listens for the client's disconnect (and then cancels the body where it waits).

    Litestar's own runs the body in a task of its own within an anyio task group, with a cancel scope
    for the disconnect: ~3 % of a streamed reply's CPU. And the first chunk (the events a reply had shown
    by the send's return, there at once) waited for that task's first turn, after the reply's own work
    (~0.2 ms at 1 client); here it goes out in the start's turn."""

    __slots__ = ()

    async def send_body(self, send: Send, receive: Receive) -> None:
        iterator = cast(AsyncGenerator[bytes, None], self.iterator)
        body = asyncio.current_task()
        assert body is not None
        # The listener runs only while the body waits (at a send or for a chunk), so its cancel always
        # lands at one of those waits, inside ``try``; once the body is over it cancels nothing.
        state = {"over": False, "gone": False}

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            if not state["over"]:
                state["gone"] = True
                body.cancel()

        listener = asyncio.ensure_future(listen())
        try:
            async for chunk in iterator:
                if type(chunk) is _Last:
                    # The stream's last events and the body's end in one write.
                    state["over"] = True
                    await send({"type": "http.response.body", "body": chunk, "more_body": False})
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not state["gone"]:
                raise
            body.uncancel()  # the client went away: the body ends here, as Litestar's does
        finally:
            state["over"] = True
            listener.cancel()
            with contextlib.suppress(Exception):
                await iterator.aclose()  # the body's generator: its reader stops following the reply


class _SseStream(Stream):
    """A ``Stream`` answered by ``_SseBody``."""

    __slots__ = ()

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        response = super().to_asgi_response(*args, **kwargs)
        # The same object, its body sent by ``_SseBody``: it adds no state (``__slots__`` empty), so the
        # class Litestar built is swapped rather than its constructor repeated here.
        assert type(response) is ASGIStreamingResponse
        response.__class__ = _SseBody
        return response


async def _frames(
    events: AsyncIterator[ReplyEvent], heartbeat_seconds: float, shown: Sequence[ReplyEvent] = ()
) -> AsyncIterator[bytes]:
    last_id = 0
    if shown:
        # With the response's start, before a reader task is even made: no loop turns (and no other
        # tasks' work, the reply's own included) between the start and the first delta.
        last_id = shown[-1].id
        try:
            yield b"".join(encode_event(event) for event in shown)
        except BaseException:
            with contextlib.suppress(Exception):
                await events.aclose()  # type: ignore[attr-defined]
            raise
    # A follow that batches natively (a reply of this process) is read by this task itself; any other
    # through a task of its own.
    reader: ReplyEventBatches = events if isinstance(events, ReplyEventBatches) else _Reader(events)
    try:
        while True:
            # Wait for events without cancelling the read when a heartbeat is due.
            if not await reader.wait(heartbeat_seconds):
                yield HEARTBEAT
                continue
            # Every event already there goes out as one chunk: one socket write, not one per event.
            batch, terminal = reader.take()
            if batch:
                last_id = batch[-1].id
                chunk = b"".join(encode_event(event) for event in batch)
                yield _Last(chunk) if terminal else chunk
            if terminal:
                return
            if reader.done:
                if isinstance(reader.failure, DomainError):
                    exc = reader.failure
                    error = ReplyEvent(last_id + 1, "error", {"code": exc.code, "detail": exc.detail})
                    yield _Last(encode_event(error))
                elif reader.failure is not None:
                    raise reader.failure
                return
    finally:
        await reader.stop()


class _Reader:
    """``ReplyEventBatches`` of any event iterator: reads ``events`` in a task of its own into a list, so that
    the response takes whatever has arrived at once, and a heartbeat timeout never cancels a read under way."""

    def __init__(self, events: AsyncIterator[ReplyEvent]) -> None:
        self._events = events
        self._ready: list[ReplyEvent] = []
        self._waiter: asyncio.Future[None] | None = None
        self.done = False
        self.failure: Exception | None = None
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for event in self._events:
                self._ready.append(event)
                self._wake()
                if event.terminal:
                    return
        except Exception as exc:  # noqa: BLE001 - handed to the response, which raises it
            self.failure = exc
        finally:
            self.done = True
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, timeout: float) -> bool:
        """``True`` once there is something to take (events, or the end); ``False`` after ``timeout``."""
        if self._ready or self.done:
            return True
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._waiter
        except TimeoutError:
            return bool(self._ready or self.done)
        finally:
            self._waiter = None
        return True

    def take(self) -> tuple[list[ReplyEvent], bool]:
        """The events read so far (up to and including a terminal one), and whether one was terminal."""
        batch, self._ready = self._ready, []
        return batch, bool(batch) and batch[-1].terminal

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
