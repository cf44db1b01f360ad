"""In-memory fakes of the admin console's ports: the audit log, the moderation queue, reports."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from src.application.admin.ports import ModerationFilter
from src.domain.admin.audit import AuditEvent, AuditQuery
from src.domain.admin.moderation import ContentReport, ReportKind
from src.domain.ai.moderation_queue import ModerationItem, ModerationItemKind, ModerationItemStatus


@dataclass
class AdminTables:
    audit: dict[uuid.UUID, AuditEvent] = field(default_factory=dict)
    moderation: dict[uuid.UUID, ModerationItem] = field(default_factory=dict)
    reports: dict[tuple[uuid.UUID, ReportKind, uuid.UUID], ContentReport] = field(default_factory=dict)

    def copy(self) -> AdminTables:
        return AdminTables(audit=dict(self.audit), moderation=dict(self.moderation), reports=dict(self.reports))


class InMemoryAuditLogRepository:
    def __init__(self, tables: AdminTables) -> None:
        self._t = tables

    async def add(self, event: AuditEvent) -> None:
        if event.id in self._t.audit:
            raise ValueError(f"audit event {event.id} exists: the log is append-only")
        self._t.audit[event.id] = event

    async def page(self, query: AuditQuery, *, limit: int) -> list[AuditEvent]:
        actions = query.action_filter
        found = [
            e
            for e in self._t.audit.values()
            if (query.actor_id is None or e.actor_id == query.actor_id)
            and (not actions or e.action in actions)
            and (query.target_id is None or e.target_id == query.target_id)
            and (query.after is None or e.id > query.after)
            and (query.before is None or query.after is not None or e.id < query.before)
        ]
        return sorted(found, key=lambda e: e.id, reverse=query.after is None)[:limit]

    async def delete_before(self, cutoff: datetime, *, batch_size: int) -> int:
        old = [k for k, e in self._t.audit.items() if e.at < cutoff][:batch_size]
        for key in old:
            del self._t.audit[key]
        return len(old)


class InMemoryModerationItemRepository:
    def __init__(self, tables: AdminTables) -> None:
        self._t = tables

    async def get(self, item_id: uuid.UUID) -> ModerationItem | None:
        return self._t.moderation.get(item_id)

    async def open_for(self, kind: ModerationItemKind, target_id: uuid.UUID) -> ModerationItem | None:
        found = [
            i
            for i in self._t.moderation.values()
            if i.kind is kind and i.target_id == target_id and i.status is ModerationItemStatus.OPEN
        ]
        return min(found, key=lambda i: i.id, default=None)

    async def add(self, item: ModerationItem) -> None:
        self._t.moderation[item.id] = item

    async def save(self, item: ModerationItem) -> None:
        if item.id not in self._t.moderation:
            raise LookupError(f"moderation item {item.id} does not exist")
        self._t.moderation[item.id] = item

    async def page(self, item_filter: ModerationFilter) -> list[ModerationItem]:
        found = [
            i
            for i in self._t.moderation.values()
            if i.status is item_filter.status
            and (not item_filter.kinds or i.kind in item_filter.kinds)
            and (item_filter.before is None or i.id < item_filter.before)
        ]
        return sorted(found, key=lambda i: i.id, reverse=True)[: item_filter.limit]

    async def resolve_open_for(
        self, kinds: Sequence[ModerationItemKind], target_id: uuid.UUID, item: ModerationItem
    ) -> int:
        others = [
            i
            for i in self._t.moderation.values()
            if i.kind in kinds
            and i.target_id == target_id
            and i.status is ModerationItemStatus.OPEN
            and i.id != item.id
        ]
        for other in others:
            self._t.moderation[other.id] = dataclasses.replace(
                other,
                status=ModerationItemStatus.RESOLVED,
                resolution=item.resolution,
                resolved_at=item.resolved_at,
                resolved_by=item.resolved_by,
                resolution_note=item.resolution_note,
            )
        return len(others)


class InMemoryContentReportRepository:
    def __init__(self, tables: AdminTables) -> None:
        self._t = tables

    async def add(self, report: ContentReport) -> bool:
        key = (report.reporter_id, report.kind, report.target_id)
        if key in self._t.reports:
            return False
        self._t.reports[key] = report
        return True

    async def exists(self, reporter_id: uuid.UUID, kind: ReportKind, target_id: uuid.UUID) -> bool:
        return (reporter_id, kind, target_id) in self._t.reports


class AdminRepositories:
    """The admin context's repositories in a fake unit of work (``tests.fakes.shared.InMemoryUnitOfWork``)."""

    admin_tables: AdminTables

    @property
    def audit(self) -> InMemoryAuditLogRepository:
        return InMemoryAuditLogRepository(self.admin_tables)

    @property
    def moderation_items(self) -> InMemoryModerationItemRepository:
        return InMemoryModerationItemRepository(self.admin_tables)

    @property
    def content_reports(self) -> InMemoryContentReportRepository:
        return InMemoryContentReportRepository(self.admin_tables)
