"""Chat and usage repositories: conversations, messages, usage records, budgets, on one ``AsyncSession``.

Rows are mapped to and from the domain's entities here. The reply lock, the lease renewals and the
"finish only if still generating" writes are single conditional ``UPDATE`` statements, so that
several instances racing on one conversation agree on one winner on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from advanced_alchemy.types import GUID
from sqlalchemy import (
    Boolean,
    Date,
    Insert,
    Select,
    Table,
    TextClause,
    Update,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from src.application.chat.ports import MessageSearchHit, ReplyClaim, StaleReply
from src.application.usage.ports import NO_API_KEY, UsageBucket, UsageGrouping
from src.domain.admin.analytics import latency_bucket
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.llm.model import MessageRole, PromptMessage, Usage
from src.domain.usage.model import UsageRecord, month_start
from src.infrastructure.persistence.chat_models import (
    ChatMessageModel,
    ConversationModel,
    UsageMonthModel,
    UsageRecordModel,
    UserBudgetModel,
)
from src.infrastructure.persistence.chat_rows import conversation_of, message_of, prompt_message_of
from src.infrastructure.persistence.identity_repositories import LIKE_ESCAPE, like_pattern
from src.infrastructure.persistence.message_search import search_messages

_GENERATING = MessageStatus.GENERATING.value
_COMPLETE = MessageStatus.COMPLETE.value


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


# The statements every reply runs, built once on the tables (Core, not ORM-enabled) with bound
# parameters: executing one with a parameter dict skips building, coercing and cache-keying a new
# statement per call, which was most of a reply's database CPU. Bound parameter names must differ
# from column names in INSERT and UPDATE statements, hence ``p_``.
_MESSAGES = cast(Table, ChatMessageModel.__table__)
_CONVERSATIONS = cast(Table, ConversationModel.__table__)
_USAGE_RECORDS = cast(Table, UsageRecordModel.__table__)
_USAGE_MONTHS = cast(Table, UsageMonthModel.__table__)
_BUDGETS = cast(Table, UserBudgetModel.__table__)

_FINISHED_COLUMNS = (
    "content", "status", "model", "provider", "finish_reason", "error_code", "input_tokens", "output_tokens",
    "cached_tokens", "reasoning_tokens", "usage_estimated", "cost_micros", "latency_ms", "ttft_ms", "citations",
    "token_start", "token_count", "last_event_id", "updated_at",
)  # fmt: skip
_FINISH_MESSAGE: Update = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("p_id"), _MESSAGES.c.status == _GENERATING)
    .values({name: bindparam(f"p_{name}") for name in _FINISHED_COLUMNS})
)
_INSERT_MESSAGE: Insert = insert(_MESSAGES)
_INSERT_USAGE_RECORD: Insert = insert(_USAGE_RECORDS)
_RELEASE_REPLY = {
    keeps_total: update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.id == bindparam("p_id"), _CONVERSATIONS.c.generating_message_id == bindparam("p_message"))
    .values(
        generating_message_id=None,
        generating_until=None,
        last_activity_at=bindparam("p_now"),
        **({} if keeps_total else {"token_total": bindparam("p_token_total")}),
    )
    for keeps_total in (True, False)
}
_CLAIM_REPLY: Update = (
    update(_CONVERSATIONS)
    .where(
        _CONVERSATIONS.c.id == bindparam("p_id"),
        or_(_CONVERSATIONS.c.generating_message_id.is_(None), _CONVERSATIONS.c.generating_until <= bindparam("p_now")),
    )
    .values(
        generating_message_id=bindparam("p_message"),
        generating_until=bindparam("p_lease_until"),
        next_seq=_CONVERSATIONS.c.next_seq + bindparam("p_seqs"),
        token_total=_CONVERSATIONS.c.token_total + bindparam("p_token_delta"),
        last_activity_at=bindparam("p_now"),
    )
    .returning(_CONVERSATIONS.c.next_seq, _CONVERSATIONS.c.token_total)
)
_SAVE_PROGRESS: Update = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("p_id"), _MESSAGES.c.status == _GENERATING)
    .values(content=bindparam("p_content"), last_event_id=bindparam("p_last_event_id"), updated_at=bindparam("p_now"))
)


def _add_to_usage_month(dialect: str) -> Insert:
    """One atomic add per record (an upsert): concurrent replies of one user never lose each other's cost."""
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = build(_USAGE_MONTHS)
    return statement.on_conflict_do_update(
        index_elements=[_USAGE_MONTHS.c.user_id, _USAGE_MONTHS.c.month],
        set_={
            "cost_micros": _USAGE_MONTHS.c.cost_micros + statement.excluded.cost_micros,
            "requests": _USAGE_MONTHS.c.requests + 1,
            "updated_at": statement.excluded.updated_at,
        },
    )


_GET_CONVERSATION: Select[Any] = select(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("p_id"))
_GET_OWNED_CONVERSATION: Select[Any] = _GET_CONVERSATION.where(_CONVERSATIONS.c.user_id == bindparam("p_user"))
# Core rows of the three columns a prompt needs, not ORM entities (a long context is hundreds of rows,
# and an entity costs many times such a row to build): a range of
# ix_chat_message_conversation_id_token_start.
_CONTEXT: Select[Any] = (
    select(_MESSAGES.c.role, _MESSAGES.c.content, _MESSAGES.c.token_count)
    .where(
        _MESSAGES.c.conversation_id == bindparam("p_conversation"),
        _MESSAGES.c.token_start >= bindparam("p_min_token_start"),
        _MESSAGES.c.status == _COMPLETE,
        _MESSAGES.c.seq <= bindparam("p_up_to_seq"),
    )
    .order_by(_MESSAGES.c.token_start, _MESSAGES.c.seq)
)
_TURNS_BETWEEN: Select[Any] = (
    select(_MESSAGES)
    .where(
        _MESSAGES.c.conversation_id == bindparam("p_conversation"),
        _MESSAGES.c.token_start >= bindparam("p_min_token_start"),
        _MESSAGES.c.token_start < bindparam("p_below_token_start"),
        _MESSAGES.c.status == _COMPLETE,
    )
    .order_by(_MESSAGES.c.token_start, _MESSAGES.c.seq)
    .limit(bindparam("p_limit"))
)
_SPENT_IN_MONTH: Select[Any] = select(_USAGE_MONTHS.c.cost_micros).where(
    _USAGE_MONTHS.c.user_id == bindparam("p_user"), _USAGE_MONTHS.c.month == bindparam("p_month")
)
_BUDGET: Select[Any] = select(_BUDGETS.c.monthly_budget_micros).where(_BUDGETS.c.user_id == bindparam("p_user"))
_ADD_TO_USAGE_MONTH = {dialect: _add_to_usage_month(dialect) for dialect in ("postgresql", "sqlite")}


def _bump_histogram(dialect: str, table: str, column: str, bucket: str) -> str:
    """``column = `` one more call in the bucket ``:bucket`` of the JSON histogram (unchanged when NULL)."""
    current = f"{table}.{column}"
    if dialect == "postgresql":
        key = f"CAST(:{bucket} AS text)"
        bumped = (
            f"jsonb_set({current}::jsonb, ARRAY[{key}], "
            f"to_jsonb(COALESCE(({current}::jsonb ->> {key})::bigint, 0) + 1))::text"
        )
    else:
        path = f"'$.\"' || :{bucket} || '\"'"
        bumped = f"json_set({current}, {path}, COALESCE(json_extract({current}, {path}), 0) + 1)"
    return f"{column} = CASE WHEN CAST(:{bucket} AS text) IS NULL THEN {current} ELSE {bumped} END"


def _add_to_usage_daily(dialect: str) -> TextClause:
    """One upsert per record into the day's rollup row of its user, model and key: the sums, and one
    more call in the bucket of its latency and of its time to first token (when timed)."""

    def bump(column: str, bucket: str) -> str:
        return _bump_histogram(dialect, "usage_daily", column, bucket)

    sums = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_micros", "errors",
            "fallbacks")  # fmt: skip
    return text(
        "INSERT INTO usage_daily (usage_date, user_id, provider, model, api_key_id, "
        f"{', '.join(sums)}, latency_histogram, ttft_histogram) VALUES (:usage_date, :user_id, :provider, :model, "
        f":api_key_id, {', '.join(':' + c for c in sums)}, :latency_histogram, :ttft_histogram) "
        "ON CONFLICT (usage_date, user_id, provider, model, api_key_id) DO UPDATE SET "
        + ", ".join(f"{c} = usage_daily.{c} + excluded.{c}" for c in sums)
        + f", {bump('latency_histogram', 'latency_bucket')}, {bump('ttft_histogram', 'ttft_bucket')}"
    ).bindparams(
        bindparam("user_id", type_=GUID()),
        bindparam("api_key_id", type_=GUID()),
        bindparam("usage_date", type_=Date()),
    )


_ADD_TO_USAGE_DAILY = {dialect: _add_to_usage_daily(dialect) for dialect in ("postgresql", "sqlite")}


def _add_to_usage_daily_model(dialect: str) -> TextClause:
    """One upsert per record into the day's row of its model, with or without a key (``usage_daily_model``):
    one more call, and one more in the bucket of its latency and of its time to first token (when timed)."""

    def bump(column: str, bucket: str) -> str:
        return _bump_histogram(dialect, "usage_daily_model", column, bucket)

    return text(
        "INSERT INTO usage_daily_model (usage_date, provider, model, with_api_key, requests, latency_histogram, "
        "ttft_histogram) VALUES (:usage_date, :provider, :model, :with_api_key, :requests, :latency_histogram, "
        ":ttft_histogram) ON CONFLICT (usage_date, provider, model, with_api_key) DO UPDATE SET "
        "requests = usage_daily_model.requests + "
        f"excluded.requests, {bump('latency_histogram', 'latency_bucket')}, {bump('ttft_histogram', 'ttft_bucket')}"
    ).bindparams(bindparam("usage_date", type_=Date()), bindparam("with_api_key", type_=Boolean()))


_ADD_TO_USAGE_DAILY_MODEL = {dialect: _add_to_usage_daily_model(dialect) for dialect in ("postgresql", "sqlite")}
#: The ``api_key_id`` of the rollup rows of calls made without a key.
NO_KEY_ID = uuid.UUID(int=0)


async def _flush_pending(session: AsyncSession) -> None:
    """Core statements do not autoflush: write pending ORM objects first (rows they refer to)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


class SqlConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, conversation: Conversation) -> None:
        self._session.add(
            ConversationModel(
                id=conversation.id,
                user_id=conversation.user_id,
                title=conversation.title,
                model=conversation.model,
                system_prompt=conversation.system_prompt,
                temperature=conversation.temperature,
                archived=conversation.archived,
                grounding=conversation.grounding.to_json() if conversation.grounding else None,
                last_activity_at=conversation.last_activity_at,
                generating_message_id=conversation.generating_message_id,
                generating_until=conversation.generating_until,
                token_total=conversation.token_total,
                next_seq=conversation.next_seq,
                title_requested_at=conversation.title_requested_at,
                context_tokens=conversation.context_tokens,
                summarize=conversation.summarize,
                created_at=conversation.created_at,
                updated_at=conversation.updated_at,
            )
        )
        await self._session.flush()

    async def get(self, conversation_id: uuid.UUID, *, user_id: uuid.UUID | None = None) -> Conversation | None:
        # A Core row: read as it is now, never an ORM object this session saw before (the lock columns move).
        await _flush_pending(self._session)
        if user_id is None:
            result = await self._session.execute(_GET_CONVERSATION, {"p_id": conversation_id})
        else:
            result = await self._session.execute(_GET_OWNED_CONVERSATION, {"p_id": conversation_id, "p_user": user_id})
        row = result.first()
        return conversation_of(row) if row is not None else None

    async def list_for_user(
        self, user_id: uuid.UUID, *, query: str | None, archived: bool | None, limit: int, offset: int
    ) -> tuple[list[Conversation], int]:
        conditions: list[Any] = [ConversationModel.user_id == user_id]
        if archived is not None:
            conditions.append(ConversationModel.archived == archived)
        if query:
            conditions.append(ConversationModel.title.ilike(like_pattern(query), escape=LIKE_ESCAPE))
        total = await self._session.scalar(select(func.count()).select_from(ConversationModel).where(*conditions))
        rows = await self._session.scalars(
            select(ConversationModel)
            .where(*conditions)
            .order_by(ConversationModel.last_activity_at.desc(), ConversationModel.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [conversation_of(r) for r in rows], int(total or 0)

    async def save(self, conversation: Conversation) -> None:
        await self._session.execute(
            update(ConversationModel)
            .where(ConversationModel.id == conversation.id)
            .values(
                title=conversation.title,
                model=conversation.model,
                system_prompt=conversation.system_prompt,
                temperature=conversation.temperature,
                archived=conversation.archived,
                grounding=conversation.grounding.to_json() if conversation.grounding else None,
                context_tokens=conversation.context_tokens,
                summarize=conversation.summarize,
                updated_at=conversation.updated_at,
            )
        )

    async def delete(self, conversation_id: uuid.UUID) -> None:
        # The messages first: SQLite cascades only with foreign keys on, and this needs no such luck.
        await self._session.execute(
            delete(ChatMessageModel).where(ChatMessageModel.conversation_id == conversation_id),
            execution_options={"synchronize_session": False},
        )
        await self._session.execute(
            delete(ConversationModel).where(ConversationModel.id == conversation_id),
            execution_options={"synchronize_session": False},
        )

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
        await _flush_pending(self._session)
        parameters = {
            "p_id": conversation_id,
            "p_message": message_id,
            "p_lease_until": lease_until,
            "p_seqs": seqs,
            "p_token_delta": token_delta,
            "p_now": now,
        }
        row = (await self._session.execute(_CLAIM_REPLY, parameters)).first()
        if row is None:
            return None
        next_seq, token_total = row
        return ReplyClaim(first_seq=int(next_seq) - seqs, token_total=int(token_total))

    async def renew_reply(self, conversation_id: uuid.UUID, message_id: uuid.UUID, *, lease_until: datetime) -> bool:
        result = await self._session.execute(
            update(ConversationModel)
            .where(ConversationModel.id == conversation_id, ConversationModel.generating_message_id == message_id)
            .values(generating_until=lease_until)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def release_reply(
        self, conversation_id: uuid.UUID, message_id: uuid.UUID, *, token_total: int | None, now: datetime
    ) -> bool:
        await _flush_pending(self._session)
        parameters: dict[str, Any] = {"p_id": conversation_id, "p_message": message_id, "p_now": now}
        if token_total is not None:
            parameters["p_token_total"] = token_total
        result = await self._session.execute(_RELEASE_REPLY[token_total is None], parameters)
        return _rowcount(result) == 1

    async def set_title_if_untitled(self, conversation_id: uuid.UUID, title: str, *, now: datetime) -> bool:
        result = await self._session.execute(
            update(ConversationModel)
            .where(ConversationModel.id == conversation_id, ConversationModel.title.is_(None))
            .values(title=title, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def mark_title_requested(self, conversation_id: uuid.UUID, *, now: datetime) -> bool:
        result = await self._session.execute(
            update(ConversationModel)
            .where(ConversationModel.id == conversation_id, ConversationModel.title_requested_at.is_(None))
            .values(title_requested_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def mark_summary_requested(
        self, conversation_id: uuid.UUID, *, now: datetime, retry_before: datetime
    ) -> bool:
        result = await self._session.execute(
            update(ConversationModel)
            .where(
                ConversationModel.id == conversation_id,
                or_(
                    ConversationModel.summary_requested_at.is_(None),
                    ConversationModel.summary_requested_at <= retry_before,
                ),
            )
            .values(summary_requested_at=now)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

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
        result = await self._session.execute(
            update(ConversationModel)
            .where(
                ConversationModel.id == conversation_id,
                ConversationModel.summary_token_end == previous_token_end,
            )
            .values(
                summary=summary,
                summary_token_end=token_end,
                summary_through_id=through_id,
                summary_updated_at=now,
                summary_requested_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1

    async def clear_summary_request(self, conversation_id: uuid.UUID) -> None:
        await self._session.execute(
            update(ConversationModel)
            .where(ConversationModel.id == conversation_id)
            .values(summary_requested_at=None)
            .execution_options(synchronize_session=False)
        )

    async def stale_replies(self, now: datetime, *, limit: int) -> list[StaleReply]:
        rows = await self._session.execute(
            select(ConversationModel.id, ConversationModel.generating_message_id)
            .where(ConversationModel.generating_until <= now, ConversationModel.generating_message_id.is_not(None))
            .order_by(ConversationModel.generating_until)
            .limit(limit)
        )
        return [StaleReply(conversation_id=cid, message_id=mid) for cid, mid in rows if mid is not None]


class SqlMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, message: Message) -> None:
        await _flush_pending(self._session)
        row = _message_columns(message)
        row["id"], row["created_at"] = message.id, message.created_at
        await self._session.execute(_INSERT_MESSAGE, row)

    async def get(self, message_id: uuid.UUID) -> Message | None:
        row = await self._session.scalar(
            select(ChatMessageModel).where(ChatMessageModel.id == message_id).execution_options(populate_existing=True)
        )
        return message_of(row) if row is not None else None

    async def latest(self, conversation_id: uuid.UUID) -> Message | None:
        row = await self._session.scalar(
            select(ChatMessageModel)
            .where(ChatMessageModel.conversation_id == conversation_id)
            .order_by(ChatMessageModel.seq.desc())
            .limit(1)
        )
        return message_of(row) if row is not None else None

    async def head(self, conversation_id: uuid.UUID, *, after_seq: int = 0, limit: int) -> list[Message]:
        rows = await self._session.scalars(
            select(ChatMessageModel)
            .where(ChatMessageModel.conversation_id == conversation_id, ChatMessageModel.seq > after_seq)
            .order_by(ChatMessageModel.seq)
            .limit(limit)
        )
        return [message_of(r) for r in rows]

    async def page(self, conversation_id: uuid.UUID, *, before_seq: int | None, limit: int) -> list[Message]:
        query = select(ChatMessageModel).where(ChatMessageModel.conversation_id == conversation_id)
        if before_seq is not None:
            query = query.where(ChatMessageModel.seq < before_seq)
        rows = await self._session.scalars(query.order_by(ChatMessageModel.seq.desc()).limit(limit))
        return [message_of(r) for r in rows]

    async def count(self, conversation_id: uuid.UUID, *, after_seq: int | None = None) -> int:
        query = (
            select(func.count())
            .select_from(ChatMessageModel)
            .where(ChatMessageModel.conversation_id == conversation_id)
        )
        if after_seq is not None:
            query = query.where(ChatMessageModel.seq > after_seq)
        return int(await self._session.scalar(query) or 0)

    async def context(self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int) -> list[PromptMessage]:
        # A range of ix_chat_message_conversation_id_token_start: exactly the messages that fit.
        parameters = {"p_conversation": conversation_id, "p_min_token_start": min_token_start, "p_up_to_seq": up_to_seq}
        return [prompt_message_of(row) for row in await self._session.execute(_CONTEXT, parameters)]

    async def turns_between(
        self, conversation_id: uuid.UUID, *, min_token_start: int, below_token_start: int, limit: int
    ) -> list[Message]:
        # The same index range as ``context``, bounded above and by a row limit.
        parameters = {
            "p_conversation": conversation_id,
            "p_min_token_start": min_token_start,
            "p_below_token_start": below_token_start,
            "p_limit": limit,
        }
        return [message_of(row) for row in await self._session.execute(_TURNS_BETWEEN, parameters)]

    async def save_progress(self, message_id: uuid.UUID, *, content: str, last_event_id: int, now: datetime) -> bool:
        parameters = {"p_id": message_id, "p_content": content, "p_last_event_id": last_event_id, "p_now": now}
        result = await self._session.execute(_SAVE_PROGRESS, parameters)
        return _rowcount(result) == 1

    async def finish(self, message: Message) -> bool:
        await _flush_pending(self._session)
        row = _message_columns(message)
        usage = message.usage or Usage()
        row.update(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            usage_estimated=usage.estimated,
            status=_COMPLETE,
        )
        parameters = {f"p_{name}": row[name] for name in _FINISHED_COLUMNS}
        parameters["p_id"] = message.id
        return _rowcount(await self._session.execute(_FINISH_MESSAGE, parameters)) == 1

    async def delete(self, message_id: uuid.UUID) -> None:
        await self._session.execute(
            delete(ChatMessageModel).where(ChatMessageModel.id == message_id),
            execution_options={"synchronize_session": False},
        )

    async def mark_unanswered(self, message_id: uuid.UUID, error_code: str | None) -> None:
        await self._session.execute(
            update(ChatMessageModel)
            .where(ChatMessageModel.id == message_id, ChatMessageModel.role == MessageRole.USER.value)
            .values(error_code=error_code),
            execution_options={"synchronize_session": False},
        )

    async def search(
        self, user_id: uuid.UUID, query: str, *, limit: int, offset: int, any_word: bool = False
    ) -> tuple[list[MessageSearchHit], int]:
        return await search_messages(self._session, user_id, query, limit=limit, offset=offset, any_word=any_word)


_HISTOGRAM_PARAMS = ("latency_histogram", "ttft_histogram", "latency_bucket", "ttft_bucket")


def _usage_record_row(record: UsageRecord) -> dict[str, Any]:
    usage = record.usage
    return {
        "id": record.id,
        "user_id": record.user_id,
        "conversation_id": record.conversation_id,
        "message_id": record.message_id,
        "api_key_id": record.api_key_id,
        "kind": record.kind.value,
        "provider": record.provider,
        "model": record.model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "estimated": usage.estimated,
        "cost_micros": record.cost_micros,
        "usage_date": record.day,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
        "error_code": record.error_code,
        "fallback": record.fallback,
        "created_at": record.created_at,
        "updated_at": record.created_at,
    }


def _usage_daily_row(record: UsageRecord) -> dict[str, Any]:
    """The record as an addition to its ``usage_daily`` row: the sums, and the buckets of its timings."""
    usage = record.usage
    latency = None if record.latency_ms is None else latency_bucket(record.latency_ms)
    ttft = None if record.ttft_ms is None else latency_bucket(record.ttft_ms)
    return {
        "usage_date": record.day,
        "user_id": record.user_id,
        "provider": record.provider,
        "model": record.model,
        "api_key_id": record.api_key_id or NO_KEY_ID,
        "requests": 1,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cost_micros": record.cost_micros,
        "errors": int(record.error_code is not None),
        "fallbacks": int(record.fallback),
        "latency_histogram": json.dumps({str(latency): 1} if latency is not None else {}),
        "ttft_histogram": json.dumps({str(ttft): 1} if ttft is not None else {}),
        "latency_bucket": None if latency is None else str(latency),
        "ttft_bucket": None if ttft is None else str(ttft),
    }


class SqlUsageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, record: UsageRecord) -> None:
        await self.record_many([record])

    async def record_many(self, records: Sequence[UsageRecord]) -> None:
        """The records, then the running totals they add to, table by table and each table's rows in key
        order: every transaction takes these row locks in the same order (the day's row of a model is
        shared by all users' calls: a batch locking it before another's would otherwise deadlock)."""
        if not records:
            return
        await _flush_pending(self._session)
        flavour = "postgresql" if self._session.get_bind().dialect.name == "postgresql" else "sqlite"
        await self._session.execute(_INSERT_USAGE_RECORD, [_usage_record_row(record) for record in records])
        months = sorted(
            (
                {
                    "id": uuid7(),
                    "user_id": record.user_id,
                    "month": month_start(record.created_at).date(),
                    "cost_micros": record.cost_micros,
                    "requests": 1,
                    "created_at": record.created_at,
                    "updated_at": record.created_at,
                }
                for record in records
            ),
            key=lambda row: (row["user_id"], row["month"]),
        )
        await self._session.execute(_ADD_TO_USAGE_MONTH[flavour], months)
        daily = sorted(
            (_usage_daily_row(record) for record in records),
            key=lambda row: (row["usage_date"], row["user_id"], row["provider"], row["model"], row["api_key_id"]),
        )
        await self._session.execute(_ADD_TO_USAGE_DAILY[flavour], daily)
        per_model = sorted(
            (
                {
                    "usage_date": row["usage_date"],
                    "provider": row["provider"],
                    "model": row["model"],
                    "with_api_key": row["api_key_id"] != NO_KEY_ID,
                    "requests": 1,
                    **{k: row[k] for k in _HISTOGRAM_PARAMS},
                }
                for row in daily
            ),
            key=lambda row: (row["usage_date"], row["provider"], row["model"], row["with_api_key"]),
        )
        await self._session.execute(_ADD_TO_USAGE_DAILY_MODEL[flavour], per_model)

    async def spent_in_month(self, user_id: uuid.UUID, month_start: datetime) -> int:
        await _flush_pending(self._session)
        spent = await self._session.scalar(_SPENT_IN_MONTH, {"p_user": user_id, "p_month": month_start.date()})
        return int(spent or 0)

    async def summarize(
        self, user_id: uuid.UUID, *, start: date, end: date, group_by: UsageGrouping
    ) -> list[UsageBucket]:
        key: Any = {
            "day": UsageRecordModel.usage_date,
            "model": UsageRecordModel.model,
            "api_key": UsageRecordModel.api_key_id,
        }[group_by]
        cost = func.sum(UsageRecordModel.cost_micros)
        query = (
            select(
                key,
                func.count(),
                func.sum(UsageRecordModel.input_tokens),
                func.sum(UsageRecordModel.output_tokens),
                func.sum(UsageRecordModel.cached_tokens),
                func.sum(UsageRecordModel.reasoning_tokens),
                cost,
            )
            .where(
                and_(
                    UsageRecordModel.user_id == user_id,
                    UsageRecordModel.usage_date >= start,
                    UsageRecordModel.usage_date <= end,
                )
            )
            .group_by(key)
            .order_by(key if group_by == "day" else cost.desc(), key)
        )
        rows = await self._session.execute(query)
        return [
            UsageBucket(
                key=k.isoformat() if isinstance(k, date) else NO_API_KEY if k is None else str(k),
                requests=int(n),
                input_tokens=int(i or 0),
                output_tokens=int(o or 0),
                cached_tokens=int(c or 0),
                reasoning_tokens=int(r or 0),
                cost_micros=int(m or 0),
            )
            for k, n, i, o, c, r, m in rows
        ]


class SqlBudgetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: uuid.UUID) -> int | None:
        await _flush_pending(self._session)
        value = await self._session.scalar(_BUDGET, {"p_user": user_id})
        return int(value) if value is not None else None

    async def set(self, user_id: uuid.UUID, budget_micros: int | None, *, now: datetime) -> None:
        if budget_micros is None:
            await self._session.execute(
                delete(UserBudgetModel).where(UserBudgetModel.user_id == user_id),
                execution_options={"synchronize_session": False},
            )
            return
        row = await self._session.scalar(select(UserBudgetModel).where(UserBudgetModel.user_id == user_id))
        if row is None:
            self._session.add(
                UserBudgetModel(user_id=user_id, monthly_budget_micros=budget_micros, created_at=now, updated_at=now)
            )
        else:
            row.monthly_budget_micros = budget_micros
            row.updated_at = now
        await self._session.flush()


def _message_columns(message: Message) -> dict[str, Any]:
    """The columns of ``message``'s row, but ``id`` and ``created_at``."""
    usage = message.usage
    return {
        "conversation_id": message.conversation_id,
        "user_id": message.user_id,
        "seq": message.seq,
        "role": message.role.value,
        "content": message.content,
        "status": message.status.value,
        "model": message.model,
        "provider": message.provider,
        "finish_reason": message.finish_reason.value if message.finish_reason else None,
        "error_code": message.error_code,
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "cached_tokens": usage.cached_tokens if usage else None,
        "reasoning_tokens": usage.reasoning_tokens if usage else None,
        "usage_estimated": usage.estimated if usage else None,
        "cost_micros": message.cost_micros,
        "latency_ms": message.latency_ms,
        "ttft_ms": message.ttft_ms,
        "citations": [dict(c) for c in message.citations],
        "token_start": message.token_start,
        "token_count": message.token_count,
        "last_event_id": message.last_event_id,
        "updated_at": message.updated_at,
    }
