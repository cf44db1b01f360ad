"""Groq through the official ``groq`` SDK (``/openai/v1/chat/completions``, the OpenAI wire format).

One ``AsyncGroq`` client per process, SDK retries off, connect/read timeouts from settings. Groq
reports a stream's usage in ``x_groq.usage`` on its last chunk, and in a usage chunk when asked with
``stream_options``; whichever arrives is used, the last one winning. A call, streamed or whole, is posted
by Parley with what the SDK computes for it (``direct_call.py``, as OpenAI's); a stream is read as lines
(``openai_wire.stream_chunks``) and closed when its reader stops, early or not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import groq
from groq._models import FinalRequestOptions

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
    usage_of,
)

PROVIDER = "groq"
#: The SDK adds ``/openai/v1/...`` to this.
DEFAULT_BASE_URL = "https://api.groq.com"
#: The path of a chat completion under the base URL.
_PATH = "/openai/v1/chat/completions"


class GroqChatModel(ProviderAdapter):
    provider = PROVIDER

    def __init__(self, clock: Clock, timeouts: ProviderTimeouts, *, api_key: str, base_url: str | None) -> None:
        super().__init__(clock, timeouts)
        timeout = groq.Timeout(timeouts.read, connect=timeouts.connect)
        self._client = groq.AsyncGroq(
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=timeout,
            max_retries=0,
            http_client=groq.DefaultAioHttpClient(timeout=timeout),  # as the OpenAI adapter's (openai.py)
        )
        self._completions = DirectCompletions(self._client, _PATH, FinalRequestOptions)

    async def aclose(self) -> None:
        await self._completions.aclose()
        await self._client.close()

    def _body(self, request: ChatRequest, model: str) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role.value, "content": m.content} for m in request.messages],
        }
        if request.temperature is not None:
            arguments["temperature"] = request.temperature
        if request.max_output_tokens is not None:
            arguments["max_completion_tokens"] = request.max_output_tokens
        if request.stop:
            arguments["stop"] = list(request.stop)
        arguments.update(sampling_options(request))
        return arguments

    async def _events(self, request: ChatRequest, model: str) -> AsyncGenerator[ProviderEvent, None]:
        # As OpenAI's adapter: posted by Parley with what the SDK computes (``direct_call.py``), the chunks
        # read as lines and decoded with msgspec.
        async for chunk in self._completions.stream(self._body(request, model), self.provider):
            event = chunk_event(chunk)
            if event.usage is None and chunk.x_groq is not None:
                event.usage = usage_of(chunk.x_groq.usage)
            yield event

    async def _complete(self, request: ChatRequest, model: str) -> ProviderAnswer:
        return completion_answer(await self._completions.complete(self._body(request, model), self.provider))

    def _map_error(self, exc: Exception) -> ProviderError:
        return mapped_error(exc, self.provider) or map_openai_style_error(exc, self.provider, groq)
