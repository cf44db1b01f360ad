"""The model providers Parley can call, in one table: what configures each and which adapter speaks to it.

A provider is one row: its name (the ``provider/`` of the catalog's model ids), the adapter that speaks
its API, its default base URL, and whether a base URL alone configures it (a local OpenAI-compatible
server such as Ollama or vLLM may need no key). Its variables follow from its name:
``<NAME>_API_KEY`` and ``<NAME>_BASE_URL``.

Providers that speak OpenAI's chat completions API (Mistral, DeepSeek, OpenRouter, Together, a local
vLLM or Ollama) need no code: ``OPENAI_COMPATIBLE_PROVIDERS="mistral=https://api.mistral.ai/v1"`` adds
a row served by the OpenAI adapter under that name, ``MISTRAL_API_KEY`` is its key, and the models
a deployment routes to are entries of its catalog file (``MODEL_CATALOG_PATH``), e.g.
``id = "mistral/mistral-small-latest"``.

No SDK is imported here (settings and ``parley models`` read this table); an adapter's module is
imported when its provider is configured.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OFFLINE = "offline"
#: The adapter that serves OpenAI and every OpenAI-compatible provider.
OPENAI_ADAPTER = "src.infrastructure.llm.openai:OpenAIChatModel"
#: A provider name: what model ids start with, and (upper-cased) its variables' prefix.
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    name: str
    #: ``module:Class`` of the adapter, imported only when the provider is configured.
    adapter: str
    #: Where the adapter sends requests when ``<NAME>_BASE_URL`` is not set (``None``: its SDK's own).
    default_base_url: str | None = None
    #: A base URL alone configures it (a server that needs no key); otherwise the key is required.
    key_optional: bool = False
    #: Added by ``OPENAI_COMPATIBLE_PROVIDERS`` (served by the OpenAI adapter under this name).
    openai_compatible: bool = False

    @property
    def key_variable(self) -> str:
        return f"{self.name.upper()}_API_KEY"

    @property
    def base_url_variable(self) -> str:
        return f"{self.name.upper()}_BASE_URL"

    def is_configured(self, api_key: str | None, base_url: str | None) -> bool:
        return bool(api_key) or (self.key_optional and bool(base_url))

    def adapter_class(self) -> Any:
        module, _, name = self.adapter.partition(":")
        return getattr(importlib.import_module(module), name)


#: The providers with an adapter of their own (the offline one needs no row: it is always there).
BUILT_IN: tuple[ProviderEntry, ...] = (
    # OpenAI, or an OpenAI-compatible server at OPENAI_BASE_URL that may need no key.
    ProviderEntry("openai", OPENAI_ADAPTER, key_optional=True),
    ProviderEntry("gemini", "src.infrastructure.llm.gemini:GeminiChatModel"),
    ProviderEntry("groq", "src.infrastructure.llm.groq:GroqChatModel"),
)


def openai_compatible_entry(name: str, base_url: str) -> ProviderEntry:
    """The row of a provider named in ``OPENAI_COMPATIBLE_PROVIDERS``: served by the OpenAI adapter at
    ``base_url``, configured by ``<NAME>_API_KEY`` (or by its base URL alone, for a local server)."""
    return ProviderEntry(name, OPENAI_ADAPTER, default_base_url=base_url, key_optional=True, openai_compatible=True)


def provider_entries(openai_compatible: Mapping[str, str] = {}) -> tuple[ProviderEntry, ...]:
    """The built-in rows, then one per OpenAI-compatible provider (name -> base URL)."""
    return (*BUILT_IN, *(openai_compatible_entry(name, url) for name, url in openai_compatible.items()))


def reserved_names() -> Iterable[str]:
    """Names an OpenAI-compatible provider may not take."""
    return (OFFLINE, *(entry.name for entry in BUILT_IN))


@dataclass(frozen=True, slots=True)
class ProviderAccess:
    """What a provider is called with: its key (never shown) and base URL (``None``: the SDK's own)."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = field(default=None, repr=False)  # may hold a password


NO_ACCESS = ProviderAccess()
