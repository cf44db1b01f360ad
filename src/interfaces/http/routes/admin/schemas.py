"""Bodies of the audit log, moderation queue and report routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from src.application.admin.audit import AuditPage
from src.application.admin.moderation import ModerationPage, ReportView
from src.domain.admin.audit import AuditEvent
from src.domain.admin.moderation import MAX_REPORT_REASON
from src.domain.ai.moderation_queue import MAX_RESOLUTION_NOTE, ModerationItem


class AuditEventResponse(msgspec.Struct):
    id: uuid.UUID
    at: datetime
    actor_id: Annotated[uuid.UUID | None, msgspec.Meta(description="The user who acted; null: the CLI or nobody known")]
    actor_ip: Annotated[str | None, msgspec.Meta(description="The address the action came from")]
    action: Annotated[str, msgspec.Meta(description="`user.role_changed`, `api_key.created`, ... (docs/API.md)")]
    target_type: str
    target_id: str | None
    data: Annotated[dict[str, Any], msgspec.Meta(description="What changed; `via` says how the actor signed in")]

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventResponse:
        return cls(e.id, e.at, e.actor_id, e.actor_ip, e.action.value, e.target_type.value, e.target_id, dict(e.data))


class AuditPageResponse(msgspec.Struct):
    items: list[AuditEventResponse]
    limit: int
    next_before: Annotated[uuid.UUID | None, msgspec.Meta(description="Pass as `before` for the next, older page")]

    @classmethod
    def of(cls, page: AuditPage) -> AuditPageResponse:
        return cls([AuditEventResponse.of(e) for e in page.items], page.limit, page.next_before)


class ModerationItemResponse(msgspec.Struct):
    id: uuid.UUID
    kind: Annotated[str, msgspec.Meta(description="`message`, `reply`, `article`, `passage` or `tool_input`")]
    target_id: Annotated[uuid.UUID, msgspec.Meta(description="The message, article or source flagged")]
    user_id: Annotated[uuid.UUID | None, msgspec.Meta(description="Its author")]
    reasons: Annotated[
        list[str],
        msgspec.Meta(description="`moderation:<category>`, prompt-injection reasons, or `user_report`"),
    ]
    excerpt: str
    report_count: int
    status: Annotated[str, msgspec.Meta(description="`open` or `resolved`")]
    created_at: datetime
    resolution: Annotated[str | None, msgspec.Meta(description="`dismiss`, `hide` or `delete` once resolved")]
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_note: str | None

    @classmethod
    def of(cls, i: ModerationItem) -> ModerationItemResponse:
        return cls(
            id=i.id,
            kind=i.kind.value,
            target_id=i.target_id,
            user_id=i.user_id,
            reasons=list(i.reasons),
            excerpt=i.excerpt,
            report_count=i.report_count,
            status=i.status.value,
            created_at=i.created_at,
            resolution=i.resolution.value if i.resolution else None,
            resolved_at=i.resolved_at,
            resolved_by=i.resolved_by,
            resolution_note=i.resolution_note,
        )


class ModerationPageResponse(msgspec.Struct):
    items: list[ModerationItemResponse]
    limit: int
    next_before: Annotated[uuid.UUID | None, msgspec.Meta(description="Pass as `before` for the next, older page")]

    @classmethod
    def of(cls, page: ModerationPage) -> ModerationPageResponse:
        return cls([ModerationItemResponse.of(i) for i in page.items], page.limit, page.next_before)


class ResolveRequest(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["dismiss", "hide", "delete"]
    note: Annotated[str, msgspec.Meta(max_length=MAX_RESOLUTION_NOTE)] | None = None


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["message", "article"]
    id: Annotated[uuid.UUID, msgspec.Meta(description="The message or article")]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REPORT_REASON)]


class ReportResponse(msgspec.Struct):
    id: uuid.UUID
    kind: str
    target_id: uuid.UUID
    created_at: datetime

    @classmethod
    def of(cls, view: ReportView) -> ReportResponse:
        return cls(view.id, view.kind.value, view.target_id, view.created_at)
