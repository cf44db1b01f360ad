"""The SSE body of a reply stream: frames, coalescing, heartbeats, errors, cleanup."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import pytest

from src.application.chat.ports import ReplyEvent
from src.domain.chat.errors import MessageNotFound
from src.infrastructure.realtime.memory_streams import MemoryReplyStreams
from src.interfaces.http.routes.chat.sse import HEARTBEAT, _frames, encode_event, sse_response


def delta(event_id: int) -> ReplyEvent:
    return ReplyEvent(id=event_id, kind="delta", data={"text": f" t{event_id}"})


async def collect(events: AsyncIterator[ReplyEvent], heartbeat: float = 15) -> list[bytes]:
    return [chunk async for chunk in _frames(events, heartbeat)]


async def test_events_already_there_go_out_as_one_chunk_byte_for_byte() -> None:
    events = [delta(1), delta(2), delta(3), ReplyEvent(id=4, kind="done", data={"id": "m"})]

    async def at_once() -> AsyncIterator[ReplyEvent]:
        for event in events:
            yield event

    chunks = await collect(at_once())
    assert chunks == [b"".join(encode_event(e) for e in events)]
    assert chunks[0].startswith(b'id: 1\nevent: delta\ndata: {"text":" t1"}\n\n')


async def test_events_arriving_apart_go_out_apart_and_nothing_after_the_terminal_event() -> None:
    async def apart() -> AsyncIterator[ReplyEvent]:
        yield delta(1)
        await asyncio.sleep(0.01)
        yield ReplyEvent(id=2, kind="done", data={})
        yield delta(3)  # never read

    assert await collect(apart()) == [encode_event(delta(1)), encode_event(ReplyEvent(id=2, kind="done", data={}))]


async def test_a_heartbeat_comes_while_waiting_and_the_read_is_not_lost() -> None:
    async def slow() -> AsyncIterator[ReplyEvent]:
        await asyncio.sleep(0.12)
        yield ReplyEvent(id=1, kind="done", data={})

    chunks = await collect(slow(), heartbeat=0.05)
    assert chunks[-1] == encode_event(ReplyEvent(id=1, kind="done", data={}))
    assert chunks[:-1]
    assert set(chunks[:-1]) == {HEARTBEAT}


async def test_a_domain_error_ends_the_stream_with_an_error_event_after_what_came_before() -> None:
    async def failing() -> AsyncIterator[ReplyEvent]:
        yield delta(1)
        yield delta(2)
        raise MessageNotFound("gone")

    chunks = await collect(failing())
    body = b"".join(chunks)
    assert body.startswith(encode_event(delta(1)) + encode_event(delta(2)))
    assert body.endswith(b'id: 3\nevent: error\ndata: {"code":"message_not_found","detail":"gone"}\n\n')


async def test_an_unexpected_error_is_raised_to_the_response() -> None:
    async def broken() -> AsyncIterator[ReplyEvent]:
        yield delta(1)
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        await collect(broken())


async def test_a_client_that_goes_away_closes_the_event_iterator() -> None:
    closed = asyncio.Event()

    async def endless() -> AsyncIterator[ReplyEvent]:
        try:
            n = 0
            while True:
                n += 1
                yield delta(n)
                await asyncio.sleep(0.001)
        finally:
            closed.set()

    frames = _frames(endless(), 15)
    assert isinstance(frames, AsyncGenerator)
    assert (await anext(frames)).startswith(b"id: 1\n")
    await frames.aclose()  # what the server does when the client disconnects
    assert closed.is_set()


async def test_events_already_shown_go_out_first_before_the_stream_is_read() -> None:
    """Issue 14: what the reply showed by the send's return (the user's message and the first delta,
    ``ReplyHandle.shown``) is the response's first chunk, before the events are read at all (no
    reader task, no loop turn); the events follow from after it."""
    message = ReplyEvent(id=1, kind="message", data={"content": "hi"})
    read: list[int] = []

    async def rest() -> AsyncIterator[ReplyEvent]:
        read.append(1)
        yield delta(3)
        yield ReplyEvent(id=4, kind="done", data={})

    frames = _frames(rest(), 15, (message, delta(2)))
    first = await anext(frames)
    assert first == encode_event(message) + encode_event(delta(2))
    assert read == []
    chunks = [chunk async for chunk in frames]
    assert chunks == [encode_event(delta(3)) + encode_event(ReplyEvent(id=4, kind="done", data={}))]


async def test_a_response_closed_after_the_shown_events_closes_the_stream_unread() -> None:
    async def rest() -> AsyncIterator[ReplyEvent]:
        yield delta(3)

    events = rest()
    frames = _frames(events, 15, (delta(2),))
    assert await anext(frames) == encode_event(delta(2))
    await frames.aclose()  # type: ignore[attr-defined]
    with pytest.raises(StopAsyncIteration):
        await anext(events)


async def test_the_shown_events_go_out_from_the_responding_task_right_after_the_start() -> None:
    """Issue 14: Litestar streams a body from a task of its own; the events a reply had shown by the
    send's return are sent before that task exists, in the same turn of the loop as the response's
    start (nothing else runs in between), and the rest follows through Litestar as usual."""
    message = ReplyEvent(id=1, kind="message", data={"content": "hi"})
    done = ReplyEvent(id=4, kind="done", data={})
    read: list[int] = []

    async def rest() -> AsyncIterator[ReplyEvent]:
        read.append(1)
        yield delta(3)
        yield done

    stream = sse_response(rest(), heartbeat_seconds=15, shown=(message, delta(2)))
    response = stream.to_asgi_response(None, cast(Any, None))
    other_turns: list[int] = []
    asyncio.get_running_loop().call_soon(other_turns.append, 1)
    sent: list[tuple[dict[str, Any], int, int]] = []
    finished = asyncio.Event()

    async def send(message: Any) -> None:
        sent.append((message, len(read), len(other_turns)))
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    async def receive() -> Any:
        await finished.wait()
        return {"type": "http.disconnect"}

    await response(cast(Any, {"type": "http"}), receive, send)
    start, first, *rest_of_body = sent
    assert start[0]["type"] == "http.response.start"
    assert first[0]["body"] == encode_event(message) + encode_event(delta(2))
    assert (first[1], first[2]) == (0, 0), "sent before the events were read and before any other turn"
    body = b"".join(m.get("body", b"") for m, _, _ in rest_of_body)
    assert body == encode_event(delta(3)) + encode_event(done)


async def test_a_client_that_goes_away_ends_the_body_and_its_events_without_an_error() -> None:
    """Issue 14: the body is sent by the responding task while one plain task listens for the disconnect
    (Litestar's own ran an anyio task group, ~3 % of a streamed reply's CPU). A client gone while the
    body waits for events ends it quietly, its events' iterator closed and no task left behind."""
    closed: list[bool] = []
    waiting = asyncio.Event()
    gone = asyncio.Event()

    async def slow() -> AsyncIterator[ReplyEvent]:
        try:
            yield delta(2)
            waiting.set()
            await asyncio.Event().wait()  # a reply that says nothing more
            yield delta(3)
        finally:
            closed.append(True)

    response = sse_response(slow(), heartbeat_seconds=15).to_asgi_response(None, cast(Any, None))
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        await gone.wait()
        return {"type": "http.disconnect"}

    tasks_before = len(asyncio.all_tasks())
    serving = asyncio.ensure_future(response(cast(Any, {"type": "http"}), receive, send))
    await asyncio.wait_for(waiting.wait(), 5)
    gone.set()
    await asyncio.wait_for(serving, 5)  # returns, without raising
    assert closed == [True]
    assert [m.get("body") for m in sent[1:]] == [encode_event(delta(2))]
    assert not serving.cancelled()
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == tasks_before


async def test_a_body_read_to_its_end_is_closed_and_leaves_no_listener() -> None:
    async def two() -> AsyncIterator[ReplyEvent]:
        yield delta(2)
        yield ReplyEvent(id=3, kind="done", data={})

    response = sse_response(two(), heartbeat_seconds=15).to_asgi_response(None, cast(Any, None))
    sent: list[Any] = []
    received: list[int] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        received.append(1)
        await asyncio.Event().wait()  # the client stays: the listener is cancelled at the end
        return {"type": "http.disconnect"}

    tasks_before = len(asyncio.all_tasks())
    await response(cast(Any, {"type": "http"}), receive, send)
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == tasks_before
    # The events up to the terminal one go with the body's end: one message (one socket write), no
    # empty closing message after it.
    assert [m.get("more_body") for m in sent[1:]] == [False]
    assert sent[1]["body"] == encode_event(delta(2)) + encode_event(ReplyEvent(id=3, kind="done", data={}))


async def body_messages(events: AsyncIterator[ReplyEvent]) -> list[tuple[bytes, bool]]:
    """(body, more_body) of each body message a response to ``events`` sends."""
    response = sse_response(events, heartbeat_seconds=15).to_asgi_response(None, cast(Any, None))
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    await response(cast(Any, {"type": "http"}), receive, send)
    return [(m["body"], bool(m.get("more_body"))) for m in sent[1:]]


async def test_the_last_events_and_the_end_of_the_body_go_in_one_message() -> None:
    done = ReplyEvent(id=2, kind="done", data={})

    async def apart() -> AsyncIterator[ReplyEvent]:
        yield delta(1)
        await asyncio.sleep(0.01)
        yield done

    assert await body_messages(apart()) == [(encode_event(delta(1)), True), (encode_event(done), False)]

    async def failing() -> AsyncIterator[ReplyEvent]:
        yield delta(1)
        await asyncio.sleep(0.01)
        raise MessageNotFound("gone")

    *before, (last, more) = await body_messages(failing())
    assert before == [(encode_event(delta(1)), True)]
    assert last.startswith(b"id: 2\nevent: error\n")
    assert not more

    async def cut_short() -> AsyncIterator[ReplyEvent]:
        # A stream that ends without a terminal event: the body ends with an empty message, as before.
        yield delta(1)

    assert await body_messages(cut_short()) == [(encode_event(delta(1)), True), (b"", False)]


async def test_a_failed_first_send_closes_the_body_and_its_events() -> None:
    """The client went away as the shown events were sent: the body's generator is closed, and with it
    the reply's events it would have followed (nothing is left suspended for the garbage collector)."""
    closed: list[bool] = []

    async def rest() -> AsyncIterator[ReplyEvent]:
        try:
            yield delta(3)
        finally:
            closed.append(True)

    events = rest()
    await anext(events)  # started, so that closing it runs its cleanup
    response = sse_response(events, heartbeat_seconds=15, shown=(delta(2),)).to_asgi_response(None, cast(Any, None))

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            raise OSError("the client went away")

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    with pytest.raises(OSError, match="went away"):
        await response(cast(Any, {"type": "http"}), receive, send)
    assert closed == [True]


async def test_a_reply_of_this_process_is_sent_by_the_responding_task_at_the_writers_next_wait() -> None:
    """Issue 14: a follow of a memory stream (a reply this process writes) is read by the response itself,
    with no reader task between: an event appended goes out as soon as its writer waits (one loop turn),
    before the writer's next turn; a heartbeat still comes while nothing arrives, and nothing is lost."""
    memory = MemoryReplyStreams(ttl=60, max_age=600)
    reply = uuid.uuid4()
    memory.append(reply, ReplyEvent(id=1, kind="message", data={}))
    sent: list[bytes] = []

    async def respond() -> None:
        async for chunk in _frames(memory.follow(reply, after=1), 0.05):
            sent.append(chunk)

    response = asyncio.ensure_future(respond())
    await asyncio.sleep(0.12)  # heartbeats while the reply is silent
    assert sent
    assert set(sent) == {HEARTBEAT}
    sent.clear()
    memory.append(reply, delta(2))
    await asyncio.sleep(0)  # the writer waits once
    assert sent == [encode_event(delta(2))]
    memory.append(reply, delta(3))
    memory.append(reply, ReplyEvent(id=4, kind="done", data={}))
    await asyncio.wait_for(response, 1)
    assert sent == [
        encode_event(delta(2)),
        encode_event(delta(3)) + encode_event(ReplyEvent(id=4, kind="done", data={})),
    ]


async def test_a_memory_follow_reads_like_the_stream_and_ends_where_it_does() -> None:
    """``MemoryFollow`` as an iterator: from after an id, through the terminal event and no further; at once
    for a stream this process does not have; at its close for one that ends without a terminal event."""
    memory = MemoryReplyStreams(ttl=60, max_age=600)
    reply, other = uuid.uuid4(), uuid.uuid4()
    for event in (
        ReplyEvent(id=1, kind="message", data={}),
        delta(2),
        ReplyEvent(id=3, kind="done", data={}),
        delta(4),
    ):
        memory.append(reply, event)
    assert [e.id async for e in memory.follow(reply, after=1)] == [2, 3]
    assert [e.id async for e in memory.follow(uuid.uuid4())] == []
    memory.append(other, ReplyEvent(id=1, kind="message", data={}))
    follow = memory.follow(other)
    assert (await anext(follow)).id == 1
    waiting = asyncio.ensure_future(anext(follow))
    await asyncio.sleep(0)
    memory.close(other)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 1)
    batches = memory.follow(other)
    assert await batches.wait(1)
    assert [e.id for e in batches.take()[0]] == [1]
    assert batches.done
