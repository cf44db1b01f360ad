"""RecoverStaleReplies: finish the replies of instances that stopped without finishing them.

Run when an instance starts and every minute (the ``recover_stale_replies`` job). A reply is stale
once its conversation's lease ran out (``REPLY_LEASE_SECONDS`` without renewal): its text so far is
stored with ``finish_reason`` ``error`` (``interrupted``) and the conversation is free again, so no
message stays ``generating`` for ever.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.application.chat.recovery import interrupt_stale_reply
from src.application.llm.ports import ModelCatalog
from src.application.shared.ports import Clock, UnitOfWorkFactory

BATCH = 100


@dataclass(frozen=True, slots=True)
class RecoveredReplies:
    recovered: int


class RecoverStaleReplies:
    def __init__(self, uow: UnitOfWorkFactory, catalog: ModelCatalog, clock: Clock) -> None:
        self._uow = uow
        self._catalog = catalog
        self._clock = clock

    async def __call__(self) -> RecoveredReplies:
        now = self._clock.now()
        async with self._uow(read_only=True) as tx:
            stale = await tx.conversations.stale_replies(now, limit=BATCH)
        recovered = 0
        for reply in stale:
            # One transaction each: one bad row never blocks the others.
            async with self._uow() as tx:
                conversation = await tx.conversations.get(reply.conversation_id)
                if conversation is None or conversation.generating_message_id != reply.message_id:
                    continue
                if conversation.reply_in_progress(now):
                    continue  # renewed meanwhile: its instance is alive after all
                if await interrupt_stale_reply(tx, conversation, reply.message_id, now=now, catalog=self._catalog):
                    recovered += 1
        return RecoveredReplies(recovered=recovered)
