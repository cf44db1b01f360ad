"""Grounding's pure rules: the retrieval query, excerpts, the grounded prompt and its trimming,
and the citations read back from a reply."""

from __future__ import annotations

import uuid

import pytest

from src.domain.chat.context import message_tokens, trim_to_context_window
from src.domain.chat.grounding import (
    GROUNDING_INSTRUCTIONS,
    Passage,
    PassageKind,
    citations_for,
    cited_numbers,
    ground_prompt,
    grounding_message,
    mark_cited,
    passage_excerpt,
    retrieval_query,
    selective_query,
)
from src.domain.knowledge.words import SearchOperator, SearchQuery
from src.domain.llm.model import MessageRole, PromptMessage


def passage(n: int, *, kind: PassageKind = PassageKind.ARTICLE, excerpt: str | None = None) -> Passage:
    return Passage(
        kind=kind,
        id=uuid.UUID(int=n),
        title=f"Title {n}" if kind is PassageKind.ARTICLE else None,
        excerpt=excerpt if excerpt is not None else f"excerpt number {n} " * 5,
        snippet=f"<mark>snippet</mark> {n}",
    )


def user(text: str) -> PromptMessage:
    return PromptMessage(MessageRole.USER, text)


def assistant(text: str) -> PromptMessage:
    return PromptMessage(MessageRole.ASSISTANT, text)


# -- the query ------------------------------------------------------------------------------------


def test_the_query_is_the_messages_words_without_stop_words_combined_with_or() -> None:
    query = retrieval_query("How much SALT should I put in the pasta water? Isn't salt bad for you?")
    assert query == SearchQuery(words=("salt", "put", "pasta", "water", "bad"), operator=SearchOperator.OR)


def test_special_characters_can_never_break_or_widen_the_query() -> None:
    query = retrieval_query('pasta* OR 1=1; DROP TABLE articles -- "quoted" (x) \'tis NEAR/3 a_b')
    assert query is not None
    # Operators and syntax are only the words they spell; underscore runs are never search words.
    assert query.words == ("1", "pasta", "drop", "table", "articles", "quoted", "tis", "near", "3")
    assert query.operator is SearchOperator.OR


@pytest.mark.parametrize("text", ["", "   ", "?!", "the and of it is", "a b c", "x" * 51, "foo_bar"])
def test_a_message_without_words_to_search_for_is_no_query(text: str) -> None:
    assert retrieval_query(text) is None


def test_single_digits_are_words_and_at_most_twenty_words_the_most_frequent_first() -> None:
    assert retrieval_query("chapter 7") == SearchQuery(("chapter", "7"), SearchOperator.OR)
    words = [f"word{i}" for i in range(30)]
    query = retrieval_query(" ".join(words) + " word29 word29 word12")
    assert query is not None
    assert len(query.words) == 20
    assert query.words[:2] == ("word29", "word12")  # repeated words first, then in the order written
    assert query.words[2:] == tuple(w for w in words if w not in {"word29", "word12"})[:18]


def words_of(query: SearchQuery | None) -> tuple[str, ...]:
    assert query is not None
    return query.words


def test_the_paragraph_search_keeps_the_rarest_words_within_its_budget() -> None:
    query = SearchQuery(("cat", "zebra", "violin", "lamp", "unicorn"), SearchOperator.OR)
    counts = {"cat": 9000, "zebra": 300, "violin": 300, "lamp": 1200}  # no paragraph has "unicorn"
    assert selective_query(query, counts, budget=1000) == SearchQuery(("zebra", "violin"), SearchOperator.OR)
    assert words_of(selective_query(query, counts, budget=2000)) == ("zebra", "violin", "lamp")
    assert words_of(selective_query(query, counts, budget=100_000)) == ("cat", "zebra", "violin", "lamp")
    # The rarest word is always searched, however common; a query no paragraph can match is none.
    assert words_of(selective_query(query, counts, budget=10)) == ("zebra",)
    assert selective_query(query, {}, budget=1000) is None


# -- excerpts -------------------------------------------------------------------------------------


def test_a_short_text_is_its_own_excerpt_with_whitespace_flattened() -> None:
    assert passage_excerpt("Boil  the\n\nwater.", ["water"], length=100) == "Boil the water."


def test_a_long_text_is_cut_to_a_window_around_its_first_match() -> None:
    text = " ".join(f"filler{i}" for i in range(200)) + " the pasta water boils " + "tail " * 200
    excerpt = passage_excerpt(text, ["pasta"], length=200)
    assert "the pasta water boils" in excerpt
    assert excerpt.startswith("\u2026 ")
    assert excerpt.endswith(" \u2026")
    assert len(excerpt) <= 200 + 4
    assert "filler0 " not in excerpt
    # No match at all: the start of the text.
    assert passage_excerpt(text, ["zebra"], length=50).startswith("filler0 filler1")


def test_a_match_near_the_end_shows_a_whole_window() -> None:
    text = "start " * 100 + "the end is pasta"
    excerpt = passage_excerpt(text, ["pasta"], length=120)
    assert excerpt.endswith("the end is pasta")
    assert len(excerpt) > 100


# -- the prompt -----------------------------------------------------------------------------------


def test_the_passages_are_numbered_in_one_system_message_after_the_system_prompt() -> None:
    history = [user("first question"), assistant("an answer"), user("pasta water?")]
    passages = [passage(1), passage(2, kind=PassageKind.PARAGRAPH)]
    grounded = ground_prompt("Be brief.", history, passages, context_window=8192, max_output_tokens=1024)
    messages = grounded.messages
    assert messages[0] == PromptMessage(MessageRole.SYSTEM, "Be brief.")
    assert messages[1].role is MessageRole.SYSTEM
    assert messages[2:] == tuple(history)
    text = messages[1].content
    assert text.startswith(GROUNDING_INSTRUCTIONS)
    assert "[1] (article: Title 1)\n" + passages[0].excerpt in text
    assert "[2] (paragraph)\n" + passages[1].excerpt in text
    assert grounded.passages == tuple(passages)
    assert text == grounding_message(passages)
    # Without a system prompt the passages lead.
    alone = ground_prompt(None, history, passages, context_window=8192, max_output_tokens=1024)
    assert alone.messages[0].content == text
    assert alone.messages[1:] == tuple(history)


def test_without_passages_the_prompt_is_exactly_the_ungrounded_one() -> None:
    history = [user("word " * 30) for _ in range(20)]
    grounded = ground_prompt("sys", history, [], context_window=500, max_output_tokens=100)
    assert grounded.messages == trim_to_context_window("sys", history, context_window=500, max_output_tokens=100)
    assert grounded.passages == ()
    assert grounded.citations == ()


def test_passages_take_only_the_room_the_history_leaves_lowest_ranked_dropped_first() -> None:
    history = [user("q " * 40), assistant("a " * 40), user("pasta " * 40)]
    passages = [passage(n) for n in range(1, 6)]
    history_tokens = sum(message_tokens(m.content) for m in history)
    two = message_tokens(grounding_message(passages[:2]))
    three = message_tokens(grounding_message(passages[:3]))
    # Room for the whole history and two passages, not three.
    window = history_tokens + two + (three - two) // 2 + 100
    grounded = ground_prompt(None, history, passages, context_window=window, max_output_tokens=100)
    assert grounded.passages == tuple(passages[:2])
    assert grounded.messages[1:] == tuple(history)  # the history is untouched
    assert sum(message_tokens(m.content) for m in grounded.messages) <= window - 100


def test_a_history_that_fills_the_window_leaves_no_passages_and_keeps_its_own_rule() -> None:
    history = [user("word " * 40) for _ in range(30)]
    passages = [passage(1)]
    grounded = ground_prompt("sys", history, passages, context_window=800, max_output_tokens=100)
    assert grounded.passages == ()
    assert grounded.messages == trim_to_context_window("sys", history, context_window=800, max_output_tokens=100)


# -- citations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cited"),
    [
        ("Salt it well [1].", {1}),
        ("Salt it [1][3], then boil[2].", {1, 2, 3}),
        ("Both say so [1, 2]; see also [3-4].", {1, 2, 3, 4}),
        ("Nothing cited here.", set()),
        ("Out of range [0] and [6] and [12].", set()),
        ("In code: `items[1]` and\n```python\nx = y[2]\n```\nbut [3] counts.", {3}),
        ("A link [1](https://example.com) is not a citation; [2] is.", {2}),
        ("A reversed range [4-2] is nothing.", set()),
    ],
)
def test_the_numbers_a_reply_cites_are_read_outside_code(text: str, cited: set[int]) -> None:
    assert cited_numbers(text, 5) == cited


def test_citations_list_every_passage_given_and_mark_those_cited() -> None:
    passages = [passage(1), passage(2, kind=PassageKind.PARAGRAPH)]
    given = citations_for(passages)
    assert given == (
        {
            "n": 1,
            "kind": "article",
            "id": str(uuid.UUID(int=1)),
            "title": "Title 1",
            "snippet": "<mark>snippet</mark> 1",
            "cited": False,
        },
        {
            "n": 2,
            "kind": "paragraph",
            "id": str(uuid.UUID(int=2)),
            "title": None,
            "snippet": "<mark>snippet</mark> 2",
            "cited": False,
        },
    )
    marked = mark_cited(given, "As the paragraph says [2].")
    assert [c["cited"] for c in marked] == [False, True]
    assert [c["n"] for c in marked] == [1, 2]
    assert mark_cited((), "anything [1]") == ()
