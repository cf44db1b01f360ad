"""The signed-in user's inbox: list, mark read, delete, and the live stream."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, Parameter, SkipValidation
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from src.application.notifications.delete_notification import DeleteNotificationCommand
from src.application.notifications.list_notifications import ListNotificationsQuery
from src.application.notifications.mark_notification_read import MarkNotificationReadCommand
from src.domain.identity.model import Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.routes.notifications.schemas import NotificationPageResponse, ReadAllResponse
from src.interfaces.http.routes.notifications.stream import notification_stream

SSE = "text/event-stream"


class NotificationsController(Controller):
    path = "/notifications"
    tags = ["notifications"]
    security = SECURITY

    @get(
        "/",
        summary="Your notifications, newest first",
        description=(
            "`unread=true` lists unread ones only; pass a page's `next_cursor` as `before` for the next, older "
            "page. `unread_count` counts all your unread notifications."
        ),
    )
    async def list_notifications(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        unread: Annotated[bool, Parameter(description="Only unread notifications")] = False,
        before: Annotated[uuid.UUID | None, Parameter(description="Only notifications older than this one")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> NotificationPageResponse:
        query = ListNotificationsQuery(unread_only=unread, before=before, limit=limit)
        return NotificationPageResponse.of(await container.notifications.list_notifications(principal, query))

    @post(
        "/{notification_id:uuid}/read",
        status_code=HTTP_204_NO_CONTENT,
        summary="Mark a notification read",
        description="Someone else's notification is 404 `notification_not_found`.",
    )
    async def mark_read(
        self,
        notification_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> None:
        await container.notifications.mark_read(principal, MarkNotificationReadCommand(notification_id))

    @post("/read-all", status_code=HTTP_200_OK, summary="Mark all your notifications read")
    async def mark_all_read(
        self, principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> ReadAllResponse:
        return ReadAllResponse(marked_read=await container.notifications.mark_all_read(principal))

    @delete(
        "/{notification_id:uuid}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a notification",
        description="Someone else's notification is 404 `notification_not_found`.",
    )
    async def delete_notification(
        self,
        notification_id: FromPath[uuid.UUID],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> None:
        await container.notifications.delete_notification(principal, DeleteNotificationCommand(notification_id))

    @get(
        "/stream",
        summary="Your notifications, live (server-sent events)",
        description=(
            "For clients without a WebSocket. Each new notification is an `event: notification` whose `id` is the "
            "notification id; reconnect with `?after=<last id>` (or `Last-Event-ID`) to get what you missed first."
        ),
        media_type=SSE,
        responses={
            200: ResponseSpec(
                data_container=str, media_type=SSE, description="Notifications as events", generate_examples=False
            )
        },
    )
    async def stream(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        after: Annotated[uuid.UUID | None, Parameter(description="Send the notifications after this one first")] = None,
        last_event_id: Annotated[uuid.UUID | None, HeaderParameter(name="Last-Event-ID")] = None,
    ) -> Stream:
        frames: Any = notification_stream(container, principal, after or last_event_id)
        return Stream(frames, media_type=SSE, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
