"""OpenAI, and any OpenAI-compatible provider or server (Mistral, DeepSeek, OpenRouter, Ollama, vLLM, LM
Studio: ``OPENAI_COMPATIBLE_PROVIDERS``, see ``provider_table.py``), through the official ``openai`` SDK.

One ``AsyncOpenAI`` client per process (its connection pool is reused), SDK retries off
(``max_retries=0``: the router retries), connect/read timeouts from settings. A streamed call is posted
by Parley with the URL, headers and timeouts the SDK computes (``direct_call.py``: on Parley's lean HTTP/1.1
client, or through a proxy from the environment on the SDK's own aiohttp session), and so is a whole answer.
Streams ask for
``stream_options={"include_usage": true}`` and read usage from the final chunk (``choices: []``);
an ``{"error": ...}`` event inside a stream is mapped like an HTTP error (``openai_wire.py``, which
Groq's adapter shares).

Without a key (a local server that needs none), the client sends the placeholder key ``unused``, as
Ollama's documentation does. One class serves each OpenAI-compatible provider under its own name.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import openai
from openai._models import FinalRequestOptions

from src.application.shared.ports import Clock
from src.domain.llm.errors import ProviderError
from src.domain.llm.model import ChatRequest
from src.infrastructure.llm.base import (
    ProviderAdapter,
    ProviderAnswer,
    ProviderEvent,
    ProviderTimeouts,
)
from src.infrastructure.llm.direct_call import DirectCompletions, mapped_error
from src.infrastructure.llm.openai_wire import (
    chunk_event,
    completion_answer,
    map_openai_style_error,
    sampling_options,
)

PROVIDER = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Sent as the key to OpenAI-compatible servers that need none (the SDK refuses an empty key).
NO_KEY_PLACEHOLDER = "unused"
#: The path of a chat completion under the base URL.
_PATH = "/chat/completions"


class OpenAIChatModel(ProviderAdapter):
    provider = PROVIDER

    def __init__(
        self,
        clock: Clock,
        timeouts: ProviderTimeouts,
        *,
        api_key: str | None,
        base_url: str | None,
        provider: str = PROVIDER,
    ) -> None:
        super().__init__(clock, timeouts)
        #: The catalog's provider name: ``openai``, or an OpenAI-compatible provider's own.
        self.provider = provider
        timeout = openai.Timeout(timeouts.read, connect=timeouts.connect)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or NO_KEY_PLACEHOLDER,
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=timeout,
            max_retries=0,
            # The SDK's aiohttp transport (the `aiohttp` extra): a third less CPU per streamed call
            # than its default httpx pool, which checks every kept-alive connection with a poll()
            # before each request (bench_gateway, side by side).
            http_client=openai.DefaultAioHttpClient(timeout=timeout),
        )
        self._completions = DirectCompletions(self._client, _PATH, FinalRequestOptions)
        # OpenAI itself wants max_completion_tokens (its reasoning models refuse max_tokens); other
        # OpenAI-compatible servers are surer to know max_tokens.
        self._max_tokens_field = "max_completion_tokens" if base_url is None else "max_tokens"

    async def aclose(self) -> None:
        await self._completions.aclose()
        await self._client.close()

    def _body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """The JSON body of a call (a stream's options are the direct call's)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role.value, "content": m.content} for m in request.messages],
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_output_tokens is not None:
            body[self._max_tokens_field] = request.max_output_tokens
        if request.stop:
            body["stop"] = list(request.stop)
        body.update(sampling_options(request))
        return body

    async def _events(self, request: ChatRequest, model: str) -> AsyncGenerator[ProviderEvent, None]:
        # Posted by Parley with what the SDK computes for the call (``direct_call.py``); ``create`` would
        # walk its ~40 keyword arguments and every message through a TypedDict transform (~0.3 ms a
        # message) for the same request on the wire.
        async for chunk in self._completions.stream(self._body(request, model), self.provider):
            yield chunk_event(chunk)

    async def _complete(self, request: ChatRequest, model: str) -> ProviderAnswer:
        return completion_answer(await self._completions.complete(self._body(request, model), self.provider))

    def _map_error(self, exc: Exception) -> ProviderError:
        return mapped_error(exc, self.provider) or map_openai_style_error(exc, self.provider, openai)
