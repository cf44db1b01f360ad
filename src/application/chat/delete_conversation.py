"""DeleteConversation: the conversation and all its messages go (their usage stays on record).

A reply being generated is stopped; its tokens are charged when its task ends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.chat.access import owned_conversation
from src.application.chat.ports import ChatTransaction, StopSignals
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class DeleteConversationCommand:
    conversation_id: uuid.UUID


class DeleteConversation:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction], stops: StopSignals, clock: Clock) -> None:
        self._uow = uow
        self._stops = stops
        self._clock = clock

    async def __call__(self, principal: Principal, command: DeleteConversationCommand) -> None:
        async with self._uow() as tx:
            conversation = await owned_conversation(tx, principal, command.conversation_id)
            generating = (
                conversation.generating_message_id if conversation.reply_in_progress(self._clock.now()) else None
            )
            await tx.conversations.delete(conversation.id)
        if generating is not None:
            await self._stops.request_stop(generating)
