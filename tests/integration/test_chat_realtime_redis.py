"""The realtime adapters across instances on a real Redis: reply streams (Redis Streams + pub/sub),
user events and stop signals. Each "instance" has its own pub/sub hub and memory, as two API
processes would; only Redis is shared."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from src.application.chat.ports import ReplyEvent, StreamGap, UserEvent
from src.infrastructure.realtime.memory_streams import MemoryReplyStreams
from src.infrastructure.realtime.pubsub import PubSubHub
from src.infrastructure.realtime.reply_streams import MIRROR_WINDOW, RedisReplyStreamStore, stream_key
from src.infrastructure.realtime.stop_signals import PubSubStopSignals
from src.infrastructure.realtime.user_events import PubSubUserEvents
from src.infrastructure.resilience import CircuitBreaker

pytestmark = pytest.mark.redis


@dataclass
class Instance:
    redis: Redis
    hub: PubSubHub
    streams: RedisReplyStreamStore
    events: PubSubUserEvents
    stops: PubSubStopSignals

    async def close(self) -> None:
        await self.streams.stop()
        await self.hub.stop()
        await self.redis.aclose()


@pytest.fixture
async def instances(redis_url: str) -> AsyncIterator[tuple[Instance, Instance]]:
    made = []
    for _ in range(2):
        redis = Redis.from_url(redis_url)
        # A generous round-trip timeout: on a loaded CI machine a first publish (connecting included) took
        # over the default 0.5 s; what Redis being away does is tested with a hub of its own below.
        hub = PubSubHub(Redis.from_url(redis_url), CircuitBreaker("redis-test"), timeout=5)
        streams = RedisReplyStreamStore(
            MemoryReplyStreams(ttl=5, max_age=60),
            redis=redis,
            hub=hub,
            breaker=CircuitBreaker("redis-test"),
            ttl=5,
            max_age=60,
        )
        made.append(Instance(redis, hub, streams, PubSubUserEvents(hub), PubSubStopSignals(hub)))
    yield made[0], made[1]
    for instance in made:
        await instance.close()


def delta(event_id: int) -> ReplyEvent:
    return ReplyEvent(id=event_id, kind="delta", data={"text": f" t{event_id}"})


async def test_a_reader_on_another_instance_gets_every_event_once_in_order(
    instances: tuple[Instance, Instance],
) -> None:
    writer, reader = instances
    reply = uuid.uuid4()
    for event_id in range(1, 21):
        await writer.streams.append(reply, delta(event_id))
    await writer.streams.flush()
    received: list[ReplyEvent] = []

    async def follow() -> None:
        async for event in reader.streams.follow(reply, after=7):
            received.append(event)

    following = asyncio.create_task(follow())
    # Live events while the reader catches up and after: none missing, none twice.
    for event_id in range(21, 200):
        await writer.streams.append(reply, delta(event_id))
        if event_id % 17 == 0:
            await asyncio.sleep(0.01)
    await writer.streams.append(reply, ReplyEvent(id=200, kind="done", data={"content": "all"}))
    await writer.streams.close(reply)
    await asyncio.wait_for(following, 10)
    assert [e.id for e in received] == list(range(8, 201))
    assert received[-1].kind == "done"
    assert received[0].data == {"text": " t8"}


async def test_the_writer_reads_its_own_streams_from_memory(instances: tuple[Instance, Instance]) -> None:
    writer, _ = instances
    reply = uuid.uuid4()
    await writer.streams.append(reply, delta(1))
    await writer.streams.append(reply, ReplyEvent(id=2, kind="done", data={}))
    assert [e.id async for e in writer.streams.follow(reply)] == [1, 2]


async def test_a_closed_stream_expires_in_redis(instances: tuple[Instance, Instance]) -> None:
    writer, _ = instances
    reply = uuid.uuid4()
    await writer.streams.append(reply, delta(1))
    await writer.streams.flush()
    assert 55 <= await writer.redis.ttl(stream_key(reply)) <= 60  # max_age while it runs
    await writer.streams.close(reply)
    await writer.streams.flush()
    assert 0 < await writer.redis.ttl(stream_key(reply)) <= 5


async def test_a_reader_whose_events_redis_lost_is_told_instead_of_skipping_them(
    instances: tuple[Instance, Instance],
) -> None:
    writer, reader = instances
    reply = uuid.uuid4()
    for event_id in range(1, 6):
        await writer.streams.append(reply, delta(event_id))
    await writer.streams.flush()
    await writer.redis.delete(stream_key(reply))  # Redis restarted empty
    for event_id in range(6, 9):
        await writer.streams.append(reply, delta(event_id))
    await writer.streams.flush()
    seen: list[int] = []

    async def follow() -> None:
        async for event in reader.streams.follow(reply, after=2):
            seen.append(event.id)

    with pytest.raises(StreamGap) as gap:
        await follow()
    assert seen == []  # nothing after the hole is handed out as if it followed event 2
    assert (gap.value.after, gap.value.next_id) == (2, 6)
    assert await collect_ids(reader.streams.follow(reply, after=5)) == [6, 7, 8]
    # The stream made anew after the loss still expires if its writer dies.
    assert 0 < await writer.redis.ttl(stream_key(reply)) <= 60


async def test_events_queued_together_are_one_entry_and_one_message_and_read_from_inside_it(
    instances: tuple[Instance, Instance],
) -> None:
    writer, reader = instances
    reply = uuid.uuid4()
    heard: list[bytes] = []
    token = await reader.hub.subscribe(stream_key(reply), heard.append)
    try:
        for event_id in range(1, 8):  # appended in one go: one mirror batch
            await writer.streams.append(reply, delta(event_id))
        await writer.streams.flush()
        entries = await writer.redis.xrange(stream_key(reply)) or []
        assert [entry_id for entry_id, _ in entries] == [b"0-7"]  # one entry, found by its last event
        async with asyncio.timeout(5):
            while not heard:
                await asyncio.sleep(0.01)
        assert len(heard) == 1
        # A reader resuming from the middle of that entry gets the rest of it, once, in order.
        await writer.streams.append(reply, ReplyEvent(id=8, kind="done", data={}))
        await writer.streams.close(reply)
        await writer.streams.flush()
        assert await collect_ids(reader.streams.follow(reply, after=5)) == [6, 7, 8]
        assert [e.id for e in await reader.streams.read(reply) or []] == list(range(1, 9))
    finally:
        reader.hub.unsubscribe(stream_key(reply), token)


async def test_entries_of_one_event_each_are_still_read(instances: tuple[Instance, Instance]) -> None:
    """Streams written before events were batched (an instance of the previous version, mid-upgrade)."""
    writer, reader = instances
    reply = uuid.uuid4()
    for event_id, kind in ((1, "delta"), (2, "delta"), (3, "done")):
        payload = b'{"i":%d,"k":"%s","d":{}}' % (event_id, kind.encode())
        await writer.redis.xadd(stream_key(reply), {"e": payload}, id=f"0-{event_id}")
    assert await collect_ids(reader.streams.follow(reply, after=1)) == [2, 3]


async def test_read_returns_what_a_stream_holds_now_on_any_instance(instances: tuple[Instance, Instance]) -> None:
    writer, reader = instances
    reply = uuid.uuid4()
    for event_id in range(1, 4):
        await writer.streams.append(reply, delta(event_id))
    await writer.streams.flush()
    assert [e.id for e in await writer.streams.read(reply) or []] == [1, 2, 3]
    assert [e.id for e in await reader.streams.read(reply) or []] == [1, 2, 3]
    assert await reader.streams.read(uuid.uuid4()) is None


async def test_the_end_another_instance_appends_reaches_readers_with_everything_before_it(
    instances: tuple[Instance, Instance],
) -> None:
    writer, recoverer = instances
    reply = uuid.uuid4()
    for event_id in range(1, 4):
        await writer.streams.append(reply, delta(event_id))
    await writer.streams.flush()
    # The writer died; recovery on the other instance ends its stream.
    await recoverer.streams.append(reply, ReplyEvent(id=4, kind="error", data={"code": "interrupted"}))
    await recoverer.streams.close(reply)
    await recoverer.streams.flush()
    events = [event async for event in recoverer.streams.follow(reply, after=1)]
    assert [(e.id, e.kind) for e in events] == [(2, "delta"), (3, "delta"), (4, "error")]


async def collect_ids(events: AsyncIterator[ReplyEvent]) -> list[int]:
    ids = []

    async def run() -> None:
        async for event in events:
            ids.append(event.id)
            if event.id == 8:
                return

    await asyncio.wait_for(run(), 5)
    return ids


async def test_a_stream_nobody_writes_ends_after_the_idle_timeout(instances: tuple[Instance, Instance]) -> None:
    _, reader = instances
    events = [e async for e in reader.streams.follow(uuid.uuid4(), idle_timeout=1.0)]
    assert events == []


async def test_user_events_reach_every_instance_once(instances: tuple[Instance, Instance]) -> None:
    first, second = instances
    user = uuid.uuid4()
    async with first.events.subscribe(user) as here, second.events.subscribe(user) as there:
        await first.events.publish(UserEvent(type="title", user_id=user, data={"title": "Hi"}))
        await second.events.publish(UserEvent(type="reply_finished", user_id=user, data={}))
        got_here = [await asyncio.wait_for(anext(here), 2) for _ in range(2)]
        got_there = [await asyncio.wait_for(anext(there), 2) for _ in range(2)]
        assert sorted(e.type for e in got_here) == sorted(e.type for e in got_there) == ["reply_finished", "title"]
        # Nothing more: an instance never hears its own message a second time from Redis.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(here), 0.3)
    other_user_events = PubSubUserEvents(first.hub)
    async with other_user_events.subscribe(uuid.uuid4()) as elsewhere:
        await second.events.publish(UserEvent(type="title", user_id=user, data={}))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(elsewhere), 0.3)


async def test_publishes_at_once_share_round_trips_and_arrive_in_order(instances: tuple[Instance, Instance]) -> None:
    sender, receiver = instances
    channel = f"parley:test:{uuid.uuid4()}"
    heard: list[bytes] = []
    all_heard = asyncio.Event()

    def hear(payload: bytes) -> None:
        heard.append(payload)
        if len(heard) == 50:
            all_heard.set()

    token = await receiver.hub.subscribe(channel, hear)
    round_trips = 0
    execute = type(sender.hub._redis.pipeline()).execute
    single = sender.hub._redis.publish

    async def counted_execute(pipe: object, *args: object, **kwargs: object) -> object:
        nonlocal round_trips
        round_trips += 1
        return await execute(pipe, *args, **kwargs)  # type: ignore[arg-type]

    async def counted_publish(*args: object, **kwargs: object) -> object:
        nonlocal round_trips
        round_trips += 1
        return await single(*args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(sender.hub._redis.pipeline()), "execute", counted_execute)
        patch.setattr(sender.hub._redis, "publish", counted_publish)
        sent = await asyncio.gather(*(sender.hub.publish(channel, b"m%d" % n) for n in range(50)))
    assert sent == [True] * 50
    assert round_trips < 50  # the first goes alone, the rest wait for it and go together
    await asyncio.wait_for(all_heard.wait(), 5)
    assert heard == [b"m%d" % n for n in range(50)]
    receiver.hub.unsubscribe(channel, token)


async def test_a_stop_requested_on_one_instance_reaches_the_other(instances: tuple[Instance, Instance]) -> None:
    generating, asking = instances
    await generating.stops.start()
    reply = uuid.uuid4()
    stopped = asyncio.Event()
    with generating.stops.watch(reply, stopped.set):
        await asking.stops.request_stop(uuid.uuid4())  # someone else's reply: nothing happens here
        await asking.stops.request_stop(reply)
        await asyncio.wait_for(stopped.wait(), 2)


async def test_without_redis_events_stay_on_the_instance() -> None:
    local = PubSubUserEvents()
    user = uuid.uuid4()
    async with local.subscribe(user) as events:
        await local.publish(UserEvent(type="title", user_id=user, data={"title": "x"}))
        assert (await asyncio.wait_for(anext(events), 1)).data == {"title": "x"}


async def test_while_redis_is_unreachable_everything_stays_on_the_instance() -> None:
    unreachable = "redis://127.0.0.1:1/0"
    breaker = CircuitBreaker("redis-down", failure_threshold=1, reset_after=60)
    hub = PubSubHub(Redis.from_url(unreachable, socket_connect_timeout=0.1), breaker, timeout=0.1)
    redis = Redis.from_url(unreachable, socket_connect_timeout=0.1)
    streams = RedisReplyStreamStore(
        MemoryReplyStreams(ttl=5, max_age=60), redis=redis, hub=hub, breaker=breaker, ttl=5, max_age=60, timeout=0.1
    )
    events, stops = PubSubUserEvents(hub), PubSubStopSignals(hub)
    user, reply = uuid.uuid4(), uuid.uuid4()
    try:
        async with events.subscribe(user) as heard:
            await events.publish(UserEvent(type="title", user_id=user, data={"title": "local"}))
            assert (await asyncio.wait_for(anext(heard), 1)).data == {"title": "local"}
        stopped = asyncio.Event()
        with stops.watch(reply, stopped.set):
            await stops.request_stop(reply)
        assert stopped.is_set()
        await streams.append(reply, delta(1))
        await streams.append(reply, ReplyEvent(id=2, kind="done", data={}))
        assert [e.id async for e in streams.follow(reply)] == [1, 2]  # the writer's own readers see it all
        assert [e async for e in streams.follow(uuid.uuid4(), idle_timeout=0.2)] == []  # others: nothing, at once
    finally:
        await streams.stop()
        await hub.stop()
        await redis.aclose()


def commands_of(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The name of every command ``redis`` sends from now on (a pipeline's aside), in order."""
    commands: list[object] = []
    execute = redis.execute_command

    async def counted(*args: object, **options: object) -> object:
        commands.append(args[0])
        return await execute(*args, **options)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(redis, "execute_command", counted)
    return commands


async def test_the_events_of_several_replies_queued_together_go_in_one_round_trip(
    instances: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One command for a mirror batch (a script), whatever the replies in it: each stream its entry, its
    message and its TTL (a closed one the short one, its events included), an entry Redis already has
    skipped without losing the rest."""
    writer, reader = instances
    commands = commands_of(writer.redis, monkeypatch)
    running, ended, repeated = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await writer.redis.xadd(stream_key(repeated), {"b": b"[]"}, id="0-2")  # already there: the id is taken
    heard: list[bytes] = []
    token = await reader.hub.subscribe(stream_key(running), heard.append)
    try:
        commands.clear()
        for reply in (running, ended, repeated):
            await writer.streams.append(reply, delta(1))
            await writer.streams.append(reply, delta(2))
        await writer.streams.append(ended, ReplyEvent(id=3, kind="done", data={}))
        await writer.streams.close(ended)
        await writer.streams.flush()
        assert commands == ["EVALSHA"]
        assert [e.id for e in await reader.streams.read(running) or []] == [1, 2]
        assert [e.id for e in await reader.streams.read(ended) or []] == [1, 2, 3]
        assert 55 <= await writer.redis.ttl(stream_key(running)) <= 60
        assert 0 < await writer.redis.ttl(stream_key(ended)) <= 5
        assert [entry_id for entry_id, _ in await writer.redis.xrange(stream_key(repeated)) or []] == [b"0-2"]
        assert 55 <= await writer.redis.ttl(stream_key(repeated)) <= 60
        async with asyncio.timeout(5):
            while not heard:
                await asyncio.sleep(0.01)
    finally:
        reader.hub.unsubscribe(stream_key(running), token)


async def test_events_appended_within_the_mirror_window_share_one_call(
    instances: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply's events a few milliseconds apart (its start, its deltas, its end) are one script call and one
    stream entry, not one each: the mirror waits ``MIRROR_WINDOW`` after the first."""
    writer, reader = instances
    commands = commands_of(writer.redis, monkeypatch)
    reply = uuid.uuid4()
    await writer.streams.append(reply, delta(1))
    await asyncio.sleep(MIRROR_WINDOW / 5)
    await writer.streams.append(reply, delta(2))
    await writer.streams.flush()
    assert commands == ["EVALSHA"]
    assert [entry_id for entry_id, _ in await writer.redis.xrange(stream_key(reply)) or []] == [b"0-2"]
    assert [e.id for e in await reader.streams.read(reply) or []] == [1, 2]
