"""A chat send's reads and its one write, with no transaction around them (``ReplyStarts``), on PostgreSQL.

A send planned in a unit of work took seven round trips before its reply could stream: BEGIN, the
conversation, the budget, the reply lock's claim, the context, both rows, COMMIT; the model was called after
the fifth. Here it takes three, each a statement in autocommit on one pooled asyncpg connection
(``driver.autocommit``, checked out once for the three): the conversation with its owner's budget standing
(``read``), the context (``context``), then, once the model has been called, one statement that claims the
reply lock and stores both rows (``claim_and_store``). That statement's data-modifying CTEs apply together or
not at all: the rows are stored only when the claim applied, and the claim applies only when the conversation
is still as it was read (its ``updated_at``, which every write of the row stamps, its next message number and
its token total) with its lock free or run out. When it is not, nothing was written and the send is planned in
a unit of work as before.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Integer, Select, Table, TextualSelect, bindparam, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from src.application.chat.reply_statements import ConversationStanding
from src.domain.chat.model import Conversation, Message
from src.domain.llm.model import PromptMessage
from src.infrastructure.persistence.budget_repositories import BUDGET
from src.infrastructure.persistence.chat_models import ChatMessageModel, ConversationModel
from src.infrastructure.persistence.chat_rows import conversation_of, prompt_message_of
from src.infrastructure.persistence.driver import Autocommit, autocommit
from src.infrastructure.persistence.message_repository import CONTEXT, message_columns
from src.infrastructure.persistence.orm import GUID, DateTimeUTC
from src.infrastructure.persistence.usage_repositories import SPENT_IN_MONTH

_MESSAGES = cast(Table, ChatMessageModel.__table__)
_CONVERSATIONS = cast(Table, ConversationModel.__table__)

#: The user's conversation and their budget standing for the month (``p_id``, ``p_user``, ``p_month``).
_READ: Select[Any] = select(
    _CONVERSATIONS,
    BUDGET.scalar_subquery().label("budget_micros"),
    SPENT_IN_MONTH.scalar_subquery().label("spent_micros"),
).where(_CONVERSATIONS.c.id == bindparam("p_id"), _CONVERSATIONS.c.user_id == bindparam("p_user"))

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

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqlReplyStarts | None:
        return cls(engine) if engine.dialect.name == "postgresql" else None

    @asynccontextmanager
    async def open(self) -> AsyncIterator[SqlReplyStart]:
        async with autocommit(self._engine) as connection:
            yield SqlReplyStart(connection)


class SqlReplyStart:
    """``ReplyStart``: a send's statements on one pooled connection in autocommit."""

    def __init__(self, connection: Autocommit) -> None:
        self._connection = connection

    async def read(
        self, conversation_id: uuid.UUID, user_id: uuid.UUID, month_start: datetime
    ) -> ConversationStanding | None:
        parameters = {"p_id": conversation_id, "p_user": user_id, "p_month": month_start.date()}
        row = (await self._connection.run(_READ, parameters)).first()
        if row is None:
            return None
        budget = int(row.budget_micros) if row.budget_micros is not None else None
        return ConversationStanding(conversation_of(row), budget, int(row.spent_micros or 0))

    async def context(self, conversation_id: uuid.UUID, *, min_token_start: int, up_to_seq: int) -> list[PromptMessage]:
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
