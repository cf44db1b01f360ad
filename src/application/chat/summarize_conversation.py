"""SummarizeConversation: the background job that keeps a long conversation's running summary.

A reply sends only the latest messages that fit the conversation's cap (``CHAT_CONTEXT_TOKENS`` or
its own ``context_tokens``). Once a batch of older turns has fallen out (``summary_due``), the reply's
use case queues this job through the outbox, in its own transaction. The job reads the turns between
the end of the summary and the point the reply's context started (an index range, at most
``SUMMARY_INPUT_TOKENS`` of them), asks a cheap model (as titles do) for the summary so far plus those
turns, and stores the new summary, charged to the user as a ``summary`` usage record. The offline
models, and a model that fails, give way to a deterministic extractive summary (no charge), so the
conversation keeps its memory either way. Two updates racing store one: the summary is written only
if it still ends where the job found it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.chat.ports import ChargedChatTransaction
from src.application.chat.title_conversation import OFFLINE_PROVIDER, cheap_model
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.model import Message
from src.domain.chat.summary import (
    SUMMARY_INPUT_TOKENS,
    clean_summary,
    offline_summary,
    summary_instructions,
    summary_token_limit,
    summary_transcript,
    summary_word_limit,
)
from src.domain.llm.errors import ProviderError
from src.domain.llm.model import ChatRequest, Completion, MessageRole, ModelInfo, PromptMessage
from src.domain.shared.errors import DomainError
from src.domain.usage.model import UsageKind, UsageRecord

SUMMARY_TIMEOUT_SECONDS = 60.0
#: The most rows one update reads (with ``SUMMARY_INPUT_TOKENS``, whichever comes first).
SUMMARY_MAX_TURNS = 200


@dataclass(frozen=True, slots=True)
class SummarizeConversationCommand:
    conversation_id: uuid.UUID
    #: The ``token_start`` the reply's context started at when the job was queued: the turns before
    #: it (and after the summary) are summarised.
    below_token_start: int


@dataclass(frozen=True, slots=True)
class SummaryResult:
    #: ``model`` (a model wrote it), ``offline`` (the extractive summary), or ``skipped``.
    source: str
    turns: int = 0
    summary_token_end: int = 0


class SummarizeConversation:
    def __init__(
        self,
        uow: UnitOfWorkFactory[ChargedChatTransaction],
        model: ChatModel,
        catalog: ModelCatalog,
        clock: Clock,
        *,
        context_tokens: int,
        enabled: bool = True,
    ) -> None:
        self._uow = uow
        #: ``CHAT_CONTEXT_TOKENS``: the cap of a conversation without its own, which bounds its summary.
        self._context_tokens = context_tokens
        self._model = model
        self._catalog = catalog
        self._clock = clock
        #: ``CHAT_CONTEXT_SUMMARY``: off, queued jobs end without a call.
        self._enabled = enabled

    async def __call__(self, command: SummarizeConversationCommand) -> SummaryResult:
        async with self._uow(read_only=True) as tx:
            conversation = await tx.conversations.get(command.conversation_id)
            if conversation is None:
                return SummaryResult("skipped")
            previous_end = conversation.summary_token_end
            rows = (
                await tx.messages.turns_between(
                    conversation.id,
                    min_token_start=previous_end,
                    below_token_start=command.below_token_start,
                    limit=SUMMARY_MAX_TURNS,
                )
                if self._enabled and conversation.summarize
                else []
            )
        turns: list[Message] = []
        used = 0
        for row in rows:
            if turns and used + row.token_count > SUMMARY_INPUT_TOKENS:
                break
            turns.append(row)
            used += row.token_count
        if not turns:
            async with self._uow() as tx:
                await tx.conversations.clear_summary_request(conversation.id)
            return SummaryResult("skipped", summary_token_end=previous_end)
        prompt = [PromptMessage(t.role, t.content) for t in turns if t.content]
        # At most a share of the conversation's cap, so the note never crowds out the latest turns.
        max_tokens = summary_token_limit(conversation.context_tokens or self._context_tokens)
        summary, completion, info = None, None, None
        try:
            info = cheap_model(self._catalog)
            if info.provider != OFFLINE_PROVIDER:
                completion = await self._ask(info, conversation.summary, prompt, max_tokens)
                summary = clean_summary(completion.text, max_tokens)
        except (ProviderError, DomainError):
            completion = None  # no model this time: the extractive summary keeps the memory
        source = "model" if summary else "offline"
        summary = (
            summary
            or offline_summary(conversation.summary, prompt, max_tokens)
            or clean_summary(conversation.summary, max_tokens)
        )
        last = turns[-1]
        token_end = (last.token_start or 0) + last.token_count
        now = self._clock.now()
        async with self._uow() as tx:
            stored = await tx.conversations.store_summary(
                conversation.id,
                summary=summary,
                token_end=token_end,
                through_id=last.id,
                previous_token_end=previous_end,
                now=now,
            )
            if completion is not None and info is not None:
                # Charged even when another update won: the tokens were spent.
                await tx.usage.record(
                    UsageRecord(
                        id=new_id(now),
                        user_id=conversation.user_id,
                        kind=UsageKind.SUMMARY,
                        model=completion.model_id,
                        provider=completion.provider,
                        usage=completion.usage,
                        cost_micros=(self._catalog.get(completion.model_id) or info).pricing.cost_micros(
                            completion.usage
                        ),
                        created_at=now,
                        conversation_id=conversation.id,
                    )
                )
        if not stored:
            return SummaryResult("skipped", summary_token_end=previous_end)
        return SummaryResult(source, turns=len(turns), summary_token_end=token_end)

    async def _ask(
        self, info: ModelInfo, previous: str | None, turns: list[PromptMessage], max_tokens: int
    ) -> Completion:
        words = summary_word_limit(max_tokens)
        request = ChatRequest(
            messages=(
                PromptMessage(MessageRole.SYSTEM, summary_instructions(words)),
                PromptMessage(MessageRole.USER, summary_transcript(previous, turns)),
            ),
            model=info.id,
            temperature=0.2,
            max_output_tokens=words * 2,
            deadline=self._clock.monotonic() + SUMMARY_TIMEOUT_SECONDS,
        )
        return await self._model.complete(request)
