"""Knowledge errors, each with a stable code the front doors translate."""

from __future__ import annotations

from typing import ClassVar

from src.domain.shared.errors import DomainError, ErrorKind, InvalidInput, NotFound


class InvalidSearchWord(InvalidInput):
    """A search word that is not 1-50 letters, digits or apostrophes; ``extra["word"]`` names it."""

    code = "invalid_search_word"
    title = "Invalid search word"


class InvalidSearchQuery(InvalidInput):
    """No words, too many words, an unknown operator."""

    code = "invalid_search_query"
    title = "Invalid search query"


class UnknownSearchScope(InvalidInput):
    code = "unknown_search_scope"
    title = "Unknown search scope"


class InvalidArticle(InvalidInput):
    """A title, body, tag, status or visibility that breaks the rules; the detail names the field."""

    code = "invalid_article"
    title = "Invalid article"


class ArticleNotFound(NotFound):
    """Also what another user's private or draft article is: it does not exist for the caller."""

    code = "article_not_found"
    title = "Article not found"


class InvalidParagraph(InvalidInput):
    code = "invalid_paragraph"
    title = "Not a paragraph"


class ParagraphSourceFailed(DomainError):
    """The paragraph source is down, too slow, or answered something that is not a paragraph.

    Nothing was stored. The HTTP front door answers 502 (an upstream failed, not Parley).
    """

    code = "paragraph_source_failed"
    kind: ClassVar[ErrorKind] = "unavailable"
    title = "The paragraph source failed"


class DictionaryLookupFailed(DomainError):
    """The dictionary service could not be asked about a word (down, slow, garbage).

    Never reaches a client: the word's definitions are left empty and the answer says so.
    """

    code = "dictionary_lookup_failed"
    kind: ClassVar[ErrorKind] = "unavailable"
    title = "The dictionary service failed"
