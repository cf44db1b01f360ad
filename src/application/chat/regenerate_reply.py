"""RegenerateReply: answer the latest user message again, replacing the reply it had.

``message_id`` names the latest message of the conversation: its last reply (deleted and written
anew; its usage stays charged) or a user message left without one (the model failed before writing
anything). Refused like ``SendMessage`` (rate limit, budget, reply in progress), and with 409
``not_latest_message`` for anything but the latest message. As for a send, the model is called as soon
as the prompt is built, while the reply's row is stored and committed (``early_call.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from src.application.chat.access import message_in, owned_conversation, require_chat
from src.application.chat.ports import ReplyTransaction
from src.application.chat.replies import ReplyLauncher
from src.application.chat.reply_plan import ReplyPlan
from src.application.chat.views import ReplyHandle
from src.application.llm.ports import ModelCatalog
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.chat.errors import NotLatestMessage
from src.domain.identity.model import Principal
from src.domain.llm.model import MessageRole


@dataclass(frozen=True, slots=True)
class RegenerateReplyCommand:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    #: Another model for the new reply; the conversation's when left out.
    model: str | None = None


class RegenerateReply:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory[ReplyTransaction],
        launcher: ReplyLauncher,
        catalog: ModelCatalog,
        limiter: AiRequestLimiter,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._launcher = launcher
        self._catalog = catalog
        self._limiter = limiter
        self._clock = clock

    async def __call__(self, principal: Principal, command: RegenerateReplyCommand) -> ReplyHandle:
        launcher = self._launcher
        started_at = self._clock.monotonic()
        require_chat(principal)
        await self._limiter.check(principal)
        now = self._clock.now()

        async def decide(tx: ReplyTransaction) -> ReplyPlan:
            conversation = await owned_conversation(tx, principal, command.conversation_id)
            target = await message_in(tx, conversation, command.message_id)
            if conversation.reply_in_progress(now) or target.is_generating:
                raise launcher.in_progress_error(conversation)
            latest = await tx.messages.latest(conversation.id)
            if latest is None or latest.id != target.id:
                raise NotLatestMessage("only the latest message of the conversation can be answered again")
            model = self._catalog.resolve(command.model or conversation.model)
            if target.role is MessageRole.USER:
                user_message, old_reply = target, None
            else:
                earlier = await tx.messages.page(conversation.id, before_seq=target.seq, limit=1)
                if not earlier or earlier[0].role is not MessageRole.USER:
                    raise NotLatestMessage("this reply does not answer a user message")
                user_message, old_reply = earlier[0], target
            budget_micros = await launcher.prepare(tx, principal, conversation, now)
            delta = -old_reply.token_count if old_reply is not None else 0
            claimed = await launcher.claim(tx, conversation, seqs=1, token_delta=delta, now=now)
            if old_reply is not None:
                await tx.messages.delete(old_reply.id)
            else:
                await tx.messages.mark_unanswered(user_message.id, None)  # answered again now
            return await launcher.plan(
                tx,
                principal,
                conversation,
                model,
                user_message,
                claimed,
                now=now,
                budget_micros=budget_micros,
                start_call=True,  # the model is called while the reply's row is stored and committed
            )

        plan = await launcher.planned(self._uow, decide)
        plan.conversation.last_activity_at = now
        return await launcher.launch(plan, started_at)
