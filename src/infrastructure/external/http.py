"""One ``httpx.AsyncClient`` per adapter and event loop, with an overall deadline per request."""

from __future__ import annotations

import asyncio

import httpx

#: Larger answers are not what a paragraph source or a dictionary sends: read no more.
MAX_RESPONSE_BYTES = 256 * 1024


class ResponseTooLarge(Exception):
    pass


class LazyHttpClient:
    """Created on first use in the running event loop (a client's connections belong to one loop)."""

    def __init__(self, *, timeout: float, user_agent: str = "parley") -> None:
        self.timeout = timeout
        self._user_agent = user_agent
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                headers={"User-Agent": self._user_agent},
                follow_redirects=True,
                limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            )
            self._loop = loop
        return self._client

    async def get(self, url: str, *, accept: str) -> tuple[httpx.Response, bytes]:
        """GET ``url`` within ``timeout`` seconds in all (a slow trickle counts too); the response and
        at most ``MAX_RESPONSE_BYTES`` of its body (``ResponseTooLarge`` beyond)."""
        async with asyncio.timeout(self.timeout):
            async with self.client().stream("GET", url, headers={"Accept": accept}) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise ResponseTooLarge(f"more than {MAX_RESPONSE_BYTES} bytes")
                return response, bytes(body)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.aclose()
