"""The signed-in user's own account (profile, avatar, password, deactivation), and anyone's avatar."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Literal

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromPath, JSONBody, Parameter, SkipValidation
from litestar.status_codes import HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED

from src.application.identity.change_password import ChangePasswordCommand
from src.application.identity.get_avatar import GetAvatarQuery
from src.application.identity.set_avatar import SetAvatarCommand
from src.application.identity.update_profile import UpdateProfileCommand
from src.domain.identity.model import MAX_AVATAR_BYTES, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import PUBLIC_OPT, SECURITY
from src.interfaces.http.routes.identity.schemas import ChangePasswordRequest, UpdateProfileRequest, UserResponse

#: A request to the avatar URL of the current upload (``v`` matches) may be cached for good: a new
#: upload changes the URL. Without ``v`` (or an old one) caches check back every time.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, no-cache"
PICTURE_TYPES = ("image/png", "image/jpeg", "image/webp", "application/octet-stream")


@dataclass
class AvatarUploadOperation(Operation):
    """The upload reads its body itself (the picture's bytes, whatever its declared type): documented here."""

    def __post_init__(self) -> None:
        media = OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.STRING, format="binary", description="A PNG, JPEG or WebP file's bytes.")  # type: ignore[arg-type]
        )
        self.request_body = RequestBody(required=True, content=dict.fromkeys(PICTURE_TYPES, media))


class MeController(Controller):
    path = "/users/me"
    tags = ["users"]
    security = SECURITY

    @get("/", summary="Your account", description="The signed-in user (or the owner of the API key).")
    async def get_me(self, principal: SkipValidation[Principal], container: SkipValidation[Container]) -> UserResponse:
        return UserResponse.of(await container.use_cases.identity.get_profile(principal))

    @patch(
        "/",
        summary="Change your profile",
        description='Your display name and bio; only the fields sent change (`"bio": ""` clears the bio).',
    )
    async def update_me(
        self,
        data: JSONBody[UpdateProfileRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> UserResponse:
        view = await container.use_cases.identity.update_profile(
            principal, UpdateProfileCommand(display_name=data.display_name, bio=data.bio)
        )
        return UserResponse.of(view)

    @put(
        "/avatar",
        summary="Upload your avatar",
        description=(
            "The body is the picture itself: PNG, JPEG or WebP, at most 2 MiB, told by its content (not its name "
            "or `Content-Type`). It is cropped to a centred square, resized to 256 and 64 pixels and re-encoded "
            "as WebP without its metadata (EXIF, location). 422 `invalid_image` when it is not a picture Parley "
            "reads (or declares more than 25 megapixels); 413 `image_too_large` above 2 MiB. Answers your "
            "account with its new `avatar_url`."
        ),
        request_max_body_size=MAX_AVATAR_BYTES,
        operation_class=AvatarUploadOperation,
    )
    async def put_avatar(
        self,
        request: Request,  # type: ignore[type-arg]
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> UserResponse:
        return UserResponse.of(await container.profiles.set_avatar(principal, SetAvatarCommand(await request.body())))

    @delete(
        "/avatar",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove your avatar",
        description="Its pictures are deleted; `avatar_url` becomes null. Removing none is not an error.",
    )
    async def delete_avatar(self, principal: SkipValidation[Principal], container: SkipValidation[Container]) -> None:
        await container.profiles.remove_avatar(principal)

    @delete(
        "/",
        status_code=HTTP_204_NO_CONTENT,
        summary="Deactivate your account",
        description=(
            "The account can no longer sign in; every session and API key ends at once. An admin can reactivate it."
        ),
    )
    async def deactivate_me(self, principal: SkipValidation[Principal], container: SkipValidation[Container]) -> None:
        await container.use_cases.identity.deactivate_account(principal)

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
        await container.use_cases.identity.change_password(
            principal, ChangePasswordCommand(data.current_password, data.new_password, principal.session_id)
        )


class AvatarController(Controller):
    path = "/users"
    tags = ["users"]

    @get(
        "/{user_id:uuid}/avatar",
        opt={PUBLIC_OPT: True},
        media_type="image/webp",
        summary="A user's avatar",
        description=(
            "A square WebP picture, 256 or 64 pixels a side. Public, so that `<img src>` shows it without "
            "credentials; a deactivated account has none. `ETag` names the upload: `If-None-Match` with it is "
            "304. With `v` set to the current upload (as in `avatar_url`) the answer may be cached for good; "
            "otherwise caches check back. 404 `avatar_not_found` when the user has none."
        ),
        responses={
            304: ResponseSpec(None, description="Not modified: the `If-None-Match` ETag is the current one."),
        },
        response_headers=[
            ResponseHeader(name="ETag", description="Names this upload and size.", documentation_only=True),
            ResponseHeader(name="Cache-Control", description="How long it may be cached.", documentation_only=True),
        ],
    )
    async def get_avatar(
        self,
        request: Request,  # type: ignore[type-arg]
        user_id: FromPath[uuid.UUID],
        container: SkipValidation[Container],
        size: Annotated[Literal[64, 256], Parameter(description="Pixels a side.")] = 256,
        v: Annotated[
            str | None, Parameter(max_length=64, description="The upload's version, from `avatar_url`.")
        ] = None,
    ) -> Response[bytes]:
        picture = await container.profiles.get_avatar(GetAvatarQuery(user_id, size))
        etag = f'"{picture.version}-{picture.size}"'
        headers = {"ETag": etag, "Cache-Control": IMMUTABLE if v == picture.version else REVALIDATE}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(b"", status_code=HTTP_304_NOT_MODIFIED, headers=headers)
        return Response(picture.data, media_type=picture.content_type, headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 says for it) or is ``*``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return etag in {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
