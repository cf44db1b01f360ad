"""SQLAlchemy models of the knowledge context: articles and their tags, paragraphs, word counts.

The full-text indexes are not models: they differ by database (a ``tsvector`` table with a GIN index
on PostgreSQL, an FTS5 virtual table on SQLite), so the knowledge migration creates them and
``knowledge_search_index.py`` reads and writes them. ``SEARCH_INDEX_TABLES`` names them for
Alembic's autogenerate, which must neither drop them nor compare them with the models.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from src.infrastructure.persistence.orm import GUID, DateTimeUTC, DefaultBase, UUIDv7AuditBase

#: Tables the knowledge migration creates outside the models (and, on SQLite, FTS5's own tables
#: named after them: ``paragraph_search_data``, ``paragraph_search_idx``, ...).
SEARCH_INDEX_TABLES = ("paragraph_search", "article_search")


class ArticleModel(UUIDv7AuditBase):
    __tablename__ = "article"
    __table_args__ = (
        # "My articles, newest first" and the author filter.
        Index("ix_article_author_id_created_at", "author_id", "created_at"),
        # Everyone's published public articles, newest first.
        Index("ix_article_status_visibility_created_at", "status", "visibility", "created_at"),
    )

    author_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("user_account.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    visibility: Mapped[str] = mapped_column(String(20))
    #: When a moderator hid it (``None``: not hidden).
    hidden_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class TagModel(UUIDv7AuditBase):
    """A tag's name, lower-cased (see ``normalise_tag``), shared by every article that has it."""

    __tablename__ = "tag"
    __table_args__ = (UniqueConstraint("name", name="uq_tag_name"),)

    name: Mapped[str] = mapped_column(String(50))


class ArticleTagModel(DefaultBase):
    """Which article has which tag (many to many)."""

    __tablename__ = "article_tag"
    __table_args__ = (Index("ix_article_tag_tag_id", "tag_id"),)

    article_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True)


class ParagraphModel(UUIDv7AuditBase):
    """A paragraph from the paragraph source. Its terms are in two indexes: ``paragraph_term_bitmap``
    (exact counts and pages, by ``seq``) and ``paragraph_search`` (relevance ranking)."""

    __tablename__ = "paragraph"
    __table_args__ = (UniqueConstraint("seq", name="uq_paragraph_seq"),)

    content: Mapped[str] = mapped_column(Text)
    #: 1, 2, 3, ... in the order paragraphs were stored (gaps allowed): their place in the bitmaps.
    seq: Mapped[int] = mapped_column(BigInteger)


class ParagraphTermBitmapModel(DefaultBase):
    """Which paragraphs (by ``seq``, one chunk of 8192 at a time) hold a term: see knowledge_bitmaps.py."""

    __tablename__ = "paragraph_term_bitmap"

    term: Mapped[str] = mapped_column(String(200), primary_key=True)
    chunk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bits: Mapped[bytes] = mapped_column(LargeBinary)


class WordCountModel(DefaultBase):
    """How often each word occurs over all paragraphs, added to as each paragraph is stored."""

    __tablename__ = "word_count"
    __table_args__ = (
        # The dictionary's "most frequent first" walks this index instead of sorting the table.
        Index("ix_word_count_count_word", "count", "word"),
    )

    #: At most 50 characters as written; lower-casing may lengthen a few (İ), hence the room.
    word: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
