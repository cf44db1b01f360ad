"""Admins manage users: search, read, change role and tier, deactivate and reactivate."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, patch
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation

from src.application.identity.get_user import GetUserQuery
from src.application.identity.list_users import ListUsersQuery
from src.application.identity.update_user import UpdateUserCommand
from src.domain.identity.model import Permission, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY, requires
from src.interfaces.http.paging import limit_param, offset_param
from src.interfaces.http.routes.identity.schemas import AdminUpdateUserRequest, UserPage, UserResponse


class AdminUsersController(Controller):
    path = "/admin/users"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.USERS_MANAGE)]

    @get(
        "/",
        summary="List and search users",
        description="Newest first. `q` matches part of the email or display name, case-insensitively. "
        "Needs `users:manage`.",
    )
    async def list_users(
        self,
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
        q: Annotated[str | None, Parameter(max_length=254, description="Part of an email or display name")] = None,
        limit: Annotated[int, limit_param(100)] = 20,
        offset: Annotated[int, offset_param("Users to skip")] = 0,
    ) -> UserPage:
        return UserPage.of(
            await container.use_cases.identity.list_users(principal, ListUsersQuery(q or None, limit, offset))
        )

    @get("/{user_id:uuid}", summary="Read a user", description="404 `user_not_found`. Needs `users:manage`.")
    async def get_user(
        self, user_id: FromPath[uuid.UUID], principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> UserResponse:
        return UserResponse.of(await container.use_cases.identity.get_user(principal, GetUserQuery(user_id)))

    @patch(
        "/{user_id:uuid}",
        summary="Change a user's role, tier or status",
        description=(
            "Only the fields sent change. Deactivation signs the user out everywhere and cuts their access on "
            "their next request. Admins cannot demote or deactivate themselves (409 `cannot_change_own_access`). "
            "Needs `users:manage`."
        ),
    )
    async def update_user(
        self,
        user_id: FromPath[uuid.UUID],
        data: JSONBody[AdminUpdateUserRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> UserResponse:
        view = await container.use_cases.identity.update_user(
            principal, UpdateUserCommand(user_id, role=data.role, tier=data.tier, is_active=data.is_active)
        )
        return UserResponse.of(view)
