"""The dictionary: the ten most frequent words over all paragraphs, with definitions and phonetics.

Three cache levels, with the reference service's keys and lifetimes:

=====  ==========================================  ========  =====================================
level  key (under the cache's own prefix)          lifetime  holds
=====  ==========================================  ========  =====================================
3      ``knowledge:top_words_definitions:10``      1 hour    the whole answer
1      ``knowledge:word_frequencies:all``          30 min    the top words and their counts
2      ``knowledge:word_definition:<word>``        24 hours  one word's definition
=====  ==========================================  ========  =====================================

(``:exclude_stopwords`` is appended to the level 3 and level 1 keys of the answer without stop
words.) A request reads level 3; on a miss level 1, and on a miss there the word counts table (kept
up to date as paragraphs arrive: never a recount); then level 2 for each word, and the dictionary
service for the words missing there, in parallel with at most ``concurrency`` lookups at once. A
cache that is down is a miss at every level: the answer then comes straight from the database and
the dictionary service. Definitions of a word the service could not be asked about are left empty,
that answer says ``definitions_available: false`` and is not cached, so the next request asks again.

A fetch drops levels 1 and 3 when it commits (``forget_counts``), so whoever fetched reads their
own write at once (an uncached read of the counts costs milliseconds); a computation that was under
way in this process when they were dropped stores nothing. ``RefreshDictionary`` (the job each fetch
triggers) then recomputes levels 1 and 3 from the database and warms the new words' definitions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from src.application.knowledge.ports import Dictionary, KnowledgeTransaction
from src.application.knowledge.views import DictionaryEntry, DictionaryView
from src.application.shared.ports import Cache, CacheStats, UnitOfWorkFactory
from src.domain.knowledge.errors import DictionaryLookupFailed
from src.domain.knowledge.model import WordDefinition, WordFrequency
from src.domain.knowledge.stopwords import STOP_WORDS

TOP_WORDS = 10
ANSWER_TTL = 60 * 60
FREQUENCIES_TTL = 30 * 60
DEFINITION_TTL = 24 * 60 * 60
KEY_PREFIX = "knowledge:"


def answer_key(exclude_stopwords: bool) -> str:
    return f"{KEY_PREFIX}top_words_definitions:{TOP_WORDS}" + (":exclude_stopwords" if exclude_stopwords else "")


def frequencies_key(exclude_stopwords: bool) -> str:
    return f"{KEY_PREFIX}word_frequencies:all" + (":exclude_stopwords" if exclude_stopwords else "")


def definition_key(word: str) -> str:
    return f"{KEY_PREFIX}word_definition:{word}"


@dataclass(frozen=True, slots=True)
class TopWords:
    """Level 1: the most frequent words and their counts."""

    words: tuple[WordFrequency, ...]


class TopWordsDefinitions:
    """The three levels, shared by the request (``GetDictionary``) and the job (``RefreshDictionary``)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory[KnowledgeTransaction],
        cache: Cache,
        dictionary: Dictionary,
        *,
        concurrency: int = 5,
        stats: CacheStats | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._uow = uow
        self._cache = cache
        self._dictionary = dictionary
        self._concurrency = concurrency
        self._stats = stats
        # One computation per answer at a time in this process: a burst of requests on a cold
        # cache reads the database and the dictionary service once.
        self._flights: dict[str, asyncio.Task[DictionaryView]] = {}
        # Bumped when the counts change: a computation that read them before stores nothing.
        self._generation = 0

    async def forget_counts(self) -> None:
        """The word counts changed (a paragraph was committed): drop levels 1 and 3, both variants."""
        self._generation += 1
        self._flights.clear()
        await self._cache.delete(*(k(flag) for k in (answer_key, frequencies_key) for flag in (False, True)))

    async def answer(self, *, exclude_stopwords: bool) -> DictionaryView:
        key = answer_key(exclude_stopwords)
        cached = await self._cache.get(key, DictionaryView)
        self._record("knowledge_dictionary", hit=cached is not None)
        if cached is not None:
            return cached
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.create_task(self._compute(exclude_stopwords, refresh=False))
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._land(key, done))
        return await asyncio.shield(flight)

    async def refresh(self, *, exclude_stopwords: bool) -> DictionaryView:
        """Recompute levels 1 and 3 from the database (level 2 is read as usual)."""
        return await self._compute(exclude_stopwords, refresh=True)

    def _land(self, key: str, done: asyncio.Task[DictionaryView]) -> None:
        if self._flights.get(key) is done:
            del self._flights[key]
        if not done.cancelled():
            done.exception()  # retrieved: every waiter may have gone

    async def _compute(self, exclude_stopwords: bool, *, refresh: bool) -> DictionaryView:
        generation = self._generation
        top = await self._top_words(exclude_stopwords, refresh=refresh)
        definitions, complete = await self._define_all([f.word for f in top.words])
        view = DictionaryView(
            words=tuple(
                DictionaryEntry(
                    word=f.word,
                    count=f.count,
                    definitions=definitions[f.word].definitions,
                    phonetic=definitions[f.word].phonetic,
                )
                for f in top.words
            ),
            definitions_available=complete and self._dictionary.available,
            exclude_stopwords=exclude_stopwords,
        )
        if complete and generation == self._generation:
            await self._cache.set(answer_key(exclude_stopwords), view, ANSWER_TTL)
        return view

    async def _top_words(self, exclude_stopwords: bool, *, refresh: bool) -> TopWords:
        key = frequencies_key(exclude_stopwords)
        if not refresh:
            cached = await self._cache.get(key, TopWords)
            self._record("knowledge_frequencies", hit=cached is not None)
            if cached is not None:
                return cached
        generation = self._generation
        async with self._uow(read_only=True) as tx:
            found = await tx.word_counts.top(TOP_WORDS, excluding=STOP_WORDS if exclude_stopwords else frozenset())
        top = TopWords(tuple(found))
        if generation == self._generation:
            await self._cache.set(key, top, FREQUENCIES_TTL)
        return top

    async def _define_all(self, words: list[str]) -> tuple[dict[str, WordDefinition], bool]:
        """Each word's definition, and whether every word could be looked up."""
        if not self._dictionary.available:
            return {w: WordDefinition(w, found=False) for w in words}, True
        limit = asyncio.Semaphore(self._concurrency)

        async def define(word: str) -> WordDefinition | None:
            key = definition_key(word)
            cached = await self._cache.get(key, WordDefinition)
            self._record("knowledge_definitions", hit=cached is not None)
            if cached is not None:
                return cached
            async with limit:
                try:
                    found = await self._dictionary.define(word)
                except DictionaryLookupFailed:
                    return None
            # A word the dictionary does not know is an answer too: cached like a definition.
            await self._cache.set(key, found, DEFINITION_TTL)
            return found

        results = await asyncio.gather(*(define(w) for w in words))
        definitions = {
            w: r if r is not None else WordDefinition(w, found=False) for w, r in zip(words, results, strict=True)
        }
        return definitions, all(r is not None for r in results)

    def _record(self, cache: str, *, hit: bool) -> None:
        if self._stats is not None:
            self._stats.record(cache, hit=hit)
