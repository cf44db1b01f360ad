"""What the SQL repositories share."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


async def flush_pending(session: AsyncSession) -> None:
    """Core statements do not autoflush: write pending ORM objects first (rows they refer to)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
