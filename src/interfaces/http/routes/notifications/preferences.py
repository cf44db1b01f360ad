"""Notification preferences, the one-click unsubscribe of e-mail (RFC 8058), and admin announcements."""

from __future__ import annotations

import html
from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.params import JSONBody, Parameter, SkipValidation
from litestar.status_codes import HTTP_202_ACCEPTED

from src.application.notifications.publish_announcement import PublishAnnouncementCommand
from src.application.notifications.unsubscribe import UnsubscribeCommand
from src.application.notifications.update_preferences import UpdatePreferencesCommand
from src.domain.identity.model import Permission, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY, requires
from src.interfaces.http.routes.notifications.schemas import (
    AnnouncementRequest,
    AnnouncementResponse,
    PreferencesRequest,
    PreferencesResponse,
    UnsubscribeResponse,
)


class PreferencesController(Controller):
    path = "/notifications/preferences"
    tags = ["notifications"]
    security = SECURITY

    @get("/", summary="How you want to hear about each category")
    async def get_preferences(
        self, principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> PreferencesResponse:
        return PreferencesResponse.of(await container.notifications.get_preferences(principal))

    @put(
        "/",
        summary="Change how you hear about categories",
        description=(
            "`{categories: {content: {email: true}}}`: the categories and channels (`in_app`, `email`) given "
            "change, the rest stay. An unknown category or channel is 422; so is turning security e-mail off."
        ),
    )
    async def update_preferences(
        self,
        data: JSONBody[PreferencesRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> PreferencesResponse:
        return PreferencesResponse.of(
            await container.notifications.update_preferences(principal, UpdatePreferencesCommand(data.categories))
        )


class UnsubscribeController(Controller):
    path = "/notifications/unsubscribe"
    tags = ["notifications"]

    @post(
        "/",
        opt={"public": True},
        status_code=200,
        summary="One-click unsubscribe (RFC 8058)",
        description=(
            "The `List-Unsubscribe` link of a notification e-mail: turns that category's e-mail off for the "
            "mail's recipient. No sign-in: the signed `token` is the proof. A bad token is 422."
        ),
    )
    async def unsubscribe(
        self, container: SkipValidation[Container], token: Annotated[str, Parameter(max_length=200)]
    ) -> UnsubscribeResponse:
        return UnsubscribeResponse(category=await container.notifications.unsubscribe(UnsubscribeCommand(token)))

    @get(
        "/",
        opt={"public": True},
        summary="Unsubscribe page",
        description="What a person who follows the link sees: a button that sends the one-click POST.",
        media_type="text/html",
    )
    async def unsubscribe_page(self, token: Annotated[str, Parameter(max_length=200)]) -> Response[str]:
        # GET changes nothing (mail scanners follow links): the form POSTs.
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Unsubscribe</title>"
            '<form method="post"><p>Stop these e-mails?</p>'
            f'<input type="hidden" name="token" value="{html.escape(token)}">'
            f'<button formaction="?token={html.escape(token)}">Unsubscribe</button></form></html>'
        )
        return Response(page, media_type="text/html", headers={"Cache-Control": "no-store"})


class AnnouncementsController(Controller):
    path = "/admin/announcements"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.USERS_MANAGE)]

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        summary="Announce something to everyone, one role or one tier",
        description=(
            "Fanned out in batches by a background job: an `announcements` notification for each active user of "
            "the `audience` (`all`, `role:<name>`, `tier:<name>`), by e-mail too where they chose so. Needs "
            "`users:manage`."
        ),
    )
    async def announce(
        self,
        data: JSONBody[AnnouncementRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> AnnouncementResponse:
        view = await container.notifications.publish_announcement(
            principal, PublishAnnouncementCommand(data.title, data.body, data.audience)
        )
        return AnnouncementResponse.of(view)
