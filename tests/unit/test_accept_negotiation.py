"""A chat route's Accept negotiation, remembered per header: the answers Litestar's own parsing gives."""

from __future__ import annotations

import pytest
from litestar.datastructures import Accept

from src.interfaces.http.routes.chat.messages import JSON, best_match
from src.interfaces.http.routes.chat.sse import MEDIA_TYPE as SSE

HEADERS = [
    "*/*",
    "text/event-stream",
    "application/json",
    "text/html",
    "application/json;q=0.5, text/event-stream",
    "text/event-stream;q=0.2, application/json;q=0.9",
    "text/*",
    "application/*;q=0.1, text/html",
    "",
]


@pytest.mark.parametrize("header", HEADERS)
@pytest.mark.parametrize("offered", [(JSON, SSE), (SSE,)])
def test_the_remembered_answer_is_litestars(header: str, offered: tuple[str, ...]) -> None:
    expected = Accept(header).best_match(list(offered))
    assert best_match(header, offered) == expected
    assert best_match(header, offered) == expected  # remembered


def test_made_up_headers_do_not_grow_the_memory_without_bound() -> None:
    for i in range(1_000):
        best_match(f"application/x-{i}", (JSON, SSE))
    info = best_match.cache_info()
    assert info.maxsize == 256
    assert info.currsize <= 256
