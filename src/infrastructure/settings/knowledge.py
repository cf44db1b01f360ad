"""Knowledge: the paragraph source and the dictionary (unset URLs: the offline generator, no definitions)."""

from __future__ import annotations

from dataclasses import dataclass

from src.infrastructure.settings.reading import HTTP, var


@dataclass(frozen=True, slots=True)
class KnowledgeSettings:
    paragraph_source_url: str | None = var("PARAGRAPH_SOURCE_URL", None, url=HTTP)
    paragraph_source_timeout: float = var("PARAGRAPH_SOURCE_TIMEOUT", 5.0, minimum=0.1)
    dictionary_api_url: str | None = var("DICTIONARY_API_URL", None, url=HTTP)
    dictionary_timeout: float = var("DICTIONARY_TIMEOUT", 5.0, minimum=0.1)
    dictionary_concurrency: int = var("DICTIONARY_CONCURRENCY", 5, minimum=1, maximum=50)
