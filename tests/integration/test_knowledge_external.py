"""The paragraph source and dictionary adapters, with real HTTP against a local fake server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from src.domain.knowledge.errors import DictionaryLookupFailed, ParagraphSourceFailed
from src.domain.knowledge.model import WordDefinition
from src.infrastructure.external.dictionary import HttpDictionary, OfflineDictionary
from src.infrastructure.external.http import MAX_RESPONSE_BYTES
from src.infrastructure.external.paragraph_source import HttpParagraphSource, OfflineParagraphSource
from tests.conftest import SettingsFactory
from tests.fake_http_server import Answer, FakeHttpServer, dictionary_entry, fake_http_server
from tests.redis_process import free_port

PARAGRAPH = "A cat is a dog from the right perspective. Some fiery owls are thought of simply as kites."


@pytest.fixture
def server() -> Iterator[FakeHttpServer]:
    with fake_http_server() as running:
        yield running


async def test_a_paragraph_is_read_as_the_source_sends_it(server: FakeHttpServer) -> None:
    server.answer("/paragraphs/1/50", Answer(body=PARAGRAPH.encode()))
    source = HttpParagraphSource(f"{server.url}/paragraphs/1/50", timeout=2)
    try:
        assert await source.fetch() == PARAGRAPH
        assert await source.fetch() == PARAGRAPH  # the client is reused
    finally:
        await source.aclose()
    assert server.count("/paragraphs/1/50") == 2


async def test_a_source_that_is_down_fails_with_a_reason() -> None:
    source = HttpParagraphSource(f"http://127.0.0.1:{free_port()}/p", timeout=2)
    with pytest.raises(ParagraphSourceFailed, match="could not be reached"):
        await source.fetch()
    await source.aclose()


async def test_a_slow_source_fails_within_its_timeout(server: FakeHttpServer) -> None:
    server.answer("/slow", Answer(body=b"late", delay=1.5))
    source = HttpParagraphSource(f"{server.url}/slow", timeout=0.3)
    with pytest.raises(ParagraphSourceFailed, match=r"did not answer within 0\.3 s"):
        await source.fetch()
    await source.aclose()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Answer(500, b"oops"), "HTTP 500"),
        (Answer(404, b"nope"), "HTTP 404"),
        (Answer(body=b"<html><body>maintenance</body></html>", content_type="text/html"), "text/html"),
        (Answer(body=b'{"paragraph": "x"}', content_type="application/json"), "application/json"),
        (Answer(body=b"\xff\xfe\x00garbage"), "not UTF-8"),
        (Answer(body=b"x" * (MAX_RESPONSE_BYTES + 1)), "more than"),
    ],
)
async def test_a_source_answering_garbage_fails(server: FakeHttpServer, answer: Answer, reason: str) -> None:
    server.answer("/garbage", answer)
    source = HttpParagraphSource(f"{server.url}/garbage", timeout=2)
    with pytest.raises(ParagraphSourceFailed, match=reason):
        await source.fetch()
    await source.aclose()


async def test_the_offline_source_makes_up_paragraphs_of_sentences() -> None:
    source = OfflineParagraphSource(sentences=4, seed=1)
    first, second = await source.fetch(), await source.fetch()
    assert first != second
    assert first.count(".") >= 4
    assert OfflineParagraphSource(sentences=4, seed=1) is not None


async def test_a_word_is_defined_with_its_first_definitions_and_phonetic(server: FakeHttpServer) -> None:
    server.answer("/en/the", Answer(body=dictionary_entry("the", "d1", "d2", "d3", "d4", phonetic="/ðə/")))
    dictionary = HttpDictionary(f"{server.url}/en/", timeout=2)
    try:
        assert await dictionary.define("the") == WordDefinition("the", ("d1", "d2", "d3"), "/ðə/", found=True)
    finally:
        await dictionary.aclose()


async def test_a_word_the_service_does_not_know_is_not_found_not_a_failure(server: FakeHttpServer) -> None:
    dictionary = HttpDictionary(f"{server.url}/en", timeout=2)
    assert await dictionary.define("zyxxy") == WordDefinition("zyxxy", found=False)
    await dictionary.aclose()


async def test_words_are_sent_safely_in_the_path(server: FakeHttpServer) -> None:
    server.answer("/en/don%27t", Answer(body=dictionary_entry("don't", "do not"), content_type="application/json"))
    server.answer("/en/caf%C3%A9", Answer(body=dictionary_entry("café", "a coffee house")))
    dictionary = HttpDictionary(f"{server.url}/en", timeout=2)
    assert (await dictionary.define("don't")).definitions == ("do not",)
    assert (await dictionary.define("café")).definitions == ("a coffee house",)
    await dictionary.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, b"{}", "application/json"),
        Answer(body=b"not json", content_type="application/json"),
        Answer(body=b'{"word": "the"}', content_type="application/json"),
        Answer(body=b"[]", content_type="application/json"),
        Answer(body=json.dumps([{"meanings": "oops"}]).encode(), content_type="application/json"),
        Answer(body=b"slow", delay=1.5),
    ],
)
async def test_a_dictionary_that_fails_or_answers_garbage_is_a_failed_lookup(
    server: FakeHttpServer, answer: Answer
) -> None:
    server.answer("/en/the", answer)
    dictionary = HttpDictionary(f"{server.url}/en", timeout=0.5)
    with pytest.raises(DictionaryLookupFailed):
        await dictionary.define("the")
    await dictionary.aclose()


async def test_a_dictionary_that_is_down_is_a_failed_lookup() -> None:
    dictionary = HttpDictionary(f"http://127.0.0.1:{free_port()}/en", timeout=1)
    with pytest.raises(DictionaryLookupFailed, match="could not be reached"):
        await dictionary.define("the")
    await dictionary.aclose()


async def test_the_offline_dictionary_knows_nothing_and_says_so() -> None:
    dictionary = OfflineDictionary()
    assert not dictionary.available
    assert await dictionary.define("the") == WordDefinition("the", found=False)


def test_the_container_picks_the_services_or_the_offline_defaults(make_settings: SettingsFactory) -> None:
    from dataclasses import replace

    from src.infrastructure.container import build_dictionary, build_paragraph_source

    settings = make_settings()
    assert isinstance(build_paragraph_source(settings), OfflineParagraphSource)
    assert isinstance(build_dictionary(settings), OfflineDictionary)
    configured = replace(
        settings,
        knowledge=replace(
            settings.knowledge, paragraph_source_url="http://x.test/p", dictionary_api_url="http://x.test/en"
        ),
    )
    assert isinstance(build_paragraph_source(configured), HttpParagraphSource)
    assert isinstance(build_dictionary(configured), HttpDictionary)
