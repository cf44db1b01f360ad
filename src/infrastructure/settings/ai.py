"""AI tools and safety (docs/AI.md): the tools' cache and input cap, prompt injection, PII, moderation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.application.ai.settings import ToolSettings
from src.infrastructure.settings.reading import var

#: The use cases' own defaults, which these variables override.
_TOOLS = ToolSettings()


@dataclass(frozen=True, slots=True)
class AiSettings:
    tools_cache_ttl_seconds: float = var("AI_TOOLS_CACHE_TTL_SECONDS", _TOOLS.cache_ttl_seconds, minimum=1.0)
    tools_cache_shared: bool = var("AI_TOOLS_CACHE_SHARED", _TOOLS.shared_cache)
    tools_max_input_chars: int = var("AI_TOOLS_MAX_INPUT_CHARS", _TOOLS.max_input_chars, minimum=100, maximum=1_000_000)
    prompt_injection_policy: Literal["off", "flag", "block"] = var(
        "PROMPT_INJECTION_POLICY", "flag", choices=("off", "flag", "block")
    )
    pii_redaction: Literal["off", "output", "input", "both"] = var(
        "PII_REDACTION", "off", choices=("off", "output", "input", "both")
    )
    moderate_chat: bool = var("MODERATE_CHAT", False)
