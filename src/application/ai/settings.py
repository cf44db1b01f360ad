"""The knobs of the AI tools, taken from settings by the composition root (their defaults are the
variables' defaults: ``AI_TOOLS_CACHE_TTL_SECONDS``, ``AI_TOOLS_CACHE_SHARED``, ``AI_TOOLS_MAX_INPUT_CHARS``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ToolSettings:
    cache_ttl_seconds: float = 86_400.0
    #: True: one user's identical request is served from another's cache entry.
    shared_cache: bool = False
    max_input_chars: int = 32_000
