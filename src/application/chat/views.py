"""What the chat use cases take and return.

``MessageView.to_json()`` is the one JSON form of a message: the REST responses, the reply-stream
events (SSE, WebSocket) and the exports all carry exactly this shape.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from src.application.chat.ports import ReplyEvent
from src.domain.chat.errors import ReplyInterruptedByShutdown
from src.domain.chat.model import Conversation, Grounding, Message, MessageStatus
from src.domain.llm.model import FinishReason, MessageRole, Usage
from src.domain.shared.errors import DomainError


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as the HTTP front door writes datetimes."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class UsageView:
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    estimated: bool

    @classmethod
    def of(cls, usage: Usage) -> UsageView:
        return cls(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            estimated=usage.estimated,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # every field is already JSON


@dataclass(frozen=True, slots=True)
class MessageView:
    id: uuid.UUID
    conversation_id: uuid.UUID
    role: MessageRole
    content: str
    status: MessageStatus
    model: str | None
    provider: str | None
    finish_reason: FinishReason | None
    usage: UsageView | None
    cost_micros: int
    latency_ms: int | None
    ttft_ms: int | None
    error_code: str | None
    citations: tuple[dict[str, Any], ...]
    created_at: datetime
    #: ``{"prompt_injection": {flagged, score, reasons}}`` on a user message the scanner flagged as it
    #: was sent (``PROMPT_INJECTION_POLICY=flag``); the REST lists rescan stored messages themselves.
    safety: dict[str, Any] | None = None

    @classmethod
    def of(cls, message: Message) -> MessageView:
        return cls(
            id=message.id,
            conversation_id=message.conversation_id,
            role=message.role,
            content=message.content,
            status=message.status,
            model=message.model,
            provider=message.provider,
            finish_reason=message.finish_reason,
            # A generating row holds only the prompt's estimate, for recovery: no usage to show yet.
            usage=UsageView.of(message.usage) if message.usage is not None and not message.is_generating else None,
            cost_micros=message.cost_micros,
            latency_ms=message.latency_ms,
            ttft_ms=message.ttft_ms,
            error_code=message.error_code,
            citations=message.citations,
            created_at=message.created_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "conversation_id": str(self.conversation_id),
            "role": self.role.value,
            "content": self.content,
            "status": self.status.value,
            "model": self.model,
            "provider": self.provider,
            "finish_reason": self.finish_reason.value if self.finish_reason is not None else None,
            "usage": self.usage.to_json() if self.usage is not None else None,
            "cost_micros": self.cost_micros,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "error_code": self.error_code,
            "citations": [dict(c) for c in self.citations],
            "created_at": iso(self.created_at),
        } | ({"safety": self.safety} if self.safety is not None else {})


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: uuid.UUID
    title: str | None
    model: str
    system_prompt: str | None
    temperature: float | None
    archived: bool
    grounding: Grounding | None
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime
    #: The reply being generated right now (resume it from its stream), if any.
    generating_message_id: uuid.UUID | None
    #: The conversation's own cap on the history a reply sends (``None``: the deployment's).
    context_tokens: int | None = None
    summarize: bool = True
    #: The running summary of the turns beyond the cap, the last message it covers, when written.
    summary: str | None = None
    summary_through: uuid.UUID | None = None
    summary_updated_at: datetime | None = None

    @classmethod
    def of(cls, conversation: Conversation, now: datetime) -> ConversationView:
        return cls(
            id=conversation.id,
            title=conversation.title,
            model=conversation.model,
            system_prompt=conversation.system_prompt,
            temperature=conversation.temperature,
            archived=conversation.archived,
            grounding=conversation.grounding,
            created_at=conversation.created_at,
            updated_at=conversation.updated_at,
            last_activity_at=conversation.last_activity_at,
            generating_message_id=conversation.generating_message_id if conversation.reply_in_progress(now) else None,
            context_tokens=conversation.context_tokens,
            summarize=conversation.summarize,
            summary=conversation.summary,
            summary_through=conversation.summary_through_id,
            summary_updated_at=conversation.summary_updated_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "title": self.title,
            "model": self.model,
            "system_prompt": self.system_prompt,
            "temperature": self.temperature,
            "archived": self.archived,
            "grounding": self.grounding.to_json() if self.grounding is not None else None,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "last_activity_at": iso(self.last_activity_at),
            "generating_message_id": str(self.generating_message_id) if self.generating_message_id else None,
            "context_tokens": self.context_tokens,
            "summarize": self.summarize,
            "summary": self.summary,
            "summary_through": str(self.summary_through) if self.summary_through else None,
            "summary_updated_at": iso(self.summary_updated_at) if self.summary_updated_at else None,
        }


@dataclass(frozen=True, slots=True)
class ConversationPage:
    items: list[ConversationView]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class MessagePage:
    """Newest first. ``offset``: how many newer messages the cursor skipped; ``next_before``: the
    cursor of the next (older) page, ``None`` on the last one."""

    items: list[MessageView]
    total: int
    limit: int
    offset: int
    next_before: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class ConversationExport:
    conversation: ConversationView
    messages: list[MessageView]
    exported_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation.to_json(),
            "messages": [m.to_json() for m in self.messages],
            "exported_at": iso(self.exported_at),
        }


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """How a reply ended: the stored assistant message, or the error that stopped the model before
    it wrote anything (then nothing was stored)."""

    message: MessageView | None
    error: DomainError | None = None


@dataclass(frozen=True, slots=True)
class ReplyHandle:
    """A reply under way, as ``SendMessage`` and ``RegenerateReply`` return it.

    The reply is generated by a task the process owns: drop the handle, disconnect, and it goes on.
    Front doors show it by reading ``events()`` (the reply stream: ``message``, ``delta``...,
    ``done``/``error``), or wait for the stored message with ``result()``.
    """

    conversation: ConversationView
    #: The stored user message this reply answers (for a regeneration: the one it answers again).
    user_message: MessageView
    #: The assistant message (it exists from the start, ``status`` ``generating``) and its stream.
    message_id: uuid.UUID
    #: Whether the send started a new conversation (a WebSocket ``send`` without ``conversation_id``).
    created_conversation: bool
    _outcome: Awaitable[ReplyOutcome] = field(repr=False, compare=False)
    _follow: Callable[[int], AsyncIterator[ReplyEvent]] = field(repr=False, compare=False)
    #: The events already in the reply's stream when the send returned: the user's message, and the
    #: model's first delta when it had arrived by then. A front door sends them at once, then follows
    #: ``events(after=shown_up_to)`` (no wait for the reply's task or a reader of its own to run).
    shown: tuple[ReplyEvent, ...] = ()

    @property
    def conversation_id(self) -> uuid.UUID:
        return self.conversation.id

    @property
    def shown_up_to(self) -> int:
        """The id of the last event of ``shown`` (0: none)."""
        return self.shown[-1].id if self.shown else 0

    def events(self, after: int = 0) -> AsyncIterator[ReplyEvent]:
        """The reply's events with ids above ``after``, live, ending after ``done`` or ``error``."""
        return self._follow(after)

    async def outcome(self) -> ReplyOutcome:
        """Wait for the reply to end (cancelling the wait never cancels the reply). A reply cancelled
        by the process shutting down (stored as interrupted) raises ``ReplyInterruptedByShutdown``
        to a waiter that was not itself cancelled, so that it can still answer its client."""
        try:
            return await asyncio.shield(self._outcome)
        except asyncio.CancelledError:
            waiter = asyncio.current_task()
            reply_cancelled = isinstance(self._outcome, asyncio.Future) and self._outcome.cancelled()
            if reply_cancelled and (waiter is None or not waiter.cancelling()):
                raise ReplyInterruptedByShutdown(
                    "the server is shutting down; the text written so far is stored"
                ) from None
            raise

    async def result(self) -> MessageView:
        """The stored assistant message once the reply ended (``finish_reason`` ``stop``, ``length``,
        ``cancelled`` or ``error`` with the partial text); raises the error when the model failed
        before writing anything."""
        outcome = await self.outcome()
        if outcome.message is None:
            assert outcome.error is not None
            raise outcome.error
        return outcome.message
