"""Full-text search over a user's own chat messages (the ``messages`` scope of unified search).

The index differs by database and is created by the chat migration, not from a model:

- PostgreSQL: a partial GIN index on ``to_tsvector('simple', content)`` of complete messages
  (``ix_chat_message_content_search``); the 'simple' configuration (no stemming, no stop words)
  matches words as written, in any language.
- SQLite: an FTS5 table ``chat_message_search`` (``content``, ``message_id``, ``user_id``) kept by
  triggers on ``chat_message``: a message enters it when it is complete and leaves it when deleted.
  Its rows share the message's rowid (Parley never runs VACUUM, which could renumber them).

Words are matched whole; all must appear (or any, with ``any_word``); results are ranked
(``ts_rank`` / ``bm25``), then newest first.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import Float, Integer, column, func, literal_column, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from src.application.chat.ports import MessageSearchHit
from src.infrastructure.persistence.chat_models import ChatMessageModel, ConversationModel
from src.infrastructure.persistence.chat_rows import message_of

SQLITE_TABLE = "chat_message_search"
POSTGRES_INDEX = "ix_chat_message_content_search"
#: Tables and indexes the migration manages by hand (autogenerate leaves them alone).
SEARCH_INDEX_TABLES: tuple[str, ...] = (SQLITE_TABLE,)
SEARCH_INDEXES: tuple[str, ...] = (POSTGRES_INDEX,)
MAX_TERMS = 20

_WORD = re.compile(r"\w+", re.UNICODE)
_COMPLETE = "complete"


def query_terms(query: str) -> list[str]:
    """The words of a search, lower-cased, without operators (user input is never query syntax)."""
    return [w.lower() for w in _WORD.findall(query)][:MAX_TERMS]


async def search_messages(
    session: AsyncSession, user_id: uuid.UUID, query: str, *, limit: int, offset: int, any_word: bool = False
) -> tuple[list[MessageSearchHit], int]:
    terms = query_terms(query)
    if not terms:
        return [], 0
    if session.get_bind().dialect.name == "postgresql":
        return await _postgres(session, user_id, terms, limit=limit, offset=offset, any_word=any_word)
    return await _sqlite(session, user_id, terms, limit=limit, offset=offset, any_word=any_word)


async def _postgres(
    session: AsyncSession, user_id: uuid.UUID, terms: list[str], *, limit: int, offset: int, any_word: bool
) -> tuple[list[MessageSearchHit], int]:
    config: Any = literal_column("'simple'::regconfig")
    # The same expression as the index, so the planner uses it.
    vector = func.to_tsvector(config, ChatMessageModel.content)
    # Terms are runs of word characters: no tsquery syntax can reach to_tsquery through them.
    tsquery = func.to_tsquery(config, (" | " if any_word else " & ").join(terms))
    conditions = [
        vector.op("@@")(tsquery),
        ChatMessageModel.status == _COMPLETE,
        ChatMessageModel.user_id == user_id,
    ]
    rank = func.ts_rank(vector, tsquery).label("rank")
    total = await session.scalar(select(func.count()).select_from(ChatMessageModel).where(*conditions))
    rows = await session.execute(
        select(ChatMessageModel, ConversationModel.title, rank)
        .join(ConversationModel, ConversationModel.id == ChatMessageModel.conversation_id)
        .where(*conditions)
        .order_by(rank.desc(), ChatMessageModel.created_at.desc(), ChatMessageModel.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return _hits(rows), int(total or 0)


async def _sqlite(
    session: AsyncSession, user_id: uuid.UUID, terms: list[str], *, limit: int, offset: int, any_word: bool
) -> tuple[list[MessageSearchHit], int]:
    index = table(SQLITE_TABLE, column("rowid", Integer))
    # Every term quoted: FTS5 syntax in the user's text is matched literally.
    joiner = " OR " if any_word else " "
    match = text(f"{SQLITE_TABLE} MATCH :match").bindparams(match=joiner.join(f'"{t}"' for t in terms))
    joined = ChatMessageModel.__table__.join(index, literal_column("chat_message.rowid") == index.c.rowid)
    conditions: list[Any] = [match, ChatMessageModel.user_id == user_id, ChatMessageModel.status == _COMPLETE]
    total = await session.scalar(select(func.count()).select_from(joined).where(*conditions))
    # bm25 is lower for better matches.
    rank = literal_column(f"bm25({SQLITE_TABLE})", Float).label("rank")
    rows = await session.execute(
        select(ChatMessageModel, ConversationModel.title, rank)
        .select_from(joined)
        .join(ConversationModel, ConversationModel.id == ChatMessageModel.conversation_id)
        .where(*conditions)
        .order_by(rank, ChatMessageModel.created_at.desc(), ChatMessageModel.id.desc())
        .limit(limit)
        .offset(offset)
    )
    hits = [
        MessageSearchHit(message=h.message, conversation_title=h.conversation_title, rank=-h.rank) for h in _hits(rows)
    ]
    return hits, int(total or 0)


def _hits(rows: Any) -> list[MessageSearchHit]:
    return [
        MessageSearchHit(message=message_of(row), conversation_title=title, rank=float(rank or 0.0))
        for row, title, rank in rows
    ]
