"""Repositories of the admin console: the audit log, the moderation queue (inside a unit of work)
and members' content reports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from src.application.admin.ports import ModerationFilter
from src.domain.admin.audit import AuditAction, AuditEvent, AuditQuery, AuditTarget
from src.domain.admin.moderation import ContentReport, ReportKind
from src.domain.ai.moderation_queue import ModerationAction, ModerationItem, ModerationItemKind, ModerationItemStatus
from src.infrastructure.persistence.admin_models import AUDIT_PRUNE_SETTING, AuditEventModel, ContentReportModel
from src.infrastructure.persistence.ai_models import ModerationItemModel


def _insert(session: AsyncSession) -> Callable[[Any], Any]:
    return postgres_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


class SqlAuditLogRepository:
    """Adds and reads; ``delete_before`` is the retention prune, the one deletion there is."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: AuditEvent) -> None:
        await self._session.execute(
            insert(AuditEventModel).values(
                id=event.id,
                at=event.at,
                actor_id=event.actor_id,
                actor_ip=event.actor_ip,
                action=event.action.value,
                target_type=event.target_type.value,
                target_id=event.target_id,
                data=dict(event.data),
            )
        )

    async def page(self, query: AuditQuery, *, limit: int) -> list[AuditEvent]:
        statement = select(AuditEventModel)
        if query.actor_id is not None:
            statement = statement.where(AuditEventModel.actor_id == query.actor_id)
        actions = query.action_filter
        if actions:
            statement = statement.where(AuditEventModel.action.in_([a.value for a in actions]))
        if query.target_id is not None:
            statement = statement.where(AuditEventModel.target_id == query.target_id)
        if query.after is not None:
            statement = statement.where(AuditEventModel.id > query.after).order_by(AuditEventModel.id)
        else:
            if query.before is not None:
                statement = statement.where(AuditEventModel.id < query.before)
            statement = statement.order_by(AuditEventModel.id.desc())
        rows = await self._session.scalars(statement.limit(limit))
        return [_audit_event(row) for row in rows]

    async def delete_before(self, cutoff: datetime, *, batch_size: int) -> int:
        if self._session.get_bind().dialect.name == "postgresql":
            # The trigger that keeps the log append-only lets this transaction (and only it) delete.
            await self._session.execute(select(func.set_config(AUDIT_PRUNE_SETTING, "on", True)))
        old = select(AuditEventModel.id).where(AuditEventModel.at < cutoff).limit(batch_size).scalar_subquery()
        result = await self._session.execute(delete(AuditEventModel).where(AuditEventModel.id.in_(old)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _audit_event(row: AuditEventModel) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor_id=row.actor_id,
        actor_ip=row.actor_ip,
        action=AuditAction(row.action),
        target_type=AuditTarget(row.target_type),
        target_id=row.target_id,
        data=dict(row.data or {}),
    )


def moderation_item_row(item: ModerationItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "kind": item.kind.value,
        "target_id": item.target_id,
        "user_id": item.user_id,
        "reasons": list(item.reasons),
        "excerpt": item.excerpt,
        "status": item.status.value,
        "report_count": item.report_count,
        "resolution": item.resolution.value if item.resolution else None,
        "resolved_at": item.resolved_at,
        "resolved_by": item.resolved_by,
        "resolution_note": item.resolution_note,
        "created_at": item.created_at,
        "updated_at": item.resolved_at or item.created_at,
    }


def moderation_item(row: ModerationItemModel) -> ModerationItem:
    return ModerationItem(
        id=row.id,
        kind=ModerationItemKind(row.kind),
        target_id=row.target_id,
        user_id=row.user_id,
        reasons=tuple(row.reasons),
        excerpt=row.excerpt,
        status=ModerationItemStatus(row.status),
        created_at=row.created_at,
        report_count=row.report_count or 0,
        resolution=ModerationAction(row.resolution) if row.resolution else None,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_note=row.resolution_note,
    )


class SqlModerationItemRepository:
    def __init__(self, session: AsyncSession, *, lock_rows: bool = True) -> None:
        self._session = session
        self._lock_rows = lock_rows and session.get_bind().dialect.name == "postgresql"

    async def get(self, item_id: uuid.UUID) -> ModerationItem | None:
        statement = select(ModerationItemModel).where(ModerationItemModel.id == item_id)
        if self._lock_rows:
            # Two moderators resolving one item: the second waits, then sees it resolved.
            statement = statement.with_for_update()
        row = await self._session.scalar(statement)
        return moderation_item(row) if row is not None else None

    async def open_for(self, kind: ModerationItemKind, target_id: uuid.UUID) -> ModerationItem | None:
        statement = (
            select(ModerationItemModel)
            .where(
                ModerationItemModel.kind == kind.value,
                ModerationItemModel.target_id == target_id,
                ModerationItemModel.status == ModerationItemStatus.OPEN.value,
            )
            .order_by(ModerationItemModel.id)
            .limit(1)
        )
        if self._lock_rows:
            statement = statement.with_for_update()
        row = await self._session.scalar(statement)
        return moderation_item(row) if row is not None else None

    async def add(self, item: ModerationItem) -> None:
        await self._session.execute(insert(ModerationItemModel).values(**moderation_item_row(item)))

    async def save(self, item: ModerationItem) -> None:
        values = moderation_item_row(item)
        del values["id"], values["created_at"]
        result = await self._session.execute(
            update(ModerationItemModel).where(ModerationItemModel.id == item.id).values(**values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise LookupError(f"moderation item {item.id} does not exist")

    async def page(self, item_filter: ModerationFilter) -> list[ModerationItem]:
        statement = select(ModerationItemModel).where(ModerationItemModel.status == item_filter.status.value)
        if item_filter.kinds:
            statement = statement.where(ModerationItemModel.kind.in_([k.value for k in item_filter.kinds]))
        if item_filter.before is not None:
            statement = statement.where(ModerationItemModel.id < item_filter.before)
        rows = await self._session.scalars(statement.order_by(ModerationItemModel.id.desc()).limit(item_filter.limit))
        return [moderation_item(row) for row in rows]

    async def resolve_open_for(
        self, kinds: Sequence[ModerationItemKind], target_id: uuid.UUID, item: ModerationItem
    ) -> int:
        result = await self._session.execute(
            update(ModerationItemModel)
            .where(
                ModerationItemModel.kind.in_([k.value for k in kinds]),
                ModerationItemModel.target_id == target_id,
                ModerationItemModel.status == ModerationItemStatus.OPEN.value,
                ModerationItemModel.id != item.id,
            )
            .values(
                status=ModerationItemStatus.RESOLVED.value,
                resolution=item.resolution.value if item.resolution else None,
                resolved_at=item.resolved_at,
                resolved_by=item.resolved_by,
                resolution_note=item.resolution_note,
                updated_at=item.resolved_at or item.created_at,
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


class SqlContentReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, report: ContentReport) -> bool:
        statement = (
            _insert(self._session)(ContentReportModel)
            .values(
                id=report.id,
                reporter_id=report.reporter_id,
                kind=report.kind.value,
                target_id=report.target_id,
                reason=report.reason,
                created_at=report.created_at,
                updated_at=report.created_at,
            )
            .on_conflict_do_nothing(index_elements=["reporter_id", "kind", "target_id"])
        )
        result = await self._session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def exists(self, reporter_id: uuid.UUID, kind: ReportKind, target_id: uuid.UUID) -> bool:
        query = select(
            exists().where(
                ContentReportModel.reporter_id == reporter_id,
                ContentReportModel.kind == kind.value,
                ContentReportModel.target_id == target_id,
            )
        )
        return bool(await self._session.scalar(query))
