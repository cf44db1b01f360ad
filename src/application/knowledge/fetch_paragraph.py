"""Fetch one paragraph from the paragraph source, store it, count its words, refresh the dictionary.

The paragraph, its search-index terms, its word counts and the job that refreshes the dictionary
caches are written in one transaction: all of them, or (the source failed, the text is garbage, the
database refused) none. Right after the commit the cached counts and answers are dropped, so a
dictionary read that follows the fetch counts the new paragraph (the job then warms the caches).
"""

from __future__ import annotations

from src.application.knowledge.articles import require
from src.application.knowledge.dictionary import TopWordsDefinitions
from src.application.knowledge.jobs import REFRESH_DICTIONARY_JOB
from src.application.knowledge.ports import KnowledgeTransaction, ParagraphSource
from src.application.knowledge.views import ParagraphView
from src.application.shared.events import record_event
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.errors import InvalidParagraph, ParagraphSourceFailed
from src.domain.knowledge.events import ParagraphsFetched
from src.domain.knowledge.model import Paragraph, clean_paragraph
from src.domain.knowledge.words import count_words


class FetchParagraph:
    def __init__(
        self,
        uow: UnitOfWorkFactory[KnowledgeTransaction],
        source: ParagraphSource,
        clock: Clock,
        dictionary: TopWordsDefinitions | None = None,
    ) -> None:
        self._uow = uow
        self._source = source
        self._clock = clock
        self._dictionary = dictionary

    async def __call__(self, principal: Principal) -> ParagraphView:
        require(principal, Permission.KNOWLEDGE_WRITE)
        text = await self._source.fetch()
        try:
            content = clean_paragraph(text)
        except InvalidParagraph as exc:
            raise ParagraphSourceFailed(
                f"The paragraph source answered something that is not a paragraph: {exc}"
            ) from exc
        now = self._clock.now()
        paragraph = Paragraph(id=new_id(now), content=content, created_at=now)
        async with self._uow() as tx:
            await tx.paragraphs.add(paragraph)
            await tx.word_counts.add(count_words(content))
            await tx.outbox.add(REFRESH_DICTIONARY_JOB, {"paragraph_id": str(paragraph.id)})
            await record_event(
                tx,
                ParagraphsFetched(
                    event_id=new_id(now), occurred_at=now, user_id=principal.user_id, paragraph_ids=(str(paragraph.id),)
                ),
            )
        if self._dictionary is not None:
            await self._dictionary.forget_counts()
        return ParagraphView.of(paragraph)
