"""Fetching paragraphs (all or nothing) and searching them with the reference's semantics."""

from __future__ import annotations

import asyncio
import random

import pytest

from src.application.knowledge.get_dictionary import GetDictionaryQuery
from src.application.knowledge.jobs import REFRESH_DICTIONARY_JOB
from src.application.knowledge.views import SearchParagraphsQuery
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal
from src.domain.knowledge.errors import InvalidSearchQuery, InvalidSearchWord, ParagraphSourceFailed
from src.domain.shared.errors import InvalidInput
from tests.knowledge_support import random_query, random_text, reference_search
from tests.unit.knowledge.conftest import World, principal


async def test_a_fetched_paragraph_is_stored_counted_and_refreshes_the_dictionary(world: World, ada: Principal) -> None:
    world.source.texts = ["  One fish, two fish. Red fish!  "]
    view = await world.fetch_paragraph(ada)
    assert view.content == "One fish, two fish. Red fish!"
    assert list(world.db.knowledge.paragraphs) == [view.id]
    assert world.db.knowledge.word_counts == {"fish": 3, "one": 1, "two": 1, "red": 1}
    refresh, event = world.db.shared.outbox.values()
    assert (refresh.job_name, refresh.payload) == (REFRESH_DICTIONARY_JOB, {"paragraph_id": str(view.id)})
    # ... and, in the same transaction, the event the notifications context hears of.
    assert event.payload["type"] == "ParagraphsFetched"
    assert event.payload["event"]["paragraph_ids"] == [str(view.id)]


@pytest.mark.parametrize("garbage", ["", "   \n ", "<<>> !!! ...", "text with a \x00 NUL", "x " * 10_001])
async def test_a_source_answering_garbage_stores_nothing(world: World, ada: Principal, garbage: str) -> None:
    world.source.texts = [garbage]
    with pytest.raises(ParagraphSourceFailed):
        await world.fetch_paragraph(ada)
    assert world.db.knowledge.paragraphs == {}
    assert not world.db.knowledge.word_counts
    assert world.db.shared.outbox == {}


async def test_a_failing_source_stores_nothing(world: World, ada: Principal) -> None:
    world.source.fail_with = "The paragraph source failed: it did not answer within 5 s"
    with pytest.raises(ParagraphSourceFailed, match="did not answer"):
        await world.fetch_paragraph(ada)
    assert world.db.knowledge.paragraphs == {}
    assert world.db.shared.outbox == {}


async def test_fetching_needs_knowledge_write_and_searching_knowledge_read(world: World) -> None:
    reader = principal("reader", permissions=frozenset({Permission.KNOWLEDGE_READ}))
    with pytest.raises(Forbidden):
        await world.fetch_paragraph(reader)
    assert world.source.calls == 0
    await world.search_paragraphs(reader, SearchParagraphsQuery(["one"]))
    with pytest.raises(Forbidden):
        await world.search_paragraphs(principal("nobody", permissions=frozenset()), SearchParagraphsQuery(["one"]))


async def test_search_finds_whole_words_with_and_or_and_pages_oldest_first(world: World, ada: Principal) -> None:
    stored = await world.store_paragraphs("One two three", "none of them", "Two, ONE!", "someone two", "three")

    async def ids(words: list[str], operator: str, limit: int = 100, offset: int = 0) -> tuple[list[int], int]:
        result = await world.search_paragraphs(ada, SearchParagraphsQuery(words, operator, limit, offset))
        return [stored.index(next(s for s in stored if s.id == p.id)) for p in result.paragraphs], result.total_count

    assert await ids(["one"], "and") == ([0, 2], 2)
    assert await ids(["one", "two"], "and") == ([0, 2], 2)
    assert await ids(["one", "three"], "or") == ([0, 2, 4], 3)
    assert await ids(["two"], "or", limit=2, offset=1) == ([2, 3], 3)
    assert await ids(["absent"], "or") == ([], 0)


async def test_search_agrees_with_the_reference_regex_on_random_paragraphs(world: World, ada: Principal) -> None:
    rng = random.Random(11)
    texts = [random_text(rng, words=20) for _ in range(150)]
    stored = await world.store_paragraphs(*texts)
    for _ in range(150):
        words, operator = random_query(rng), rng.choice(["and", "or"])
        result = await world.search_paragraphs(ada, SearchParagraphsQuery(words, operator, limit=1000))
        assert [p.id for p in result.paragraphs] == [stored[i].id for i in reference_search(texts, words, operator)]


@pytest.mark.parametrize(
    ("words", "operator", "error"),
    [
        (["one", "t*o"], "and", InvalidSearchWord),
        (["one') OR 1=1 --"], "or", InvalidSearchWord),
        ([], "and", InvalidSearchQuery),
        (["w"] * 21, "or", InvalidSearchQuery),
        (["one"], "nand", InvalidSearchQuery),
    ],
)
async def test_bad_searches_are_refused(
    world: World, ada: Principal, words: list[str], operator: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await world.search_paragraphs(ada, SearchParagraphsQuery(words, operator))


async def test_pages_are_bounded(world: World, ada: Principal) -> None:
    with pytest.raises(InvalidInput):
        await world.search_paragraphs(ada, SearchParagraphsQuery(["one"], limit=1001))
    with pytest.raises(InvalidInput):
        await world.search_paragraphs(ada, SearchParagraphsQuery(["one"], offset=-1))


async def test_the_dictionary_read_right_after_a_fetch_counts_it(world: World, ada: Principal) -> None:
    world.source.texts = ["red fish", "red fish red"]
    await world.fetch_paragraph(ada)
    assert (await world.get_dictionary(ada, GetDictionaryQuery())).words[0].count == 1  # levels 1 and 3 are cached now
    await world.fetch_paragraph(ada)
    counts = {entry.word: entry.count for entry in (await world.get_dictionary(ada, GetDictionaryQuery())).words}
    assert counts == {"red": 3, "fish": 2}


async def test_an_answer_computed_while_a_fetch_commits_is_not_kept(world: World, ada: Principal) -> None:
    world.source.texts = ["red fish", "blue whale"]
    await world.fetch_paragraph(ada)
    world.dictionary.delay = 0.05  # the read is looking definitions up when the fetch commits
    reading = asyncio.create_task(world.get_dictionary(ada, GetDictionaryQuery()))
    await asyncio.sleep(0.01)
    await world.fetch_paragraph(ada)
    await reading  # read before the fetch: its answer may be the old one, but it is not cached
    counts = {entry.word: entry.count for entry in (await world.get_dictionary(ada, GetDictionaryQuery())).words}
    assert counts == {"red": 1, "fish": 1, "blue": 1, "whale": 1}
