"""What the SQL repositories share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


def rowcount(result: Any) -> int:
    """The rows a Core ``UPDATE``/``DELETE`` matched (0 when the driver does not say)."""
    return int(getattr(result, "rowcount", 0) or 0)


async def flush_pending(session: AsyncSession) -> None:
    """Core statements do not autoflush: write pending ORM objects first (rows they refer to)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


class SessionScope(ABC):
    """The base of each context's repositories mixin (``ChatRepositories``, ...): the open session of
    the unit of work they are mixed into, and whether it is read-only. ``SqlAlchemyUnitOfWork``
    provides both; a class that does not is abstract (mypy refuses to instantiate it, and so does
    Python)."""

    @property
    @abstractmethod
    def session(self) -> AsyncSession: ...

    @property
    @abstractmethod
    def read_only(self) -> bool: ...
