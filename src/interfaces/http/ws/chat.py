"""``/api/v1/ws/chat``: the chat over one WebSocket, through the same use cases as REST.

Frames in: ``auth``, ``send``, ``stop``, ``resume``, ``ping`` (see ``frames.py``). Frames out:
``ready``, ``ack``, ``message``, ``delta``, ``done``, ``error``, ``title``, ``pong``, and
``reconnect`` (the instance is shutting down: the socket closes with 1012; connect again and
``resume`` the replies under way from their last event ids).

Every socket of a user follows that user's replies, wherever they were started: a ``send`` on this
socket, another tab, ``parley chat``, or a REST call, on any instance (user events fan out through
Redis pub/sub). A reply followed here streams as ``message`` (the user message it answers; not sent
to the socket that sent it, which got an ``ack``), ``delta``... and ``done`` or ``error``, each with
the reply's ``message_id`` and the ``event_id`` to ``resume`` from after a reconnect. Several
conversations may stream on one socket at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import WebSocket, websocket
from litestar.params import SkipValidation

from src.application.chat.ports import EventsLost, ReplyEvent, UserEvent
from src.application.chat.resume_reply_stream import ResumeReplyStreamQuery
from src.application.chat.send_message import SendMessageCommand
from src.application.chat.stop_reply import StopReplyCommand
from src.domain.shared.errors import DomainError, Unauthenticated
from src.infrastructure.container import Container
from src.infrastructure.logging import get_logger
from src.interfaces.http.drain import Drain
from src.interfaces.http.ws.frames import ResumeFrame, SendFrame, StopFrame, encode
from src.interfaces.http.ws.session import CLOSE_UNAUTHENTICATED, FrameHandler, SocketSession

logger = get_logger("parley.ws")

#: Error fields worth passing on to a client (the available models, when to retry, ...).
_ERROR_EXTRAS = ("available", "retry_after", "limit", "spent_micros", "budget_micros")


class ChatSocket:
    """What the frames of one socket do; one instance per socket."""

    def __init__(self, session: SocketSession, container: Container) -> None:
        self._session = session
        self._use_cases = container.use_cases.chat
        self._user_events = container.realtime.user_events
        #: Replies this socket streams now, by assistant message id.
        self._following: dict[uuid.UUID, asyncio.Task[Any]] = {}
        #: ``send`` frames whose use case has not returned yet, and the replies other clients
        #: started meanwhile (followed once those sends are acknowledged; see ``send``).
        self._sending = 0
        self._started_meanwhile: list[tuple[uuid.UUID, Any]] = []

    @property
    def handlers(self) -> dict[type[Any], FrameHandler]:
        return {SendFrame: self.send, StopFrame: self.stop, ResumeFrame: self.resume}

    async def start(self) -> None:
        """Subscribe to the user's events before the socket says ``ready``: a reply started right
        after ``ready`` (in another tab, on another instance) is never missed."""
        subscribed = asyncio.Event()
        self._session.spawn(self._listen(subscribed), name="ws-user-events")
        await subscribed.wait()

    # -- frames ----------------------------------------------------------------------------------

    async def send(self, session: SocketSession, frame: SendFrame) -> None:
        # The use case announces the reply to every client of the user (``reply_started``) before it
        # returns here, and that event may reach this socket's listener first: a reply started
        # meanwhile is followed only after this send's ``ack``, so the sender never gets a reply's
        # frames before the ack that says which reply they belong to.
        self._sending += 1
        try:
            await self._send(session, frame)
        finally:
            self._sending -= 1
            if not self._sending:
                started, self._started_meanwhile = self._started_meanwhile, []
                for message_id, data in started:
                    self._follow_started(message_id, data)

    async def _send(self, session: SocketSession, frame: SendFrame) -> None:
        try:
            principal = await session.current_principal()
            handle = await self._use_cases.send_message(
                principal,
                SendMessageCommand(
                    content=frame.content,
                    conversation_id=frame.conversation_id,
                    model=frame.model,
                ),
            )
        except DomainError as exc:
            self._refuse(exc, client_id=frame.client_id)
            return
        session.push(
            encode(
                "ack",
                client_id=frame.client_id,
                conversation_id=str(handle.conversation_id),
                user_message_id=str(handle.user_message.id),
                message_id=str(handle.message_id),
                created_conversation=handle.created_conversation,
                # As in the user message's JSON: present when the prompt-injection scanner flagged it.
                safety=handle.user_message.safety,
            )
        )
        # The socket that sent the message has it (the ack): skip the stream's `message` event. What the
        # reply showed by the send's return (its first delta, often) goes out with the ack.
        reply = str(handle.message_id)
        for event in handle.shown:
            if event.kind != "message":
                session.push(_reply_frame(reply, event))
        self._follow(handle.message_id, handle.events(handle.shown_up_to), show_user_message=False)

    async def stop(self, session: SocketSession, frame: StopFrame) -> None:
        try:
            principal = await session.current_principal()
            await self._use_cases.stop_reply(principal, StopReplyCommand(message_id=frame.message_id))
        except DomainError as exc:
            self._refuse(exc, message_id=str(frame.message_id))

    async def resume(self, session: SocketSession, frame: ResumeFrame) -> None:
        try:
            principal = await session.current_principal()
            events = await self._use_cases.resume_reply_stream(
                principal, ResumeReplyStreamQuery(message_id=frame.message_id, last_event_id=frame.last_event_id)
            )
        except DomainError as exc:
            self._refuse(exc, message_id=str(frame.message_id))
            return
        # The client says what it has: restart from there even if this socket already follows it.
        current = self._following.pop(frame.message_id, None)
        if current is not None:
            current.cancel()
        self._follow(frame.message_id, events, show_user_message=True)

    # -- streaming -------------------------------------------------------------------------------

    def _follow(self, message_id: uuid.UUID, events: AsyncIterator[ReplyEvent], *, show_user_message: bool) -> None:
        if message_id in self._following:
            return
        task = self._session.spawn(self._forward(message_id, events, show_user_message), name=f"ws-reply-{message_id}")
        self._following[message_id] = task
        task.add_done_callback(lambda _: self._forget(message_id, task))

    def _forget(self, message_id: uuid.UUID, task: asyncio.Task[Any]) -> None:
        if self._following.get(message_id) is task:
            del self._following[message_id]

    async def _forward(self, message_id: uuid.UUID, events: AsyncIterator[ReplyEvent], show_user_message: bool) -> None:
        reply = str(message_id)
        try:
            async for event in events:
                # The socket that sent the message has it already (its `ack`).
                shown = event.kind != "message" or show_user_message
                if shown and not self._session.push(_reply_frame(reply, event)):
                    return  # the socket is closing
                if event.terminal:
                    return
        finally:
            with contextlib.suppress(Exception):
                await events.aclose()  # type: ignore[attr-defined]

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """The user's events from every instance, for as long as the socket is open."""
        principal = self._session.principal
        assert principal is not None
        while not self._session.closing:
            try:
                async with self._user_events.subscribe(principal.user_id) as stream:
                    subscribed.set()
                    async for event in stream:
                        if event.type == "access_changed":
                            # Awaited here: no later event of the user reaches a socket that is done.
                            await self._session.recheck()
                        else:
                            self._on_user_event(event)
            except EventsLost:
                # Fell behind: say so (the client should re-read its conversations) and go on.
                self._session.error("events_lost", "some notifications were dropped; reload your conversations")

    def _on_user_event(self, event: UserEvent) -> None:
        data = event.data
        if event.type == "reply_started":
            message_id = uuid.UUID(str(data["message_id"]))
            if self._sending:
                self._started_meanwhile.append((message_id, data))
            else:
                self._follow_started(message_id, data)
        elif event.type == "title":
            self._session.push(encode("title", conversation_id=str(data["conversation_id"]), title=str(data["title"])))
        elif event.type == "notification":
            self._session.push(encode("notification", notification=dict(data)))

    def _follow_started(self, message_id: uuid.UUID, started: Any) -> None:
        if message_id not in self._following:  # this socket's own send follows its reply already
            self._follow(message_id, self._reply_events(message_id, started), show_user_message=True)

    async def _reply_events(self, message_id: uuid.UUID, started: Any) -> AsyncIterator[ReplyEvent]:
        """A reply started elsewhere, read through the same use case (and ownership check) as resume."""
        principal = self._session.principal
        assert principal is not None
        try:
            events = await self._use_cases.resume_reply_stream(
                principal,
                ResumeReplyStreamQuery(
                    message_id=message_id,
                    conversation_id=uuid.UUID(str(started["conversation_id"])),
                ),
            )
        except DomainError:
            return
        async for event in events:
            yield event

    def _refuse(self, exc: DomainError, **fields: Any) -> None:
        extras = {key: exc.extra[key] for key in _ERROR_EXTRAS if key in exc.extra}
        self._session.error(exc.code, exc.detail, **fields, **extras)
        if isinstance(exc, Unauthenticated) and exc.code != "invalid_token":
            # A deactivated account or a signed-out session: this socket is done. An expired access
            # token only needs a fresh `auth` frame.
            self._session.close(CLOSE_UNAUTHENTICATED, exc.code)


def _reply_frame(message_id: str, event: ReplyEvent) -> bytes:
    event_id = str(event.id)
    data = event.data
    if event.kind == "delta":
        return encode("delta", message_id=message_id, text=data.get("text", ""), event_id=event_id)
    if event.kind == "snapshot":
        return encode("snapshot", message_id=message_id, text=data.get("text", ""), event_id=event_id)
    if event.kind == "done":
        return encode("done", message_id=message_id, message=dict(data), event_id=event_id)
    if event.kind == "error":
        return encode(
            "error",
            message_id=message_id,
            code=data.get("code"),
            detail=data.get("detail"),
            message=data.get("message"),
            event_id=event_id,
        )
    # `message`: the user message this reply answers.
    return encode("message", message_id=message_id, message=dict(data), event_id=event_id)


@websocket(
    "/ws/chat",
    opt={"public": True, "rate_limit": False},
    name="chat_socket",
    description="The WebSocket chat; see the README section 'WebSocket chat' for its frames.",
)
async def chat_socket(
    socket: WebSocket[Any, Any, Any], container: SkipValidation[Container], drain: SkipValidation[Drain]
) -> None:
    settings = container.settings
    session = SocketSession(
        socket,
        authenticate=container.use_cases.identity.authenticate,
        slots=container.realtime.connection_slots,
        auth_timeout=settings.chat.ws_auth_timeout_seconds,
        queue_frames=settings.chat.ws_send_queue_frames,
    )
    chat = ChatSocket(session, container)
    drain.track(session)
    try:
        await session.run(chat.handlers, on_open=chat.start)
    finally:
        drain.untrack(session)
