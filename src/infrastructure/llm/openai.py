"""OpenAI, and any OpenAI-compatible provider or server (Mistral, DeepSeek, OpenRouter, Ollama, vLLM, LM
Studio: ``OPENAI_COMPATIBLE_PROVIDERS``, see ``provider_table.py``), through the official ``openai`` SDK.

One ``AsyncOpenAI`` client per process (its connection pool is reused), SDK retries off
(``max_retries=0``: the router retries), connect/read timeouts from settings. A streamed call is posted
with the URL, headers and timeouts the SDK computes, on Parley's lean HTTP/1.1 client (``stream_http``),
or through a proxy from the environment on that client's own aiohttp session (see ``_events``); a whole
answer goes through the SDK's ``create``. Streams ask for
``stream_options={"include_usage": true}`` and read usage from the final chunk (``choices: []``);
an ``{"error": ...}`` event inside a stream is mapped like an HTTP error (``openai_wire.py``, which
Groq's adapter shares).

Without a key (a local server that needs none), the client sends the placeholder key ``unused``, as
Ollama's documentation does. One class serves each OpenAI-compatible provider under its own name.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
import openai
from openai._models import FinalRequestOptions
from openai._vendor.httpx_aiohttp.transport import AiohttpTransport
from yarl import URL

from src.application.shared.ports import Clock
from src.domain.llm.errors import ProviderError, ProviderTimeout, ProviderUnavailable
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
    sse_lines,
    status_error,
    stream_chunks,
)
from src.infrastructure.llm.stream_http import ConnectFailed, ConnectTimedOut, HttpStreamError, StreamingPool

PROVIDER = "openai"
_JSON = msgspec.json.Encoder()
DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Sent as the key to OpenAI-compatible servers that need none (the SDK refuses an empty key).
NO_KEY_PLACEHOLDER = "unused"
#: The path of a chat completion under the base URL.
_PATH = "/chat/completions"


@dataclass(frozen=True, slots=True)
class _DirectCall:
    """What a streamed call sends, as the SDK builds it (URL, headers, timeouts, proxy), and what posts it:
    Parley's lean client (``stream_http``), or through a proxy the aiohttp session of the SDK's own transport."""

    #: Without a proxy: keep-alive connections to the URL, the SDK's headers in each request.
    pool: StreamingPool | None
    session: aiohttp.ClientSession
    #: Parsed once: aiohttp parses a string URL on every call (~25 us of a streamed call's ~650 us of CPU).
    url: URL
    headers: Mapping[str, str]
    timeout: aiohttp.ClientTimeout
    proxy: Mapping[str, Any]


class _ErrorResponse(Exception):
    """An HTTP error answer to a direct call, mapped as the SDK's ``APIStatusError`` would be."""

    def __init__(self, status_code: int, body: bytes, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body
        self.headers = headers


def _direct_call(client: openai.AsyncOpenAI) -> _DirectCall:
    """The direct call of ``client``'s streamed chat completions (its HTTP client is the SDK's aiohttp
    one). Built once per adapter, in its event loop (an aiohttp session wants one). The headers are the
    ones the SDK computes for every call (the key, its user agent and platform headers, the organization
    and project from the environment), the same each time for a key given as a string; with a proxy from
    the environment, the transport is the proxy's."""
    request = client._build_request(FinalRequestOptions.construct(method="post", url=_PATH, json_data={}))
    transport = client._client._transport_for_url(request.url)
    if not isinstance(transport, AiohttpTransport) or callable(transport.client):
        raise TypeError("the OpenAI adapter's client must be the SDK's aiohttp client (DefaultAioHttpClient)")
    if not isinstance(transport.client, aiohttp.ClientSession):
        transport.client = transport.get_client()  # what the transport does on its first request
    timeout = request.extensions.get("timeout", {})
    proxy = transport.proxy
    url = URL(str(request.url), encoded=True)
    headers = {name: value for name, value in request.headers.items() if name not in ("content-length", "host")}
    limits = transport.limits  # the SDK's (DEFAULT_CONNECTION_LIMITS)
    return _DirectCall(
        pool=StreamingPool(
            url,
            headers,
            connect_timeout=timeout.get("connect"),
            pool_timeout=timeout.get("pool"),
            max_connections=limits.max_connections or 1000,
            max_idle=limits.max_keepalive_connections or 100,
            idle_seconds=limits.keepalive_expiry or 5.0,
            # The SDK transport's own: the authorities it trusts (certifi's, or SSL_CERT_FILE/SSL_CERT_DIR).
            ssl_context=transport.ssl_context,
        )
        if proxy is None
        else None,
        session=transport.client,
        url=url,
        headers=headers,
        timeout=aiohttp.ClientTimeout(
            sock_connect=timeout.get("connect"), sock_read=timeout.get("read"), connect=timeout.get("pool")
        ),
        proxy={}
        if proxy is None
        else {
            "proxy": str(proxy.url),
            "proxy_auth": aiohttp.BasicAuth(*proxy.auth) if proxy.auth else None,
            "proxy_headers": proxy.headers,
        },
    )


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
        self._direct: _DirectCall | None = None  # built on the first streamed call
        # OpenAI itself wants max_completion_tokens (its reasoning models refuse max_tokens); other
        # OpenAI-compatible servers are surer to know max_tokens.
        self._max_tokens_field = "max_completion_tokens" if base_url is None else "max_tokens"

    async def aclose(self) -> None:
        if self._direct is not None and self._direct.pool is not None:
            await self._direct.pool.aclose()
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
        # The JSON body is prepared here (msgspec) and posted with the URL, headers, timeouts and proxy the
        # SDK computes for the call, on the lean client (``stream_http``: aiohttp's request and response
        # objects were ~0.13 ms of CPU and ~0.3 ms of the time to the first chunk per call), or through a
        # proxy on the SDK client's own aiohttp session. Through the SDK, its
        # request building, its httpx layer and the httpx-to-aiohttp transport were ~70 % of the
        # adapter's CPU per streamed call, and ``create`` walks its ~40 keyword arguments through a
        # TypedDict transform (the request on the wire is the same). The response is read as lines,
        # the chunks decoded with msgspec rather than as a pydantic object each (openai_wire.py). An HTTP
        # error is mapped as the SDK's would be; transport errors as aiohttp's (``transport_error``).
        body = self._body(request, model)
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        direct = self._direct
        if direct is None:
            direct = self._direct = _direct_call(self._client)
        if direct.pool is not None:
            async with direct.pool.post(_JSON.encode(body)) as answer:
                if answer.status >= 400:
                    raise _ErrorResponse(answer.status, await answer.read(), answer.headers)
                if answer.status >= 300:  # not followed: the key would go wherever it points
                    raise ProviderUnavailable(
                        f"{self.provider} answered with a redirect ({answer.status}): its base URL should be the"
                        " address it points to",
                        provider=self.provider,
                    )
                async for chunk in stream_chunks(sse_lines(answer.pieces()), self.provider):
                    yield chunk_event(chunk)
            return
        async with direct.session.post(
            direct.url, data=_JSON.encode(body), headers=direct.headers, timeout=direct.timeout, **direct.proxy
        ) as response:
            if response.status >= 400:
                raise _ErrorResponse(response.status, await response.read(), response.headers)
            async for chunk in stream_chunks(sse_lines(response.content.iter_any()), self.provider):
                yield chunk_event(chunk)

    async def _complete(self, request: ChatRequest, model: str) -> ProviderAnswer:
        completion = await self._client.chat.completions.create(**self._arguments(request, model))
        return completion_answer(completion)

    def _map_error(self, exc: Exception) -> ProviderError:
        if isinstance(exc, _ErrorResponse):
            return status_error(self.provider, exc.status_code, exc.body, exc.headers)
        if isinstance(exc, ConnectTimedOut):
            return ProviderTimeout(f"{self.provider} did not answer in time", provider=self.provider)
        if isinstance(exc, ConnectFailed):
            return ProviderUnavailable(f"the connection to {self.provider} failed", provider=self.provider)
        if isinstance(exc, HttpStreamError):
            return ProviderUnavailable(
                f"{self.provider} broke off or sent something unreadable", provider=self.provider
            )
        return map_openai_style_error(exc, self.provider, openai)
