"""What a reply task is given and what it keeps track of: ``ReplyJob`` (built by the use case that
starts the reply), ``ReplyProgress`` (the text so far and how the stream went), and the errors a reply
can end with that the model did not raise. ``ReplyGenerator`` (``generation.py``) runs the task.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from src.application.ai.pii_stream import PiiReplyFilter
from src.application.chat.early_call import StartedCall
from src.application.chat.views import MessageView
from src.domain.llm.errors import ProviderError
from src.domain.llm.model import ChatRequest, StreamEnd
from src.domain.shared.errors import DomainError


class ReplyTimedOut(ProviderError):
    code = "reply_timeout"
    title = "The reply took too long"


class ReplyInterrupted(ProviderError):
    """The server stopped (shutdown) while the reply was being written; the text so far is kept."""

    code = "interrupted"
    title = "The reply was interrupted"


class IncompleteStream(ProviderError):
    code = "incomplete_stream"
    title = "The model's stream ended without finishing"


class LockLost(ProviderError):
    """The conversation's reply lock lease ran out and someone else took it over."""

    code = "interrupted"
    title = "The reply was interrupted"


@dataclass(frozen=True, slots=True)
class ReplyJob:
    """Everything the task needs; built by the use case that started the reply."""

    user_id: uuid.UUID
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    #: The assistant message's place in the conversation and creation time (its row exists already).
    reply_seq: int
    reply_created_at: datetime
    user_message: MessageView
    request: ChatRequest
    #: The model asked for (``provider/model``), for the row until the answering one is known.
    model: str
    #: ``token_start`` of the reply: every complete message before it.
    token_start: int
    #: The id of the first event this task appends (the ``message`` event came before).
    first_event_id: int
    #: Ask for an automatic title once this reply is stored (the conversation has none yet).
    request_title: bool
    #: ``Clock.monotonic()`` when the request arrived: latency and time to first token count from it.
    started_at: float
    #: The passages the model was given (a grounded conversation); ``cited`` is set from the final text.
    citations: tuple[dict[str, Any], ...] = ()
    #: ``PII_REDACTION``: what the user is sent of the model's text (placeholders restored, data masked).
    text_filter: PiiReplyFilter | None = None
    #: The user's monthly budget when the reply started (``None``: unknown): the charge raises
    #: ``UsageCharged`` (and so the budget-alert job) only once the month's total reaches a threshold.
    budget_micros: int | None = None
    #: The model call, when the use case started it before its commit (``early_call.py``); otherwise the
    #: reply's task calls the model with ``request``.
    call: StartedCall | None = None


@dataclass(slots=True)
class ReplyProgress:
    """The reply being written: its text, how its stream ended, what was asked of it."""

    next_event_id: int
    parts: list[str] = field(default_factory=list)
    end: StreamEnd | None = None
    failure: DomainError | None = None
    stop_requested: bool = False
    stopped: bool = False
    lock_lost: bool = False
    first_delta_at: float | None = None
    #: Text length already written to the row.
    stored_chars: int = 0
    chars: int = 0
    #: Set when the model is done: the progress writer finishes its write under way and stops.
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def text(self) -> str:
        return "".join(self.parts)
