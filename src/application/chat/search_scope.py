"""The ``messages`` scope of the unified search (``GET /api/v1/search``): the caller's own messages.

A ``SearchScope`` (``src/application/knowledge/ports.py``) over the chat messages' full-text index
(``MessageRepository.search``: PostgreSQL GIN / SQLite FTS5), registered beside the knowledge scopes
in the container. A hit's title is its conversation's, and it names the conversation
(``conversation_id``) so that a client can open it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from src.application.chat.ports import ChatTransaction
from src.application.knowledge.ports import RankedHit, Ranking, SearchDocument
from src.domain.chat.model import MessageStatus
from src.domain.identity.model import Principal
from src.domain.knowledge.words import SearchOperator, SearchQuery


class MessageSearchScope:
    """Only the caller's own complete messages: replies being written and other users' never match."""

    name = "messages"

    async def rank(self, tx: ChatTransaction, principal: Principal, query: SearchQuery, limit: int) -> Ranking:
        hits, total = await tx.messages.search(
            principal.user_id,
            " ".join(query.words),
            limit=limit,
            offset=0,
            any_word=query.operator is SearchOperator.OR,
        )
        return Ranking(
            hits=[RankedHit(id=h.message.id, score=h.rank, created_at=h.message.created_at) for h in hits], total=total
        )

    async def load(self, tx: ChatTransaction, principal: Principal, ids: Sequence[uuid.UUID]) -> list[SearchDocument]:
        documents: list[SearchDocument] = []
        titles: dict[uuid.UUID, str | None] = {}
        for message_id in ids:
            message = await tx.messages.get(message_id)
            if message is None or message.user_id != principal.user_id or message.status is not MessageStatus.COMPLETE:
                continue
            if message.conversation_id not in titles:
                conversation = await tx.conversations.get(message.conversation_id, user_id=principal.user_id)
                titles[message.conversation_id] = conversation.title if conversation else None
            documents.append(
                SearchDocument(
                    id=message.id,
                    title=titles[message.conversation_id],
                    text=message.content,
                    created_at=message.created_at,
                    conversation_id=message.conversation_id,
                )
            )
        return documents
