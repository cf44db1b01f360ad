"""StopReply: stop a reply in progress, from any client, on any instance.

The instance generating it is told through ``StopSignals``; it cancels the model call and stores the
text so far with ``finish_reason`` ``cancelled`` (the reply stream ends with ``done``). A reply whose
instance is gone (its lease ran out) is finished here, as interrupted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.chat.access import owned_message
from src.application.chat.ports import ChatTransaction, StopSignals
from src.application.chat.recovery import ReplyRecovery
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.errors import ReplyNotInProgress
from src.domain.identity.model import Principal


@dataclass(frozen=True, slots=True)
class StopReplyCommand:
    message_id: uuid.UUID
    #: The conversation the reply is in, when the front door knows it (the REST route does).
    conversation_id: uuid.UUID | None = None


class StopReply:
    def __init__(
        self, uow: UnitOfWorkFactory[ChatTransaction], stops: StopSignals, recovery: ReplyRecovery, clock: Clock
    ) -> None:
        self._uow = uow
        self._stops = stops
        self._recovery = recovery
        self._clock = clock

    async def __call__(self, principal: Principal, command: StopReplyCommand) -> None:
        now = self._clock.now()
        async with self._uow(read_only=True) as tx:
            conversation, message = await owned_message(tx, principal, command.message_id, command.conversation_id)
            if not message.is_generating:
                raise ReplyNotInProgress("this reply has already ended")
            alive = conversation.reply_in_progress(now) and conversation.generating_message_id == message.id
        if alive:
            await self._stops.request_stop(message.id)
        else:
            await self._recovery.recover(conversation.id, message.id)
