"""The in-process realtime adapters (the embedded default): memory reply streams, user events, stops."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from src.application.chat.ports import EventsLost, ReplyEvent, UserEvent
from src.infrastructure.realtime.memory_streams import MemoryReplyStreams
from src.infrastructure.realtime.stop_signals import PubSubStopSignals
from src.infrastructure.realtime.user_events import PubSubUserEvents


def delta(event_id: int) -> ReplyEvent:
    return ReplyEvent(id=event_id, kind="delta", data={"text": str(event_id)})


async def test_a_memory_stream_replays_from_an_id_then_goes_on_live() -> None:
    streams = MemoryReplyStreams(ttl=60, max_age=600)
    reply = uuid.uuid4()
    for event_id in range(1, 4):
        streams.append(reply, delta(event_id))
    follower = streams.follow(reply, after=1)
    assert [(await anext(follower)).id for _ in range(2)] == [2, 3]
    waiting = asyncio.ensure_future(anext(follower))
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing new yet: the reader waits, holding nothing
    streams.append(reply, delta(4))
    assert (await asyncio.wait_for(waiting, 1)).id == 4
    streams.append(reply, delta(4))  # a repeated id is ignored
    streams.append(reply, ReplyEvent(id=5, kind="done", data={}))
    assert [e.id async for e in follower] == [5]


async def test_a_closed_memory_stream_expires_after_its_ttl() -> None:
    streams = MemoryReplyStreams(ttl=0.05, max_age=600)
    reply = uuid.uuid4()
    streams.append(reply, delta(1))
    streams.close(reply)
    assert reply in streams
    await asyncio.sleep(0.1)
    assert reply not in streams
    assert [e async for e in streams.follow(reply)] == []


async def test_a_stream_whose_writer_never_closes_it_still_goes_away() -> None:
    streams = MemoryReplyStreams(ttl=60, max_age=0.05)
    reply = uuid.uuid4()
    streams.append(reply, delta(1))
    follower = streams.follow(reply)
    assert (await anext(follower)).id == 1
    await asyncio.sleep(0.1)
    assert reply not in streams
    assert [e async for e in follower] == []  # a waiting reader is released too


async def test_a_subscriber_that_falls_behind_is_told_instead_of_growing_memory() -> None:
    bus = PubSubUserEvents(queue_size=3)
    user = uuid.uuid4()
    async with bus.subscribe(user) as events:
        for i in range(10):
            await bus.publish(UserEvent(type="title", user_id=user, data={"i": i}))
        with pytest.raises(EventsLost):
            await anext(events)
    assert bus.subscribers(user) == 0


async def test_only_watchers_of_that_reply_are_stopped() -> None:
    stops = PubSubStopSignals()
    mine, other = uuid.uuid4(), uuid.uuid4()
    calls: list[str] = []
    with stops.watch(mine, lambda: calls.append("mine")):
        await stops.request_stop(other)
        await stops.request_stop(mine)
    await stops.request_stop(mine)  # no longer watched
    assert calls == ["mine"]
    assert not stops.watching(mine)
