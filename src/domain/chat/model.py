"""Chat: conversations and their messages.

Pure: no I/O, no clocks (times are passed in). A conversation belongs to one user; its messages are
numbered by ``seq`` (their order, gap-free only by accident) and carry running token counts so
that the messages fitting a context window can be found without reading the whole history.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from src.domain.chat.context import check_context_tokens
from src.domain.chat.errors import EmptyMessage, InvalidConversation, MessageTooLong
from src.domain.llm.model import FinishReason, MessageRole, Usage

MAX_TITLE_LENGTH = 200
MAX_SYSTEM_PROMPT_CHARS = 16_000
MIN_TEMPERATURE = 0.0
MAX_TEMPERATURE = 2.0
MAX_GROUNDING_TAGS = 20
MAX_GROUNDING_TAG_LENGTH = 50


class MessageStatus(enum.StrEnum):
    #: The assistant is still writing it; its content grows in batches.
    GENERATING = "generating"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class Grounding:
    """Which of the user's knowledge grounds the replies: all of it (``tags`` is ``None``) or the
    articles carrying one of ``tags``. Stored and shown as ``{"knowledge": true | [tags]}``."""

    tags: tuple[str, ...] | None = None

    @classmethod
    def of(cls, knowledge: bool | Sequence[str] | None) -> Grounding | None:
        """``true`` -> all knowledge; a list of tags -> those; ``false``/``null``/``[]`` -> no grounding."""
        if knowledge is None or knowledge is False:
            return None
        if knowledge is True:
            return cls(None)
        if isinstance(knowledge, str):
            raise InvalidConversation("grounding.knowledge must be true, a list of tags, or null")
        tags: list[str] = []
        for raw in knowledge:
            if not isinstance(raw, str):
                raise InvalidConversation("grounding.knowledge tags must be strings")
            tag = " ".join(raw.split()).lower()
            if not 1 <= len(tag) <= MAX_GROUNDING_TAG_LENGTH:
                raise InvalidConversation(f"grounding tags must be 1-{MAX_GROUNDING_TAG_LENGTH} characters")
            if tag not in tags:
                tags.append(tag)
        if len(tags) > MAX_GROUNDING_TAGS:
            raise InvalidConversation(f"at most {MAX_GROUNDING_TAGS} grounding tags")
        return cls(tuple(tags)) if tags else None

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> Grounding | None:
        if not value:
            return None
        return cls.of(value.get("knowledge"))

    @property
    def knowledge(self) -> bool | list[str]:
        return True if self.tags is None else list(self.tags)

    def to_json(self) -> dict[str, Any]:
        return {"knowledge": self.knowledge}


def clean_title(raw: str | None) -> str | None:
    """A title as stored: runs of whitespace collapsed; blank is no title."""
    if raw is None:
        return None
    title = " ".join(raw.split())
    if not title:
        return None
    if len(title) > MAX_TITLE_LENGTH:
        raise InvalidConversation(f"title must be at most {MAX_TITLE_LENGTH} characters")
    return title


def clean_system_prompt(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_SYSTEM_PROMPT_CHARS:
        raise InvalidConversation(f"system_prompt must be at most {MAX_SYSTEM_PROMPT_CHARS} characters")
    return raw.strip()


def check_temperature(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        raise InvalidConversation(f"temperature must be between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g}")
    return float(value)


def check_message_content(content: str, *, max_chars: int) -> str:
    """The content as sent (it is the user's text: kept verbatim), refused when blank or too long."""
    if not content or not content.strip():
        raise EmptyMessage("content must not be empty")
    if len(content) > max_chars:
        raise MessageTooLong(
            f"content is {len(content)} characters; at most {max_chars} are accepted",
            extra={"max_chars": max_chars},
        )
    return content


@dataclass(slots=True)
class Conversation:
    id: uuid.UUID
    user_id: uuid.UUID
    title: str | None
    model: str
    system_prompt: str | None
    temperature: float | None
    archived: bool
    grounding: Grounding | None
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime
    #: The reply being generated, and until when the instance generating it holds the conversation.
    #: Past ``generating_until`` the holder is presumed gone and the lock can be taken over.
    generating_message_id: uuid.UUID | None = None
    generating_until: datetime | None = None
    #: Estimated tokens of every complete message: the ``token_start`` of the next one.
    token_total: int = 0
    #: The ``seq`` the next message gets.
    next_seq: int = 1
    #: When the automatic title was asked for (once per conversation).
    title_requested_at: datetime | None = None
    #: The cap on the history a reply sends (``None``: the deployment's ``CHAT_CONTEXT_TOKENS``).
    context_tokens: int | None = None
    #: Whether the turns beyond the cap are folded into a running summary (see ``summary.py``).
    summarize: bool = True
    summary: str | None = None
    #: The summary covers every complete message whose ``token_start`` is below this.
    summary_token_end: int = 0
    #: The last message the summary covers, and when it was written.
    summary_through_id: uuid.UUID | None = None
    summary_updated_at: datetime | None = None
    #: When an update of the summary was last queued (one at a time; a lost one is queued again later).
    summary_requested_at: datetime | None = None

    @classmethod
    def start(
        cls,
        *,
        id: uuid.UUID,
        user_id: uuid.UUID,
        model: str,
        now: datetime,
        title: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        grounding: Grounding | None = None,
    ) -> Conversation:
        return cls(
            id=id,
            user_id=user_id,
            title=clean_title(title),
            model=model,
            system_prompt=clean_system_prompt(system_prompt),
            temperature=check_temperature(temperature),
            archived=False,
            grounding=grounding,
            created_at=now,
            updated_at=now,
            last_activity_at=now,
        )

    def is_owned_by(self, user_id: uuid.UUID) -> bool:
        return self.user_id == user_id

    def reply_in_progress(self, now: datetime) -> bool:
        return (
            self.generating_message_id is not None and self.generating_until is not None and self.generating_until > now
        )

    def rename(self, title: str | None, *, now: datetime) -> None:
        self.title = clean_title(title)
        self.updated_at = now

    def change_model(self, model: str, *, now: datetime) -> None:
        self.model = model
        self.updated_at = now

    def change_system_prompt(self, system_prompt: str | None, *, now: datetime) -> None:
        self.system_prompt = clean_system_prompt(system_prompt)
        self.updated_at = now

    def change_temperature(self, temperature: float | None, *, now: datetime) -> None:
        self.temperature = check_temperature(temperature)
        self.updated_at = now

    def change_grounding(self, grounding: Grounding | None, *, now: datetime) -> None:
        self.grounding = grounding
        self.updated_at = now

    def change_context_tokens(self, context_tokens: int | None, *, context_window: int, now: datetime) -> None:
        self.context_tokens = check_context_tokens(context_tokens, context_window=context_window)
        self.updated_at = now

    def change_summarize(self, summarize: bool, *, now: datetime) -> None:
        self.summarize = summarize
        self.updated_at = now

    def set_archived(self, archived: bool, *, now: datetime) -> None:
        self.archived = archived
        self.updated_at = now


@dataclass(slots=True)
class Message:
    id: uuid.UUID
    conversation_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    role: MessageRole
    content: str
    status: MessageStatus
    created_at: datetime
    updated_at: datetime
    #: The model that answered (``provider/model``); for a user message, the model it was sent to.
    model: str | None = None
    provider: str | None = None
    finish_reason: FinishReason | None = None
    usage: Usage | None = None
    cost_micros: int = 0
    latency_ms: int | None = None
    ttft_ms: int | None = None
    #: Why a reply ended with ``finish_reason`` ``error`` (``provider_unavailable``, ``interrupted``, ...).
    error_code: str | None = None
    citations: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    #: Estimated tokens of all earlier complete messages of the conversation (``None`` while generating).
    token_start: int | None = None
    token_count: int = 0
    #: The id of the last event of this reply's stream (0 for user messages).
    last_event_id: int = 0

    @property
    def is_generating(self) -> bool:
        return self.status is MessageStatus.GENERATING

    @classmethod
    def from_user(
        cls,
        *,
        id: uuid.UUID,
        conversation: Conversation,
        seq: int,
        content: str,
        token_count: int,
        model: str,
        now: datetime,
    ) -> Message:
        return cls(
            id=id,
            conversation_id=conversation.id,
            user_id=conversation.user_id,
            seq=seq,
            role=MessageRole.USER,
            content=content,
            status=MessageStatus.COMPLETE,
            created_at=now,
            updated_at=now,
            model=model,
            provider=model.partition("/")[0] or None,
            token_start=conversation.token_total,
            token_count=token_count,
        )

    @classmethod
    def placeholder_reply(
        cls,
        *,
        id: uuid.UUID,
        conversation: Conversation,
        seq: int,
        model: str,
        now: datetime,
        citations: tuple[dict[str, Any], ...] = (),
    ) -> Message:
        """The assistant's row, there from the start of the reply and filled as it streams (with the
        passages its model is given, when the conversation is grounded)."""
        return cls(
            id=id,
            conversation_id=conversation.id,
            user_id=conversation.user_id,
            seq=seq,
            role=MessageRole.ASSISTANT,
            content="",
            status=MessageStatus.GENERATING,
            created_at=now,
            updated_at=now,
            model=model,
            provider=model.partition("/")[0] or None,
            citations=citations,
        )
