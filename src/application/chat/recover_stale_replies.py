"""RecoverStaleReplies: finish the replies of instances that stopped without finishing them.

Run when an instance starts and every minute (the ``recover_stale_replies`` job). A reply is stale
once its conversation's lease ran out (``REPLY_LEASE_SECONDS`` without renewal): its text so far is
stored with ``finish_reason`` ``error`` (``interrupted``), the conversation is free again and the
reply stream ends with that ``error``, so no message stays ``generating`` for ever and no reader waits.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from src.application.chat.ports import ChatTransaction
from src.application.chat.recovery import ReplyRecovery
from src.application.shared.ports import Clock, UnitOfWorkFactory

BATCH = 100


@dataclass(frozen=True, slots=True)
class RecoveredReplies:
    recovered: int


class RecoverStaleReplies:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction], recovery: ReplyRecovery, clock: Clock) -> None:
        self._uow = uow
        self._recovery = recovery
        self._clock = clock

    async def __call__(self) -> RecoveredReplies:
        now = self._clock.now()
        async with self._uow(read_only=True) as tx:
            stale = await tx.conversations.stale_replies(now, limit=BATCH)
        recovered = 0
        for reply in stale:
            # One transaction each: one bad row never blocks the others.
            with contextlib.suppress(Exception):
                if await self._recovery.recover(reply.conversation_id, reply.message_id) is not None:
                    recovered += 1
        return RecoveredReplies(recovered=recovered)
