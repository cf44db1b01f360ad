"""Reply streams in memory: the events of the replies this process generates, replayable from any event id
and followed live (without Redis, all there is; with it, what ``RedisReplyStreamStore`` mirrors there).

Each stream is bounded by its reply's size and removed some time after it closes. A reader
(``MemoryFollow``) is woken by the writer's append itself: no task of its own, no queue between.
"""

from __future__ import annotations

import asyncio
import bisect
import uuid
from dataclasses import dataclass, field

from src.application.chat.ports import ReplyEvent


@dataclass(slots=True)
class _Stream:
    events: list[ReplyEvent] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    closed: bool = False
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    expiry: asyncio.TimerHandle | None = None

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.waiters.clear()


class MemoryReplyStreams:
    """The streams of this process, in memory. Each is bounded by its reply's size and removed
    ``ttl`` seconds after it closes (``max_age`` after it began if it never does)."""

    def __init__(self, *, ttl: float, max_age: float) -> None:
        self._ttl = ttl
        self._max_age = max_age
        self._streams: dict[uuid.UUID, _Stream] = {}

    def __contains__(self, reply_id: object) -> bool:
        return reply_id in self._streams

    def __len__(self) -> int:
        return len(self._streams)

    def append(self, reply_id: uuid.UUID, event: ReplyEvent) -> None:
        stream = self._streams.get(reply_id)
        if stream is None:
            if event.id != 1:
                # Not a stream this process writes (recovery ending another instance's reply):
                # holding only its tail here would hide the rest, in Redis, from local readers.
                return
            stream = self._streams[reply_id] = _Stream()
            stream.expiry = self._expire_later(reply_id, self._max_age)
        if stream.closed or (stream.ids and event.id <= stream.ids[-1]):
            return
        stream.events.append(event)
        stream.ids.append(event.id)
        stream.wake()

    def close(self, reply_id: uuid.UUID) -> None:
        stream = self._streams.get(reply_id)
        if stream is None or stream.closed:
            return
        stream.closed = True
        if stream.expiry is not None:
            stream.expiry.cancel()
        stream.expiry = self._expire_later(reply_id, self._ttl)
        stream.wake()

    def _expire_later(self, reply_id: uuid.UUID, delay: float) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, self._expire, reply_id)

    def _expire(self, reply_id: uuid.UUID) -> None:
        stream = self._streams.pop(reply_id, None)
        if stream is not None:
            stream.closed = True
            stream.wake()

    def events(self, reply_id: uuid.UUID) -> list[ReplyEvent] | None:
        stream = self._streams.get(reply_id)
        return None if stream is None else list(stream.events)

    def follow(self, reply_id: uuid.UUID, *, after: int = 0) -> MemoryFollow:
        return MemoryFollow(self._streams.get(reply_id), after)


class MemoryFollow:
    """A reader of a memory stream from after an event id: an async iterator of its events, ending after the
    terminal one (or when the stream closes or expires; at once for a stream this process does not have).

    It is ``ReplyEventBatches`` too: a response takes every event there at once (``take``) and waits for more
    with a heartbeat's timeout (``wait``) in its own task, woken by the writer's append itself, with no task
    of its own in between."""

    __slots__ = ("_position", "_stream", "done", "failure")

    def __init__(self, stream: _Stream | None, after: int) -> None:
        self._stream = stream
        self._position = bisect.bisect_right(stream.ids, after) if stream is not None else 0
        #: Nothing more will come: the terminal event was taken, or the stream closed with all of it taken.
        self.done = stream is None
        #: Never set: a memory stream does not fail (``ReplyEventBatches``).
        self.failure: Exception | None = None

    def __aiter__(self) -> MemoryFollow:
        return self

    async def __anext__(self) -> ReplyEvent:
        while True:
            batch = self._next(1)
            if batch:
                return batch[0]
            if self.done:
                raise StopAsyncIteration
            await self._woken(None)

    def take(self) -> tuple[list[ReplyEvent], bool]:
        """The events there now (up to and including a terminal one), and whether one was terminal."""
        batch = self._next(None)
        return batch, bool(batch) and batch[-1].terminal

    async def wait(self, timeout: float) -> bool:
        """``True`` once there is something to take (events, or the end); ``False`` after ``timeout``."""
        if not self._waiting():
            return True
        await self._woken(timeout)
        return not self._waiting()

    async def stop(self) -> None:
        self.done = True

    async def aclose(self) -> None:
        self.done = True

    def _waiting(self) -> bool:
        stream = self._stream
        return not self.done and stream is not None and self._position >= len(stream.events) and not stream.closed

    def _next(self, limit: int | None) -> list[ReplyEvent]:
        stream = self._stream
        if stream is None or self.done:
            return []
        events = stream.events
        end = len(events) if limit is None else min(len(events), self._position + limit)
        batch = events[self._position : end]
        for index, event in enumerate(batch):
            if event.terminal:
                del batch[index + 1 :]
                self.done = True
                break
        self._position += len(batch)
        if stream.closed and self._position >= len(events):
            self.done = True
        return batch

    async def _woken(self, timeout: float | None) -> None:
        """Until the writer appends or closes (or ``timeout`` seconds pass)."""
        stream = self._stream
        assert stream is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        stream.waiters.append(waiter)
        timer = loop.call_later(timeout, _resolve, waiter) if timeout is not None else None
        try:
            await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if waiter in stream.waiters:
                stream.waiters.remove(waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
