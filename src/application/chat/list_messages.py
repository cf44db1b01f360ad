"""ListMessages: a conversation's messages, newest first, a page at a time (cursor: ``before``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.chat.access import message_in, owned_conversation
from src.application.chat.ports import ChatTransaction
from src.application.chat.views import MessagePage, MessageView
from src.application.shared.ports import UnitOfWorkFactory
from src.domain.identity.model import Principal
from src.domain.shared.errors import InvalidInput

MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class ListMessagesQuery:
    conversation_id: uuid.UUID
    #: Only messages older than this one (the ``next_before`` of the previous page).
    before: uuid.UUID | None = None
    limit: int = 50


class ListMessages:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: ListMessagesQuery) -> MessagePage:
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        async with self._uow(read_only=True) as tx:
            conversation = await owned_conversation(tx, principal, query.conversation_id)
            before_seq = None
            if query.before is not None:
                before_seq = (await message_in(tx, conversation, query.before)).seq
            found = await tx.messages.page(conversation.id, before_seq=before_seq, limit=query.limit + 1)
            total = await tx.messages.count(conversation.id)
            skipped = await tx.messages.count(conversation.id, after_seq=before_seq - 1) if before_seq else 0
        items = found[: query.limit]
        more = len(found) > query.limit
        return MessagePage(
            items=[MessageView.of(m) for m in items],
            total=total,
            limit=query.limit,
            offset=skipped,
            next_before=items[-1].id if more and items else None,
        )
