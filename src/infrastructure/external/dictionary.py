"""Dictionaries: a dictionaryapi.dev-compatible HTTP service, or none (offline).

``DICTIONARY_API_URL`` is the base of the service's entries (``https://api.dictionaryapi.dev/api/v2/
entries/en``); ``GET <base>/<word>`` answers a JSON list of entries, each with an optional
``phonetic``, ``phonetics[].text`` and ``meanings[].definitions[].definition``, or 404 for a word it
does not know. Down, slow (``DICTIONARY_TIMEOUT``) or garbage is ``DictionaryLookupFailed``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from src.domain.knowledge.errors import DictionaryLookupFailed
from src.domain.knowledge.model import WordDefinition
from src.infrastructure.external.http import LazyHttpClient, ResponseTooLarge
from src.infrastructure.logging import get_logger

logger = get_logger("parley.knowledge")

#: Definitions kept per word, in the service's order (its first meanings first).
MAX_DEFINITIONS = 3


class HttpDictionary:
    available = True

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._http = LazyHttpClient(timeout=timeout)

    async def define(self, word: str) -> WordDefinition:
        url = f"{self._base}/{quote(word, safe='')}"
        try:
            response, body = await self._http.get(url, accept="application/json")
        except (TimeoutError, httpx.TimeoutException):
            raise self._failed(word, f"no answer within {self._http.timeout:g} s") from None
        except ResponseTooLarge as exc:
            raise self._failed(word, f"it answered {exc}") from None
        except httpx.HTTPError as exc:
            raise self._failed(word, f"it could not be reached ({type(exc).__name__})") from None
        if response.status_code == 404:
            return WordDefinition(word, found=False)
        if response.status_code != 200:
            raise self._failed(word, f"it answered HTTP {response.status_code}")
        try:
            return parse_entries(word, json.loads(body))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise self._failed(word, "its answer is not a list of dictionary entries") from None

    def _failed(self, word: str, why: str) -> DictionaryLookupFailed:
        logger.warning("dictionary_lookup_failed", word=word, reason=why)
        return DictionaryLookupFailed(f"The dictionary service failed for {word!r}: {why}")

    async def aclose(self) -> None:
        await self._http.aclose()


def parse_entries(word: str, entries: Any) -> WordDefinition:
    """The first definitions and the phonetic of a dictionaryapi.dev answer; raises on another shape."""
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise ValueError("not a non-empty list of entries")
    phonetic: str | None = None
    definitions: list[str] = []
    for entry in entries:
        if phonetic is None:
            candidates = [entry.get("phonetic"), *(p.get("text") for p in entry.get("phonetics") or [])]
            phonetic = next((c for c in candidates if isinstance(c, str) and c.strip()), None)
        for meaning in entry.get("meanings") or []:
            for definition in meaning.get("definitions") or []:
                text = definition.get("definition")
                if isinstance(text, str) and text.strip() and len(definitions) < MAX_DEFINITIONS:
                    definitions.append(text.strip())
    return WordDefinition(word, tuple(definitions), phonetic, found=True)


class OfflineDictionary:
    """No dictionary configured: every word is without definitions, and answers say so."""

    available = False

    async def define(self, word: str) -> WordDefinition:
        return WordDefinition(word, found=False)

    async def aclose(self) -> None:
        """Nothing to close."""
