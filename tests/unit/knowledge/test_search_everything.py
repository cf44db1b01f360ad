"""One search over articles and paragraphs: ranked, highlighted, only what the caller may read."""

from __future__ import annotations

import pytest

from src.application.knowledge.views import SearchEverythingQuery
from src.domain.identity.model import Principal
from src.domain.knowledge.errors import InvalidSearchWord, UnknownSearchScope
from src.domain.knowledge.snippets import make_snippet, match_spans
from tests.unit.knowledge.conftest import World


async def test_hits_from_every_scope_ranked_with_snippets(world: World, ada: Principal, bob: Principal) -> None:
    await world.write(ada, "Pasta night", "We cook pasta, pasta and more pasta.")
    await world.write(bob, "Bob's pasta", "Secret pasta.")  # a private draft: never Ada's hit
    await world.write(bob, "Bob's public pasta", "Open pasta.", status="published", visibility="public")
    await world.store_paragraphs("One pasta paragraph.", "Nothing here.")
    results = await world.search(ada, SearchEverythingQuery(q="pasta"))
    assert results.totals == {"articles": 2, "paragraphs": 1}
    assert results.total == 3
    assert [(h.scope, h.title) for h in results.items][0] == ("articles", "Pasta night")
    assert {h.title for h in results.items} == {"Pasta night", "Bob's public pasta", None}
    snippet = results.items[0].snippet
    assert snippet.count("<mark>pasta</mark>") == 3


async def test_scopes_narrow_the_search_and_an_unknown_one_is_refused(world: World, ada: Principal) -> None:
    await world.write(ada, "pasta", "pasta")
    await world.store_paragraphs("pasta")
    only = await world.search(ada, SearchEverythingQuery(q="pasta", scopes=["paragraphs"]))
    assert [h.scope for h in only.items] == ["paragraphs"]
    assert only.totals == {"paragraphs": 1}
    with pytest.raises(UnknownSearchScope) as raised:
        await world.search(ada, SearchEverythingQuery(q="pasta", scopes=["paragraphs", "messages"]))
    assert raised.value.extra["scope"] == "messages"


async def test_pages_of_the_merged_ranking(world: World, ada: Principal) -> None:
    await world.store_paragraphs(*(f"pasta {'pasta ' * i}" for i in range(5)))
    first = await world.search(ada, SearchEverythingQuery(q="pasta", limit=2))
    second = await world.search(ada, SearchEverythingQuery(q="pasta", limit=2, offset=2))
    everything = await world.search(ada, SearchEverythingQuery(q="pasta", limit=10))
    assert [h.id for h in first.items + second.items] == [h.id for h in everything.items[:4]]
    scores = [h.score for h in everything.items]
    assert scores == sorted(scores, reverse=True)
    assert first.total == 5


async def test_the_query_follows_the_search_rules(world: World, ada: Principal) -> None:
    await world.store_paragraphs("cats and dogs", "cats only")
    assert (await world.search(ada, SearchEverythingQuery(q="cats dogs"))).total == 1
    assert (await world.search(ada, SearchEverythingQuery(q="cats dogs", operator="or"))).total == 2
    with pytest.raises(InvalidSearchWord):
        await world.search(ada, SearchEverythingQuery(q="cats <script>"))


def test_snippets_mark_whole_words_and_escape_the_rest() -> None:
    text = "Someone said <one> thing: one, ONE and none. " + "filler " * 60 + "one last"
    snippet = make_snippet(text, ["one"], length=60)
    assert snippet.startswith("Someone said &lt;<mark>one</mark>&gt; thing: <mark>one</mark>, <mark>ONE</mark>")
    assert snippet.endswith("\u2026")
    assert "<mark>none" not in snippet
    late = make_snippet("filler " * 100 + "the word here", ["word"], length=60)
    assert late.startswith("\u2026")
    assert "<mark>word</mark>" in late
    assert match_spans("don't stop", ["don't", "don"]) == [(0, 5)]
