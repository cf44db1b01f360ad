"""Words: the one definition shared by word counts, the search index and search queries."""

from __future__ import annotations

import random

import pytest

from src.domain.knowledge.errors import InvalidSearchQuery, InvalidSearchWord
from src.domain.knowledge.words import SearchOperator, SearchQuery, count_words, index_terms, normalise_search_word
from tests.knowledge_support import random_query, random_text, reference_counts, reference_matches


def terms(text: str) -> set[str]:
    return {t.text for t in index_terms(text)}


def matches(text: str, word: str) -> bool:
    return normalise_search_word(word) in terms(text)


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        # The reference's own examples: whole words only, any case.
        ("There is one apple.", "one", True),
        ("There is none.", "one", False),
        ("Someone was here.", "one", False),
        ("ONE, two", "one", True),
        ("One two", "ONE", True),
        # Digits and underscores are word characters: no boundary inside "one2" or "one_two".
        ("one2 one_two", "one", False),
        ("one-two", "one", True),
        # An apostrophe is not a word character: "one's" holds the word "one", "don't" holds "don" and "t".
        ("it is one's turn", "one", True),
        ("I don't know", "don", True),
        ("I don't know", "t", True),
        ("I don't know", "don't", True),
        ("I DON'T know", "don't", True),
        ("I don t know", "don't", False),
        ("I don''t know", "don't", False),
        ("I don't know", "on't", False),
        ("rock'n'roll", "n'roll", True),
        ("rock'n'roll", "rock'n", True),
        ("rock'n roll", "rock'n'roll", False),
        # Apostrophes at the ends need a word on that side, as \y'tis\y does.
        ("and 'tis so", "'tis", False),
        ("and it'tis so", "'tis", True),
        ("don' t", "don'", False),
        ("don't", "don'", True),
        ("don't", "'", True),
        ("don''t", "'", False),
        ("don''t", "''", True),
        # The typographic apostrophe is its own character.
        ("don’t", "don’t", True),
        ("don’t", "don't", False),
        ("café crème", "CAFÉ", True),
        ("cafe", "café", False),
    ],
)
def test_a_word_matches_exactly_as_the_reference_regex_does(text: str, word: str, expected: bool) -> None:
    assert reference_matches(text, word) is expected, "the example itself is wrong"
    assert matches(text, word) is expected


def test_random_texts_and_words_match_exactly_as_the_reference_regex_does() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(3000):
        text = random_text(rng)
        found = terms(text)
        for word in random_query(rng):
            assert (normalise_search_word(word) in found) is reference_matches(text, word), (text, word)
            checked += 1
    assert checked > 5000


def test_word_counts_count_every_searchable_word_lower_cased() -> None:
    text = "The cat. the CAT! Don't snake_case x" + "y" * 60
    assert count_words(text) == {"the": 2, "cat": 2, "don": 1, "t": 1}
    rng = random.Random(3)
    texts = [random_text(rng) for _ in range(200)]
    total = sum((count_words(t) for t in texts), start=count_words(""))
    assert total == reference_counts(texts)


def test_terms_hold_positions_for_ranking_and_long_chains_stay_bounded() -> None:
    assert [(t.text, t.position) for t in index_terms("a b")] == [("a", 1), ("b", 2)]
    chain = "'".join(["ab"] * 2000)  # an apostrophe chain 6000 characters long
    found = index_terms(chain)
    assert max(len(t.text) for t in found) <= 50
    # Every run once, and each distinct stretch of the chain once.
    assert len(found) < 2000 + 100


@pytest.mark.parametrize("word", ["", " ", "a$", "one two", "a-b", "under_score", "x" * 51, "*", "a\\", "(one)", "%"])
def test_a_word_that_is_not_letters_digits_or_apostrophes_is_refused_by_name(word: str) -> None:
    with pytest.raises(InvalidSearchWord) as raised:
        SearchQuery.parse([word], "and")
    assert raised.value.extra["word"] == word


def test_queries_are_checked_and_normalised() -> None:
    query = SearchQuery.parse(["One", " two ", "ONE", "x" * 50], "OR")
    assert query.words == ("one", "two", "x" * 50)
    assert query.operator is SearchOperator.OR
    with pytest.raises(InvalidSearchQuery):
        SearchQuery.parse([], "and")
    with pytest.raises(InvalidSearchQuery):
        SearchQuery.parse(["a"] * 21, "and")
    with pytest.raises(InvalidSearchQuery):
        SearchQuery.parse(["a"], "xor")
    assert SearchQuery.from_text("  Don't  stop ").words == ("don't", "stop")


def test_and_needs_every_word_and_or_any() -> None:
    assert SearchQuery.parse(["a", "b"], "and").matches_terms(["a", "b", "c"])
    assert not SearchQuery.parse(["a", "b"], "and").matches_terms(["a"])
    assert SearchQuery.parse(["a", "b"], "or").matches_terms(["b"])
    assert not SearchQuery.parse(["a", "b"], "or").matches_terms(["c"])


def test_a_word_that_lengthens_when_lower_cased_still_matches_itself() -> None:
    word = "İ" * 50  # 50 characters as written, 100 once lower-cased
    assert matches(f"x {word} y", word)
    assert count_words(word) == {word.lower(): 1}
