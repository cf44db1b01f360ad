"""The dictionary: ten most frequent words, three cache levels hit in the reference's order."""

from __future__ import annotations

import asyncio

import pytest

from src.application.knowledge.dictionary import (
    ANSWER_TTL,
    DEFINITION_TTL,
    FREQUENCIES_TTL,
    answer_key,
    definition_key,
    frequencies_key,
)
from src.application.knowledge.get_dictionary import GetDictionaryQuery
from src.domain.identity.model import Principal
from src.domain.knowledge.model import WordDefinition
from tests.unit.knowledge.conftest import World

L3 = answer_key(exclude_stopwords=False)
L1 = frequencies_key(exclude_stopwords=False)


def known(*words: str) -> dict[str, WordDefinition]:
    return {w: WordDefinition(w, (f"{w} defined", f"{w} again"), f"/{w}/") for w in words}


async def test_a_cold_request_reads_each_level_in_the_reference_order(world: World, ada: Principal) -> None:
    await world.store_paragraphs("the cat and the dog", "the cat")
    world.dictionary.known = known("the", "cat")
    view = await world.get_dictionary(ada, GetDictionaryQuery())
    assert [(e.word, e.count) for e in view.words] == [("the", 3), ("cat", 2), ("and", 1), ("dog", 1)]
    assert view.words[0].definitions == ("the defined", "the again")
    assert view.words[0].phonetic == "/the/"
    assert view.words[2].definitions == ()
    assert view.definitions_available
    gets = [key for op, key in world.cache.calls if op == "get"]
    sets = [key for op, key in world.cache.calls if op == "set"]
    assert gets[:2] == [L3, L1]
    assert sorted(gets[2:]) == sorted(definition_key(w) for w in ("the", "cat", "and", "dog"))
    assert sets[0] == L1
    assert sets[-1] == L3
    assert world.cache.ttls[L3] == ANSWER_TTL
    assert world.cache.ttls[L1] == FREQUENCIES_TTL
    assert world.cache.ttls[definition_key("the")] == DEFINITION_TTL
    assert sorted(world.dictionary.lookups) == ["and", "cat", "dog", "the"]


async def test_a_warm_request_is_answered_by_level_three_alone(world: World, ada: Principal) -> None:
    await world.store_paragraphs("the cat")
    first = await world.get_dictionary(ada, GetDictionaryQuery())
    world.cache.calls.clear()
    world.dictionary.lookups.clear()
    await world.store_paragraphs("dog dog dog")  # not seen until the levels are refreshed
    assert await world.get_dictionary(ada, GetDictionaryQuery()) == first
    assert world.cache.calls == [("get", L3)]
    assert world.dictionary.lookups == []


async def test_without_level_three_frequencies_and_definitions_come_from_their_levels(
    world: World, ada: Principal
) -> None:
    await world.store_paragraphs("the cat")
    await world.get_dictionary(ada, GetDictionaryQuery())
    del world.cache.values[L3]
    world.cache.calls.clear()
    world.dictionary.lookups.clear()
    await world.store_paragraphs("dog dog dog")  # the database is not read: level 1 answers
    view = await world.get_dictionary(ada, GetDictionaryQuery())
    assert [e.word for e in view.words] == ["cat", "the"]
    assert world.dictionary.lookups == []
    assert world.cache.calls[:2] == [("get", L3), ("get", L1)]
    assert world.cache.calls[-1] == ("set", L3)


async def test_the_refresh_job_recomputes_levels_one_and_three_from_the_database(world: World, ada: Principal) -> None:
    await world.store_paragraphs("the cat")
    await world.get_dictionary(ada, GetDictionaryQuery())
    await world.store_paragraphs("dog dog dog")
    refreshed = await world.refresh_dictionary()
    assert refreshed["all"][0] == "dog"
    assert [e.word for e in (await world.get_dictionary(ada, GetDictionaryQuery())).words] == ["dog", "cat", "the"]
    without = await world.get_dictionary(ada, GetDictionaryQuery(exclude_stopwords=True))
    assert [e.word for e in without.words] == ["dog", "cat"]


async def test_stop_words_are_left_out_on_request(world: World, ada: Principal) -> None:
    await world.store_paragraphs("The cat and the hat, and it is a cat's hat of the cat, the end")
    view = await world.get_dictionary(ada, GetDictionaryQuery(exclude_stopwords=True))
    assert [e.word for e in view.words] == ["cat", "hat", "end"]
    assert view.exclude_stopwords
    assert [e.word for e in (await world.get_dictionary(ada, GetDictionaryQuery())).words][0] == "the"


async def test_only_the_ten_most_frequent_words_ties_by_word(world: World, ada: Principal) -> None:
    await world.store_paragraphs(" ".join(f"w{i:02d} " * (i % 4 + 1) for i in range(30)))
    words = [(e.word, e.count) for e in (await world.get_dictionary(ada, GetDictionaryQuery())).words]
    assert len(words) == 10
    assert words[:3] == [("w03", 4), ("w07", 4), ("w11", 4)]


async def test_a_failed_lookup_leaves_that_word_bare_and_the_answer_uncached(world: World, ada: Principal) -> None:
    await world.store_paragraphs("the cat")
    world.dictionary.known = known("the", "cat")
    world.dictionary.failing = {"cat"}
    view = await world.get_dictionary(ada, GetDictionaryQuery())
    assert not view.definitions_available
    assert {e.word: e.definitions for e in view.words}["cat"] == ()
    assert L3 not in world.cache.values
    assert definition_key("cat") not in world.cache.values
    world.dictionary.failing.clear()
    again = await world.get_dictionary(ada, GetDictionaryQuery())
    assert again.definitions_available
    assert {e.word: e.definitions for e in again.words}["cat"] == ("cat defined", "cat again")
    assert world.dictionary.lookups.count("the") == 1  # level 2 remembered it


async def test_a_word_the_dictionary_does_not_know_is_remembered_too(world: World, ada: Principal) -> None:
    await world.store_paragraphs("zyx")
    await world.get_dictionary(ada, GetDictionaryQuery())
    del world.cache.values[L3]
    await world.get_dictionary(ada, GetDictionaryQuery())
    assert world.dictionary.lookups == ["zyx"]


async def test_offline_there_are_no_definitions_and_the_answer_says_so(ada: Principal) -> None:
    from tests.fakes.knowledge import FakeDictionary

    world = World(dictionary=FakeDictionary(available=False))
    await world.store_paragraphs("the cat the")
    view = await world.get_dictionary(ada, GetDictionaryQuery())
    assert [e.word for e in view.words] == ["the", "cat"]
    assert not view.definitions_available
    assert world.dictionary.lookups == []


async def test_with_the_cache_down_the_answer_comes_from_the_database_and_the_dictionary(
    world: World, ada: Principal
) -> None:
    await world.store_paragraphs("the cat the")
    world.dictionary.known = known("the", "cat")
    world.cache.down = True
    for _ in range(2):
        view = await world.get_dictionary(ada, GetDictionaryQuery())
        assert [(e.word, e.count, e.definitions[0]) for e in view.words] == [
            ("the", 2, "the defined"),
            ("cat", 1, "cat defined"),
        ]
    assert sorted(world.dictionary.lookups) == ["cat", "cat", "the", "the"]


async def test_definitions_are_fetched_in_parallel_within_the_bound(world: World, ada: Principal) -> None:
    await world.store_paragraphs(" ".join(f"w{i}" for i in range(10)))
    world.dictionary.delay = 0.01
    await world.get_dictionary(ada, GetDictionaryQuery())
    assert len(world.dictionary.lookups) == 10
    assert world.dictionary.most_at_once == 3  # the world's bound


async def test_a_burst_on_a_cold_cache_computes_the_answer_once(world: World, ada: Principal) -> None:
    await world.store_paragraphs("the cat")
    world.dictionary.delay = 0.01
    views = await asyncio.gather(*(world.get_dictionary(ada, GetDictionaryQuery()) for _ in range(5)))
    assert all(v == views[0] for v in views)
    assert sorted(world.dictionary.lookups) == ["cat", "the"]


@pytest.mark.parametrize("exclude", [False, True])
async def test_no_paragraphs_is_an_empty_list(world: World, ada: Principal, exclude: bool) -> None:
    view = await world.get_dictionary(ada, GetDictionaryQuery(exclude_stopwords=exclude))
    assert view.words == ()
