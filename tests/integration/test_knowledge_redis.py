"""The dictionary's three cache levels in Redis, and a correct answer when Redis goes away."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from src.application.knowledge.dictionary import answer_key, definition_key, frequencies_key
from src.domain.knowledge.words import count_words
from src.infrastructure.cache.redis_cache import KEY_PREFIX
from tests.conftest import SettingsFactory
from tests.fake_http_server import Answer, FakeHttpServer, dictionary_entry, fake_http_server
from tests.integration.test_knowledge_http import SOURCE_PATH, Api, start_api
from tests.redis_process import RedisProcess

pytestmark = pytest.mark.redis

L3 = KEY_PREFIX + answer_key(exclude_stopwords=False)
L1 = KEY_PREFIX + frequencies_key(exclude_stopwords=False)


@pytest.fixture
def server() -> Iterator[FakeHttpServer]:
    with fake_http_server() as running:
        running.answer(SOURCE_PATH, Answer(body=b"the cat and the hat"))
        for word in ("the", "cat", "and", "hat"):
            running.answer(f"/en/{word}", Answer(body=dictionary_entry(word, f"{word} means {word}")))
        yield running


def settings_for(make_settings: SettingsFactory, sqlite_url: str, redis: str, server: FakeHttpServer) -> object:
    return make_settings(
        DATABASE_URL=sqlite_url,
        REDIS_URL=redis,
        REDIS_TIMEOUT="0.2",
        RATE_LIMIT_ENABLED="false",
        PARAGRAPH_SOURCE_URL=server.url + SOURCE_PATH,
        DICTIONARY_API_URL=server.url + "/en",
    )


@pytest.fixture
async def api(
    make_settings: SettingsFactory, sqlite_url: str, redis_url: str, server: FakeHttpServer
) -> AsyncIterator[Api]:
    async for running in start_api(settings_for(make_settings, sqlite_url, redis_url, server), server):
        yield running


async def add_counts(api: Api, text: str) -> None:
    """More words in the database, behind the caches' back."""
    async with api.container.uow() as tx:
        await tx.word_counts.add(count_words(text))


def lookups(server: FakeHttpServer) -> int:
    return sum(1 for path in server.requests if path.startswith("/en/"))


async def test_each_level_lives_in_redis_with_the_reference_lifetimes(api: Api, redis_url: str) -> None:
    assert (await api.post("/api/v1/paragraphs/fetch")).status_code == 201
    first = (await api.get("/api/v1/paragraphs/dictionary")).json()
    assert [w["word"] for w in first["words"]] == ["the", "and", "cat", "hat"]
    assert first["words"][0]["definitions"] == ["the means the"]
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert 3500 < await client.ttl(L3) <= 3600
        assert 1700 < await client.ttl(L1) <= 1800
        assert 86_300 < await client.ttl(KEY_PREFIX + definition_key("cat")) <= 86_400
        asked = lookups(api.server)
        assert asked == 4

        # Level 3 answers alone: new counts in the database are not seen, nothing is looked up.
        await add_counts(api, "zebra zebra zebra")
        assert (await api.get("/api/v1/paragraphs/dictionary")).json() == first
        # Without level 3, level 1 (the frequencies) and level 2 (the definitions) answer.
        await client.delete(L3)
        assert (await api.get("/api/v1/paragraphs/dictionary")).json() == first
        assert lookups(api.server) == asked
        # Without levels 3 and 1, the word counts table answers; level 2 still knows the old words.
        await client.delete(L3, L1)
        fresh = (await api.get("/api/v1/paragraphs/dictionary")).json()
        assert fresh["words"][0] == {"word": "zebra", "count": 3, "definitions": [], "phonetic": None}
        assert lookups(api.server) == asked + 1  # only "zebra" was asked for (and is unknown)
    finally:
        await client.aclose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        process.kill()


async def test_with_redis_gone_the_answer_comes_from_the_database_and_the_dictionary(
    make_settings: SettingsFactory, sqlite_url: str, server: FakeHttpServer, own_redis: RedisProcess
) -> None:
    settings = settings_for(make_settings, sqlite_url, own_redis.url, server)
    async for api in start_api(settings, server):
        assert (await api.post("/api/v1/paragraphs/fetch")).status_code == 201
        cached = (await api.get("/api/v1/paragraphs/dictionary")).json()
        assert cached["words"][0]["word"] == "the"
        await asyncio.to_thread(own_redis.kill)

        await add_counts(api, "cat cat cat")
        asked = lookups(api.server)
        response = await api.get("/api/v1/paragraphs/dictionary")
        assert response.status_code == 200
        answer = response.json()
        assert [(w["word"], w["count"]) for w in answer["words"]] == [("cat", 4), ("the", 2), ("and", 1), ("hat", 1)]
        assert answer["words"][0]["definitions"] == ["cat means cat"]
        assert answer["definitions_available"] is True
        assert lookups(api.server) == asked + 4  # no level 2 either: every word was asked for

        # Search and fetch do not need Redis at all.
        found = await api.post("/api/v1/paragraphs/search", {"words": ["hat"], "operator": "and"})
        assert found.json()["total_count"] == 1
        assert (await api.post("/api/v1/paragraphs/fetch")).status_code == 201
