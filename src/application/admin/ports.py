"""Ports of the admin console's audit log and moderation queue (adapters: ``admin_repositories.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from src.domain.admin.audit import AuditEvent, AuditQuery
from src.domain.admin.moderation import ContentReport, ReportKind
from src.domain.ai.moderation_queue import ModerationItem, ModerationItemKind, ModerationItemStatus


class AuditLogRepository(Protocol):
    """Append-only: events are added and read; only the retention prune deletes (nothing updates)."""

    async def add(self, event: AuditEvent) -> None:
        """Write ``event`` in the caller's transaction: it commits with the change it records, or not at all."""
        ...

    async def page(self, query: AuditQuery, *, limit: int) -> list[AuditEvent]:
        """Up to ``limit`` events matching the filters, newest first, older than ``query.before``."""
        ...

    async def delete_before(self, cutoff: datetime, *, batch_size: int) -> int:
        """The retention prune: delete up to ``batch_size`` events older than ``cutoff``; the number deleted."""
        ...


@dataclass(frozen=True, slots=True)
class ModerationFilter:
    status: ModerationItemStatus = ModerationItemStatus.OPEN
    kinds: tuple[ModerationItemKind, ...] = ()
    #: Keyset: items older than this one (the last id of the previous page).
    before: uuid.UUID | None = None
    limit: int = 50


class ModerationItemRepository(Protocol):
    """The moderation queue inside a unit of work (the scanners' ``ModerationQueue`` writes on its own)."""

    async def get(self, item_id: uuid.UUID) -> ModerationItem | None: ...

    async def open_for(self, kind: ModerationItemKind, target_id: uuid.UUID) -> ModerationItem | None:
        """The open item about this target, if there is one."""
        ...

    async def add(self, item: ModerationItem) -> None: ...

    async def save(self, item: ModerationItem) -> None:
        """Store an item's reasons, report count, status and resolution."""
        ...

    async def page(self, item_filter: ModerationFilter) -> list[ModerationItem]:
        """Items with the filter's status and kinds, newest first."""
        ...

    async def resolve_open_for(
        self, kinds: Sequence[ModerationItemKind], target_id: uuid.UUID, item: ModerationItem
    ) -> int:
        """Resolve the other open items about the same target the way ``item`` was resolved; how many."""
        ...


class ContentReportRepository(Protocol):
    async def add(self, report: ContentReport) -> bool:
        """Store ``report``; ``False`` when this member reported this content already."""
        ...

    async def exists(self, reporter_id: uuid.UUID, kind: ReportKind, target_id: uuid.UUID) -> bool: ...
