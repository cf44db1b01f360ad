"""The usage analytics on the database alone, for ``parley usage report``: no Redis, no job queue,
no provider SDK to import or build (the full container's is ``wiring/admin.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from src.application.admin.get_usage_analytics import GetUsageAnalytics
from src.infrastructure.clock import SystemClock
from src.infrastructure.settings import Settings


@asynccontextmanager
async def usage_analytics_on_database(settings: Settings) -> AsyncIterator[GetUsageAnalytics]:
    """``GetUsageAnalytics`` over the configured database; the engine is closed on the way out."""
    from src.infrastructure.persistence.analytics_queries import SqlAnalyticsReader
    from src.infrastructure.persistence.database import build_engine_database
    from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory

    clock = SystemClock()
    database = build_engine_database(settings)
    try:
        yield GetUsageAnalytics(SqlAnalyticsReader(SqlAlchemyUnitOfWorkFactory.for_database(database, clock)), clock)
    finally:
        await database.get_engine().dispose()
