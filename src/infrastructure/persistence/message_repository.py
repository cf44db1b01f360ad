"""The chat messages' repository (``tx.messages``) on one ``AsyncSession``: rows to and from
``Message``, the reply's progress and final writes, and the prompt's context read as Core rows.

Its statements are built once on the table with bound parameters (see ``chat_repositories.py``); the
final write and the progress saves apply only while the reply is still generating.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from src.application.chat.ports import MessageSearchHit
from src.domain.chat.model import Message, MessageStatus
from src.domain.llm.model import MessageRole, PromptMessage, Usage
from src.infrastructure.persistence.chat_models import (
    ChatMessageModel,
    ConversationModel,
)
from src.infrastructure.persistence.chat_repositories import SqlConversationRepository
from src.infrastructure.persistence.chat_rows import message_of, prompt_message_of
from src.infrastructure.persistence.driver import run, run_many
from src.infrastructure.persistence.message_search import search_messages
from src.infrastructure.persistence.sql_support import flush_pending, rowcount

_GENERATING = MessageStatus.GENERATING.value
#: A complete message's ``status``.
COMPLETE = MessageStatus.COMPLETE.value
_MESSAGES = cast(Table, ChatMessageModel.__table__)
_CONVERSATIONS = cast(Table, ConversationModel.__table__)

FINISHED_COLUMNS = (
    "content", "status", "model", "provider", "finish_reason", "error_code", "input_tokens", "output_tokens",
    "cached_tokens", "reasoning_tokens", "usage_estimated", "cost_micros", "latency_ms", "ttft_ms", "citations",
    "token_start", "token_count", "last_event_id", "updated_at",
)  # fmt: skip
_FINISH_MESSAGE: Update = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("p_id"), _MESSAGES.c.status == _GENERATING)
    .values({name: bindparam(f"p_{name}") for name in FINISHED_COLUMNS})
)
_INSERT_MESSAGE: Insert = insert(_MESSAGES)

# PostgreSQL: the final write and, when it applied, the release of the conversation's reply lock in
# one statement (one round trip less per reply). Each data-modifying CTE takes its row lock in this
# order: the message's row, then the conversation's (the usage rows come after, in the caller).
_FINISHED = _FINISH_MESSAGE.returning(_MESSAGES.c.id).cte("finished")
_RELEASED = (
    update(_CONVERSATIONS)
    .where(
        _CONVERSATIONS.c.id == bindparam("p_conversation"),
        _CONVERSATIONS.c.generating_message_id == bindparam("p_id"),
        exists(select(_FINISHED.c.id)),
    )
    .values(
        generating_message_id=None,
        generating_until=None,
        last_activity_at=bindparam("p_now"),
        token_total=bindparam("p_token_total"),
    )
    .returning(_CONVERSATIONS.c.id)
    .cte("released")
)
_FINISH_AND_RELEASE: Select[Any] = select(
    select(func.count()).select_from(_FINISHED).scalar_subquery().label("won"),
    select(func.count()).select_from(_RELEASED).scalar_subquery().label("released"),
)

_SAVE_PROGRESS: Update = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("p_id"), _MESSAGES.c.status == _GENERATING)
    .values(content=bindparam("p_content"), last_event_id=bindparam("p_last_event_id"), updated_at=bindparam("p_now"))
)

# Core rows of the three columns a prompt needs, not ORM entities (a long context is hundreds of rows,
# and an entity costs many times such a row to build): a range of
# ix_chat_message_conversation_id_token_start.
CONTEXT: Select[Any] = (
    select(_MESSAGES.c.role, _MESSAGES.c.content, _MESSAGES.c.token_count)
    .where(
        _MESSAGES.c.conversation_id == bindparam("p_conversation"),
        _MESSAGES.c.token_start >= bindparam("p_min_token_start"),
        _MESSAGES.c.status == COMPLETE,
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
        _MESSAGES.c.status == COMPLETE,
    )
    .order_by(_MESSAGES.c.token_start, _MESSAGES.c.seq)
    .limit(bindparam("p_limit"))
)


class SqlMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, message: Message) -> None:
        await self.add_all([message])

    async def add_all(self, messages: Sequence[Message]) -> None:
        # Every row has the same columns: one executemany (pipelined by asyncpg: one round trip).
        await flush_pending(self._session)
        rows = []
        for message in messages:
            row = message_columns(message)
            row["id"], row["created_at"] = message.id, message.created_at
            rows.append(row)
        await run_many(self._session, _INSERT_MESSAGE, rows)

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
        return [prompt_message_of(row) for row in await run(self._session, CONTEXT, parameters)]

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
        return [message_of(row) for row in await run(self._session, _TURNS_BETWEEN, parameters)]

    async def save_progress(self, message_id: uuid.UUID, *, content: str, last_event_id: int, now: datetime) -> bool:
        parameters = {"p_id": message_id, "p_content": content, "p_last_event_id": last_event_id, "p_now": now}
        result = await run(self._session, _SAVE_PROGRESS, parameters)
        return rowcount(result) == 1

    async def finish(self, message: Message) -> bool:
        await flush_pending(self._session)
        return rowcount(await run(self._session, _FINISH_MESSAGE, finished_parameters(message))) == 1

    async def finish_and_release(self, message: Message, *, token_total: int, now: datetime) -> bool:
        if self._session.get_bind().dialect.name != "postgresql":  # no data-modifying CTEs elsewhere
            won = await self.finish(message)
            if won:
                await SqlConversationRepository(self._session).release_reply(
                    message.conversation_id, message.id, token_total=token_total, now=now
                )
            return won
        await flush_pending(self._session)
        parameters = finished_parameters(message)
        parameters.update(p_conversation=message.conversation_id, p_now=now, p_token_total=token_total)
        return int((await run(self._session, _FINISH_AND_RELEASE, parameters)).rows[0][0]) == 1

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


def finished_parameters(message: Message) -> dict[str, Any]:
    """The parameters of ``_FINISH_MESSAGE`` for ``message``: complete, its usage zero when unknown."""
    row = message_columns(replace(message, usage=message.usage or Usage(), status=MessageStatus.COMPLETE))
    parameters = {f"p_{name}": row[name] for name in FINISHED_COLUMNS}
    parameters["p_id"] = message.id
    return parameters


def message_columns(message: Message) -> dict[str, Any]:
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
