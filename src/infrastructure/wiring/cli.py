"""Lean composition for the CLI commands that need only a few adapters.

``build_container`` builds every adapter of every context (Redis, SAQ, tracing, the provider
SDKs, realtime buses) and costs about two seconds of CPU to import and build. A command that only
reads the model catalog, or only lists users, builds just what its use case needs here, from the
same settings and the same adapter builders, so it answers the same and starts in a fraction of
the time. Commands that change users keep the full container: their access-state changes must
reach every API instance through the cache and pub/sub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from src.application.identity.admin_users import ListUsers
from src.application.llm.list_models import ListModels
from src.infrastructure.clock import SystemClock
from src.infrastructure.llm.catalog_loading import build_model_catalog, configured_provider_names
from src.infrastructure.settings import Settings


def build_list_models(settings: Settings) -> ListModels:
    """``ListModels`` over the catalog the container would build: no database, no provider adapter."""
    return ListModels(build_model_catalog(settings, configured_provider_names(settings)))


@dataclass(frozen=True, slots=True)
class UserDirectory:
    """The read-only identity use cases, on the database alone."""

    list_users: ListUsers


@asynccontextmanager
async def user_directory(settings: Settings) -> AsyncIterator[UserDirectory]:
    """The database (same engine settings as the container's) and the use cases that read users;
    the engine is closed on the way out."""
    # Imported here so that importing this module (and `parley models`) stays free of SQLAlchemy.
    from src.infrastructure.persistence.database import build_database_config
    from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory

    database = build_database_config(settings)
    uow = SqlAlchemyUnitOfWorkFactory.for_database(database, SystemClock())
    try:
        yield UserDirectory(list_users=ListUsers(uow))
    finally:
        await database.get_engine().dispose()
