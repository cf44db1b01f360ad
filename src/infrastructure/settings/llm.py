"""Language models: the providers (the rows of ``llm/provider_table.py``), the catalog, timeouts,
retries, fallback chains and circuit breakers. A new provider is a row of that table: its
``<NAME>_API_KEY`` and ``<NAME>_BASE_URL`` are read here without a line of their own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from src.domain.llm.routing import FallbackChains
from src.infrastructure.llm.provider_table import (
    NO_ACCESS,
    PROVIDER_NAME,
    ProviderAccess,
    ProviderEntry,
    provider_entries,
    reserved_names,
)
from src.infrastructure.redaction import mask_url
from src.infrastructure.settings.reading import (
    HTTP,
    ConfigError,
    Reader,
    default_of,
    existing_file,
    is_http_url,
    manual,
    read_group,
    var,
)


@dataclass(frozen=True, slots=True)
class LlmSettings:
    default_model: str | None = var("DEFAULT_MODEL", None)
    #: A TOML file of models replacing the built-in catalog.
    catalog_path: Path | None = manual("MODEL_CATALOG_PATH", None)
    offline_token_delay_ms: int = var("OFFLINE_TOKEN_DELAY_MS", 15, minimum=0, maximum=10_000)
    #: Each online provider's key and base URL by provider name, from ``<NAME>_API_KEY`` and
    #: ``<NAME>_BASE_URL`` (shown by ``shown_providers``).
    access: Mapping[str, ProviderAccess] = field(default_factory=dict, repr=False)
    #: More providers that speak OpenAI's API, name -> base URL.
    openai_compatible_providers: Mapping[str, str] = manual(
        "OPENAI_COMPATIBLE_PROVIDERS", default_factory=dict, repr=False
    )
    connect_timeout: float = var("LLM_CONNECT_TIMEOUT", 5.0, minimum=0.1)
    read_timeout: float = var("LLM_READ_TIMEOUT", 60.0, minimum=0.1)
    total_timeout: float = var("LLM_TOTAL_TIMEOUT", 300.0, minimum=1.0)
    stream_idle_timeout: float = var("LLM_STREAM_IDLE_TIMEOUT", 30.0, minimum=0.1)
    retries: int = var("LLM_RETRIES", 2, minimum=0, maximum=10)
    retry_base_delay: float = manual("LLM_RETRY_BASE_DELAY", 0.5)
    #: At least ``retry_base_delay``.
    retry_max_delay: float = manual("LLM_RETRY_MAX_DELAY", 8.0)
    #: Checked against the catalog when the container is built.
    fallbacks: FallbackChains = manual("LLM_FALLBACKS", default_factory=FallbackChains)
    breaker_min_calls: int = var("LLM_BREAKER_MIN_CALLS", 5, minimum=1)
    breaker_failure_rate: float = var("LLM_BREAKER_FAILURE_RATE", 0.5, minimum=0.01, maximum=1.0)
    breaker_window_seconds: float = var("LLM_BREAKER_WINDOW_SECONDS", 60.0, minimum=1.0)
    breaker_reset_seconds: float = var("LLM_BREAKER_RESET_SECONDS", 30.0, minimum=0.1)

    def provider_access(self, provider: str) -> ProviderAccess:
        """``provider``'s key and base URL (both ``None`` when its variables are not set)."""
        return self.access.get(provider, NO_ACCESS)

    @property
    def providers(self) -> tuple[ProviderEntry, ...]:
        """Every online provider Parley knows: the built-in ones, then the OpenAI-compatible ones."""
        return provider_entries(self.openai_compatible_providers)

    @property
    def configured_providers(self) -> tuple[str, ...]:
        """The online providers Parley may call: each with its key, or (OpenAI at ``OPENAI_BASE_URL``, an
        OpenAI-compatible provider) with a base URL alone, for a server that needs no key. The offline
        one always is."""
        return tuple(
            entry.name
            for entry in self.providers
            if entry.is_configured(self.provider_access(entry.name).api_key, self.provider_access(entry.name).base_url)
        )

    def shown_providers(self) -> dict[str, str]:
        """Each provider's key (masked) and base URL, by variable name."""
        shown: dict[str, str] = {}
        for entry in self.providers:
            access = self.provider_access(entry.name)
            shown[entry.key_variable] = "****" if access.api_key else ""
            shown[entry.base_url_variable] = mask_url(access.base_url) if access.base_url else ""
        return shown


def load_llm(env: Reader) -> LlmSettings:
    """The model providers, the fallback chains and the retries' delays."""
    base_delay = env.number("LLM_RETRY_BASE_DELAY", default_of(LlmSettings, "retry_base_delay"), minimum=0.0)
    max_default = max(default_of(LlmSettings, "retry_max_delay"), base_delay)
    max_delay = env.number("LLM_RETRY_MAX_DELAY", max_default, minimum=0.0)
    if max_delay < base_delay:
        raise ConfigError(
            "LLM_RETRY_MAX_DELAY", f"must be at least LLM_RETRY_BASE_DELAY ({base_delay:g}), got {max_delay:g}"
        )
    fallbacks = env.raw("LLM_FALLBACKS")
    try:
        chains = FallbackChains.parse(fallbacks) if fallbacks else FallbackChains()
    except ValueError as exc:
        example = "openai/gpt-4.1-mini -> groq/llama-3.3-70b-versatile"
        raise ConfigError("LLM_FALLBACKS", f"{exc} (write e.g. '{example}')") from None
    compatible = _openai_compatible_providers(env)
    access = {
        entry.name: ProviderAccess(
            api_key=env.raw(entry.key_variable),
            base_url=env.url(entry.base_url_variable, schemes=HTTP, default=None) or entry.default_base_url,
        )
        for entry in provider_entries(compatible)
    }
    return read_group(
        LlmSettings,
        env,
        catalog_path=existing_file(env, "MODEL_CATALOG_PATH"),
        access=access,
        openai_compatible_providers=compatible,
        retry_base_delay=base_delay,
        retry_max_delay=max_delay,
        fallbacks=chains,
    )


def _openai_compatible_providers(env: Reader) -> dict[str, str]:
    """``OPENAI_COMPATIBLE_PROVIDERS``: ``name=base_url`` pairs, separated by commas or spaces."""
    variable = "OPENAI_COMPATIBLE_PROVIDERS"
    providers: dict[str, str] = {}
    for item in (env.raw(variable) or "").replace(",", " ").split():
        name, equals, url = item.partition("=")
        if not equals or not PROVIDER_NAME.fullmatch(name):
            raise ConfigError(
                variable,
                f"has {item!r}: write name=base_url pairs, the name in lower case letters, digits and _ "
                "(e.g. 'mistral=https://api.mistral.ai/v1')",
            )
        if name in reserved_names() or name in providers:
            raise ConfigError(variable, f"names {name!r} twice or a provider Parley already has")
        if not is_http_url(url):
            raise ConfigError(variable, f"gives {name!r} the base URL {mask_url(url)!r}, which is not an http(s) URL")
        providers[name] = url
    return providers
