"""In-memory fakes of the chat and usage ports, and a scriptable ``ChatModel``.

The repositories work on ``ChatTables`` that the fake unit of work copies in and out, so a change
reaches the "database" only on commit, like the real thing. ``ScriptedChatModel`` answers each call
with the next ``Reply`` of its script: text, a failure before or after the first delta, no usage,
or a pause (to stop or disconnect mid-reply).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from src.application.chat.ports import MessageSearchHit, ReplyClaim, StaleReply
from src.application.chat.reply_statements import ConversationStanding
from src.application.usage.budget import ChargeAlert
from src.application.usage.ports import NO_API_KEY, UsageBucket, UsageGrouping
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.llm.errors import ProviderError
from src.domain.llm.model import (
    ChatRequest,
    Chunk,
    Completion,
    FinishReason,
    MessageRole,
    PromptMessage,
    StreamEnd,
    TextDelta,
    Usage,
)
from src.domain.usage.model import UsageRecord, month_start


@dataclass
class ChatTables:
    conversations: dict[uuid.UUID, Conversation] = field(default_factory=dict)
    messages: dict[uuid.UUID, Message] = field(default_factory=dict)
    usage: list[UsageRecord] = field(default_factory=list)
    months: dict[tuple[uuid.UUID, date], int] = field(default_factory=dict)
    budgets: dict[uuid.UUID, int] = field(default_factory=dict)

    def copy(self) -> ChatTables:
        return ChatTables(
            conversations={k: dataclasses.replace(v) for k, v in self.conversations.items()},
            messages={k: dataclasses.replace(v) for k, v in self.messages.items()},
            usage=list(self.usage),
            months=dict(self.months),
            budgets=dict(self.budgets),
        )


class InMemoryConversationRepository:
    def __init__(self, tables: ChatTables) -> None:
        self._t = tables

    async def add(self, conversation: Conversation) -> None:
        self._t.conversations[conversation.id] = dataclasses.replace(conversation)

    async def get(self, conversation_id: uuid.UUID, *, user_id: uuid.UUID | None = None) -> Conversation | None:
        found = self._t.conversations.get(conversation_id)
        if found is None or (user_id is not None and found.user_id != user_id):
            return None
        return dataclasses.replace(found)

    async def list_for_user(
        self, user_id: uuid.UUID, *, query: str | None, archived: bool | None, limit: int, offset: int
    ) -> tuple[list[Conversation], int]:
        found = [
            c
            for c in self._t.conversations.values()
            if c.user_id == user_id
            and (archived is None or c.archived == archived)
            and (not query or query.lower() in (c.title or "").lower())
        ]
        found.sort(key=lambda c: (c.last_activity_at, c.id), reverse=True)
        return [dataclasses.replace(c) for c in found[offset : offset + limit]], len(found)

    async def save(self, conversation: Conversation) -> None:
        stored = self._t.conversations[conversation.id]
        for name in (
            "title",
            "model",
            "system_prompt",
            "temperature",
            "archived",
            "grounding",
            "context_tokens",
            "summarize",
            "updated_at",
        ):
            setattr(stored, name, getattr(conversation, name))

    async def delete(self, conversation_id: uuid.UUID) -> None:
        self._t.conversations.pop(conversation_id, None)
        for key in [k for k, m in self._t.messages.items() if m.conversation_id == conversation_id]:
            del self._t.messages[key]

    async def claim_reply(
        self,
        conversation_id: uuid.UUID,
        message_id: uuid.UUID,
        *,
        seqs: int,
        token_delta: int,
        now: datetime,
        lease_until: datetime,
    ) -> ReplyClaim | None:
        c = self._t.conversations.get(conversation_id)
        if c is None or (c.generating_message_id is not None and c.generating_until and c.generating_until > now):
            return None
        c.generating_message_id, c.generating_until = message_id, lease_until
        c.next_seq += seqs
        c.token_total += token_delta
        c.last_activity_at = now
        return ReplyClaim(first_seq=c.next_seq - seqs, token_total=c.token_total)

    async def renew_reply(self, conversation_id: uuid.UUID, message_id: uuid.UUID, *, lease_until: datetime) -> bool:
        c = self._t.conversations.get(conversation_id)
        if c is None or c.generating_message_id != message_id:
            return False
        c.generating_until = lease_until
        return True

    async def release_reply(
        self, conversation_id: uuid.UUID, message_id: uuid.UUID, *, token_total: int | None, now: datetime
    ) -> bool:
        c = self._t.conversations.get(conversation_id)
        if c is None or c.generating_message_id != message_id:
            return False
        c.generating_message_id = c.generating_until = None
        c.last_activity_at = now
        if token_total is not None:
            c.token_total = token_total
        return True

    async def set_title_if_untitled(self, conversation_id: uuid.UUID, title: str, *, now: datetime) -> bool:
        c = self._t.conversations.get(conversation_id)
        if c is None or c.title is not None:
            return False
        c.title, c.updated_at = title, now
        return True

    async def mark_title_requested(self, conversation_id: uuid.UUID, *, now: datetime) -> bool:
        c = self._t.conversations.get(conversation_id)
        if c is None or c.title_requested_at is not None:
            return False
        c.title_requested_at = now
        return True

    async def mark_summary_requested(
        self, conversation_id: uuid.UUID, *, now: datetime, retry_before: datetime
    ) -> bool:
        c = self._t.conversations.get(conversation_id)
        if c is None or (c.summary_requested_at is not None and c.summary_requested_at > retry_before):
            return False
        c.summary_requested_at = now
        return True

    async def store_summary(
        self,
        conversation_id: uuid.UUID,
        *,
        summary: str | None,
        token_end: int,
        through_id: uuid.UUID | None,
        previous_token_end: int,
        now: datetime,
    ) -> bool:
        c = self._t.conversations.get(conversation_id)
        if c is None or c.summary_token_end != previous_token_end:
            return False
        c.summary, c.summary_token_end, c.summary_through_id = summary, token_end, through_id
        c.summary_updated_at, c.summary_requested_at = now, None
        return True

    async def clear_summary_request(self, conversation_id: uuid.UUID) -> None:
        c = self._t.conversations.get(conversation_id)
        if c is not None:
            c.summary_requested_at = None

    async def stale_replies(self, now: datetime, *, limit: int) -> list[StaleReply]:
        stale = [
            StaleReply(c.id, c.generating_message_id)
            for c in self._t.conversations.values()
            if c.generating_message_id is not None and c.generating_until is not None and c.generating_until <= now
        ]
        return stale[:limit]


class InMemoryMessageRepository:
    def __init__(self, tables: ChatTables) -> None:
        self._t = tables
        #: How many messages the context query returned (the fake's stand-in for rows read).
        self.context_reads = 0

    def _of(self, conversation_id: uuid.UUID) -> list[Message]:
        return sorted(
            (m for m in self._t.messages.values() if m.conversation_id == conversation_id), key=lambda m: m.seq
        )

    async def add(self, message: Message) -> None:
        if any(
            m.conversation_id == message.conversation_id and m.seq == message.seq for m in self._t.messages.values()
        ):
            raise ValueError("duplicate seq")
        self._t.messages[message.id] = dataclasses.replace(message)

    async def add_all(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self.add(message)

    async def get(self, message_id: uuid.UUID) -> Message | None:
        found = self._t.messages.get(message_id)
        return dataclasses.replace(found) if found is not None else None

    async def mark_unanswered(self, message_id: uuid.UUID, error_code: str | None) -> None:
        found = self._t.messages.get(message_id)
        if found is not None and found.role is MessageRole.USER:
            self._t.messages[message_id] = dataclasses.replace(found, error_code=error_code)

    async def latest(self, conversation_id: uuid.UUID) -> Message | None:
        found = self._of(conversation_id)
        return dataclasses.replace(found[-1]) if found else None

    async def head(self, conversation_id: uuid.UUID, *, after_seq: int = 0, limit: int) -> list[Message]:
        return [dataclasses.replace(m) for m in self._of(conversation_id) if m.seq > after_seq][:limit]

    async def page(self, conversation_id: uuid.UUID, *, before_seq: int | None, limit: int) -> list[Message]:
        found = [m for m in reversed(self._of(conversation_id)) if before_seq is None or m.seq < before_seq]
        return [dataclasses.replace(m) for m in found[:limit]]

    async def count(self, conversation_id: uuid.UUID, *, after_seq: int | None = None) -> int:
        return sum(1 for m in self._of(conversation_id) if after_seq is None or m.seq > after_seq)

    async def context(self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int) -> list[PromptMessage]:
        found = [
            PromptMessage(m.role, m.content, tokens=m.token_count or None)
            for m in self._of(conversation_id)
            if m.status is MessageStatus.COMPLETE
            and m.token_start is not None
            and m.token_start >= min_token_start
            and m.seq <= up_to_seq
        ]
        self.context_reads += len(found)
        return found

    async def turns_between(
        self, conversation_id: uuid.UUID, *, min_token_start: int, below_token_start: int, limit: int
    ) -> list[Message]:
        found = [
            dataclasses.replace(m)
            for m in self._of(conversation_id)
            if m.status is MessageStatus.COMPLETE
            and m.token_start is not None
            and min_token_start <= m.token_start < below_token_start
        ]
        return found[:limit]

    async def save_progress(self, message_id: uuid.UUID, *, content: str, last_event_id: int, now: datetime) -> bool:
        m = self._t.messages.get(message_id)
        if m is None or m.status is not MessageStatus.GENERATING:
            return False
        m.content, m.last_event_id, m.updated_at = content, last_event_id, now
        return True

    async def finish(self, message: Message) -> bool:
        m = self._t.messages.get(message.id)
        if m is None or m.status is not MessageStatus.GENERATING:
            return False
        self._t.messages[message.id] = dataclasses.replace(message, seq=m.seq, created_at=m.created_at)
        return True

    async def finish_and_release(self, message: Message, *, token_total: int, now: datetime) -> bool:
        won = await self.finish(message)
        c = self._t.conversations.get(message.conversation_id)
        if won and c is not None and c.generating_message_id == message.id:
            c.generating_message_id = c.generating_until = None
            c.last_activity_at, c.token_total = now, token_total
        return won

    async def delete(self, message_id: uuid.UUID) -> None:
        self._t.messages.pop(message_id, None)

    async def search(
        self, user_id: uuid.UUID, query: str, *, limit: int, offset: int, any_word: bool = False
    ) -> tuple[list[MessageSearchHit], int]:
        words = [w.lower() for w in query.split()]
        combine = any if any_word else all
        found = [
            m
            for m in self._t.messages.values()
            if m.user_id == user_id
            and m.status is MessageStatus.COMPLETE
            and combine(w in m.content.lower().replace(".", " ").replace(",", " ").split() for w in words)
        ]
        found.sort(key=lambda m: m.created_at, reverse=True)
        hits = [
            MessageSearchHit(message=m, conversation_title=self._t.conversations[m.conversation_id].title, rank=1.0)
            for m in found[offset : offset + limit]
        ]
        return hits, len(found)


class InMemoryUsageRepository:
    def __init__(self, tables: ChatTables) -> None:
        self._t = tables

    async def record(self, record: UsageRecord) -> None:
        self._t.usage.append(record)
        key = (record.user_id, month_start(record.created_at).date())
        self._t.months[key] = self._t.months.get(key, 0) + record.cost_micros

    async def record_and_total(self, record: UsageRecord) -> int:
        await self.record(record)
        return self._t.months[(record.user_id, month_start(record.created_at).date())]

    async def record_many(self, records: Sequence[UsageRecord]) -> None:
        for record in records:
            await self.record(record)

    async def spent_in_month(self, user_id: uuid.UUID, month_start: datetime) -> int:
        return self._t.months.get((user_id, month_start.date()), 0)

    async def summarize(
        self, user_id: uuid.UUID, *, start: date, end: date, group_by: UsageGrouping
    ) -> list[UsageBucket]:
        buckets: dict[str, list[UsageRecord]] = {}
        for r in self._t.usage:
            if r.user_id == user_id and start <= r.day <= end:
                buckets.setdefault(_bucket_key(r, group_by), []).append(r)
        result = [
            UsageBucket(
                key=k,
                requests=len(rs),
                input_tokens=sum(r.usage.input_tokens for r in rs),
                output_tokens=sum(r.usage.output_tokens for r in rs),
                cached_tokens=sum(r.usage.cached_tokens for r in rs),
                reasoning_tokens=sum(r.usage.reasoning_tokens for r in rs),
                cost_micros=sum(r.cost_micros for r in rs),
            )
            for k, rs in buckets.items()
        ]
        return (
            sorted(result, key=lambda b: b.key) if group_by == "day" else sorted(result, key=lambda b: -b.cost_micros)
        )


def _bucket_key(record: UsageRecord, group_by: UsageGrouping) -> str:
    if group_by == "day":
        return record.day.isoformat()
    if group_by == "api_key":
        return str(record.api_key_id) if record.api_key_id is not None else NO_API_KEY
    return record.model


class InMemoryBudgetRepository:
    def __init__(self, tables: ChatTables) -> None:
        self._t = tables

    async def get(self, user_id: uuid.UUID) -> int | None:
        return self._t.budgets.get(user_id)

    async def standing(self, user_id: uuid.UUID, month_start: datetime) -> tuple[int | None, int]:
        return self._t.budgets.get(user_id), self._t.months.get((user_id, month_start.date()), 0)

    async def set(self, user_id: uuid.UUID, budget_micros: int | None, *, now: datetime) -> None:
        if budget_micros is None:
            self._t.budgets.pop(user_id, None)
        else:
            self._t.budgets[user_id] = budget_micros


# -- a scriptable model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    tokens: tuple[str, ...] = ("Hello", " there", ",", " friend", ".")
    #: Raised before the first delta (nothing is yielded).
    error_before: ProviderError | None = None
    #: After this many deltas, the stream ends with ``finish_reason`` ``error`` (``error_code`` from
    #: ``error``), as the ``ChatModel`` contract says a failure after the first delta does.
    fail_after: int | None = None
    error: ProviderError = field(default_factory=lambda: ProviderError("the provider dropped the connection"))
    #: After this many deltas the adapter raises instead (a buggy adapter).
    raise_after: int | None = None
    #: ``False``: the provider reports no usage (zeros), so Parley must estimate it.
    report_usage: bool = True
    #: After this many deltas, wait for ``ScriptedChatModel.release()`` before going on.
    pause_after: int | None = None
    finish: FinishReason = FinishReason.STOP
    provider: str = "offline"
    model: str = "echo"


class ScriptedChatModel:
    """A ``ChatModel`` that answers each call with the next scripted ``Reply`` (the last one repeats)."""

    def __init__(self, *replies: Reply) -> None:
        self._script: deque[Reply] = deque(replies or (Reply(),))
        self.requests: list[ChatRequest] = []
        self.closed = 0
        self.completed = 0
        self.paused = asyncio.Event()
        self._gate = asyncio.Event()
        self._ids = itertools.count(1)

    def script(self, *replies: Reply) -> None:
        self._script = deque(replies)

    def release(self) -> None:
        self._gate.set()

    def _next(self) -> Reply:
        return self._script.popleft() if len(self._script) > 1 else self._script[0]

    async def stream(self, request: ChatRequest) -> AsyncIterator[Chunk]:
        reply = self._next()
        self.requests.append(request)
        try:
            await asyncio.sleep(0)
            if reply.error_before is not None:
                raise reply.error_before
            sent = 0
            for token in reply.tokens:
                if reply.pause_after is not None and sent == reply.pause_after:
                    self.paused.set()
                    await self._gate.wait()
                if reply.raise_after is not None and sent == reply.raise_after:
                    raise RuntimeError("adapter bug")
                if reply.fail_after is not None and sent == reply.fail_after:
                    yield self._end(reply, request, sent, FinishReason.ERROR, reply.error.code, reply.error.detail)
                    return
                yield TextDelta(token)
                sent += 1
                await asyncio.sleep(0)
            yield self._end(reply, request, sent, reply.finish, None, None)
        finally:
            self.closed += 1

    def _end(
        self, reply: Reply, request: ChatRequest, sent: int, finish: FinishReason, code: str | None, detail: str | None
    ) -> StreamEnd:
        usage = (
            Usage(input_tokens=sum(len(m.content.split()) for m in request.messages), output_tokens=sent)
            if reply.report_usage
            else Usage()
        )
        return StreamEnd(
            finish_reason=finish,
            usage=usage,
            provider=reply.provider,
            model=reply.model,
            latency_ms=1,
            ttft_ms=1,
            error_code=code,
            error_detail=detail,
        )

    async def complete(self, request: ChatRequest) -> Completion:
        self.completed += 1
        parts: list[str] = []
        async for chunk in self.stream(request):
            if isinstance(chunk, TextDelta):
                parts.append(chunk.text)
            else:
                return Completion(
                    text="".join(parts),
                    finish_reason=chunk.finish_reason,
                    usage=chunk.usage,
                    provider=chunk.provider,
                    model=chunk.model,
                    latency_ms=chunk.latency_ms,
                )
        raise AssertionError("a scripted stream always ends")


class ChatRepositories:
    """The chat context's repositories in a fake unit of work (``tests.fakes.shared.InMemoryUnitOfWork``)."""

    chat_tables: ChatTables

    @property
    def conversations(self) -> InMemoryConversationRepository:
        return InMemoryConversationRepository(self.chat_tables)

    @property
    def messages(self) -> InMemoryMessageRepository:
        return InMemoryMessageRepository(self.chat_tables)

    @property
    def usage(self) -> InMemoryUsageRepository:
        return InMemoryUsageRepository(self.chat_tables)

    @property
    def budgets(self) -> InMemoryBudgetRepository:
        return InMemoryBudgetRepository(self.chat_tables)


class InMemoryReplyEnds:
    """``ReplyEnds`` over the in-memory database: what PostgreSQL's one statement writes, all of it or
    nothing, in one unit of work. ``ended``: the replies it ended."""

    def __init__(self, uow: Any) -> None:
        self._uow = uow
        self.ended: list[uuid.UUID] = []

    async def finish_and_charge(
        self, message: Message, *, token_total: int, record: UsageRecord, alert: ChargeAlert | None
    ) -> bool:
        async with self._uow() as tx:
            if not await tx.messages.finish_and_release(message, token_total=token_total, now=message.updated_at):
                return False
            spent = await tx.usage.record_and_total(record)
            if alert is not None and spent >= alert.from_micros:
                await tx.outbox.add(alert.message.job_name, alert.message.payload)
        self.ended.append(message.id)
        return True


class InMemoryReplyStarts:
    """``ReplyStarts`` over the in-memory database: the claim and both rows all or nothing, only while the
    conversation is as read. ``before_claim``: run just before (another instance's write landing between the
    send's read and its claim); ``claimed``: the replies it started."""

    def __init__(self, uow: Any) -> None:
        self._uow = uow
        self.before_claim: Callable[[], Awaitable[None]] | None = None
        self.claimed: list[uuid.UUID] = []
        self.refused = 0

    @asynccontextmanager
    async def open(self) -> AsyncIterator[InMemoryReplyStarts]:
        yield self

    async def read(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, month_start: datetime
    ) -> ConversationStanding | None:
        async with self._uow(read_only=True) as tx:
            conversation = await tx.conversations.get(conversation_id, user_id=user_id)
            if conversation is None:
                return None
            budget, spent = await tx.budgets.standing(user_id, month_start)
        return ConversationStanding(conversation, budget, spent)

    async def context(self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int) -> list[PromptMessage]:
        async with self._uow(read_only=True) as tx:
            found: list[PromptMessage] = await tx.messages.context(
                conversation_id, min_token_start=min_token_start, up_to_seq=up_to_seq
            )
            return found

    async def claim_and_store(
        self,
        conversation: Conversation,
        reply_id: uuid.UUID,
        messages: Sequence[Message],
        *,
        token_delta: int,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        if self.before_claim is not None:
            await self.before_claim()
        async with self._uow() as tx:
            current = await tx.conversations.get(conversation.id)
            as_read = current is not None and (current.updated_at, current.next_seq, current.token_total) == (
                conversation.updated_at,
                conversation.next_seq,
                conversation.token_total,
            )
            if (
                not as_read
                or await tx.conversations.claim_reply(
                    conversation.id,
                    reply_id,
                    seqs=len(messages),
                    token_delta=token_delta,
                    now=now,
                    lease_until=lease_until,
                )
                is None
            ):
                self.refused += 1
                return False
            await tx.messages.add_all(messages)
        self.claimed.append(reply_id)
        return True
