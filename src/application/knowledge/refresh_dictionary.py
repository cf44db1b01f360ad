"""RefreshDictionary: the background job after each fetch: fresh levels 1 and 3, with and without stop words."""

from __future__ import annotations

from src.application.knowledge.dictionary import TopWordsDefinitions


class RefreshDictionary:
    """The background job after each fetch: fresh levels 1 and 3, with and without stop words."""

    def __init__(self, levels: TopWordsDefinitions) -> None:
        self._levels = levels

    async def __call__(self) -> dict[str, list[str]]:
        refreshed: dict[str, list[str]] = {}
        for exclude_stopwords in (False, True):
            view = await self._levels.refresh(exclude_stopwords=exclude_stopwords)
            refreshed["exclude_stopwords" if exclude_stopwords else "all"] = [e.word for e in view.words]
        return refreshed
