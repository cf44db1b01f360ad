"""The paging parameters of every list route, capped in one place.

``limit`` is a page size (each list its own maximum); ``offset`` is at most ``MAX_OFFSET``: a
larger one is 422 at the door rather than an integer the database cannot hold (2**63 overflows
both PostgreSQL's bigint and SQLite's integer).
"""

from __future__ import annotations

from typing import Any

from litestar.params import Parameter

#: No list is paged this deep; far below what a database integer holds.
MAX_OFFSET = 1_000_000
#: No page is larger than this, whatever a route allows.
MAX_LIMIT = 500


def limit_param(maximum: int, description: str = "Page size") -> Any:
    if not 1 <= maximum <= MAX_LIMIT:
        raise ValueError(f"a page size is at most {MAX_LIMIT}")
    return Parameter(ge=1, le=maximum, description=f"{description}: 1 to {maximum}")


def offset_param(description: str = "Items to skip", maximum: int = MAX_OFFSET) -> Any:
    if not 0 <= maximum <= MAX_OFFSET:
        raise ValueError(f"an offset is at most {MAX_OFFSET}")
    return Parameter(ge=0, le=maximum, description=f"{description}: 0 to {maximum}")
