"""SendMessage: store the user's message and start the model's reply.

The REST route, the WebSocket ``send`` frame and ``parley chat`` all call this. It returns as soon as
the reply has started; the reply is written by a task the process owns (see ``generation.py``) and
shown by reading ``ReplyHandle.events()`` or awaited with ``ReplyHandle.result()``.

Refused before anything is stored or any model is called: blank or oversized content (422), an
unknown or unavailable model (422 ``model_unavailable``), a message the model's context window cannot
hold (422), too many AI requests for the tier (429 ``rate_limited``), a spent monthly budget (429
``budget_exceeded``), a reply already generating in the conversation (409 ``reply_in_progress``).

With a ``guard`` (``ChatSafetyGuard``), the message is scanned for prompt injection first: refused
with 422 ``prompt_injection_suspected`` under the ``block`` policy, queued for review under ``flag``.

In a grounded conversation the passages of the user's knowledge for the message are retrieved in the
same transaction, before the model is called (``ReplyLauncher.passages``).

The model is called as soon as the prompt is built, while the two rows are stored and committed
(``early_call.py``): nothing it sends is shown before the commit, and a failed commit stops the call.

On PostgreSQL (``ReplyStarts``) a send to an existing conversation takes no transaction: the conversation
with the budget standing is one read (the AI request is counted beside it, its refusal still answering
first), the context another, the model is called, and one statement claims
the reply lock and stores both rows only if the conversation is still as read. A new conversation, a
grounded one, a summary update to queue, a lock a dead instance left, or a conversation that changed in
between: planned in the transaction above instead (nothing of the first attempt was stored).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from src.application.ai.chat_guard import ChatSafetyGuard
from src.application.chat.access import owned_conversation, require_chat
from src.application.chat.ports import ReplyTransaction
from src.application.chat.replies import ReplyLauncher
from src.application.chat.reply_plan import ClaimedReply, ReplyPlan
from src.application.chat.views import ReplyHandle
from src.application.llm.ports import ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.application.usage.ai_requests import AiRequestLimiter
from src.domain.ai.moderation_queue import ModerationItemKind
from src.domain.chat.context import check_fits, history_budget, message_tokens
from src.domain.chat.errors import ConversationNotFound
from src.domain.chat.model import Conversation, Message, check_message_content
from src.domain.identity.model import Principal
from src.domain.llm.model import ModelInfo
from src.domain.usage.model import month_start

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SendMessageCommand:
    content: str
    #: ``None`` starts a new conversation (with ``model``, or the default model).
    conversation_id: uuid.UUID | None = None
    #: The model for this reply; the conversation's model when left out.
    model: str | None = None


class SendMessage:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory[ReplyTransaction],
        launcher: ReplyLauncher,
        catalog: ModelCatalog,
        limiter: AiRequestLimiter,
        clock: Clock,
        max_message_chars: int,
        guard: ChatSafetyGuard | None = None,
    ) -> None:
        self._uow = uow
        self._launcher = launcher
        self._catalog = catalog
        self._limiter = limiter
        self._clock = clock
        self._max_message_chars = max_message_chars
        self._guard = guard

    async def __call__(self, principal: Principal, command: SendMessageCommand) -> ReplyHandle:
        launcher = self._launcher
        started_at = self._clock.monotonic()
        require_chat(principal)
        content = check_message_content(command.content, max_chars=self._max_message_chars)
        verdict = self._guard.check_message(content) if self._guard is not None else None
        if command.conversation_id is None:
            self._catalog.resolve(command.model)  # 422 before anything is counted or stored
        if self._planned_ahead(command) is None:
            await self._limiter.check(principal)  # else counted in ``_plan_ahead``, beside its read
        now = self._clock.now()
        plan = await self._plan(principal, command, content, now)
        plan.conversation.last_activity_at = now
        handle = await launcher.launch(plan, started_at)
        user_message = plan.user_message
        if self._guard is not None:
            if verdict is not None:
                await self._guard.report(
                    ModerationItemKind.MESSAGE, user_message.id, principal.user_id, content, verdict.reasons
                )
            self._guard.after_reply(principal.user_id, user_message.id, content, handle)
        return handle

    async def _plan(self, principal: Principal, command: SendMessageCommand, content: str, now: datetime) -> ReplyPlan:
        """The send's transaction: the conversation, the budget, the reply lock, the history and both
        rows. The model call the plan starts is stopped when the transaction fails, its commit included.
        To an existing conversation, on a database with ``ReplyStarts``, the send is planned ahead of any
        transaction when it can be (``_plan_ahead``)."""
        launcher = self._launcher
        conversation_id = self._planned_ahead(command)
        if conversation_id is not None:
            ahead = await self._plan_ahead(principal, conversation_id, command.model, content, now)
            if ahead is not None:
                return ahead

        async def decide(tx: ReplyTransaction) -> ReplyPlan:
            created = command.conversation_id is None
            if command.conversation_id is None:
                model = self._catalog.resolve(command.model)
                conversation = Conversation.start(id=new_id(now), user_id=principal.user_id, model=model.id, now=now)
                await tx.conversations.add(conversation)
            else:
                conversation = await owned_conversation(tx, principal, command.conversation_id)
                model = self._catalog.resolve(command.model or conversation.model)
            tokens = _fitting_tokens(conversation, model, content)
            budget_micros = await launcher.prepare(tx, principal, conversation, now)
            claimed = await launcher.claim(tx, conversation, seqs=2, token_delta=tokens, now=now)
            return await launcher.plan(
                tx,
                principal,
                conversation,
                model,
                _user_message(conversation, model, content, tokens, claimed, now),
                claimed,
                now=now,
                created_conversation=created,
                budget_micros=budget_micros,
                store_user_message=True,  # stored with the reply's row
                start_call=True,  # the model is called while the rows are stored and committed
            )

        return await launcher.planned(self._uow, decide)

    def _planned_ahead(self, command: SendMessageCommand) -> uuid.UUID | None:
        """The conversation of a send tried ahead of any transaction first (``_plan_ahead``); ``None``
        when it is planned in one."""
        return command.conversation_id if self._launcher.starts is not None else None

    async def _plan_ahead(
        self, principal: Principal, conversation_id: uuid.UUID, model_id: str | None, content: str, now: datetime
    ) -> ReplyPlan | None:
        """The send with no transaction (``ReplyStarts``): the conversation with the budget standing in one
        read, the same refusals in the same order as ``decide``'s, then ``ReplyLauncher.plan_ahead``.
        ``None`` when the send must be planned in a transaction after all (nothing was stored)."""
        launcher = self._launcher
        starts = launcher.starts
        assert starts is not None
        async with starts.open() as start:
            # The AI request is counted (a Redis round trip with Redis) while the conversation is read: its
            # refusal still comes first, and nothing is stored or called before both are in.
            limiter = self._limiter
            allowance = asyncio.ensure_future(limiter.check(principal)) if limiter.counts(principal) else None
            standing = await _once_counted(start.read(conversation_id, principal.user_id, month_start(now)), allowance)
            if standing is None:
                raise ConversationNotFound()
            conversation = standing.conversation
            model = self._catalog.resolve(model_id or conversation.model)
            tokens = _fitting_tokens(conversation, model, content)
            budget_micros = launcher.within_budget(principal, standing.budget_micros, standing.spent_micros, now)
            claimed = ClaimedReply(new_id(now), conversation.next_seq, conversation.token_total + tokens)
            if not launcher.ahead(conversation, model, token_total=claimed.token_total, now=now):
                return None
            user_message = _user_message(conversation, model, content, tokens, claimed, now)
            return await launcher.plan_ahead(
                start, conversation, model, user_message, claimed, now=now, budget_micros=budget_micros
            )


async def _once_counted(read: Awaitable[T], allowance: asyncio.Future[None] | None) -> T:
    """``read``'s result once ``allowance`` (counting the request beside it) is in. A refusal of the
    allowance is the answer whatever the read gave, as when the allowance was counted before it; a
    cancelled send cancels the allowance with it."""
    if allowance is None:
        return await read
    try:
        result = await read
    except Exception:
        await allowance
        raise
    except BaseException:
        allowance.cancel()
        raise
    await allowance
    return result


def _fitting_tokens(conversation: Conversation, model: ModelInfo, content: str) -> int:
    """The tokens of ``content``; 422 when the model's window cannot hold it with the system prompt."""
    tokens = message_tokens(content)
    check_fits(
        tokens,
        budget=history_budget(
            context_window=model.context_window,
            max_output_tokens=model.max_output_tokens,
            system_prompt=conversation.system_prompt,
        ),
    )
    return tokens


def _user_message(
    conversation: Conversation, model: ModelInfo, content: str, tokens: int, claimed: ClaimedReply, now: datetime
) -> Message:
    """The user's message, numbered by the claim: the first of its message numbers and token offsets."""
    user_message = Message.from_user(
        id=new_id(now),
        conversation=conversation,
        seq=claimed.first_seq,
        content=content,
        token_count=tokens,
        model=model.id,
        now=now,
    )
    user_message.token_start = claimed.token_total - tokens
    return user_message
