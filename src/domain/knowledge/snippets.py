r"""Highlighted snippets: a short window of a text around the first match, matches in ``<mark>``.

A match is what the search matched: the word with a word boundary (``\b``) at each end,
case-insensitively. The snippet is HTML-escaped text in which only the ``<mark>`` tags are markup,
so a client may show it as HTML; whitespace runs (line breaks of Markdown) read as one space.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

DEFAULT_SNIPPET_LENGTH = 200
ELLIPSIS = "\u2026"
MARK_OPEN = "<mark>"
MARK_CLOSE = "</mark>"


def match_spans(text: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """Where ``words`` occur in ``text`` as whole words: sorted, overlapping spans merged."""
    if not words:
        return []
    # Longest first, so that "don't" wins over "don" where both match at one place.
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
    pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)
    spans: list[tuple[int, int]] = []
    for found in pattern.finditer(text):
        start, end = found.span()
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def make_snippet(text: str, words: Sequence[str], *, length: int = DEFAULT_SNIPPET_LENGTH) -> str:
    """About ``length`` characters of ``text`` around its first match (its start when none)."""
    flat = " ".join(text.split())
    spans = match_spans(flat, words)
    start = 0
    if spans and spans[0][0] > length // 3:
        # Leave a third of the window before the first match, cut at a space.
        start = flat.rfind(" ", 0, spans[0][0] - length // 3) + 1
    end = len(flat)
    if end - start > length:
        cut = flat.rfind(" ", start, start + length)
        end = cut if cut > start else start + length
    pieces = [ELLIPSIS] if start > 0 else []
    cursor = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        pieces.append(html.escape(flat[cursor:span_start], quote=False))
        pieces.append(MARK_OPEN + html.escape(flat[span_start:span_end], quote=False) + MARK_CLOSE)
        cursor = span_end
    pieces.append(html.escape(flat[cursor:end], quote=False))
    if end < len(flat):
        pieces.append(ELLIPSIS)
    return "".join(pieces)
