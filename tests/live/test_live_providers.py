"""Each configured provider, for real: a tiny streamed answer with exact usage, and a refused key."""

from __future__ import annotations

import dataclasses

import pytest

from src.domain.llm.errors import ProviderAuthError
from src.domain.llm.model import ChatRequest, MessageRole, PromptMessage, StreamEnd, TextDelta
from src.infrastructure.clock import SystemClock
from src.infrastructure.llm.catalog_loading import build_model_catalog
from src.infrastructure.llm.providers import ProviderModel, build_llm_providers
from src.infrastructure.settings import Settings

pytestmark = pytest.mark.live


def adapter(settings: Settings, provider: str) -> ProviderModel:
    providers = build_llm_providers(settings, SystemClock())
    if provider not in providers:
        pytest.skip(f"{provider} is not configured")
    return providers[provider]


def model_for(settings: Settings, provider: str) -> str:
    catalog = build_model_catalog(settings, settings.llm.configured_providers)
    models = [m for m in catalog.models() if m.provider == provider and catalog.is_available(m.id)]
    cheap = [m for m in models if "cheap" in m.capabilities]
    return (cheap or models)[0].id


def tiny(model: str) -> ChatRequest:
    return ChatRequest(
        messages=(PromptMessage(MessageRole.USER, "Reply with the single word: pong"),),
        model=model,
        max_output_tokens=32,
        temperature=0.0,
    )


@pytest.mark.parametrize("provider", ["openai", "gemini", "groq"])
async def test_a_real_stream_brings_text_and_exact_usage(live_settings: Settings, provider: str) -> None:
    model = adapter(live_settings, provider)
    try:
        text: list[str] = []
        end: StreamEnd | None = None
        async for chunk in model.stream(tiny(model_for(live_settings, provider))):
            if isinstance(chunk, TextDelta):
                text.append(chunk.text)
            else:
                end = chunk
        assert end is not None
        assert "".join(text).strip(), "some text came back"
        assert end.error_code is None
        assert not end.usage.estimated, "the provider reported the usage of a stream"
        assert end.usage.input_tokens > 0
        assert end.usage.output_tokens > 0
        completion = await model.complete(tiny(model_for(live_settings, provider)))
        assert completion.text.strip()
        assert not completion.usage.estimated
    finally:
        await model.aclose()


@pytest.mark.parametrize("provider", ["openai", "gemini", "groq"])
async def test_a_refused_key_is_an_auth_error(live_settings: Settings, provider: str) -> None:
    llm = live_settings.llm
    if not llm.provider_access(provider).api_key:
        pytest.skip(f"{provider} has no key configured")
    refused = dataclasses.replace(llm.provider_access(provider), api_key="parley-live-test-invalid-key")
    wrong = dataclasses.replace(live_settings, llm=dataclasses.replace(llm, access={**llm.access, provider: refused}))
    model = adapter(wrong, provider)
    try:
        with pytest.raises(ProviderAuthError):
            await model.complete(tiny(model_for(live_settings, provider)))
    finally:
        await model.aclose()
