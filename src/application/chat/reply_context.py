"""What history a reply sends: the conversation's context cap and its running summary.

A reply reads only the latest messages that fit the conversation's cap (``CHAT_CONTEXT_TOKENS`` or its
own ``context_tokens``, within the model's window), with the running summary of the older turns in the
system note, and queues an update of that summary once a batch of turns has fallen out of the context
(``ReplyLauncher.plan`` asks; ``SummarizeConversation`` writes it).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Protocol

from src.application.chat.jobs import SUMMARY_JOB
from src.application.chat.ports import ReplyTransaction
from src.application.chat.settings import ReplySettings
from src.domain.chat.context import context_budget, context_start, context_threshold, message_tokens
from src.domain.chat.model import Conversation
from src.domain.chat.summary import summary_due, with_summary
from src.domain.llm.model import ModelInfo, PromptMessage

#: A queued summary update not finished after this long is presumed lost and may be queued again.
SUMMARY_RETRY_SECONDS = 600.0


class ContextReader(Protocol):
    """What reads a context's rows: ``MessageRepository`` in a transaction, ``ReplyStart`` outside one."""

    async def context(
        self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int
    ) -> list[PromptMessage]: ...


class ReplyContext:
    def __init__(self, settings: ReplySettings) -> None:
        self._settings = settings

    def summarizing(self, conversation: Conversation) -> bool:
        """Whether the running summary is kept and used: ``CHAT_CONTEXT_SUMMARY`` and the conversation's
        ``summarize`` both on."""
        return self._settings.summarize and conversation.summarize

    def summary(self, conversation: Conversation, model: ModelInfo) -> str | None:
        """The running summary a reply with ``model`` sends: none when summaries are off, or when it would
        take more than half of the history's room (a small window keeps its latest turns instead of a
        summary that crowds them out; the turns it covers are then read again as far as they fit)."""
        if not (self.summarizing(conversation) and conversation.summary):
            return None
        room = context_budget(
            context_window=model.context_window,
            max_output_tokens=model.max_output_tokens,
            system_prompt=conversation.system_prompt,
            cap=conversation.context_tokens or self._settings.context_tokens,
        )
        return conversation.summary if message_tokens(conversation.summary) <= room // 2 else None

    def system_text(self, conversation: Conversation, model: ModelInfo) -> str | None:
        """The system prompt, with the running summary of the older turns as a note after it."""
        return with_summary(conversation.system_prompt, self.summary(conversation, model))

    def context_budget(self, conversation: Conversation, model: ModelInfo) -> int:
        """The tokens of history a reply sends: the conversation's cap (the deployment's when it has
        none), within what ``model``'s window leaves once the system text and the answer are provided for."""
        return context_budget(
            context_window=model.context_window,
            max_output_tokens=model.max_output_tokens,
            system_prompt=self.system_text(conversation, model),
            cap=conversation.context_tokens or self._settings.context_tokens,
        )

    async def read(
        self,
        messages: ContextReader,
        conversation: Conversation,
        model: ModelInfo,
        *,
        token_total: int,
        up_to_seq: int,
        latest_start: int,
    ) -> list[PromptMessage]:
        """The conversation's latest messages that fit its cap (the one being answered, starting at
        ``latest_start``, always), after what the running summary covers: an index range of at most the
        cap's worth of rows, never the history. ``messages``: a transaction's, or a send's ``ReplyStart``."""
        start = context_start(
            token_total=token_total,
            budget=self.context_budget(conversation, model),
            latest_start=latest_start,
            summary_token_end=conversation.summary_token_end if self.summary(conversation, model) else 0,
        )
        return await messages.context(conversation.id, min_token_start=start, up_to_seq=up_to_seq)

    def summary_threshold(
        self, conversation: Conversation, model: ModelInfo, *, token_total: int, now: datetime
    ) -> int | None:
        """Where the running summary's update would end, when one is due now (a batch of turns has fallen
        out of the context since the last one, and none was asked for in the last ``SUMMARY_RETRY_SECONDS``);
        ``None`` otherwise."""
        if not self.summarizing(conversation):
            return None
        budget = self.context_budget(conversation, model)
        threshold = context_threshold(token_total=token_total, budget=budget)
        if not summary_due(threshold=threshold, summary_token_end=conversation.summary_token_end, budget=budget):
            return None
        requested = conversation.summary_requested_at
        if requested is not None and requested > now - timedelta(seconds=SUMMARY_RETRY_SECONDS):
            return None
        return threshold

    async def request_summary(
        self, tx: ReplyTransaction, conversation: Conversation, model: ModelInfo, *, token_total: int, now: datetime
    ) -> bool:
        """Queue an update of the running summary (through the outbox, in the caller's transaction)
        once a batch of turns has fallen out of the context since the last one; one at a time."""
        threshold = self.summary_threshold(conversation, model, token_total=token_total, now=now)
        if threshold is None:
            return False
        retry_before = now - timedelta(seconds=SUMMARY_RETRY_SECONDS)
        if not await tx.conversations.mark_summary_requested(conversation.id, now=now, retry_before=retry_before):
            return False
        await tx.outbox.add(SUMMARY_JOB, {"conversation_id": str(conversation.id), "below_token_start": threshold})
        return True
