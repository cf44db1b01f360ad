"""Chat completions in the OpenAI wire format, posted by Parley with what the SDK computes for them.

The OpenAI and Groq adapters (and every OpenAI-compatible provider) prepare the JSON body themselves
(msgspec) and post it with the URL, headers (the key, the SDK's user agent and platform headers, the
organization and project from the environment), timeouts, connection limits and TLS context their SDK
computes, on Parley's lean HTTP/1.1 client (``stream_http``), or, through a proxy from the environment, on
the SDK transport's own aiohttp session. Through the SDK, its request building, its httpx layer and the
httpx-to-aiohttp transport were ~70 % of the adapter's CPU per streamed call; aiohttp's request and response
objects a further ~0.13 ms of CPU and ~0.3 ms of the time to the first chunk. A stream is read as lines and
its chunks decoded with msgspec (``openai_wire``), a whole answer (``complete``) decoded with msgspec at
once (the SDK builds pydantic models of it); an HTTP error is mapped as the SDK's would be (``mapped_error``),
a redirect is not followed (the key would go wherever it points).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx_aiohttp
import msgspec
from openai._vendor.httpx_aiohttp.transport import AiohttpTransport as OpenAIAiohttpTransport
from yarl import URL

from src.domain.llm.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from src.infrastructure.llm.openai_wire import (
    WireChunk,
    WireCompletion,
    decode_completion,
    sse_lines,
    status_error,
    stream_chunks,
)
from src.infrastructure.llm.stream_http import ConnectFailed, ConnectTimedOut, HttpStreamError, StreamingPool

_JSON = msgspec.json.Encoder()
#: An answer to a direct call: its status, headers, whole body (read at most once) and body in pieces.
_Answer = tuple[int, Mapping[str, str], Callable[[], Awaitable[bytes]], AsyncIterator[bytes]]
#: The largest whole answer read (a model's longest answers are a few hundred KB of JSON); a bigger one is
#: ``provider_unavailable``, not held in memory to the end.
MAX_ANSWER = 32 * 1024 * 1024
#: The SDKs' aiohttp transports (``openai[aiohttp]`` vendors its own; ``groq[aiohttp]`` uses the package).
_TRANSPORTS = (OpenAIAiohttpTransport, httpx_aiohttp.AiohttpTransport)


class ErrorResponse(Exception):
    """An HTTP error answer to a direct call, mapped as the SDK's ``APIStatusError`` would be."""

    def __init__(self, status_code: int, body: bytes, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.body = body
        self.headers = headers


@dataclass(frozen=True, slots=True)
class DirectCall:
    """What a streamed call sends, as the SDK builds it (URL, headers, timeouts, proxy), and what posts it:
    Parley's lean client, or through a proxy the aiohttp session of the SDK's own transport."""

    #: Without a proxy: keep-alive connections to the URL, the SDK's headers in each request.
    pool: StreamingPool | None
    session: aiohttp.ClientSession
    #: Parsed once: aiohttp parses a string URL on every call (~25 us of a streamed call's ~650 us of CPU).
    url: URL
    headers: Mapping[str, str]
    timeout: aiohttp.ClientTimeout
    proxy: Mapping[str, Any]
    #: The SDK's read timeout: how long a whole (non-streamed) answer may take to come.
    read_timeout: float | None = None

    @classmethod
    def of(cls, client: Any, path: str, options: Any) -> DirectCall:
        """The direct call of ``path`` on an SDK ``client`` (``openai.AsyncOpenAI``, ``groq.AsyncGroq``) whose
        HTTP client is the SDK's aiohttp one; ``options``: the SDK's ``FinalRequestOptions``. Built once per
        adapter, in its event loop (an aiohttp session wants one). The headers are the same each time for a
        key given as a string; with a proxy from the environment, the transport is the proxy's."""
        request = client._build_request(options.construct(method="post", url=path, json_data={}))
        transport = client._client._transport_for_url(request.url)
        if not isinstance(transport, _TRANSPORTS) or callable(transport.client):
            raise TypeError("the adapter's client must be its SDK's aiohttp client (DefaultAioHttpClient)")
        if not isinstance(transport.client, aiohttp.ClientSession):
            transport.client = transport.get_client()  # what the transport does on its first request
        timeout = request.extensions.get("timeout", {})
        proxy = transport.proxy
        url = URL(str(request.url), encoded=True)
        headers = {name: value for name, value in request.headers.items() if name not in ("content-length", "host")}
        limits = transport.limits  # the SDK's own
        pool = (
            StreamingPool(
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
            else None
        )
        return cls(
            pool=pool,
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
            read_timeout=timeout.get("read"),
        )

    async def stream(self, body: bytes, provider: str) -> AsyncIterator[WireChunk]:
        """Post ``body`` (the JSON of a streamed chat completion) and yield its chunks. A redirect is not
        followed on either path: the key would go wherever it points."""
        async with self._post(body) as (status, headers, read, pieces):
            await _checked(status, headers, read, provider)
            async for chunk in stream_chunks(sse_lines(pieces), provider):
                yield chunk

    async def complete(self, body: bytes, provider: str) -> WireCompletion:
        """Post ``body`` (the JSON of a chat completion, not streamed) and read its whole answer, which must
        come within the SDK's read timeout (a whole answer sends nothing until it is written)."""
        parts: list[bytes] = []
        try:
            async with asyncio.timeout(self.read_timeout), self._post(body) as (status, headers, read, pieces):
                await _checked(status, headers, read, provider)
                size = 0
                async for piece in pieces:
                    size += len(piece)
                    if size > MAX_ANSWER:
                        too_large = f"{provider} sent an answer larger than {MAX_ANSWER // (1024 * 1024)} MiB"
                        raise ProviderUnavailable(too_large, provider=provider)
                    parts.append(piece)
        except TimeoutError:
            raise ProviderTimeout(f"{provider} sent nothing for {self.read_timeout:.3g} s", provider=provider) from None
        return decode_completion(b"".join(parts), provider)

    @contextlib.asynccontextmanager
    async def _post(self, body: bytes) -> AsyncIterator[_Answer]:
        """The answer's status, headers, whole body (a read) and body in pieces, on the lean client or
        through the proxy on the SDK's aiohttp session."""
        if self.pool is not None:
            async with self.pool.post(body) as answer:
                yield answer.status, answer.headers, answer.read, answer.pieces()
            return
        async with self.session.post(
            self.url, data=body, headers=self.headers, timeout=self.timeout, allow_redirects=False, **self.proxy
        ) as response:
            yield response.status, response.headers, response.read, response.content.iter_any()

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()


async def _checked(
    status: int, headers: Mapping[str, str], read: Callable[[], Awaitable[bytes]], provider: str
) -> None:
    """An answer's status checked: an error raises ``ErrorResponse`` (mapped as the SDK's), a redirect is not
    followed."""
    if status >= 400:
        raise ErrorResponse(status, await read(), headers)
    if status >= 300:
        raise ProviderUnavailable(
            f"{provider} answered with a redirect ({status}): its base URL should be the address it points to",
            provider=provider,
        )


def mapped_error(exc: Exception, provider: str) -> ProviderError | None:
    """A direct call's own error as a domain error (``None``: not one of them; the SDK's mapping applies)."""
    if isinstance(exc, ErrorResponse):
        return status_error(provider, exc.status_code, exc.body, exc.headers)
    if isinstance(exc, ConnectTimedOut):
        return ProviderTimeout(f"{provider} did not answer in time", provider=provider)
    if isinstance(exc, ConnectFailed):
        return ProviderUnavailable(f"the connection to {provider} failed", provider=provider)
    if isinstance(exc, HttpStreamError):
        return ProviderUnavailable(f"{provider} broke off or sent something unreadable", provider=provider)
    return None


class DirectCompletions:
    """The chat completions of an SDK ``client`` at ``path``, streamed or whole, posted directly (``DirectCall``,
    built on the first call, in the event loop that makes it); ``options``: the SDK's ``FinalRequestOptions``."""

    def __init__(self, client: Any, path: str, options: Any) -> None:
        self._client = client
        self._path = path
        self._options = options
        #: The direct call, once built.
        self.call: DirectCall | None = None

    def _call(self) -> DirectCall:
        call = self.call
        if call is None:
            call = self.call = DirectCall.of(self._client, self._path, self._options)
        return call

    async def stream(self, body: dict[str, Any], provider: str) -> AsyncIterator[WireChunk]:
        """The chunks of the chat completion of ``body`` (its JSON fields but for streaming), with usage."""
        call = self._call()
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        async for chunk in call.stream(_JSON.encode(body), provider):
            yield chunk

    async def complete(self, body: dict[str, Any], provider: str) -> WireCompletion:
        """The whole chat completion of ``body`` (its JSON fields)."""
        return await self._call().complete(_JSON.encode(body), provider)

    async def aclose(self) -> None:
        if self.call is not None:
            await self.call.aclose()
