"""Knowledge repositories: articles (with tags), paragraphs and word counts, on one ``AsyncSession``.

Rows are mapped to and from the domain's entities here. Searches are answered by the full-text
indexes of ``knowledge_search_index.py``, never by reading the texts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from src.application.knowledge.ports import ArticleFilter, RankedHit, Ranking
from src.domain.knowledge.model import Article, ArticleStatus, Paragraph, Visibility, WordFrequency
from src.domain.knowledge.words import SearchQuery, index_terms
from src.infrastructure.persistence.driver import fetch_on_driver
from src.infrastructure.persistence.knowledge_bitmaps import PostingBitmaps, postings
from src.infrastructure.persistence.knowledge_models import (
    ArticleModel,
    ArticleTagModel,
    ParagraphModel,
    TagModel,
    WordCountModel,
)
from src.infrastructure.persistence.knowledge_search_index import ARTICLE_INDEX, PARAGRAPH_INDEX, SearchIndex

#: Rows per multi-row INSERT (SQLite allows at most 32766 bound values in one statement).
INSERT_BATCH = 1000


_PARAGRAPHS = ParagraphModel.__table__
#: A search's page of paragraphs by sequence number: on PostgreSQL straight on the driver (see
#: ``driver.fetch_on_driver``), on SQLite a prebuilt statement.
_PARAGRAPHS_BY_SEQ_POSTGRES = (
    f"SELECT id, content, created_at FROM {ParagraphModel.__tablename__} WHERE seq = ANY($1::bigint[]) ORDER BY seq"
)
_PARAGRAPHS_BY_SEQ_SQLITE = (
    sa.select(_PARAGRAPHS.c.id, _PARAGRAPHS.c.content, _PARAGRAPHS.c.created_at)
    .where(_PARAGRAPHS.c.seq.in_(sa.bindparam("p_seqs", expanding=True)))
    .order_by(_PARAGRAPHS.c.seq)
)


def _upsert(session: AsyncSession) -> Any:
    return postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


class SqlParagraphRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._postgres = session.get_bind().dialect.name == "postgresql"
        self._index = SearchIndex.for_session(session, PARAGRAPH_INDEX)
        self._bitmaps = PostingBitmaps(session)

    async def add(self, paragraph: Paragraph) -> None:
        await self.add_many([paragraph])

    async def add_many(self, paragraphs: Sequence[Paragraph]) -> None:
        """Store and index many paragraphs with few statements (bulk loads; word counts apart)."""
        for start in range(0, len(paragraphs), INSERT_BATCH):
            batch = paragraphs[start : start + INSERT_BATCH]
            seqs = await self._next_seqs(len(batch))
            terms = [index_terms(p.content) for p in batch]
            await self._session.execute(
                sa.insert(ParagraphModel),
                [
                    {
                        "id": p.id,
                        "seq": seq,
                        "content": p.content,
                        "created_at": p.created_at,
                        "updated_at": p.created_at,
                    }
                    for p, seq in zip(batch, seqs, strict=True)
                ],
            )
            await self._index.put_terms(self._session, [(p.id, [t]) for p, t in zip(batch, terms, strict=True)])
            await self._bitmaps.add(postings((seq, {t.text for t in ts}) for seq, ts in zip(seqs, terms, strict=True)))

    async def _next_seqs(self, count: int) -> list[int]:
        if self._postgres:
            found = await self._session.scalars(
                sa.select(sa.func.nextval("paragraph_seq")).select_from(sa.func.generate_series(1, count))
            )
            return sorted(int(seq) for seq in found)
        # SQLite has one writer (every writing transaction begins IMMEDIATE): max + 1 is safe.
        last = await self._session.scalar(sa.select(sa.func.coalesce(sa.func.max(ParagraphModel.seq), 0)))
        return list(range(int(last or 0) + 1, int(last or 0) + 1 + count))

    async def get_many(self, paragraph_ids: Sequence[uuid.UUID]) -> list[Paragraph]:
        if not paragraph_ids:
            return []
        rows = await self._session.scalars(sa.select(ParagraphModel).where(ParagraphModel.id.in_(paragraph_ids)))
        return [_to_paragraph(row) for row in rows]

    async def search(self, query: SearchQuery, *, limit: int, offset: int) -> tuple[list[Paragraph], int]:
        # The posting bitmaps answer both the exact total and the page (see knowledge_bitmaps.py).
        seqs, total = await self._bitmaps.search(query, limit=limit, offset=offset)
        if not seqs:
            return [], total
        if self._session.get_bind().dialect.name == "postgresql":
            records = await fetch_on_driver(self._session, _PARAGRAPHS_BY_SEQ_POSTGRES, seqs)
            return [Paragraph(id=r["id"], content=r["content"], created_at=r["created_at"]) for r in records], total
        rows = await self._session.execute(_PARAGRAPHS_BY_SEQ_SQLITE, {"p_seqs": seqs})
        return [Paragraph(id=row.id, content=row.content, created_at=row.created_at) for row in rows], total

    async def rank(self, query: SearchQuery, *, limit: int) -> Ranking:
        index = self._index
        matching = index.table.join(ParagraphModel, ParagraphModel.id == index.owner_id)
        total = int(
            await self._session.scalar(sa.select(sa.func.count()).select_from(index.table).where(index.matches(query)))
            or 0
        )
        score = index.score(query).label("score")
        ranked = await self._session.execute(
            sa.select(ParagraphModel.id, score, ParagraphModel.created_at)
            .select_from(matching)
            .where(index.matches(query))
            .order_by(score.desc(), ParagraphModel.created_at.desc())
            .limit(limit)
        )
        return Ranking([RankedHit(row.id, float(row.score), row.created_at) for row in ranked], total)


def _to_paragraph(row: ParagraphModel) -> Paragraph:
    return Paragraph(id=row.id, content=row.content, created_at=row.created_at)


class SqlWordCountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, counts: Mapping[str, int]) -> None:
        # In word order: concurrent writers lock the rows they share in one order (no deadlock),
        # and INSERT ... ON CONFLICT DO UPDATE adds to the row another writer just committed.
        rows = [{"word": word, "count": count} for word, count in sorted(counts.items()) if count > 0]
        insert = _upsert(self._session)
        for start in range(0, len(rows), INSERT_BATCH):
            statement = insert(WordCountModel).values(rows[start : start + INSERT_BATCH])
            statement = statement.on_conflict_do_update(
                index_elements=[WordCountModel.word],
                set_={"count": WordCountModel.count + statement.excluded["count"]},
            )
            await self._session.execute(statement)

    async def top(self, limit: int, *, excluding: frozenset[str] = frozenset()) -> list[WordFrequency]:
        query = sa.select(WordCountModel.word, WordCountModel.count)
        if excluding:
            query = query.where(WordCountModel.word.not_in(sorted(excluding)))
        query = query.order_by(WordCountModel.count.desc(), WordCountModel.word).limit(limit)
        return [WordFrequency(word, int(count)) for word, count in await self._session.execute(query)]

    async def counts(self, words: Sequence[str]) -> dict[str, int]:
        if not words:
            return {}
        rows = await self._session.execute(
            sa.select(WordCountModel.word, WordCountModel.count).where(WordCountModel.word.in_(sorted(set(words))))
        )
        return {word: int(count) for word, count in rows if count > 0}


def _readable_by(reader_id: uuid.UUID) -> sa.ColumnElement[bool]:
    return sa.or_(
        ArticleModel.author_id == reader_id,
        sa.and_(
            ArticleModel.status == ArticleStatus.PUBLISHED.value,
            ArticleModel.visibility == Visibility.PUBLIC.value,
            # A moderator hid it: lists, search and grounding show it to its author only.
            ArticleModel.hidden_at.is_(None),
        ),
    )


class SqlArticleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._index = SearchIndex.for_session(session, ARTICLE_INDEX)

    async def add(self, article: Article) -> None:
        await self._session.execute(
            sa.insert(ArticleModel).values(
                id=article.id,
                author_id=article.author_id,
                title=article.title,
                body=article.body,
                status=article.status.value,
                visibility=article.visibility.value,
                created_at=article.created_at,
                updated_at=article.updated_at,
            )
        )
        await self._set_tags(article.id, article.tags, now=article.updated_at, replace=False)
        await self._index.put(self._session, article.id, [article.title, article.body])

    async def get(self, article_id: uuid.UUID) -> Article | None:
        found = await self.get_many([article_id])
        return found[0] if found else None

    async def get_many(self, article_ids: Sequence[uuid.UUID]) -> list[Article]:
        if not article_ids:
            return []
        rows = list(await self._session.scalars(sa.select(ArticleModel).where(ArticleModel.id.in_(article_ids))))
        tags = await self._tags_of([r.id for r in rows])
        return [_to_article(row, tags.get(row.id, ())) for row in rows]

    async def save(self, article: Article) -> None:
        result = await self._session.execute(
            sa.update(ArticleModel)
            .where(ArticleModel.id == article.id)
            .values(
                title=article.title,
                body=article.body,
                status=article.status.value,
                visibility=article.visibility.value,
                updated_at=article.updated_at,
                hidden_at=article.hidden_at,
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LookupError(f"article {article.id} does not exist")
        await self._set_tags(article.id, article.tags, now=article.updated_at, replace=True)
        await self._index.replace(self._session, article.id, [article.title, article.body])

    async def delete(self, article_id: uuid.UUID) -> None:
        # Tags go with the article (ON DELETE CASCADE); an FTS5 table has no foreign keys.
        await self._index.remove(self._session, article_id)
        await self._session.execute(sa.delete(ArticleModel).where(ArticleModel.id == article_id))

    async def list(self, article_filter: ArticleFilter, *, limit: int, offset: int) -> tuple[list[Article], int]:
        conditions: list[sa.ColumnElement[bool]] = [_readable_by(article_filter.reader_id)]
        if article_filter.author_id is not None:
            conditions.append(ArticleModel.author_id == article_filter.author_id)
        if article_filter.status is not None:
            conditions.append(ArticleModel.status == article_filter.status.value)
        if article_filter.tag is not None:
            conditions.append(
                sa.exists()
                .where(ArticleTagModel.article_id == ArticleModel.id)
                .where(ArticleTagModel.tag_id == TagModel.id)
                .where(TagModel.name == article_filter.tag)
            )
        if article_filter.query is not None:
            index = self._index
            matching = sa.select(index.owner_id).select_from(index.table).where(index.matches(article_filter.query))
            conditions.append(ArticleModel.id.in_(matching))
        total = int(await self._session.scalar(sa.select(sa.func.count(ArticleModel.id)).where(*conditions)) or 0)
        if total <= offset:
            return [], total
        rows = list(
            await self._session.scalars(
                sa.select(ArticleModel)
                .where(*conditions)
                .order_by(ArticleModel.created_at.desc(), ArticleModel.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
        tags = await self._tags_of([r.id for r in rows])
        return [_to_article(row, tags.get(row.id, ())) for row in rows], total

    async def rank(
        self,
        query: SearchQuery,
        *,
        reader_id: uuid.UUID,
        limit: int,
        author_id: uuid.UUID | None = None,
        tags: Sequence[str] | None = None,
    ) -> Ranking:
        index = self._index
        matching = index.table.join(ArticleModel, ArticleModel.id == index.owner_id)
        conditions = [index.matches(query), _readable_by(reader_id)]
        if author_id is not None:
            conditions.append(ArticleModel.author_id == author_id)
        if tags is not None:
            conditions.append(
                sa.exists()
                .where(ArticleTagModel.article_id == ArticleModel.id)
                .where(ArticleTagModel.tag_id == TagModel.id)
                .where(TagModel.name.in_(list(tags)))
            )
        total = int(
            await self._session.scalar(sa.select(sa.func.count()).select_from(matching).where(*conditions)) or 0
        )
        score = index.score(query).label("score")
        ranked = await self._session.execute(
            sa.select(ArticleModel.id, score, ArticleModel.created_at)
            .select_from(matching)
            .where(*conditions)
            .order_by(score.desc(), ArticleModel.created_at.desc())
            .limit(limit)
        )
        return Ranking([RankedHit(row.id, float(row.score), row.created_at) for row in ranked], total)

    async def _tags_of(self, article_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[str, ...]]:
        if not article_ids:
            return {}
        rows = await self._session.execute(
            sa.select(ArticleTagModel.article_id, TagModel.name)
            .join(TagModel, TagModel.id == ArticleTagModel.tag_id)
            .where(ArticleTagModel.article_id.in_(article_ids))
        )
        found: dict[uuid.UUID, list[str]] = {}
        for article_id, name in rows:
            found.setdefault(article_id, []).append(name)
        return {k: tuple(sorted(v)) for k, v in found.items()}

    async def _set_tags(self, article_id: uuid.UUID, tags: Sequence[str], *, now: datetime, replace: bool) -> None:
        if replace:
            await self._session.execute(sa.delete(ArticleTagModel).where(ArticleTagModel.article_id == article_id))
        if not tags:
            return
        insert = _upsert(self._session)
        # Tags are shared: a tag another writer creates at the same moment is taken, not duplicated.
        await self._session.execute(
            insert(TagModel)
            .values([{"id": uuid7(), "name": name, "created_at": now, "updated_at": now} for name in tags])
            .on_conflict_do_nothing(index_elements=[TagModel.name])
        )
        tag_ids = list(await self._session.scalars(sa.select(TagModel.id).where(TagModel.name.in_(tags))))
        await self._session.execute(
            sa.insert(ArticleTagModel), [{"article_id": article_id, "tag_id": tag_id} for tag_id in tag_ids]
        )


def _to_article(row: ArticleModel, tags: tuple[str, ...]) -> Article:
    return Article(
        id=row.id,
        author_id=row.author_id,
        title=row.title,
        body=row.body,
        tags=tags,
        status=ArticleStatus(row.status),
        visibility=Visibility(row.visibility),
        created_at=row.created_at,
        updated_at=row.updated_at,
        hidden_at=row.hidden_at,
    )
