"""``parley chat``'s conversation state and what it does, on the portal's loop, through the use cases."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from src.interfaces.cli.terminal.screen import Screen, describe_error, reply_note, sources_note

#: How many of a resumed conversation's latest messages are shown before the prompt.
RECENT_MESSAGES = 6


@dataclass
class ChatSession:
    """The chat's state and what it does, on the portal's loop: every call goes through a use case."""

    use_cases: Any
    principal: Any
    screen: Screen
    conversation_id: uuid.UUID | None = None
    #: The model asked for with --model or /model; ``None``: the conversation's (or the default).
    model: str | None = None
    #: The reply being shown now (conversation id, message id), for Ctrl-C.
    _current: tuple[uuid.UUID, uuid.UUID] | None = field(default=None, init=False)
    #: Ctrl-C came while the message was being sent, before its reply could be named.
    _stop_wanted: bool = field(default=False, init=False)

    # -- starting --------------------------------------------------------------------------------

    @classmethod
    async def open(cls, container: Any, who: str, screen: Screen, model: str | None) -> ChatSession:
        """Act as user ``who``: unknown or deactivated users are refused (a one-line error)."""
        from src.interfaces.cli.runtime import act_as

        principal = await act_as(container, who)
        session = cls(container.use_cases, principal, screen)
        if model is not None:
            await session.check_model(model)
            session.model = model
        return session

    async def resume(self, conversation_id: uuid.UUID) -> uuid.UUID | None:
        """Show the conversation's latest messages; the id of a reply still being written, if any."""
        from src.application.chat.get_conversation import GetConversationQuery
        from src.application.chat.list_messages import ListMessagesQuery

        conversation = await self.use_cases.chat.get_conversation(self.principal, GetConversationQuery(conversation_id))
        page = await self.use_cases.chat.list_messages(
            self.principal, ListMessagesQuery(conversation_id=conversation_id, limit=RECENT_MESSAGES)
        )
        self.conversation_id = conversation.id
        title = conversation.title or "untitled"
        self.screen.note(f"conversation {conversation.id} · {title} · {conversation.model} · {page.total} messages")
        if page.total > len(page.items):
            self.screen.note(f"… {page.total - len(page.items)} earlier messages")
        for message in reversed(page.items):
            if message.status.value == "generating":
                continue  # followed live below
            speaker = "you" if message.role.value == "user" else "assistant"
            self.screen.text(f"{speaker}: {message.content}\n")
        return conversation.generating_message_id  # type: ignore[no-any-return]

    async def check_model(self, model: str) -> None:
        """Refuse a model that is not available, naming the ones that are (``model_unavailable``)."""
        from src.domain.llm.errors import UnknownModel

        available = [view.info.id for view in await self._available_models()]
        if model not in available:
            raise UnknownModel(
                f"{model!r}; available: {', '.join(available)}",
                extra={"model": model, "available": available},
            )

    async def _available_models(self) -> list[Any]:
        from src.application.llm.list_models import ListModelsQuery

        page = await self.use_cases.llm.list_models(ListModelsQuery(available_only=True, limit=10_000))
        return list(page.items)

    # -- a message and its reply -----------------------------------------------------------------

    async def send(self, content: str) -> bool:
        """Send ``content`` and show the reply as it is written; ``False`` when refused or failed."""
        from src.application.chat.send_message import SendMessageCommand
        from src.domain.shared.errors import DomainError

        self._stop_wanted = False
        command = SendMessageCommand(content=content, conversation_id=self.conversation_id, model=self.model)
        try:
            handle = await self.use_cases.chat.send_message(self.principal, command)
        except DomainError as exc:
            self.screen.error(describe_error(exc))
            return False
        if handle.created_conversation:
            self.conversation_id = handle.conversation_id
            self.screen.note(f"[new conversation {handle.conversation_id}]")
        ok = await self._show(handle.conversation_id, handle.message_id, handle.events(1))  # 1: our own message
        with contextlib.suppress(Exception):
            await handle.outcome()  # the reply is stored (and its task done) before the next prompt
        return ok

    async def follow(self, message_id: uuid.UUID) -> bool:
        """Show a reply already being written (found when resuming a conversation), live."""
        from src.application.chat.resume_reply_stream import ResumeReplyStreamQuery

        assert self.conversation_id is not None
        self.screen.note("[a reply is being written: following it, Ctrl-C stops it]")
        events = await self.use_cases.chat.resume_reply_stream(
            self.principal, ResumeReplyStreamQuery(message_id=message_id, conversation_id=self.conversation_id)
        )
        return await self._show(self.conversation_id, message_id, events)

    async def _show(self, conversation_id: uuid.UUID, message_id: uuid.UUID, events: Any) -> bool:
        self._current = (conversation_id, message_id)
        try:
            if self._stop_wanted:  # Ctrl-C came before the reply had started
                await self.stop()
            async for event in events:
                if event.kind == "delta":
                    self.screen.text(str(event.data.get("text", "")))
                elif event.kind == "snapshot":
                    # Some deltas could not be replayed: the reply so far, whole, on a fresh line.
                    self.screen.note("[part of the stream was lost; the reply so far:]")
                    self.screen.text(str(event.data.get("text", "")))
                elif event.kind == "done":
                    self.screen.note(reply_note(event.data))
                    sources = sources_note(event.data)
                    if sources:
                        self.screen.note(sources)
                    return True
                elif event.kind == "error":
                    self.screen.error(f"{event.data.get('code')}: {event.data.get('detail')}")
                    if event.data.get("message"):
                        self.screen.note("[the text so far is kept]")
                    return False
            self.screen.error("the reply's stream ended early; its message holds what was written")
            return False
        finally:
            self._current = None
            self.screen.end_line()

    async def stop(self) -> None:
        """Ctrl-C during a reply: stop it wherever it is being written (a no-op once it has ended)."""
        from src.application.chat.stop_reply import StopReplyCommand
        from src.domain.shared.errors import DomainError

        if self._current is None:
            self._stop_wanted = True
            return
        conversation_id, message_id = self._current
        with contextlib.suppress(DomainError):  # reply_not_in_progress: it ended meanwhile
            await self.use_cases.chat.stop_reply(
                self.principal, StopReplyCommand(message_id=message_id, conversation_id=conversation_id)
            )

    # -- slash commands --------------------------------------------------------------------------

    async def show_models(self) -> None:
        current = self.model
        for view in await self._available_models():
            marks = []
            if view.info.id == current:
                marks.append("in use")
            if view.is_default:
                marks.append("default")
            suffix = f"  ({', '.join(marks)})" if marks else ""
            self.screen.text(f"{view.info.id}{suffix}\n")

    async def title(self, text: str) -> None:
        from src.application.chat.get_conversation import GetConversationQuery
        from src.application.chat.update_conversation import UpdateConversationCommand

        if self.conversation_id is None:
            self.screen.note("no conversation yet: the first message starts one")
            return
        if text:
            view = await self.use_cases.chat.update_conversation(
                self.principal, UpdateConversationCommand(conversation_id=self.conversation_id, title=text)
            )
        else:
            view = await self.use_cases.chat.get_conversation(
                self.principal, GetConversationQuery(self.conversation_id)
            )
        self.screen.note(f"title: {view.title or '(none yet)'}")
