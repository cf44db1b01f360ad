"""Reading an OpenAI-format event stream line by line (openai_wire.stream_chunks)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from src.domain.llm.errors import ProviderRateLimited, ProviderUnavailable
from src.domain.llm.model import FinishReason
from src.infrastructure.llm.openai_wire import WireChunk, chunk_event, stream_chunks


async def lines(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def read(*items: str) -> list[WireChunk]:
    return [chunk async for chunk in stream_chunks(lines(*items), "mistral")]


async def test_chunks_usage_and_done() -> None:
    chunks = await read(
        ": keep-alive",
        "",
        'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}',
        "",
        'data:{"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}',
        "",
        'data: {"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":2,'
        '"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":1}}}',
        "",
        "data: [DONE]",
        "",
        'data: {"choices":[{"delta":{"content":"after done"}}]}',
        "",
    )
    events = [chunk_event(c) for c in chunks]
    assert [e.text for e in events] == ["Hel", "lo", ""]
    assert events[1].finish_reason is FinishReason.STOP
    usage = events[2].usage
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens, usage.reasoning_tokens) == (7, 2, 3, 1)


async def test_an_event_split_over_data_lines_is_joined() -> None:
    (chunk,) = await read('data: {"choices":[{"delta":', 'data: {"content":"joined"}}]}', "")
    assert chunk_event(chunk).text == "joined"


async def test_error_events_raise_the_mapped_provider_error() -> None:
    with pytest.raises(ProviderRateLimited):
        await read('data: {"error":{"type":"rate_limit_error","message":"slow down"}}', "")
    with pytest.raises(ProviderUnavailable, match="mistral failed while streaming"):
        await read("event: error", 'data: {"message":"overloaded","type":"server_error"}', "")
    with pytest.raises(ProviderUnavailable, match="could not read"):
        await read("data: {not json", "")
