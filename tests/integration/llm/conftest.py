"""Fixtures of the provider tests: the fake provider server, adapters pointed at it, the network guard."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from src.infrastructure.clock import SystemClock
from src.infrastructure.llm.base import ProviderAdapter, ProviderTimeouts
from src.infrastructure.llm.gemini import GeminiChatModel
from src.infrastructure.llm.groq import GroqChatModel
from src.infrastructure.llm.openai import OpenAIChatModel
from tests.fakes.llm_server import FakeProviderServer
from tests.fakes.network_guard import loopback_only

#: One model of each provider, as requests name them.
MODELS = {
    "openai": "openai/gpt-4.1-mini",
    "groq": "groq/llama-3.3-70b-versatile",
    "gemini": "gemini/gemini-2.5-flash",
}
KEYS = {"openai": "sk-test-openai", "groq": "gsk-test-groq", "gemini": "test-gemini-key"}
#: Short enough that a stalled stream ends quickly; the other limits are far from any test.
TIMEOUTS = ProviderTimeouts(connect=2.0, read=5.0, total=30.0, stream_idle=0.4)

AdapterFactory = Callable[..., ProviderAdapter]


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """No test of this package may reach beyond the loopback interface."""
    with loopback_only(monkeypatch) as refused:
        yield refused


@pytest.fixture(scope="session")
def provider_server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer() as server:
        yield server


@pytest.fixture
def fake(provider_server: FakeProviderServer) -> Iterator[FakeProviderServer]:
    """The fake server with no scripts and no recorded requests left from other tests."""
    provider_server.clear()
    yield provider_server
    provider_server.clear()


def base_url(server: FakeProviderServer, provider: str) -> str:
    return server.openai_base_url if provider == "openai" else server.base_url


@pytest.fixture
async def make_adapter(fake: FakeProviderServer) -> object:
    """``make_adapter("gemini")``: the real adapter, its SDK pointed at the fake server; closed afterwards."""
    made: list[ProviderAdapter] = []

    def make(provider: str, *, timeouts: ProviderTimeouts = TIMEOUTS, base: str | None = None) -> ProviderAdapter:
        url = base or base_url(fake, provider)
        adapter: ProviderAdapter
        if provider == "openai":
            adapter = OpenAIChatModel(SystemClock(), timeouts, api_key=KEYS["openai"], base_url=url)
        elif provider == "groq":
            adapter = GroqChatModel(SystemClock(), timeouts, api_key=KEYS["groq"], base_url=url)
        else:
            adapter = GeminiChatModel(SystemClock(), timeouts, api_key=KEYS["gemini"], base_url=url)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()
