"""ResumeReplyStream: a reply's events after the last one a client saw, then live, on any instance.

``GET .../messages/{id}/stream`` with ``Last-Event-ID`` and the WebSocket ``resume`` frame use it.
Ownership is checked when it is called (so a front door can still answer 404); the events come
from the returned iterator. When the reply's stream has expired, a finished reply is answered from
its row: one ``done`` (or ``error``) event with the stored message, whose id is the stream's last.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from src.application.chat.access import owned_message
from src.application.chat.ports import ReplyEvent, ReplyStreamStore
from src.application.chat.settings import ReplySettings
from src.application.chat.views import MessageView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.chat.errors import InvalidEventId, MessageNotFound
from src.domain.chat.model import Message
from src.domain.identity.model import Principal
from src.domain.llm.model import FinishReason, MessageRole

STREAM_UNAVAILABLE = "stream_unavailable"
MAX_EVENT_ID_LENGTH = 20


@dataclass(frozen=True, slots=True)
class ResumeReplyStreamCommand:
    principal: Principal
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
    def __init__(self, uow: UnitOfWorkFactory, streams: ReplyStreamStore, settings: ReplySettings) -> None:
        self._uow = uow
        self._streams = streams
        self._settings = settings

    async def __call__(self, command: ResumeReplyStreamCommand) -> AsyncIterator[ReplyEvent]:
        after = parse_event_id(command.last_event_id)
        async with self._uow(read_only=True) as tx:
            _, message = await owned_message(tx, command.principal, command.message_id, command.conversation_id)
        if message.role is not MessageRole.ASSISTANT:
            raise MessageNotFound("no reply with this id in the conversation")
        return self._events(message, after)

    async def _events(self, message: Message, after: int) -> AsyncIterator[ReplyEvent]:
        # A finished reply whose stream has expired must not wait for a stream that will not come.
        idle = 0.0 if not message.is_generating else self._settings.stream_idle_timeout_seconds
        async for event in self._streams.follow(message.id, after=after, idle_timeout=idle):
            yield event
            if event.terminal:
                return
        async with self._uow(read_only=True) as tx:
            current = await tx.messages.get(message.id)
        if current is None:
            raise MessageNotFound()
        if current.is_generating:
            yield ReplyEvent(
                id=after + 1,
                kind="error",
                data={
                    "code": STREAM_UNAVAILABLE,
                    "detail": "this reply's stream cannot be read here right now; read the message instead",
                    "message": MessageView.of(current).to_json(),
                },
            )
            return
        if current.last_event_id and current.last_event_id <= after:
            return  # the client has seen the end already
        view = MessageView.of(current).to_json()
        event_id = max(current.last_event_id, after + 1)
        if current.finish_reason is FinishReason.ERROR:
            code = current.error_code or "provider_error"
            yield ReplyEvent(id=event_id, kind="error", data={"code": code, "detail": code, "message": view})
        else:
            yield ReplyEvent(id=event_id, kind="done", data=view)
