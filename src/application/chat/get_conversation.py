"""GetConversation: one of the caller's conversations (someone else's is ``conversation_not_found``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.chat.access import owned_conversation
from src.application.chat.ports import ChatTransaction
from src.application.chat.views import ConversationView
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class GetConversationQuery:
    conversation_id: uuid.UUID


class GetConversation:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, query: GetConversationQuery) -> ConversationView:
        async with self._uow(read_only=True) as tx:
            conversation = await owned_conversation(tx, principal, query.conversation_id)
        return ConversationView.of(conversation, self._clock.now())
