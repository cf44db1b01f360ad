"""The model providers' settings: defaults, what makes a provider configured, bad values, masking."""

from __future__ import annotations

import pytest

from src.domain.llm.routing import FallbackChains
from src.infrastructure.llm.provider_table import ProviderAccess
from src.infrastructure.settings import ConfigError
from tests.conftest import SettingsFactory


def test_nothing_configured_means_only_the_offline_model_and_sensible_timeouts(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    assert settings.llm.configured_providers == ()
    assert (settings.llm.connect_timeout, settings.llm.read_timeout) == (5.0, 60.0)
    assert (settings.llm.total_timeout, settings.llm.stream_idle_timeout) == (300.0, 30.0)
    assert (settings.llm.retries, settings.llm.retry_base_delay, settings.llm.retry_max_delay) == (2, 0.5, 8.0)
    assert settings.llm.fallbacks == FallbackChains()
    assert (settings.llm.breaker_min_calls, settings.llm.breaker_failure_rate) == (5, 0.5)
    assert (settings.llm.breaker_window_seconds, settings.llm.breaker_reset_seconds) == (60.0, 30.0)


def test_a_provider_is_configured_by_its_key_and_openai_also_by_a_base_url(make_settings: SettingsFactory) -> None:
    assert make_settings(GEMINI_API_KEY="g", GROQ_API_KEY="q").llm.configured_providers == ("gemini", "groq")
    assert make_settings(OPENAI_API_KEY="sk-x").llm.configured_providers == ("openai",)
    # An OpenAI-compatible server that needs no key (Ollama): the base URL alone configures it.
    ollama = make_settings(OPENAI_BASE_URL="http://localhost:11434/v1")
    assert ollama.llm.configured_providers == ("openai",)
    assert ollama.llm.provider_access("openai").base_url == "http://localhost:11434/v1"
    # Gemini and Groq always need a key: a base URL alone does not make them callable.
    assert make_settings(GROQ_BASE_URL="http://localhost:9000").llm.configured_providers == ()


def test_openai_compatible_providers_are_configuration(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        OPENAI_COMPATIBLE_PROVIDERS="mistral=https://api.mistral.ai/v1, vllm=http://gpu-box:8000/v1",
        MISTRAL_API_KEY="m-key",
    )
    assert settings.llm.openai_compatible_providers == {
        "mistral": "https://api.mistral.ai/v1",
        "vllm": "http://gpu-box:8000/v1",
    }
    # Listed means callable: a local server may need no key.
    assert settings.llm.configured_providers == ("mistral", "vllm")
    assert settings.llm.provider_access("mistral") == ProviderAccess("m-key", "https://api.mistral.ai/v1")
    assert settings.llm.provider_access("vllm").api_key is None
    # <NAME>_BASE_URL still wins over the listed URL, as for the built-in providers.
    moved = make_settings(
        OPENAI_COMPATIBLE_PROVIDERS="mistral=https://api.mistral.ai/v1", MISTRAL_BASE_URL="http://eu:1"
    )
    assert moved.llm.provider_access("mistral").base_url == "http://eu:1"
    shown = settings.masked()
    assert (shown["MISTRAL_API_KEY"], shown["VLLM_API_KEY"], shown["GROQ_API_KEY"]) == ("****", "", "")
    assert shown["OPENAI_COMPATIBLE_PROVIDERS"] == "mistral=https://api.mistral.ai/v1,vllm=http://gpu-box:8000/v1"
    assert "m-key" not in repr(settings)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("mistral", "name=base_url"),
        ("Mistral=https://api.mistral.ai/v1", "name=base_url"),
        ("groq=https://api.groq.com/openai/v1", "already has"),
        ("offline=http://localhost:1", "already has"),
        ("a=http://x:1 a=http://y:1", "twice"),
        ("mistral=ftp://api.mistral.ai", "not an http(s) URL"),
        ("mistral=ftp://user:secret@proxy/v1", "not an http(s) URL"),
    ],
)
def test_a_bad_openai_compatible_provider_list_is_one_clear_error(
    make_settings: SettingsFactory, value: str, says: str
) -> None:
    with pytest.raises(ConfigError, match="OPENAI_COMPATIBLE_PROVIDERS") as error:
        make_settings(OPENAI_COMPATIBLE_PROVIDERS=value)
    assert says in str(error.value)
    assert "secret" not in str(error.value)


def test_fallback_chains_are_parsed(make_settings: SettingsFactory) -> None:
    settings = make_settings(LLM_FALLBACKS="openai/gpt-4.1-mini -> groq/llama-3.3-70b-versatile; gemini/a -> openai/b")
    assert settings.llm.fallbacks.fallbacks_for("openai/gpt-4.1-mini") == ("groq/llama-3.3-70b-versatile",)
    assert settings.llm.fallbacks.fallbacks_for("gemini/a") == ("openai/b",)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OPENAI_BASE_URL", "ftp://example.com", "OPENAI_BASE_URL must start with http:// or https://"),
        ("GEMINI_BASE_URL", "http://", "GEMINI_BASE_URL has no host"),
        ("LLM_CONNECT_TIMEOUT", "soon", "LLM_CONNECT_TIMEOUT must be a number, got 'soon'"),
        ("LLM_READ_TIMEOUT", "0", "LLM_READ_TIMEOUT must be at least 0.1, got 0.0"),
        ("LLM_RETRIES", "11", "LLM_RETRIES must be at most 10, got 11"),
        ("LLM_BREAKER_MIN_CALLS", "0", "LLM_BREAKER_MIN_CALLS must be at least 1, got 0"),
        ("LLM_BREAKER_FAILURE_RATE", "1.5", "LLM_BREAKER_FAILURE_RATE must be at most 1.0, got 1.5"),
        ("LLM_BREAKER_WINDOW_SECONDS", "0", "LLM_BREAKER_WINDOW_SECONDS must be at least 1.0, got 0.0"),
        ("LLM_FALLBACKS", "openai/a -> ", "LLM_FALLBACKS has an empty model name"),
        ("LLM_FALLBACKS", "openai/a", "LLM_FALLBACKS has a chain with one model (openai/a)"),
    ],
)
def test_bad_values_are_one_readable_line(
    make_settings: SettingsFactory, variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(**{variable: value})
    assert message in str(caught.value)
    assert caught.value.variable == variable


def test_a_max_delay_below_the_base_delay_is_refused(make_settings: SettingsFactory) -> None:
    with pytest.raises(ConfigError, match="LLM_RETRY_MAX_DELAY must be at least LLM_RETRY_BASE_DELAY"):
        make_settings(LLM_RETRY_BASE_DELAY="2", LLM_RETRY_MAX_DELAY="1")
    assert make_settings(LLM_RETRY_BASE_DELAY="10").llm.retry_max_delay == 10.0


def test_keys_are_masked_and_never_in_the_repr(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        OPENAI_API_KEY="sk-secret-openai",
        GEMINI_API_KEY="secret-gemini",
        GROQ_API_KEY="gsk-secret-groq",
        OPENAI_BASE_URL="https://user:hunter2@proxy.example/v1",
        LLM_FALLBACKS="openai/a -> groq/b",
    )
    shown = settings.masked()
    assert shown["OPENAI_API_KEY"] == shown["GEMINI_API_KEY"] == shown["GROQ_API_KEY"] == "****"
    assert shown["OPENAI_BASE_URL"] == "https://user:****@proxy.example/v1"
    assert shown["LLM_FALLBACKS"] == "openai/a -> groq/b"
    text = repr(settings) + str(shown)
    for secret in ("sk-secret-openai", "secret-gemini", "gsk-secret-groq", "hunter2"):
        assert secret not in text
