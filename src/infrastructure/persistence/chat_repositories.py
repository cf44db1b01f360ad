"""Chat repositories: conversations, on one ``AsyncSession``, and the mixin giving them with the
messages' (``message_repository.py``; usage: ``usage_repositories.py``, budgets: ``budget_repositories.py``).

Rows are mapped to and from the domain's entities here. The reply lock, the lease renewals and the
"finish only if still generating" writes are single conditional ``UPDATE`` statements, so that
several instances racing on one conversation agree on one winner on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    Update,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from src.application.chat.ports import ReplyClaim, StaleReply
from src.domain.chat.model import Conversation
from src.infrastructure.persistence.chat_models import (
    ChatMessageModel,
    ConversationModel,
)
from src.infrastructure.persistence.chat_rows import conversation_of
from src.infrastructure.persistence.driver import run
from src.infrastructure.persistence.identity_repositories import LIKE_ESCAPE, like_pattern
from src.infrastructure.persistence.sql_support import flush_pending, rowcount

# The statements every reply runs, built once on the tables (Core, not ORM-enabled) with bound
# parameters: executing one with a parameter dict skips building, coercing and cache-keying a new
# statement per call, which was most of a reply's database CPU. Bound parameter names must differ
# from column names in INSERT and UPDATE statements, hence ``p_``.
_CONVERSATIONS = cast(Table, ConversationModel.__table__)

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

_GET_CONVERSATION: Select[Any] = select(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("p_id"))
_GET_OWNED_CONVERSATION: Select[Any] = _GET_CONVERSATION.where(_CONVERSATIONS.c.user_id == bindparam("p_user"))


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
        await flush_pending(self._session)
        if user_id is None:
            result = await run(self._session, _GET_CONVERSATION, {"p_id": conversation_id})
        else:
            result = await run(self._session, _GET_OWNED_CONVERSATION, {"p_id": conversation_id, "p_user": user_id})
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
        await flush_pending(self._session)
        parameters = {
            "p_id": conversation_id,
            "p_message": message_id,
            "p_lease_until": lease_until,
            "p_seqs": seqs,
            "p_token_delta": token_delta,
            "p_now": now,
        }
        row = (await run(self._session, _CLAIM_REPLY, parameters)).first()
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
        return rowcount(result) == 1

    async def release_reply(
        self, conversation_id: uuid.UUID, message_id: uuid.UUID, *, token_total: int | None, now: datetime
    ) -> bool:
        await flush_pending(self._session)
        parameters: dict[str, Any] = {"p_id": conversation_id, "p_message": message_id, "p_now": now}
        if token_total is not None:
            parameters["p_token_total"] = token_total
        result = await run(self._session, _RELEASE_REPLY[token_total is None], parameters)
        return rowcount(result) == 1

    async def set_title_if_untitled(self, conversation_id: uuid.UUID, title: str, *, now: datetime) -> bool:
        result = await self._session.execute(
            update(ConversationModel)
            .where(ConversationModel.id == conversation_id, ConversationModel.title.is_(None))
            .values(title=title, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

    async def mark_title_requested(self, conversation_id: uuid.UUID, *, now: datetime) -> bool:
        result = await self._session.execute(
            update(ConversationModel)
            .where(ConversationModel.id == conversation_id, ConversationModel.title_requested_at.is_(None))
            .values(title_requested_at=now)
            .execution_options(synchronize_session=False)
        )
        return rowcount(result) == 1

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
        return rowcount(result) == 1

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
        return rowcount(result) == 1

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
