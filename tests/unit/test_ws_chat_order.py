"""The WebSocket chat's frame order: the sender's ``ack`` comes before any frame of its reply.

Regression: the use case announces a reply to every client of the user (``reply_started``) before it
returns, and under load that event reached the sending socket's listener first, so the socket
streamed the reply (``message``, ``delta``, ``done``) before its ``ack``. The web app then took the
late ack for a new reply and showed an empty bubble that never finished (a Playwright flake).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any, cast

from src.application.chat.ports import ReplyEvent, UserEvent
from src.domain.identity.model import Principal, Role, Tier
from src.interfaces.http.ws.chat import ChatSocket
from src.interfaces.http.ws.frames import SendFrame

ME = Principal(user_id=uuid.uuid4(), email="me@example.com", role=Role.CREATOR, tier=Tier.FREE)


class Events:
    """One user's events in memory (what ``PubSubUserEvents`` does without Redis)."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[UserEvent]] = []

    async def publish(self, event: UserEvent) -> None:
        for queue in self.queues:
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, user_id: uuid.UUID) -> AsyncIterator[AsyncIterator[UserEvent]]:
        queue: asyncio.Queue[UserEvent] = asyncio.Queue()
        self.queues.append(queue)

        async def stream() -> AsyncIterator[UserEvent]:
            while True:
                yield await queue.get()

        yield stream()


class Session:
    def __init__(self) -> None:
        self.principal = ME
        self.closing = False
        self.frames: list[dict[str, Any]] = []
        self.tasks: list[asyncio.Task[Any]] = []

    def push(self, frame: bytes) -> bool:
        self.frames.append(json.loads(frame))
        return True

    def error(self, code: str, detail: str, **fields: Any) -> None:
        self.frames.append({"type": "error", "code": code, "detail": detail, **fields})

    def spawn(self, work: Any, *, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(work)
        self.tasks.append(task)
        return task

    async def until_done(self) -> None:
        """Wait for a ``done`` frame, then stop the socket's tasks."""
        async with asyncio.timeout(5):
            while not any(frame["type"] == "done" for frame in self.frames):
                await asyncio.sleep(0.01)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def current_principal(self) -> Principal:
        return self.principal

    async def recheck(self) -> None:
        return None


def sent_handle(
    conversation: uuid.UUID,
    reply: uuid.UUID,
    events: Callable[[int], AsyncIterator[ReplyEvent]],
    *,
    shown: tuple[ReplyEvent, ...] = (),
) -> Any:
    """What ``send_message`` returns, as much of it as the socket reads (``ReplyHandle``)."""
    return SimpleNamespace(
        conversation_id=conversation,
        user_message=SimpleNamespace(id=uuid.uuid4(), safety=None),
        message_id=reply,
        created_conversation=True,
        events=events,
        shown=shown,
        shown_up_to=shown[-1].id if shown else 0,
    )


def reply_events(reply: uuid.UUID) -> list[ReplyEvent]:
    return [
        ReplyEvent(1, "message", {"id": str(uuid.uuid4())}),
        ReplyEvent(2, "delta", {"text": "hello"}),
        ReplyEvent(3, "done", {"id": str(reply), "content": "hello"}),
    ]


async def test_the_ack_comes_before_the_replys_frames_when_reply_started_arrives_first() -> None:
    events = Events()
    conversation = uuid.uuid4()
    reply = uuid.uuid4()

    async def stream(after: int = 0) -> AsyncIterator[ReplyEvent]:
        for event in reply_events(reply):
            if event.id > after:
                yield event

    async def send_message(principal: Any, command: Any) -> Any:
        # The use case tells every client first, and returns a little later (a busy loop).
        await events.publish(
            UserEvent("reply_started", ME.user_id, {"conversation_id": str(conversation), "message_id": str(reply)})
        )
        await asyncio.sleep(0.05)
        return sent_handle(conversation, reply, stream)

    async def resume_reply_stream(principal: Any, command: Any) -> AsyncIterator[ReplyEvent]:
        return stream(command.last_event_id or 0)

    container = SimpleNamespace(
        use_cases=SimpleNamespace(
            chat=SimpleNamespace(send_message=send_message, resume_reply_stream=resume_reply_stream)
        ),
        realtime=SimpleNamespace(user_events=events),
    )
    session = Session()
    chat = ChatSocket(cast(Any, session), cast(Any, container))
    await chat.start()
    await chat.send(cast(Any, session), SendFrame(content="hi", client_id="c1"))
    await session.until_done()

    kinds = [frame["type"] for frame in session.frames]
    # The sender has its message (the ack): no `message` frame, and each frame once.
    assert kinds == ["ack", "delta", "done"]


async def test_a_reply_started_elsewhere_while_nothing_is_sent_is_followed_at_once() -> None:
    events = Events()
    reply = uuid.uuid4()

    async def resume_reply_stream(principal: Any, command: Any) -> AsyncIterator[ReplyEvent]:
        async def stream() -> AsyncIterator[ReplyEvent]:
            for event in reply_events(reply):
                yield event

        return stream()

    container = SimpleNamespace(
        use_cases=SimpleNamespace(chat=SimpleNamespace(resume_reply_stream=resume_reply_stream)),
        realtime=SimpleNamespace(user_events=events),
    )
    session = Session()
    chat = ChatSocket(cast(Any, session), cast(Any, container))
    await chat.start()
    await events.publish(
        UserEvent("reply_started", ME.user_id, {"conversation_id": str(uuid.uuid4()), "message_id": str(reply)})
    )
    await session.until_done()
    # Another client's reply: this socket shows the user message too.
    assert [frame["type"] for frame in session.frames] == ["message", "delta", "done"]


async def test_what_the_reply_showed_by_the_sends_return_goes_out_with_the_ack_and_once() -> None:
    """Issue 14: the model's first delta, in the stream when the send returned (``ReplyHandle.shown``),
    is pushed right after the ack, before any task of the socket runs; the rest follows from after it."""
    events = Events()
    reply = uuid.uuid4()
    message, first, done = reply_events(reply)
    followed_after: list[int] = []

    async def stream(after: int = 0) -> AsyncIterator[ReplyEvent]:
        followed_after.append(after)
        for event in (message, first, done):
            if event.id > after:
                yield event

    async def send_message(principal: Any, command: Any) -> Any:
        return sent_handle(uuid.uuid4(), reply, stream, shown=(message, first))

    container = SimpleNamespace(
        use_cases=SimpleNamespace(chat=SimpleNamespace(send_message=send_message)),
        realtime=SimpleNamespace(user_events=events),
    )
    session = Session()
    chat = ChatSocket(cast(Any, session), cast(Any, container))
    await chat.start()
    await chat.send(cast(Any, session), SendFrame(content="hi", client_id="c1"))
    assert [frame["type"] for frame in session.frames] == ["ack", "delta"], "no task has run yet"
    assert (session.frames[1]["text"], session.frames[1]["event_id"]) == ("hello", "2")
    await session.until_done()
    assert [frame["type"] for frame in session.frames] == ["ack", "delta", "done"]
    assert followed_after == [2]
