"""The signed-in user's own account: profile, password, deactivation."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, SkipValidation
from litestar.status_codes import HTTP_204_NO_CONTENT

from src.domain.identity.model import Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY
from src.interfaces.http.routes.identity.schemas import ChangePasswordRequest, UpdateProfileRequest, UserResponse


class MeController(Controller):
    path = "/users/me"
    tags = ["users"]
    security = SECURITY

    @get("/", summary="Your account", description="The signed-in user (or the owner of the API key).")
    async def get_me(self, principal: SkipValidation[Principal], container: SkipValidation[Container]) -> UserResponse:
        return UserResponse.of(await container.use_cases.get_profile(principal))

    @patch("/", summary="Change your display name")
    async def update_me(
        self,
        data: JSONBody[UpdateProfileRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> UserResponse:
        return UserResponse.of(await container.use_cases.update_profile(principal, data.display_name))

    @delete(
        "/",
        status_code=HTTP_204_NO_CONTENT,
        summary="Deactivate your account",
        description=(
            "The account can no longer sign in; every session and API key ends at once. An admin can reactivate it."
        ),
    )
    async def deactivate_me(self, principal: SkipValidation[Principal], container: SkipValidation[Container]) -> None:
        await container.use_cases.deactivate_account(principal)

    @post(
        "/password",
        status_code=HTTP_204_NO_CONTENT,
        summary="Change your password",
        description=(
            "Needs the current password (403 `invalid_credentials` when it is wrong); the new one follows the "
            "registration policy (422 `weak_password`). Every other session is signed out. Access tokens all "
            "end at once; this session renews with its refresh token (`grant_type=refresh_token`)."
        ),
        responses={403: ResponseSpec(None, description="`invalid_credentials`: the current password is wrong")},
    )
    async def change_password(
        self,
        data: JSONBody[ChangePasswordRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> None:
        await container.use_cases.change_password(
            principal, data.current_password, data.new_password, principal.session_id
        )
