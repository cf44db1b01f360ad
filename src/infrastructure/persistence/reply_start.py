"""A chat send's reads and its one write, with no transaction around them (``ReplyStarts``), on PostgreSQL.

A send planned in a unit of work took seven round trips before its reply could stream: BEGIN, the
conversation, the budget, the reply lock's claim, the context, both rows, COMMIT; the model was called after
the fifth. Here it mostly takes two, each a statement in autocommit on one pooled asyncpg connection
(``driver.autocommit``, checked out once for them): the conversation with its owner's budget standing and
its latest messages (``read``), then, once the model has been called, one statement that claims the reply
lock and stores both rows (``claim_and_store``). That statement's data-modifying CTEs apply together or not
at all: the rows are stored only when the claim applied, and the claim applies only when the conversation is
still as it was read (its ``updated_at``, which every write of the row stamps, its next message number and
its token total) with its lock free or run out. When it is not, nothing was written and the send is planned
in a unit of work as before.

The latest messages ``read`` brings are those the deployment's cap (``CHAT_CONTEXT_TOKENS``, or the
conversation's own) and the running summary's end bound from below, all the context can be: ``context``
takes its rows from them when its range lies within, and reads them in a statement of its own otherwise (a
running summary too long to be sent, whose turns are then read again). Their array comes from the
``(conversation_id, token_start)`` index range, as the context's own statement does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    Table,
    TextualSelect,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import NullType

from src.application.chat.reply_statements import ConversationStanding
from src.domain.chat.model import Conversation, Message
from src.domain.llm.model import PromptMessage
from src.infrastructure.persistence.budget_repositories import BUDGET
from src.infrastructure.persistence.chat_models import ChatMessageModel, ConversationModel
from src.infrastructure.persistence.chat_rows import conversation_of, prompt_message, prompt_message_of
from src.infrastructure.persistence.driver import Autocommit, autocommit
from src.infrastructure.persistence.message_repository import COMPLETE, CONTEXT, message_columns
from src.infrastructure.persistence.orm import GUID, DateTimeUTC
from src.infrastructure.persistence.usage_repositories import SPENT_IN_MONTH

_MESSAGES = cast(Table, ChatMessageModel.__table__)
_CONVERSATIONS = cast(Table, ConversationModel.__table__)


def _recent_from(conversations: Any) -> Any:
    """The smallest ``token_start`` any reply's context can start at, of the conversation row of
    ``conversations``: the latest cap's worth of tokens (the conversation's own cap, else the deployment's
    ``p_cap``), after what a running summary covers when summaries are on (``p_summaries``) and the
    conversation has one. The model's window only ever narrows it."""
    return func.greatest(
        conversations.c.token_total
        - func.coalesce(conversations.c.context_tokens, bindparam("p_cap", type_=BigInteger)),
        case(
            (
                and_(bindparam("p_summaries"), conversations.c.summarize, conversations.c.summary.is_not(None)),
                conversations.c.summary_token_end,
            ),
            else_=literal_column("0", BigInteger),
        ),
    )


_BOUND = _CONVERSATIONS.alias("bound")
#: The columns of the latest messages ``read`` brings, in this order: one array each.
_RECENT_COLUMNS = ("role", "content", "token_count", "token_start", "seq")


def _in_context_order(column: Any) -> Any:
    return func.array_agg(aggregate_order_by(column, _MESSAGES.c.token_start, _MESSAGES.c.seq), type_=NullType())


#: The conversation's complete messages from ``_recent_from`` on, in the context's order, one array per column
#: (``recent_<column>``): arrays of plain values decode at about half the client CPU of one array of records
#: (~0.14 against ~0.25 ms for 64 messages of 1 KB, and ~0.1 ms sooner), which is most of what a long
#: conversation's reply adds. The bound is a subquery of its own over ``p_id``, not the outer row: a parameter
#: of the plan, the ``(conversation_id, token_start)`` index is then the one range scanned, statistics or none
#: (with the outer row's columns, a table never analyzed was scanned on its ``(conversation_id, seq)`` index:
#: the whole conversation, filtered). One row always (NULL arrays when there is nothing).
_RECENT = (
    select(*(_in_context_order(_MESSAGES.c[name]).label(f"recent_{name}") for name in _RECENT_COLUMNS))
    .where(
        _MESSAGES.c.conversation_id == bindparam("p_id"),
        _MESSAGES.c.token_start
        >= select(_recent_from(_BOUND)).where(_BOUND.c.id == bindparam("p_id")).scalar_subquery(),
        _MESSAGES.c.status == COMPLETE,
    )
    .subquery("recent")
)

#: The user's conversation, their budget standing for the month and the conversation's latest messages
#: (``p_id``, ``p_user``, ``p_month``, ``p_cap``, ``p_summaries``).
_READ: Select[Any] = (
    select(
        _CONVERSATIONS,
        BUDGET.scalar_subquery().label("budget_micros"),
        SPENT_IN_MONTH.scalar_subquery().label("spent_micros"),
        _recent_from(_CONVERSATIONS).label("recent_from"),
        *(_RECENT.c[f"recent_{name}"] for name in _RECENT_COLUMNS),
    )
    .select_from(_CONVERSATIONS.join(_RECENT, true()))
    .where(_CONVERSATIONS.c.id == bindparam("p_id"), _CONVERSATIONS.c.user_id == bindparam("p_user"))
)

#: A message row's columns (the ORM's insert sentinel aside), each with its PostgreSQL type: the rows are
#: selected from the claim, and a SELECT list gives a parameter no column to take its type from.
_STORED = tuple(c.name for c in _MESSAGES.columns if c.name != "sa_orm_sentinel")
_TYPES = {c.name: c.type.compile(dialect=postgresql.dialect()) for c in _MESSAGES.columns}  # type: ignore[no-untyped-call]


def _claim_and_store(count: int) -> TextualSelect:
    """The claim of ``count`` message numbers and the ``count`` rows (parameters ``m<i>_<column>``)."""
    claimed = (
        f"claimed AS (UPDATE {_CONVERSATIONS.name} SET generating_message_id = :p_message, "
        f"generating_until = :p_lease_until, next_seq = next_seq + {count}, "
        "token_total = token_total + :p_token_delta, last_activity_at = :p_now, updated_at = :p_now "
        "WHERE id = :p_id AND updated_at = :p_updated_at AND next_seq = :p_next_seq AND token_total = :p_token_total "
        "AND (generating_message_id IS NULL OR generating_until <= :p_now) RETURNING id)"
    )
    stored = [
        f"stored_{i} AS (INSERT INTO {_MESSAGES.name} ({', '.join(_STORED)}) "
        f"SELECT {', '.join(f'CAST(:m{i}_{c} AS {_TYPES[c]})' for c in _STORED)} FROM claimed RETURNING 1 AS done)"
        for i in range(count)
    ]
    return (
        text(f"WITH {', '.join([claimed, *stored])} SELECT count(*) AS claimed FROM claimed")
        .bindparams(
            *(bindparam(name, type_=GUID()) for name in ("p_id", "p_message")),
            *(bindparam(name, type_=DateTimeUTC(timezone=True)) for name in ("p_now", "p_lease_until", "p_updated_at")),
            bindparam("p_token_delta", type_=BigInteger()),
            bindparam("p_token_total", type_=BigInteger()),
            bindparam("p_next_seq", type_=Integer()),
            *(bindparam(f"m{i}_{c}", type_=_MESSAGES.c[c].type) for i in range(count) for c in _STORED),
        )
        .columns(claimed=BigInteger)
    )


#: By the number of rows stored (a send stores two: the user's message and the reply's placeholder).
_CLAIM_AND_STORE = {count: _claim_and_store(count) for count in (1, 2)}


class SqlReplyStarts:
    """``ReplyStarts`` on PostgreSQL (``for_engine`` gives none elsewhere: SQLite has no data-modifying CTEs,
    and its one writer gains nothing from writing outside a transaction)."""

    def __init__(self, engine: AsyncEngine, *, context_tokens: int, summaries: bool) -> None:
        self._engine = engine
        self._context_tokens = context_tokens
        self._summaries = summaries

    @classmethod
    def for_engine(cls, engine: AsyncEngine, *, context_tokens: int, summaries: bool) -> SqlReplyStarts | None:
        """``context_tokens``: the deployment's cap (``CHAT_CONTEXT_TOKENS``); ``summaries``: whether running
        summaries are on (``CHAT_CONTEXT_SUMMARY``). They bound the latest messages ``read`` brings along."""
        if engine.dialect.name != "postgresql":
            return None
        return cls(engine, context_tokens=context_tokens, summaries=summaries)

    @asynccontextmanager
    async def open(self) -> AsyncIterator[SqlReplyStart]:
        async with autocommit(self._engine) as connection:
            yield SqlReplyStart(connection, context_tokens=self._context_tokens, summaries=self._summaries)


class SqlReplyStart:
    """``ReplyStart``: a send's statements on one pooled connection in autocommit."""

    def __init__(self, connection: Autocommit, *, context_tokens: int, summaries: bool) -> None:
        self._connection = connection
        self._window = {"p_cap": context_tokens, "p_summaries": summaries}
        #: What ``read`` brought: the conversation, the smallest ``token_start`` and the largest ``seq`` its
        #: latest messages cover, and those messages (role, content, token_count, token_start, seq).
        self._recent: tuple[uuid.UUID, int, int, Sequence[tuple[str, str, int | None, int, int]]] | None = None

    async def read(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, month_start: datetime
    ) -> ConversationStanding | None:
        parameters = {"p_id": conversation_id, "p_user": user_id, "p_month": month_start.date(), **self._window}
        row = (await self._connection.run(_READ, parameters)).first()
        if row is None:
            return None
        columns = (row.recent_role, row.recent_content, row.recent_token_count, row.recent_token_start, row.recent_seq)
        recent = tuple(zip(*columns, strict=True)) if row.recent_role is not None else ()
        self._recent = (conversation_id, int(row.recent_from), row.next_seq - 1, recent)
        budget = int(row.budget_micros) if row.budget_micros is not None else None
        return ConversationStanding(conversation_of(row), budget, int(row.spent_micros or 0))

    async def context(self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int) -> list[PromptMessage]:
        recent = self._recent
        if (
            recent is not None
            and recent[0] == conversation_id
            and min_token_start >= recent[1]
            and up_to_seq <= recent[2]
        ):
            # Within what ``read`` brought: no statement.
            return [
                prompt_message(role, content, tokens)
                for role, content, tokens, token_start, seq in recent[3]
                if token_start >= min_token_start and seq <= up_to_seq
            ]
        parameters = {"p_conversation": conversation_id, "p_min_token_start": min_token_start, "p_up_to_seq": up_to_seq}
        return [prompt_message_of(row) for row in await self._connection.run(CONTEXT, parameters)]

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
        parameters: dict[str, Any] = {
            "p_id": conversation.id,
            "p_message": reply_id,
            "p_now": now,
            "p_lease_until": lease_until,
            "p_updated_at": conversation.updated_at,
            "p_next_seq": conversation.next_seq,
            "p_token_total": conversation.token_total,
            "p_token_delta": token_delta,
        }
        for i, message in enumerate(messages):
            row = message_columns(message)
            row["id"], row["created_at"] = message.id, message.created_at
            parameters.update((f"m{i}_{name}", row[name]) for name in _STORED)
        found = await self._connection.run(_CLAIM_AND_STORE[len(messages)], parameters)
        return bool(found.rows[0][0])
