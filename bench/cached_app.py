"""The app the response-cache benchmark serves: Parley plus one catalogue route, cached and uncached.

Both routes do the same representative work: one unit of work that counts the job receipts and reads
the newest 20, then a JSON list page of them. ``/bench/receipts/cached`` opts into response caching
(public scope, 30 s); ``/bench/receipts`` does not. Served by ``bench.support.app_server``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Litestar, get
from litestar.params import FromQuery, SkipValidation
from sqlalchemy import func, select

from src.domain.shared.jobs import JobReceipt
from src.infrastructure.container import Container
from src.infrastructure.persistence.models import JobReceiptModel
from src.interfaces.http.app import create_app

FACTORY = "bench.cached_app:create_bench_app"
SEEDED_RECEIPTS = 200
PAGE_SIZE = 20


class ReceiptItem(msgspec.Struct):
    id: str
    job_name: str
    dedupe_key: str
    completed_at: datetime
    expires_at: datetime


class ReceiptPage(msgspec.Struct):
    items: list[ReceiptItem]
    total: int
    limit: int
    offset: int


async def newest_receipts(container: Container, limit: int) -> ReceiptPage:
    async with container.uow(read_only=True) as tx:
        total = await tx.session.scalar(select(func.count()).select_from(JobReceiptModel))
        rows = await tx.session.scalars(
            select(JobReceiptModel).order_by(JobReceiptModel.completed_at.desc()).limit(limit)
        )
        items = [
            ReceiptItem(
                id=str(row.id),
                job_name=row.job_name,
                dedupe_key=row.dedupe_key,
                completed_at=row.completed_at,
                expires_at=row.expires_at,
            )
            for row in rows
        ]
    return ReceiptPage(items=items, total=int(total or 0), limit=limit, offset=0)


@get("/bench/receipts", summary="Newest job receipts (uncached)", description="Benchmark route: not cached.")
async def receipts(container: SkipValidation[Container], limit: FromQuery[int] = PAGE_SIZE) -> ReceiptPage:
    return await newest_receipts(container, limit)


@get(
    "/bench/receipts/cached",
    summary="Newest job receipts (cached)",
    description="Benchmark route: the same work, its response cached for 30 s.",
    opt={"cache": {"ttl": 30, "scope": "public", "namespace": "bench"}},
)
async def cached_receipts(container: SkipValidation[Container], limit: FromQuery[int] = PAGE_SIZE) -> ReceiptPage:
    return await newest_receipts(container, limit)


async def seed(app: Litestar) -> None:
    """Idempotent: every worker process may run it; a receipt that exists is skipped."""
    container: Container = app.state.container
    now = datetime.now(UTC)
    async with container.uow() as tx:
        for n in range(SEEDED_RECEIPTS):
            await tx.job_receipts.add(JobReceipt.issue("bench", f"receipt-{n:04d}", now=now))


def create_bench_app() -> Any:
    app = create_app(extra_route_handlers=[receipts, cached_receipts])
    app.on_startup.append(seed)
    return app
