"""Reply streams: the events of each reply, replayable from any event id, followed live.

``MemoryReplyStreams`` (``memory_streams``) keeps the streams of the replies this process generates (and,
without Redis, is all there is). ``RedisReplyStreamStore`` is the ``ReplyStreamStore`` adapter (memory alone
without Redis):

- ``append`` writes to memory at once (local readers see it immediately, the writer never waits)
  and, with Redis, queues the event for a mirror task that writes what is queued in one round trip, one
  script call (``MIRROR_SCRIPT``): the events of one reply queued together become one entry of its Redis
  Stream (``parley:reply:<id>``, field ``b``: a JSON array of events; entry id ``0-<its last event id>``)
  and one message on the channel of the same name (a streamed reply's deltas often arrive several at
  once: one entry and one message for them, not one of each per delta). The script spares the client
  three commands per reply in a batch (add, expire, publish): ~0.1 ms of a chat reply's CPU.
- ``follow`` reads memory when this process has the stream; otherwise Redis: it subscribes to the
  reply's channel, reads what it missed with ``XRANGE``, then takes live events from the channel,
  skipping duplicates and re-reading the stream when it sees a gap (or hears nothing for a while,
  in case messages were lost while pub/sub reconnected). So a reader on another instance gets every
  event exactly once, in order.
- A stream lives ``REPLY_STREAM_TTL_SECONDS`` after ``close`` (Redis ``EXPIRE``; memory timers);
  one whose writer died expires after ``max_age`` from its first event.

While Redis is unreachable, replies still stream on the instance generating them; readers elsewhere
see them again once Redis answers (events the mirror could not write are dropped and counted in
``parley_reply_stream_events_dropped_total``; the stored message always has the full text).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from redis.asyncio import Redis

from src.application.chat.ports import ReplyEvent, StreamGap
from src.infrastructure.logging import get_logger
from src.infrastructure.observability.metrics import METRICS
from src.infrastructure.realtime.memory_streams import MemoryReplyStreams
from src.infrastructure.realtime.pubsub import PubSubHub
from src.infrastructure.resilience import CircuitBreaker
from src.infrastructure.tasks import cancel_and_wait, raise_if_cancelled

logger = get_logger("parley.realtime")

KEY_PREFIX = "parley:reply:"
#: Events written to Redis per pipeline round trip, at most.
MIRROR_BATCH = 500
#: Events waiting for the mirror, at most; past it (Redis far behind) new ones are dropped.
MIRROR_QUEUE = 100_000
#: Seconds the mirror waits after an event before writing, so that what follows it within them goes in the
#: same call: a reply's start, its deltas and its end arriving within a few milliseconds were three script
#: calls (~0.35 ms of CPU each in redis-py), ~15 % of the process's CPU at one client. Other instances'
#: readers see an event at most this much later; this instance's own read it from memory at once.
MIRROR_WINDOW = 0.005
#: A reader on another instance re-reads the stream after this long without a live event.
POLL_SECONDS = 1.0
XRANGE_COUNT = 500
DEFAULT_IDLE_TIMEOUT = 5.0
#: With Redis holding every stream for ``REPLY_STREAM_TTL_SECONDS``, this process keeps one in memory only
#: this long after it closes (its later readers read Redis, as another instance's do). At 170 replies/s and
#: the default 120 s, memory held ~20,000 closed streams, some 700,000 objects the cyclic garbage collector
#: walked at every full collection.
LOCAL_TTL_WITH_REDIS = 10.0

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


#: KEYS: the streams of a mirror batch. ARGV, four per stream: the entry id (empty: no events, only a
#: close), its payload, the message published on the stream's channel (empty: none), the stream's TTL in
#: seconds. Each command on its own (``pcall``), as a pipeline's are: an entry Redis already has (its id not
#: above the last) is skipped, the rest still applies. Returns the number of streams.
MIRROR_SCRIPT = """
for i, key in ipairs(KEYS) do
  local at = (i - 1) * 4
  if ARGV[at + 1] ~= '' then
    redis.pcall('XADD', key, ARGV[at + 1], 'b', ARGV[at + 2])
    if ARGV[at + 3] ~= '' then redis.pcall('PUBLISH', key, ARGV[at + 3]) end
  end
  redis.pcall('EXPIRE', key, ARGV[at + 4])
end
return #KEYS
"""


def stream_key(reply_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}{reply_id}"


def encode_event(event: ReplyEvent) -> bytes:
    return _encoder.encode({"i": event.id, "k": event.kind, "d": dict(event.data)})


def encode_events(payloads: list[bytes]) -> bytes:
    """Events already encoded (``encode_event``), as one JSON array: a stream entry or channel message."""
    return b"[" + b",".join(payloads) + b"]"


def decode_events(data: bytes) -> list[ReplyEvent]:
    """The events of a stream entry or channel message: an array of events (``encode_events``), or one
    event alone (entries written before events were batched)."""
    raw = _decoder.decode(data)
    items = raw if isinstance(raw, list) else [raw]
    return [ReplyEvent(id=int(item["i"]), kind=item["k"], data=item["d"]) for item in items]


# -- the store --------------------------------------------------------------------------------------


_CLOSE = object()


class RedisReplyStreamStore:
    """The ``ReplyStreamStore``: memory alone (embedded mode), or memory mirrored to Redis."""

    def __init__(
        self,
        memory: MemoryReplyStreams,
        *,
        redis: Redis | None = None,
        hub: PubSubHub | None = None,
        breaker: CircuitBreaker | None = None,
        ttl: float,
        max_age: float,
        timeout: float = 0.5,
    ) -> None:
        self.memory = memory
        self._redis = redis
        self._hub = hub
        self._breaker = breaker
        self._ttl = max(1, round(ttl))
        self._max_age = max(1, round(max_age))
        self._timeout = timeout
        self._queue: asyncio.Queue[tuple[uuid.UUID, Any]] | None = None
        self._mirror: asyncio.Task[None] | None = None
        self._script = redis.register_script(MIRROR_SCRIPT) if redis is not None else None

    @property
    def shared(self) -> bool:
        return self._redis is not None

    # -- writing ------------------------------------------------------------------------------------

    async def append(self, reply_id: uuid.UUID, event: ReplyEvent) -> None:
        self.memory.append(reply_id, event)
        self._mirror_later(reply_id, event)

    async def close(self, reply_id: uuid.UUID) -> None:
        self.memory.close(reply_id)
        self._mirror_later(reply_id, _CLOSE)

    def _mirror_later(self, reply_id: uuid.UUID, item: Any) -> None:
        if self._redis is None:
            return
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=MIRROR_QUEUE)
        if self._mirror is None or self._mirror.done():
            self._mirror = asyncio.create_task(self._mirror_loop(self._queue), name="reply-stream-mirror")
        try:
            self._queue.put_nowait((reply_id, item))
        except asyncio.QueueFull:
            METRICS.reply_stream_dropped.inc()

    async def _mirror_loop(self, queue: asyncio.Queue[tuple[uuid.UUID, Any]]) -> None:
        while True:
            raise_if_cancelled()
            batch = [await queue.get()]
            await asyncio.sleep(MIRROR_WINDOW)
            while len(batch) < MIRROR_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    queue.task_done()

    async def _write(self, batch: list[tuple[uuid.UUID, Any]]) -> None:
        hub, script = self._hub, self._script
        assert script is not None

        # Per reply, in queue order: its events; and the replies that closed (after their events).
        events_of: dict[uuid.UUID, list[ReplyEvent]] = {}
        closed: set[uuid.UUID] = set()
        for reply_id, item in batch:
            if item is _CLOSE:
                closed.add(reply_id)
            else:
                events_of.setdefault(reply_id, []).append(item)

        # Per stream: its entry (or none), its message, and its TTL: ``max_age`` while it runs, so that a
        # stream whose writer dies mid-reply still goes away, even one Redis made anew after losing the
        # first (set on every batch, not only the first); ``ttl`` once closed.
        keys: list[str] = []
        arguments: list[str | bytes | int] = []
        for reply_id, events in events_of.items():
            payload = encode_events([encode_event(event) for event in events])
            keys.append(stream_key(reply_id))
            ttl = self._ttl if reply_id in closed else self._max_age
            arguments += [f"0-{events[-1].id}", payload, hub.frame(payload) if hub is not None else b"", ttl]
        for reply_id in closed - events_of.keys():
            keys.append(stream_key(reply_id))
            arguments += ["", b"", b"", self._ttl]

        async def write() -> bool:
            async with asyncio.timeout(self._timeout * 4):
                await script(keys=keys, args=arguments)
            return True

        async def dropped() -> bool:
            METRICS.reply_stream_dropped.inc(sum(1 for _, item in batch if item is not _CLOSE))
            return False

        if self._breaker is None:
            try:
                await write()
            except Exception:  # noqa: BLE001 - Redis away: the stream stays local
                await dropped()
            return
        await self._breaker.call(write, dropped)

    async def flush(self) -> None:
        """Wait until every queued event was written (tests, shutdown)."""
        if self._queue is not None and self._mirror is not None and not self._mirror.done():
            await self._queue.join()

    async def stop(self) -> None:
        if self._mirror is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout * 4):
                    await self.flush()
            await cancel_and_wait(self._mirror)
            self._mirror = None

    # -- reading ------------------------------------------------------------------------------------

    def follow(
        self, reply_id: uuid.UUID, *, after: int = 0, idle_timeout: float | None = None
    ) -> AsyncIterator[ReplyEvent]:
        if reply_id in self.memory or self._redis is None:
            return self.memory.follow(reply_id, after=after)
        return self._follow_shared(reply_id, after, DEFAULT_IDLE_TIMEOUT if idle_timeout is None else idle_timeout)

    async def _follow_shared(self, reply_id: uuid.UUID, after: int, idle_timeout: float) -> AsyncIterator[ReplyEvent]:
        assert self._redis is not None
        key = stream_key(reply_id)
        live: asyncio.Queue[bytes] = asyncio.Queue(maxsize=XRANGE_COUNT)
        gap = asyncio.Event()

        def heard(payload: bytes) -> None:
            try:
                live.put_nowait(payload)
            except asyncio.QueueFull:
                gap.set()  # too many at once: the stream has them, re-read it

        token = await self._hub.subscribe(key, heard) if self._hub is not None else None
        last = after
        waited = 0.0
        try:
            while True:
                # Catch up from the stream itself.
                gap.clear()
                read = await self._range(key, last)
                if read is None:
                    return  # Redis is unreachable: the caller falls back to the database
                entries, more = read
                for event in entries:
                    if event.id <= last:
                        continue
                    if event.id > last + 1:
                        # Redis lost the events in between (it restarted empty, or evicted them):
                        # skipping them would leave a hole in the reader's text.
                        raise StreamGap(last, event.id)
                    last = event.id
                    waited = 0.0
                    yield event
                    if event.terminal:
                        return
                if more:
                    continue
                # Then live, until a gap or a quiet spell sends us back to the stream.
                while not gap.is_set():
                    try:
                        payload = await asyncio.wait_for(live.get(), timeout=POLL_SECONDS)
                    except TimeoutError:
                        waited += POLL_SECONDS
                        if waited >= idle_timeout and not await self._exists(key):
                            return  # never started, or expired: nothing will come
                        break
                    missed = False
                    for event in decode_events(payload):
                        if event.id <= last:
                            continue
                        if event.id > last + 1:
                            missed = True  # missed some: read them from the stream
                            break
                        last = event.id
                        waited = 0.0
                        yield event
                        if event.terminal:
                            return
                    if missed:
                        break
        finally:
            if token is not None and self._hub is not None:
                self._hub.unsubscribe(key, token)

    async def read(self, reply_id: uuid.UUID) -> list[ReplyEvent] | None:
        events = self.memory.events(reply_id)
        if events is not None or self._redis is None:
            return events
        key = stream_key(reply_id)
        gathered: list[ReplyEvent] = []
        while True:
            read = await self._range(key, gathered[-1].id if gathered else 0)
            if read is None:
                return None
            events, more = read
            gathered.extend(events)
            if not more:
                return gathered or None

    async def _range(self, key: str, after: int) -> tuple[list[ReplyEvent], bool] | None:
        """The events after ``after`` in up to ``XRANGE_COUNT`` entries (an entry holds a batch of
        events, and is found by its last one: the first entry read may begin before ``after``), and
        whether more entries may follow; ``None`` when Redis is unreachable."""
        assert self._redis is not None
        redis = self._redis

        async def read() -> tuple[list[ReplyEvent], bool] | None:
            async with asyncio.timeout(self._timeout * 4):
                rows: Any = await redis.xrange(key, min=f"(0-{after}", max="+", count=XRANGE_COUNT)
            rows = rows or ()
            events = [
                event
                for _, fields in rows
                for event in decode_events(fields.get(b"b") or fields[b"e"])
                if event.id > after
            ]
            return events, len(rows) >= XRANGE_COUNT

        async def unavailable() -> tuple[list[ReplyEvent], bool] | None:
            return None

        if self._breaker is None:
            try:
                return await read()
            except Exception:  # noqa: BLE001
                return None
        return await self._breaker.call(read, unavailable)

    async def _exists(self, key: str) -> bool:
        assert self._redis is not None
        redis = self._redis

        async def check() -> bool:
            async with asyncio.timeout(self._timeout * 4):
                return bool(await redis.exists(key))

        async def unknown() -> bool:
            return False

        if self._breaker is None:
            try:
                return await check()
            except Exception:  # noqa: BLE001
                return False
        return await self._breaker.call(check, unknown)
