"""Automatic conversation titles: at most six words, from a model's suggestion or the first message."""

from __future__ import annotations

import re

MAX_TITLE_WORDS = 6
MAX_AUTO_TITLE_CHARS = 80
FALLBACK_TITLE = "New conversation"

_MARKUP = re.compile(r"[`*_#>\[\]|~]+")
_LABEL = re.compile(r"^\s*(?:title|subject|topic)\s*[:\-]\s*", re.IGNORECASE)
# Straight and typographic quotes, dashes: written as escapes so no look-alike hides in the source.
_QUOTES = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb"
_TRAILING = ".,;:!?-\u2013\u2014 "


def _words(text: str) -> list[str]:
    return _MARKUP.sub(" ", text).split()


def _shorten(words: list[str]) -> str:
    title = " ".join(words[:MAX_TITLE_WORDS]).strip(_TRAILING + _QUOTES)
    if len(title) > MAX_AUTO_TITLE_CHARS:
        title = title[:MAX_AUTO_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(_TRAILING)
    return title[:1].upper() + title[1:] if title else ""


def title_from_text(text: str) -> str:
    """A title made from the first user message: its first non-blank line, markup stripped, at most
    six words (what Parley uses when no model can suggest one, e.g. with the offline models)."""
    for line in text.splitlines():
        words = _words(line)
        if words:
            return _shorten(words) or FALLBACK_TITLE
    return FALLBACK_TITLE


def title_from_suggestion(suggestion: str) -> str | None:
    """A model's suggested title cleaned up: first line, no "Title:" label, quotes or markup, at most
    six words. ``None`` when nothing usable is left."""
    for line in suggestion.splitlines():
        line = _LABEL.sub("", line).strip().strip(_QUOTES)
        words = _words(line)
        if words:
            return _shorten(words) or None
    return None
