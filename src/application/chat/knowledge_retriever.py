"""KnowledgeBaseRetriever: the passages of a grounded reply, from the knowledge context's indexes.

"The user's knowledge" is:

- the user's **own** articles, whatever their status and visibility (drafts and private notes are
  knowledge too). Other users' articles, even published public ones, are never used: a reply is
  grounded in what its user wrote, and nobody can steer another user's model by publishing text.
  A grounding with tags keeps only the articles carrying at least one of them;
- the stored **paragraphs** (they belong to no one), only for ``knowledge: true``: paragraphs have no
  tags, so a grounding by tags never includes them.

The user's message becomes a word query (``retrieval_query``: stop words out, ``or``, ranked); each
kind is ranked by its full-text index (``ts_rank`` / BM25: the same searches as ``GET /api/v1/search``)
and the best ``limit`` of both together are loaded, ties newest first. The paragraphs are searched
for the message's rarest words only (``selective_query``, from the word counts the dictionary keeps),
which bounds the ranking however many paragraphs there are. A user without the ``knowledge:read``
permission gets no passages (the reply is simply not grounded).
"""

from __future__ import annotations

import uuid

from src.application.knowledge.ports import KnowledgeTransaction, RankedHit
from src.domain.chat.defaults import DEFAULT_EXCERPT_CHARS, MAX_PASSAGES
from src.domain.chat.grounding import (
    Passage,
    PassageKind,
    passage_excerpt,
    retrieval_query,
    selective_query,
)
from src.domain.chat.model import Grounding
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.snippets import make_snippet


class KnowledgeBaseRetriever:
    def __init__(self, *, excerpt_chars: int = DEFAULT_EXCERPT_CHARS) -> None:
        self._excerpt_chars = excerpt_chars

    async def retrieve(
        self, tx: KnowledgeTransaction, principal: Principal, text: str, grounding: Grounding, limit: int
    ) -> list[Passage]:
        limit = min(limit, MAX_PASSAGES)
        if limit <= 0 or not principal.can(Permission.KNOWLEDGE_READ):
            return []
        query = retrieval_query(text)
        if query is None:
            return []
        user_id = principal.user_id
        ranked: list[tuple[PassageKind, RankedHit]] = []
        articles = await tx.articles.rank(query, reader_id=user_id, author_id=user_id, tags=grounding.tags, limit=limit)
        ranked += [(PassageKind.ARTICLE, hit) for hit in articles.hits]
        if grounding.tags is None:
            # Paragraphs are everyone's and may be many: only the message's rare words are searched.
            selective = selective_query(query, await tx.word_counts.counts(query.words))
            if selective is not None:
                paragraphs = await tx.paragraphs.rank(selective, limit=limit)
                ranked += [(PassageKind.PARAGRAPH, hit) for hit in paragraphs.hits]
        ranked.sort(key=lambda item: (-item[1].score, -item[1].created_at.timestamp(), item[0].value, item[1].id))
        best = ranked[:limit]

        found: dict[tuple[PassageKind, uuid.UUID], Passage] = {}
        article_ids = [hit.id for kind, hit in best if kind is PassageKind.ARTICLE]
        for article in await tx.articles.get_many(article_ids) if article_ids else []:
            if article.author_id != user_id:  # never another user's, whatever an index says
                continue
            body = article.body or article.title
            found[(PassageKind.ARTICLE, article.id)] = Passage(
                kind=PassageKind.ARTICLE,
                id=article.id,
                title=article.title,
                excerpt=passage_excerpt(body, query.words, length=self._excerpt_chars),
                snippet=make_snippet(body, query.words),
            )
        paragraph_ids = [hit.id for kind, hit in best if kind is PassageKind.PARAGRAPH]
        for paragraph in await tx.paragraphs.get_many(paragraph_ids) if paragraph_ids else []:
            found[(PassageKind.PARAGRAPH, paragraph.id)] = Passage(
                kind=PassageKind.PARAGRAPH,
                id=paragraph.id,
                title=None,
                excerpt=passage_excerpt(paragraph.content, query.words, length=self._excerpt_chars),
                snippet=make_snippet(paragraph.content, query.words),
            )
        # Best first; a hit deleted between ranking and loading is left out.
        return [found[(kind, hit.id)] for kind, hit in best if (kind, hit.id) in found]
