"""GetDictionary: the dictionary of the most used words, with their definitions (knowledge:read)."""

from __future__ import annotations

from dataclasses import dataclass

from src.application.knowledge.articles import require
from src.application.knowledge.dictionary import TopWordsDefinitions
from src.application.knowledge.views import DictionaryView
from src.domain.identity.model import Permission, Principal


@dataclass(frozen=True, slots=True)
class GetDictionaryQuery:
    exclude_stopwords: bool = False


class GetDictionary:
    def __init__(self, levels: TopWordsDefinitions) -> None:
        self._levels = levels

    async def __call__(self, principal: Principal, query: GetDictionaryQuery) -> DictionaryView:
        require(principal, Permission.KNOWLEDGE_READ)
        return await self._levels.answer(exclude_stopwords=query.exclude_stopwords)
