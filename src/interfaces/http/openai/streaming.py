"""Relaying a streamed completion as OpenAI's server-sent events.

The response starts once the first chunk is there (``CompleteChat.stream`` returned): a failure of the
whole fallback chain is still an error status. Then one ``data:`` event per delta; at the end the
call is charged (``settle``) and the finish chunk, the usage chunk (``stream_options.include_usage``)
and ``data: [DONE]`` follow, so a client that read ``[DONE]`` can already see the call in its usage.
A stream that fails after its first chunk ends with an ``{"error": ...}`` event instead, and what was
generated is charged. A client that goes away (``http.disconnect``) stops the relay: the upstream call
is closed at once and the text generated so far is charged, once.
"""

from __future__ import annotations

import asyncio
import contextlib

from litestar.types import Receive, Send

from src.application.chat.complete_chat import CompletionResult, CompletionStream
from src.infrastructure.logging import get_logger
from src.interfaces.http.openai.errors import stream_error_event
from src.interfaces.http.openai.schemas import DONE, ChunkWriter

logger = get_logger("parley.gateway")


def server_timing(seconds: float) -> tuple[bytes, bytes]:
    """``Server-Timing: parley;dur=<ms>``: the time Parley spent, without the time waited for the model."""
    return b"server-timing", f"parley;dur={max(0.0, seconds) * 1000:.2f}".encode()


SSE_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


async def relay_stream(
    stream: CompletionStream, send: Send, receive: Receive, *, include_usage: bool, parley_seconds: float
) -> None:
    writer = ChunkWriter(model=stream.model, include_usage=include_usage)
    relay = asyncio.ensure_future(_relay(stream, writer, send, parley_seconds))
    hang_up = asyncio.ensure_future(_disconnected(receive))
    gone = False
    try:
        await asyncio.wait((relay, hang_up), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone = hang_up.done() and not relay.done()
        for task in (relay, hang_up):
            if not task.done():
                task.cancel()
        with contextlib.suppress(BaseException):
            await relay
        # Charged whatever happened, the server shutting down included (normally ``_relay`` did it
        # already: ``settle`` charges once).
        result = await _settle(stream)
    if gone:
        logger.info("gateway_client_disconnected", model=stream.model, charged=result is not None)
        return
    if relay.cancelled():
        return
    failure = relay.exception()
    if failure is not None:
        # The head or a chunk could not be sent (the connection broke), or a bug: the call is charged.
        logger.warning("gateway_stream_failed", error=type(failure).__name__, model=stream.model)
        return
    ending = relay.result()
    if ending:
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": ending, "more_body": False})


async def _relay(stream: CompletionStream, writer: ChunkWriter, send: Send, parley_seconds: float) -> bytes:
    """Send the head and the deltas; charge; the closing events (sent by the caller)."""
    headers = [*SSE_HEADERS, server_timing(parley_seconds)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    body = writer.role()
    async for text in stream.deltas():
        await send({"type": "http.response.body", "body": body + writer.delta(text), "more_body": True})
        body = b""
    result = await _settle(stream)
    if result is None:
        return body + stream_error_event("server_error", "The call could not be recorded")
    if result.error_code is not None:
        return body + stream_error_event(result.error_code, result.error_detail or result.error_code)
    return body + writer.finish(result) + DONE


async def _settle(stream: CompletionStream) -> CompletionResult | None:
    try:
        return await stream.settle()
    except Exception as exc:
        logger.error("gateway_charge_failed", exc_info=exc, model=stream.model)
        return None


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
