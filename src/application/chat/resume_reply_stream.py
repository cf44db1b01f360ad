"""ResumeReplyStream: a reply's events after the last one a client saw, then live, on any instance.

``GET .../messages/{id}/stream`` with ``Last-Event-ID`` and the WebSocket ``resume`` frame use it.
Ownership is checked when it is called (so a front door can still answer 404); the events come
from the returned iterator. When the reply's stream has expired, a finished reply is answered from
its row: one ``done`` (or ``error``) event with the stored message, whose id is the stream's last.

A reader never waits on a dead writer: while the stream is quiet it looks at the row every few
seconds and, once the writer's lease ran out, finishes the reply as interrupted (``ReplyRecovery``).
A reader whose position the shared stream cannot continue (Redis lost its events) gets one
``snapshot`` event with the stored text so far, then the live deltas after it; while the stream
cannot be read at all (Redis away), a ``snapshot`` each time the stored text grew. Never a gap, and
event ids only go up (a snapshot's id is that of the last event its text covers).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from src.application.chat.access import owned_message
from src.application.chat.ports import ChatTransaction, ReplyEvent, ReplyStreamStore, StreamGap
from src.application.chat.recovery import ReplyRecovery
from src.application.chat.settings import ReplySettings
from src.application.chat.views import MessageView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.errors import InvalidEventId, MessageNotFound
from src.domain.chat.model import Message
from src.domain.identity.model import Principal
from src.domain.llm.model import FinishReason, MessageRole

MAX_EVENT_ID_LENGTH = 20


@dataclass(frozen=True, slots=True)
class ResumeReplyStreamQuery:
    message_id: uuid.UUID
    #: The ``id`` of the last event the client has (``Last-Event-ID``); ``None``: from the start.
    last_event_id: str | None = None
    #: The conversation the reply is in, when the front door knows it (the REST route does).
    conversation_id: uuid.UUID | None = None


def parse_event_id(value: str | None) -> int:
    if value is None or not value.strip():
        return 0
    text = value.strip()
    # ASCII digits only: str.isdigit() also takes '²', which int() refuses.
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_EVENT_ID_LENGTH:
        raise InvalidEventId(f"event ids are whole numbers, not {value[:MAX_EVENT_ID_LENGTH]!r}")
    return int(text)


class ResumeReplyStream:
    def __init__(
        self,
        uow: UnitOfWorkFactory[ChatTransaction],
        streams: ReplyStreamStore,
        settings: ReplySettings,
        recovery: ReplyRecovery,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._streams = streams
        self._settings = settings
        #: Finishes a reply whose writer's lease ran out while a reader waits on it.
        self._recovery = recovery
        self._clock = clock

    async def __call__(self, principal: Principal, query: ResumeReplyStreamQuery) -> AsyncIterator[ReplyEvent]:
        after = parse_event_id(query.last_event_id)
        async with self._uow(read_only=True) as tx:
            _, message = await owned_message(tx, principal, query.message_id, query.conversation_id)
        if message.role is not MessageRole.ASSISTANT:
            raise MessageNotFound("no reply with this id in the conversation")
        return self._events(message, after)

    async def _events(self, message: Message, after: int) -> AsyncIterator[ReplyEvent]:
        # A finished reply whose stream has expired must not wait for a stream that will not come.
        idle = 0.0 if not message.is_generating else self._settings.stream_idle_timeout_seconds
        last = after  # the id of the last event the reader has: ids only ever go up from here
        while True:
            source = self._streams.follow(message.id, after=last, idle_timeout=idle)
            try:
                async for event in self._watched(message, source):
                    if event.id <= last:
                        continue
                    last = event.id
                    yield event
                    if event.terminal:
                        return
            except StreamGap as gap:
                snapshot = await self._snapshot(message.id, last, gap.next_id)
                if snapshot is not None:
                    last = snapshot.id
                    yield snapshot
                    continue  # then the live deltas after it
            async with self._uow(read_only=True) as tx:
                current = await tx.messages.get(message.id)
            if current is None:
                raise MessageNotFound()
            if not current.is_generating:
                break
            if await self._writer_gone(message):
                continue  # finished as interrupted just now: its end comes from the stream or the row
            # The stream cannot be read here right now (Redis away, or it lost the stream and the
            # writer has not appended since): the stored text as it grows, until it can be again.
            if current.last_event_id > last:
                last = current.last_event_id
                yield ReplyEvent(id=last, kind="snapshot", data={"text": current.content})
            await asyncio.sleep(self._settings.watch_seconds)
        if current.last_event_id and current.last_event_id <= last:
            return  # the client has seen the end already
        view = MessageView.of(current).to_json()
        event_id = max(current.last_event_id, last + 1)
        if current.finish_reason is FinishReason.ERROR:
            code = current.error_code or "provider_error"
            yield ReplyEvent(id=event_id, kind="error", data={"code": code, "detail": code, "message": view})
        else:
            yield ReplyEvent(id=event_id, kind="done", data=view)

    async def _watched(self, message: Message, source: AsyncIterator[ReplyEvent]) -> AsyncIterator[ReplyEvent]:
        """``source``'s events; while it is quiet, every ``watch_seconds`` a look at the reply's row:
        it ends when the reply was finished without its end reaching this stream, or when its writer
        is gone (lease run out), after finishing it as interrupted. So no reader waits on a dead writer
        longer than the lease plus a few seconds."""
        events = aiter(source)
        pending: asyncio.Future[ReplyEvent] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({pending}, timeout=self._settings.watch_seconds)
                if not done:
                    if await self._writer_gone(message):
                        return
                    continue
                finished, pending = pending, None
                try:
                    event = finished.result()
                except StopAsyncIteration:
                    return
                yield event
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _writer_gone(self, message: Message) -> bool:
        """True when the reply is no longer being written: finished, or abandoned (then recovered)."""
        if not message.is_generating:
            return False  # a finished reply's stream ends by itself (terminal event or expiry)
        try:
            async with self._uow(read_only=True) as tx:
                current = await tx.messages.get(message.id)
                conversation = await tx.conversations.get(message.conversation_id)
        except Exception:  # noqa: BLE001 - the database is away: keep following the stream
            return False
        if current is None or not current.is_generating:
            return True
        alive = conversation is not None and conversation.generating_message_id == message.id
        if alive and conversation is not None and conversation.reply_in_progress(self._clock.now()):
            return False
        with contextlib.suppress(Exception):
            await self._recovery.recover(message.conversation_id, message.id)
            return True
        return False

    async def _snapshot(self, message_id: uuid.UUID, last: int, next_id: int) -> ReplyEvent | None:
        """The stored text so far as one ``snapshot`` event, at a position the stream continues from
        (the row is written every flush interval: wait for a write that covers the lost events).
        ``None`` when the reply is no longer generating (its row answers) or no such write comes."""
        waited = 0.0
        limit = max(self._settings.lease_seconds, self._settings.flush_interval_seconds * 4)
        while True:
            async with self._uow(read_only=True) as tx:
                current = await tx.messages.get(message_id)
            if current is None or not current.is_generating:
                return None
            if current.last_event_id >= next_id - 1 and current.last_event_id > last:
                return ReplyEvent(id=current.last_event_id, kind="snapshot", data={"text": current.content})
            if waited >= limit:
                return None
            pause = max(self._settings.flush_interval_seconds, 0.05)
            await asyncio.sleep(pause)
            waited += pause
