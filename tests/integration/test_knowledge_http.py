"""The knowledge routes through the whole app (in this process), the database and a fake paragraph
source and dictionary served over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from src.application.knowledge.jobs import REFRESH_DICTIONARY_JOB
from src.infrastructure.container import Container, build_container
from src.infrastructure.persistence.knowledge_models import ParagraphModel, WordCountModel
from src.infrastructure.persistence.migrator import Migrator
from src.infrastructure.persistence.models import OutboxMessageModel
from src.interfaces.http.app import create_app
from tests.accounts import sign_up
from tests.conftest import SettingsFactory
from tests.fake_http_server import Answer, FakeHttpServer, dictionary_entry, fake_http_server
from tests.integration.jobs_support import wait_until

PASSWORD = "violet-harbour-lantern-93"
SOURCE_PATH = "/paragraphs/1/50"
PARAGRAPH = "The cat sat on the mat. The cat's hat is one of them; none of them is someone's."


@dataclass
class Api:
    client: httpx.AsyncClient
    container: Container
    server: FakeHttpServer
    tokens: dict[str, str]

    def auth(self, who: str = "ada") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(self, path: str, body: Any = None, who: str = "ada") -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.auth(who))

    async def get(self, path: str, who: str = "ada", **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.auth(who))

    async def rows(self, model: Any) -> int:
        async with self.container.uow(read_only=True) as tx:
            return int(await tx.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def server() -> Iterator[FakeHttpServer]:
    with fake_http_server() as running:
        running.answer(SOURCE_PATH, Answer(body=PARAGRAPH.encode()))
        yield running


async def start_api(settings: Any, server: FakeHttpServer) -> AsyncIterator[Api]:
    await asyncio.to_thread(Migrator(settings).upgrade)
    container = build_container(settings, role="api")
    await container.startup()
    transport = httpx.ASGITransport(app=create_app(settings, container=container))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=10) as client:
            tokens = await sign_up(client, ("ada", "bob"), PASSWORD)
            yield Api(client, container, server, tokens)
    finally:
        await container.shutdown()


@pytest.fixture
async def api(make_settings: SettingsFactory, database_url: str, server: FakeHttpServer) -> AsyncIterator[Api]:
    settings = make_settings(
        DATABASE_URL=database_url,
        RATE_LIMIT_ENABLED="false",
        PARAGRAPH_SOURCE_URL=server.url + SOURCE_PATH,
        PARAGRAPH_SOURCE_TIMEOUT="1",
        DICTIONARY_API_URL=server.url + "/en",
        DICTIONARY_TIMEOUT="5",
        OUTBOX_RELAY_INTERVAL="0.05",
    )
    async for running in start_api(settings, server):
        yield running


@pytest.fixture
async def sqlite_api(make_settings: SettingsFactory, sqlite_url: str, server: FakeHttpServer) -> AsyncIterator[Api]:
    settings = make_settings(
        DATABASE_URL=sqlite_url,
        RATE_LIMIT_ENABLED="false",
        PARAGRAPH_SOURCE_URL=server.url + SOURCE_PATH,
        PARAGRAPH_SOURCE_TIMEOUT="1",
        DICTIONARY_API_URL=server.url + "/en",
        DICTIONARY_TIMEOUT="5",
    )
    async for running in start_api(settings, server):
        yield running


async def test_fetch_search_and_dictionary_as_the_reference_does(api: Api) -> None:
    api.server.answer("/en/the", Answer(body=dictionary_entry("the", "Used to refer to a thing.", phonetic="/ðə/")))
    api.server.answer("/en/cat", Answer(body=dictionary_entry("cat", "A small feline.")))
    fetched = await api.post("/api/v1/paragraphs/fetch")
    assert fetched.status_code == 201, fetched.text
    body = fetched.json()
    assert set(body) == {"id", "content", "created_at"}
    assert body["content"] == PARAGRAPH

    found = await api.post("/api/v1/paragraphs/search", {"words": ["one", "mat"], "operator": "and"})
    assert found.status_code == 200
    assert found.json()["total_count"] == 1
    assert found.json()["paragraphs"][0]["id"] == body["id"]
    for words, operator, expected in (
        (["some"], "and", 0),
        (["someone"], "and", 1),  # "someone's": the apostrophe ends the word
        (["hat", "absent"], "and", 0),
        (["absent", "ON"], "or", 1),
    ):
        answer = await api.post("/api/v1/paragraphs/search", {"words": words, "operator": operator})
        assert answer.json()["total_count"] == expected, words

    async def defined() -> bool:
        response = await api.get("/api/v1/paragraphs/dictionary")
        words = response.json()["words"]
        return bool(words) and words[0]["word"] == "the" and words[0]["definitions"] == ["Used to refer to a thing."]

    await wait_until(defined, timeout=10)
    dictionary = (await api.get("/api/v1/paragraphs/dictionary")).json()
    assert [(w["word"], w["count"]) for w in dictionary["words"][:3]] == [("the", 3), ("cat", 2), ("is", 2)]
    assert dictionary["words"][0]["phonetic"] == "/ðə/"
    assert dictionary["words"][1]["definitions"] == ["A small feline."]
    assert len(dictionary["words"]) == 10
    assert dictionary["definitions_available"] is True
    without = (await api.get("/api/v1/paragraphs/dictionary", exclude_stopwords="true")).json()
    assert [w["word"] for w in without["words"]][:3] == ["cat", "hat", "mat"]


async def test_after_each_fetch_the_job_refreshes_the_cached_answer(api: Api) -> None:
    await api.post("/api/v1/paragraphs/fetch")
    first = (await api.get("/api/v1/paragraphs/dictionary")).json()  # cached now (level 3)
    assert first["words"][0]["word"] == "the"
    api.server.answer(SOURCE_PATH, Answer(body=b"zebra zebra zebra zebra zebra zebra"))
    assert (await api.post("/api/v1/paragraphs/fetch")).status_code == 201

    async def refreshed() -> bool:
        words: list[dict[str, Any]] = (await api.get("/api/v1/paragraphs/dictionary")).json()["words"]
        return words[0] == {"word": "zebra", "count": 6, "definitions": [], "phonetic": None}

    await wait_until(refreshed, timeout=10)


@pytest.fixture
async def api_without_jobs(
    make_settings: SettingsFactory, database_url: str, server: FakeHttpServer
) -> AsyncIterator[Api]:
    """The app on SQLite and PostgreSQL whose outbox relay waits a minute: no refresh job runs."""
    settings = make_settings(
        DATABASE_URL=database_url,
        RATE_LIMIT_ENABLED="false",
        PARAGRAPH_SOURCE_URL=server.url + SOURCE_PATH,
        PARAGRAPH_SOURCE_TIMEOUT="1",
        DICTIONARY_API_URL=server.url + "/en",
        DICTIONARY_TIMEOUT="5",
        OUTBOX_RELAY_INTERVAL="60",
    )
    async for running in start_api(settings, server):
        yield running


async def test_the_dictionary_read_right_after_a_fetch_counts_that_paragraph(api_without_jobs: Api) -> None:
    api = api_without_jobs
    api.server.answer(SOURCE_PATH, Answer(body=b"the quick fox and the lazy dog"))
    for fetched in range(1, 6):
        assert (await api.post("/api/v1/paragraphs/fetch")).status_code == 201
        # Read at once, both answers (cached by the read before): the count is this fetch's.
        for exclude_stopwords in ("false", "true"):
            answer = (await api.get("/api/v1/paragraphs/dictionary", exclude_stopwords=exclude_stopwords)).json()
            counts = {entry["word"]: entry["count"] for entry in answer["words"]}
            if exclude_stopwords == "false":
                assert counts["the"] == 2 * fetched, answer
            assert counts["quick"] == fetched, answer
    # The refresh jobs are still waiting in the outbox: nothing but the fetch made the read fresh.
    async with api.container.uow(read_only=True) as tx:
        waiting = await tx.session.scalar(
            select(func.count())
            .select_from(OutboxMessageModel)
            .where(OutboxMessageModel.job_name == REFRESH_DICTIONARY_JOB)
        )
    assert waiting == 5


FAILING_SOURCES = [
    (Answer(503, b"down for maintenance"), "HTTP 503"),
    (Answer(body=b"late", delay=3), "did not answer within 1 s"),
    (Answer(body=b"<html>oops</html>", content_type="text/html"), "text/html"),
    (Answer(body=b"   \n  "), "not a paragraph"),
    (Answer(body=b"!!! ??? ..."), "not a paragraph"),
]


async def test_a_failing_source_is_502_and_stores_nothing(sqlite_api: Api) -> None:
    api = sqlite_api
    outbox_before = await api.rows(OutboxMessageModel)  # the sign-ups' events
    for answer, reason in FAILING_SOURCES:
        api.server.answer(SOURCE_PATH, answer)
        response = await api.post("/api/v1/paragraphs/fetch")
        assert response.status_code == 502, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == "paragraph_source_failed"
        assert reason in problem["detail"]
    assert await api.rows(ParagraphModel) == 0
    assert await api.rows(WordCountModel) == 0
    assert await api.rows(OutboxMessageModel) == outbox_before
    found = await api.post("/api/v1/paragraphs/search", {"words": ["late"], "operator": "or"})
    assert found.json()["total_count"] == 0


async def test_a_source_that_is_down_is_502(sqlite_api: Api) -> None:
    sqlite_api.server.stop()
    response = await sqlite_api.post("/api/v1/paragraphs/fetch")
    assert response.status_code == 502
    assert "could not be reached" in response.json()["detail"]


BAD_SEARCHES: list[tuple[dict[str, Any], str, str | None]] = [
    ({"words": ["one", "t$o"], "operator": "and"}, "invalid_search_word", "t$o"),
    ({"words": ["x" * 51], "operator": "and"}, "invalid_search_word", "x" * 51),
    ({"words": ["one') OR ('1'='1"], "operator": "or"}, "invalid_search_word", "one') OR ('1'='1"),
    ({"words": ['"one" OR "two"'], "operator": "or"}, "invalid_search_word", '"one" OR "two"'),
    ({"words": ["a"] * 21, "operator": "and"}, "invalid_search_query", None),
    ({"words": [], "operator": "and"}, "invalid_search_query", None),
    ({"words": ["one"], "operator": "xor"}, "invalid_search_query", None),
    ({"words": ["one"]}, "validation_failed", None),
    ({"words": ["one"], "operator": "and", "limit": 0}, "validation_failed", None),
    ({"words": "one", "operator": "and"}, "validation_failed", None),
]


async def test_bad_searches_are_422_naming_what_is_wrong(sqlite_api: Api) -> None:
    for body, code, named in BAD_SEARCHES:
        response = await sqlite_api.post("/api/v1/paragraphs/search", body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == code, body
        if named is not None:
            assert response.json()["word"] == named
            assert repr(named) in response.json()["detail"]


async def test_search_pages_with_an_exact_total(sqlite_api: Api) -> None:
    api = sqlite_api
    for i in range(7):
        api.server.answer(SOURCE_PATH, Answer(body=f"Paragraph number {i} says one thing.".encode()))
        assert (await api.post("/api/v1/paragraphs/fetch")).status_code == 201
    seen: list[str] = []
    for offset in (0, 3, 6):
        page = (
            await api.post(
                "/api/v1/paragraphs/search", {"words": ["ONE"], "operator": "or", "limit": 3, "offset": offset}
            )
        ).json()
        assert page["total_count"] == 7
        assert (page["limit"], page["offset"]) == (3, offset)
        seen.extend(p["content"] for p in page["paragraphs"])
    assert seen == [f"Paragraph number {i} says one thing." for i in range(7)]


async def test_articles_are_yours_to_change_and_others_private_ones_do_not_exist(sqlite_api: Api) -> None:
    api = sqlite_api
    created = await api.post(
        "/api/v1/articles", {"title": "Pasta  night", "body": "Cook the pasta.", "tags": ["Food", "food", "Italian"]}
    )
    assert created.status_code == 201, created.text
    article = created.json()
    assert (article["title"], article["tags"], article["status"], article["visibility"]) == (
        "Pasta night",
        ["food", "italian"],
        "draft",
        "private",
    )
    path = f"/api/v1/articles/{article['id']}"
    for method in ("GET", "PATCH", "DELETE"):
        response = await api.client.request(method, path, json={"title": "x"}, headers=api.auth("bob"))
        assert response.status_code == 404, (method, response.text)
        assert response.json()["code"] == "article_not_found"
    assert (await api.post(f"{path}/summarize", who="bob")).status_code == 404

    published = await api.client.patch(
        path, json={"status": "published", "visibility": "public"}, headers=api.auth("ada")
    )
    assert published.status_code == 200
    assert (await api.get(path, who="bob")).json()["title"] == "Pasta night"
    assert (await api.client.patch(path, json={"title": "mine"}, headers=api.auth("bob"))).status_code == 404
    assert (await api.client.delete(path, headers=api.auth("bob"))).status_code == 404

    listed = (await api.get("/api/v1/articles", who="bob", q="pasta", tag="ITALIAN")).json()
    assert (listed["total"], [a["id"] for a in listed["items"]]) == (1, [article["id"]])
    assert (await api.get("/api/v1/articles", who="bob", author="me")).json()["total"] == 0
    assert (await api.get("/api/v1/articles", who="bob", author="not-a-uuid")).json()["total"] == 0
    assert (await api.get("/api/v1/articles", q="pasta%")).json()["code"] == "invalid_search_word"

    summary = await api.post(f"{path}/summarize", who="bob")
    assert summary.status_code == 200, summary.text
    assert summary.json()["cached"] is False
    assert summary.json()["model"].startswith("offline/")
    assert (await api.post(f"{path}/summarize")).json()["cached"] is True

    assert (await api.client.delete(path, headers=api.auth("ada"))).status_code == 204
    assert (await api.get(path)).status_code == 404


async def test_invalid_articles_are_422(sqlite_api: Api) -> None:
    for body in (
        {"title": ""},
        {"title": "t", "status": "archived"},
        {"title": "t", "tags": ["a/b"]},
        {"title": "t", "unknown": 1},
        {"body": "no title"},
    ):
        response = await sqlite_api.post("/api/v1/articles", body)
        assert response.status_code == 422, response.text
        assert response.json()["code"] in {"invalid_article", "validation_failed"}
    assert (await sqlite_api.get("/api/v1/articles")).json()["total"] == 0


async def test_one_search_over_articles_and_paragraphs(sqlite_api: Api) -> None:
    api = sqlite_api
    await api.post("/api/v1/articles", {"title": "Pasta", "body": "All about <pasta> & sauce."})
    await api.post("/api/v1/articles", {"title": "Bob's pasta", "body": "private"}, who="bob")
    api.server.answer(SOURCE_PATH, Answer(body=b"A pasta paragraph."))
    await api.post("/api/v1/paragraphs/fetch")
    found = (await api.get("/api/v1/search", q="pasta")).json()
    assert found["totals"] == {"articles": 1, "paragraphs": 1, "messages": 0}
    assert found["total"] == 2
    assert {h["scope"] for h in found["items"]} == {"articles", "paragraphs"}
    article_hit = next(h for h in found["items"] if h["scope"] == "articles")
    assert article_hit["title"] == "Pasta"
    assert article_hit["snippet"] == "All about &lt;<mark>pasta</mark>&gt; &amp; sauce."
    only = (await api.get("/api/v1/search", q="pasta", scope="paragraphs")).json()
    assert only["totals"] == {"paragraphs": 1}
    unknown = await api.get("/api/v1/search", q="pasta", scope="articles,emails")
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_search_scope"
    assert (await api.get("/api/v1/search", q="pasta*")).json()["code"] == "invalid_search_word"
    assert (await api.get("/api/v1/search")).status_code == 422


async def test_every_knowledge_route_needs_a_signed_in_caller(sqlite_api: Api) -> None:
    for method, path in (
        ("POST", "/api/v1/paragraphs/fetch"),
        ("POST", "/api/v1/paragraphs/search"),
        ("GET", "/api/v1/paragraphs/dictionary"),
        ("GET", "/api/v1/articles"),
        ("POST", "/api/v1/articles"),
        ("GET", "/api/v1/search?q=x"),
    ):
        response = await sqlite_api.client.request(method, path, json={})
        assert response.status_code == 401, (method, path)
    assert sqlite_api.server.count(SOURCE_PATH) == 0
