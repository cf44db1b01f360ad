r"""Words: the one definition that word counts, the search index and search queries share.

The reference paragraphs service matched a search word with PostgreSQL's ``content ~* '\yword\y'``:
the word, case-insensitively, with a word boundary at each end, where word characters are letters,
digits and the underscore. Parley answers the same question from an index, so the index must hold
exactly the strings such a regex can match. Read a text as a sequence of *runs*, the maximal
stretches of word characters (``\w+``). Then, for a search word ``w``:

- without apostrophes (``one``), ``\yw\y`` matches exactly when some run *is* ``w``: ``one`` never
  matches ``none``, ``someone`` or ``one_two``, and does match ``one's`` (the apostrophe is not a word
  character, so ``one`` is a whole run there);
- with apostrophes (``don't``, ``rock'n'roll``, ``'tis``), the apostrophes of ``w`` must sit between
  runs exactly as in the text: ``don't`` matches the runs ``don`` and ``t`` joined by one apostrophe,
  never ``don t`` or ``don''t``. An apostrophe at either end of ``w`` needs a run on that side too
  (``'tis`` matches ``it'tis`` but not `` 'tis``: a boundary between two non-word characters is none).

So a text's *terms* are its runs, plus every stretch of a *chain* (runs joined by separators made only
of apostrophes) that holds at least one separator and is at most 50 characters long: ``don't`` gives
``don``, ``t``, ``don'``, ``'``, ``'t`` and ``don't``. A search word matches a text exactly when it is
one of the text's terms. Word counts count runs. Search words are 1-50 letters, digits or
apostrophes (the typographic one, U+2019, included), so a run holding an underscore or longer than 50
characters can never be searched for and is neither a term nor a counted word.

Case: runs and search words are compared lower-cased, each run on its own.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from src.domain.knowledge.errors import InvalidSearchQuery, InvalidSearchWord

#: A run: a maximal stretch of word characters (Unicode letters and digits, and the underscore).
WORD_RUN = re.compile(r"\w+")
#: What may join runs inside a searchable word: the ASCII apostrophe and the typographic one.
APOSTROPHES = frozenset("'\u2019")
MAX_WORD_LENGTH = 50
MAX_SEARCH_WORDS = 20
_APOSTROPHE_GROUPS = re.compile("([" + "".join(sorted(APOSTROPHES)) + "]+)")


class SearchOperator(enum.StrEnum):
    AND = "and"
    OR = "or"


@dataclass(frozen=True, slots=True)
class Term:
    """One thing a search word can be equal to, lower-cased, at the position (1-based ordinal) of
    the run it starts at (positions only rank results; they never decide a match)."""

    text: str
    position: int


def is_searchable_run(run: str) -> bool:
    """Whether a search word could equal this run: no underscore, at most 50 characters."""
    return len(run) <= MAX_WORD_LENGTH and "_" not in run


def runs(text: str) -> list[str]:
    """The runs of ``text``, as written."""
    return WORD_RUN.findall(text)


def count_words(text: str) -> Counter[str]:
    """How often each word occurs in ``text``: every searchable run, lower-cased."""
    return Counter(run.lower() for run in WORD_RUN.findall(text) if is_searchable_run(run))


def index_terms(text: str) -> list[Term]:
    """Every term of ``text`` (see the module's docstring), in order, repeated as often as it occurs."""
    terms: list[Term] = []
    # The current chain: runs at even indexes, the apostrophe separators between them at odd ones.
    chain: list[tuple[str, int]] = []
    previous_end = -1
    for position, match in enumerate(WORD_RUN.finditer(text), start=1):
        run = match.group()
        if is_searchable_run(run):
            terms.append(Term(run.lower(), position))
        gap = text[previous_end : match.start()] if previous_end >= 0 else ""
        if gap and all(c in APOSTROPHES for c in gap):
            chain.append((gap, position - 1))
            chain.append((run, position))
        else:
            terms.extend(_chain_terms(chain))
            chain = [(run, position)]
        previous_end = match.end()
    terms.extend(_chain_terms(chain))
    return terms


def _chain_terms(chain: list[tuple[str, int]]) -> list[Term]:
    if len(chain) < 3:  # a lone run: its term is already there
        return []
    found: list[Term] = []
    # Each stretch once per chain: a long chain of repeats ("a'a'a'...") stays a handful of terms.
    seen: set[str] = set()
    for start in range(len(chain)):
        length = 0
        parts: list[str] = []
        for index in range(start, len(chain)):
            element = chain[index][0]
            is_run = index % 2 == 0
            if is_run and not is_searchable_run(element):
                break  # no search word can hold this run, nor anything that spans it
            length += len(element)
            if length > MAX_WORD_LENGTH:
                break
            parts.append(element.lower() if is_run else element)
            if index == start and is_run:
                continue  # a lone run is a plain term
            text = "".join(parts)
            if text not in seen:
                seen.add(text)
                found.append(Term(text, chain[start][1]))
    return found


def normalise_search_word(raw: str) -> str:
    """``raw`` as the term it must equal (lower-cased run by run); raises ``InvalidSearchWord``."""
    word = raw.strip()
    if not 1 <= len(word) <= MAX_WORD_LENGTH or not all(c.isalnum() or c in APOSTROPHES for c in word):
        raise InvalidSearchWord(
            f"{raw!r} is not a search word: use 1-{MAX_WORD_LENGTH} letters, digits or apostrophes",
            extra={"word": raw},
        )
    # Lower-cased run by run, exactly as index_terms does (case mappings can depend on neighbours).
    return "".join(part if part[0] in APOSTROPHES else part.lower() for part in _APOSTROPHE_GROUPS.split(word) if part)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Validated search words (as terms, without repeats, in the order given) and how they combine."""

    words: tuple[str, ...]
    operator: SearchOperator = SearchOperator.AND

    @classmethod
    def parse(cls, words: Sequence[str], operator: str | SearchOperator = SearchOperator.AND) -> SearchQuery:
        try:
            how = SearchOperator(operator.lower() if isinstance(operator, str) else operator)
        except ValueError:
            raise InvalidSearchQuery(f"operator must be 'and' or 'or', not {operator!r}") from None
        if not words:
            raise InvalidSearchQuery("give at least one word to search for")
        if len(words) > MAX_SEARCH_WORDS:
            raise InvalidSearchQuery(f"at most {MAX_SEARCH_WORDS} words, got {len(words)}")
        terms = [normalise_search_word(w) for w in words]
        return cls(words=tuple(dict.fromkeys(terms)), operator=how)

    @classmethod
    def from_text(cls, text: str, operator: str | SearchOperator = SearchOperator.AND) -> SearchQuery:
        """The words of a free-text query (``q``): separated by whitespace, each a search word."""
        return cls.parse(text.split(), operator)

    def matches_terms(self, terms: Iterable[str]) -> bool:
        """Whether a text with these terms matches (what every index answers, and the fakes use)."""
        present = set(terms)
        if self.operator is SearchOperator.AND:
            return all(w in present for w in self.words)
        return any(w in present for w in self.words)
