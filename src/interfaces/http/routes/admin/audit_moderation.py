"""The audit log and the moderation queue for staff, and members' reports of content."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from src.application.admin.list_moderation_items import ListModerationItemsQuery
from src.application.admin.report_content import ReportContentCommand
from src.application.admin.resolve_moderation_item import ResolveModerationItemCommand
from src.domain.admin.audit import MAX_AUDIT_PAGE, MAX_FILTER_LENGTH, AuditQuery, parse_action
from src.domain.identity.model import Permission, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY, requires
from src.interfaces.http.routes.admin.schemas import (
    AuditPageResponse,
    ModerationItemResponse,
    ModerationPageResponse,
    ReportRequest,
    ReportResponse,
    ResolveRequest,
)


class AuditLogController(Controller):
    path = "/admin/audit"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.AUDIT_READ)]

    @get(
        "/",
        summary="Read the audit log, newest first",
        description=(
            "Who changed what, when and from where: role, tier, status, password and budget changes, "
            "announcements, API keys created and revoked, moderation decisions, throttled sign-ins and reused "
            "refresh tokens. Filter by `actor` (a user id), `action` (`user.role_changed`, ...) and `target` (the "
            "id acted on); pass a page's `next_before` as `before` for the next, older page. Read-only: no route "
            "changes or deletes an event. Needs `audit:read`."
        ),
    )
    async def list_events(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        actor: Annotated[uuid.UUID | None, Parameter(description="Only events by this user")] = None,
        action: Annotated[str | None, Parameter(max_length=50, description="Only events of this action")] = None,
        target: Annotated[
            str | None, Parameter(max_length=MAX_FILTER_LENGTH, description="Only events about this id")
        ] = None,
        before: Annotated[uuid.UUID | None, Parameter(description="Only events older than this one")] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_AUDIT_PAGE)] = 50,
    ) -> AuditPageResponse:
        query = AuditQuery(
            actor_id=actor,
            action=parse_action(action) if action else None,
            target_id=target or None,
            before=before,
            limit=limit,
        )
        return AuditPageResponse.of(await container.audit_moderation.list_audit_events(principal, query))


class ModerationController(Controller):
    path = "/admin/moderation"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.MODERATION_MANAGE)]

    @get(
        "/",
        summary="List the moderation queue",
        description=(
            "Flagged content, newest first, with why (`reasons`: `moderation:<category>`, prompt-injection "
            "reasons, `user_report`) and an excerpt. `kind=message` lists members' messages and model replies, "
            "`kind=article` reported articles (also `passage`, `tool_input`). Pass a page's `next_before` as "
            "`before` for the next page. Needs `moderation:manage`."
        ),
    )
    async def list_items(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        status: Annotated[Literal["open", "resolved"], Parameter(description="Open or resolved items")] = "open",
        kind: Annotated[
            Literal["message", "article", "passage", "tool_input"] | None, Parameter(description="Only this kind")
        ] = None,
        before: Annotated[uuid.UUID | None, Parameter(description="Only items older than this one")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
    ) -> ModerationPageResponse:
        query = ListModerationItemsQuery(status=status, kind=kind, before=before, limit=limit)
        return ModerationPageResponse.of(await container.audit_moderation.list_moderation_items(principal, query))

    @post(
        "/{item_id:uuid}/resolve",
        status_code=HTTP_200_OK,
        summary="Resolve a moderation item",
        description=(
            "`dismiss` leaves the content as it is; `hide` makes a public article disappear for everyone but its "
            "author and staff (a chat message is its author's alone already); `delete` removes the content. "
            "Other open items about the same content are resolved with it, and the decision goes to the audit "
            "log. 404 `moderation_item_not_found`, 409 `moderation_item_resolved`, 422 `invalid_resolution` "
            "(hide or delete an item with no stored content). Needs `moderation:manage`."
        ),
    )
    async def resolve(
        self,
        item_id: FromPath[uuid.UUID],
        data: JSONBody[ResolveRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ModerationItemResponse:
        command = ResolveModerationItemCommand(item_id=item_id, action=data.action, note=data.note)
        return ModerationItemResponse.of(await container.audit_moderation.resolve_moderation_item(principal, command))


class ReportsController(Controller):
    path = "/reports"
    tags = ["moderation"]
    security = SECURITY

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        summary="Report a message or a public article",
        description=(
            "Puts the content in the moderation queue (or adds to its open item) with `user_report` as the "
            "reason. A message must be one of your conversations' (a model's reply, say); an article must be "
            "public. Once per member and content: 409 `already_reported` the second time. Content you cannot "
            "see is 404 `content_not_found`, as content that does not exist."
        ),
        responses={
            404: ResponseSpec(None, description="`content_not_found`: no such content you can see"),
            409: ResponseSpec(None, description="`already_reported`: you reported this content already"),
        },
    )
    async def report(
        self,
        data: JSONBody[ReportRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ReportResponse:
        command = ReportContentCommand(kind=data.kind, target_id=data.id, reason=data.reason)
        return ReportResponse.of(await container.audit_moderation.report_content(principal, command))
