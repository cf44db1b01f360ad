"""A ``/v1`` chat completion with ``store: true`` saved as a conversation of the caller's: the prompt's
messages and the answer, in the call's transaction (``CompleteChat``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from src.application.chat.ports import ChargedChatTransaction
from src.application.shared.ids import new_id
from src.domain.chat.context import message_tokens
from src.domain.chat.model import Conversation, Message, MessageStatus
from src.domain.identity.model import Principal
from src.domain.llm.model import ChatRequest, FinishReason, MessageRole, Usage


async def store_exchange(
    tx: ChargedChatTransaction,
    principal: Principal,
    temperature: float | None,
    request: ChatRequest,
    text: str,
    finish_reason: FinishReason,
    usage: Usage,
    model: str,
    cost: int,
    error_code: str | None,
    now: datetime,
) -> tuple[uuid.UUID, uuid.UUID]:
    """A new conversation holding the prompt's messages and the answer; (its id, the answer's id)."""
    system = request.system_prompt
    conversation = Conversation.start(
        id=new_id(now),
        user_id=principal.user_id,
        model=request.model,
        now=now,
        system_prompt=system,
        temperature=temperature,
    )
    messages: list[Message] = []
    for prompt in request.conversation:
        message = Message(
            id=new_id(now),
            conversation_id=conversation.id,
            user_id=conversation.user_id,
            seq=conversation.next_seq,
            role=prompt.role,
            content=prompt.content,
            status=MessageStatus.COMPLETE,
            created_at=now,
            updated_at=now,
            model=request.model,
            provider=request.model_id.provider,
            token_start=conversation.token_total,
            token_count=message_tokens(prompt.content),
        )
        messages.append(message)
        conversation.next_seq += 1
        conversation.token_total += message.token_count
    answer = Message(
        id=new_id(now),
        conversation_id=conversation.id,
        user_id=conversation.user_id,
        seq=conversation.next_seq,
        role=MessageRole.ASSISTANT,
        content=text,
        status=MessageStatus.COMPLETE,
        created_at=now,
        updated_at=now,
        model=model,
        provider=model.partition("/")[0],
        finish_reason=finish_reason,
        usage=usage,
        cost_micros=cost,
        error_code=error_code,
        token_start=conversation.token_total,
        token_count=message_tokens(text),
        last_event_id=1,
    )
    conversation.next_seq += 1
    conversation.token_total += answer.token_count
    await tx.conversations.add(conversation)
    for message in (*messages, answer):
        await tx.messages.add(message)
    return conversation.id, answer.id
