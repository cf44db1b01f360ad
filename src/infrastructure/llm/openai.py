"""OpenAI, and any OpenAI-compatible provider or server (Mistral, DeepSeek, OpenRouter, Ollama, vLLM, LM
Studio: ``OPENAI_COMPATIBLE_PROVIDERS``, see ``provider_table.py``), through the official ``openai`` SDK.

One ``AsyncOpenAI`` client per process (its connection pool is reused), SDK retries off
(``max_retries=0``: the router retries), connect/read timeouts from settings. Streams ask for
``stream_options={"include_usage": true}`` and read usage from the final chunk (``choices: []``);
an ``{"error": ...}`` event inside a stream is mapped like an HTTP error (``openai_wire.py``, which
Groq's adapter shares).

Without a key (a local server that needs none), the client sends the placeholder key ``unused``, as
Ollama's documentation does. One class serves each OpenAI-compatible provider under its own name.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable
from typing import Any, cast

import msgspec
import openai
from openai._base_client import make_request_options
from openai._constants import RAW_RESPONSE_HEADER
from openai._response import AsyncAPIResponse, AsyncResponseContextManager
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from src.application.shared.ports import Clock
from src.domain.llm.errors import ProviderError
from src.domain.llm.model import ChatRequest
from src.infrastructure.llm.base import (
    ProviderAdapter,
    ProviderAnswer,
    ProviderEvent,
    ProviderTimeouts,
)
from src.infrastructure.llm.openai_wire import (
    chunk_event,
    completion_answer,
    map_openai_style_error,
    sampling_options,
    stream_chunks,
)

PROVIDER = "openai"
_JSON = msgspec.json.Encoder()
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Sent as the key to OpenAI-compatible servers that need none (the SDK refuses an empty key).
NO_KEY_PLACEHOLDER = "unused"
#: What a streamed call is read as: the raw response (its lines are decoded in ``openai_wire.py``).
_STREAM_CLASS = openai.AsyncStream[ChatCompletionChunk]
#: The request options of a streamed call (the ones ``with_streaming_response.create`` sets).
_STREAM_OPTIONS = make_request_options(extra_headers={RAW_RESPONSE_HEADER: "stream"}, security={"bearer_auth": True})


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
        # OpenAI itself wants max_completion_tokens (its reasoning models refuse max_tokens); other
        # OpenAI-compatible servers are surer to know max_tokens.
        self._max_tokens_field = "max_completion_tokens" if base_url is None else "max_tokens"

    async def aclose(self) -> None:
        await self._client.close()

    def _body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        """The JSON body of a call, but for streaming."""
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

    def _arguments(self, request: ChatRequest, model: str) -> dict[str, Any]:
        # The messages go in ``extra_body``, which the SDK merges into the JSON as it is: passed as
        # ``messages`` it walks every one through its TypedDict transform (~0.3 ms a message of pure
        # CPU, the most of a long conversation's reply), which leaves plain role/content strings unchanged.
        arguments = self._body(request, model)
        arguments["extra_body"] = {"messages": arguments["messages"]}
        arguments["messages"] = []
        return arguments

    async def _events(self, request: ChatRequest, model: str) -> AsyncGenerator[ProviderEvent, None]:
        # The SDK's request path (its errors, headers, auth and options) with the JSON body prepared
        # here: ``create`` walks its ~40 keyword arguments through its TypedDict transform on every call
        # (the body it sends is the same). The response is read as lines: the chunks are decoded with
        # msgspec rather than as a pydantic object each (openai_wire.py).
        body = self._body(request, model)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        # With the raw-response header the SDK answers the response itself, not the stream class.
        call = AsyncResponseContextManager(
            cast(
                Awaitable[AsyncAPIResponse[ChatCompletion]],
                self._client.post(
                    "/chat/completions",
                    content=_JSON.encode(body),
                    options=_STREAM_OPTIONS,
                    cast_to=ChatCompletion,
                    stream=True,
                    stream_cls=_STREAM_CLASS,
                ),
            )
        )
        async with call as response:
            async for chunk in stream_chunks(response.iter_lines(), self.provider):
                yield chunk_event(chunk)

    async def _complete(self, request: ChatRequest, model: str) -> ProviderAnswer:
        completion = await self._client.chat.completions.create(**self._arguments(request, model))
        return completion_answer(completion)

    def _map_error(self, exc: Exception) -> ProviderError:
        return map_openai_style_error(exc, self.provider, openai)
