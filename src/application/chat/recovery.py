"""Replies nobody will finish: their instance stopped (crashed, killed) while generating them.

Their lease on the conversation runs out; whoever notices first (a new send, a stop, the start of
an instance, the ``recover_stale_replies`` job) stores the text they had as ``finish_reason`` ``error``
(``error_code`` ``interrupted``) and charges its estimated usage, exactly once: the message's own
"still generating?" check lets only one finisher win.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from src.application.llm.ports import ModelCatalog
from src.application.shared.ids import new_id
from src.application.shared.ports import UnitOfWork
from src.domain.chat.context import message_tokens
from src.domain.chat.grounding import mark_cited
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.llm.model import FinishReason, Usage, estimate_tokens
from src.domain.usage.model import UsageKind, UsageRecord

INTERRUPTED = "interrupted"


def reply_cost(catalog: ModelCatalog, model: str | None, usage: Usage) -> int:
    """The cost of ``usage`` at the catalog price of ``model`` (0 for a model the catalog lost)."""
    info = catalog.get(model) if model else None
    return info.pricing.cost_micros(usage) if info is not None else 0


def usage_record_for(message: Message, *, now: datetime, requested_model: str | None = None) -> UsageRecord:
    """The usage record of a finished reply; ``requested_model`` (the model asked for, when known)
    tells whether a fallback answered."""
    assert message.usage is not None
    return UsageRecord(
        id=new_id(now),
        user_id=message.user_id,
        kind=UsageKind.REPLY,
        model=message.model or "",
        provider=message.provider or (message.model or "").partition("/")[0],
        usage=message.usage,
        cost_micros=message.cost_micros,
        created_at=now,
        conversation_id=message.conversation_id,
        message_id=message.id,
        latency_ms=message.latency_ms,
        ttft_ms=message.ttft_ms,
        error_code=message.error_code,
        fallback=requested_model is not None and message.model is not None and message.model != requested_model,
    )


async def interrupt_stale_reply(
    tx: UnitOfWork, conversation: Conversation, message_id: uuid.UUID, *, now: datetime, catalog: ModelCatalog
) -> bool:
    """Finish the generating ``message_id`` of ``conversation`` as interrupted and free the
    conversation. ``False`` when there was nothing to do (already finished by someone else)."""
    message = await tx.messages.get(message_id)
    if message is None or message.status is not MessageStatus.GENERATING:
        return await tx.conversations.release_reply(conversation.id, message_id, token_total=None, now=now)
    if not message.content:
        # The model never wrote anything: there is no reply to keep.
        await tx.messages.delete(message.id)
        return await tx.conversations.release_reply(conversation.id, message_id, token_total=None, now=now)
    # What the prompt held is not known any more; the output is estimated from the text kept.
    usage = Usage(input_tokens=0, output_tokens=estimate_tokens(message.content), estimated=True)
    message.status = MessageStatus.COMPLETE
    message.finish_reason = FinishReason.ERROR
    message.error_code = INTERRUPTED
    message.citations = mark_cited(message.citations, message.content)
    message.usage = usage
    message.cost_micros = reply_cost(catalog, message.model, usage)
    message.token_start = conversation.token_total
    message.token_count = message_tokens(message.content)
    message.last_event_id = message.last_event_id + 1
    message.updated_at = now
    finished = await tx.messages.finish(message)
    if finished:
        await tx.usage.record(usage_record_for(message, now=now))
    await tx.conversations.release_reply(
        conversation.id, message_id, token_total=conversation.token_total + message.token_count, now=now
    )
    return finished
