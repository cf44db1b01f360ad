"""Who may touch what: chat needs ``chat:use``, and a conversation is its owner's alone (someone
else's answers ``conversation_not_found``, never ``forbidden``: its existence is not revealed)."""

from __future__ import annotations

import uuid

from src.application.chat.ports import ChatTransaction
from src.domain.chat.errors import ConversationNotFound, MessageNotFound
from src.domain.chat.model import Conversation, Message
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal


def require_chat(principal: Principal) -> None:
    if not principal.can(Permission.CHAT_USE):
        raise Forbidden("This needs the chat:use permission")


async def owned_conversation(tx: ChatTransaction, principal: Principal, conversation_id: uuid.UUID) -> Conversation:
    require_chat(principal)
    conversation = await tx.conversations.get(conversation_id, user_id=principal.user_id)
    if conversation is None:
        raise ConversationNotFound()
    return conversation


async def message_in(tx: ChatTransaction, conversation: Conversation, message_id: uuid.UUID) -> Message:
    message = await tx.messages.get(message_id)
    if message is None or message.conversation_id != conversation.id:
        raise MessageNotFound()
    return message


async def owned_message(
    tx: ChatTransaction, principal: Principal, message_id: uuid.UUID, conversation_id: uuid.UUID | None = None
) -> tuple[Conversation, Message]:
    """A message of one of the caller's conversations (of ``conversation_id`` when given). Front doors
    that know only the message (the WebSocket ``stop`` and ``resume`` frames) leave the conversation out."""
    if conversation_id is not None:
        conversation = await owned_conversation(tx, principal, conversation_id)
        return conversation, await message_in(tx, conversation, message_id)
    require_chat(principal)
    message = await tx.messages.get(message_id)
    found = await tx.conversations.get(message.conversation_id, user_id=principal.user_id) if message else None
    if message is None or found is None:
        raise MessageNotFound()
    return found, message
