"""Request and response bodies of the identity routes, with their OpenAPI descriptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from src.application.identity.views import ApiKeyView, CreatedApiKey, Page, TokenPair, UserView
from src.domain.identity.model import (
    MAX_BIO_LENGTH,
    MAX_DISPLAY_NAME_LENGTH,
    MAX_EMAIL_LENGTH,
    Role,
    Tier,
    permissions_of,
)

#: Longer "passwords" are refused before hashing: hashing megabytes is a denial of service.
MAX_PASSWORD_LENGTH = 1024
#: Refresh tokens and API keys are ~43 URL-safe characters; anything far longer is not one.
MAX_SECRET_LENGTH = 512

Email = Annotated[str, msgspec.Meta(max_length=MAX_EMAIL_LENGTH, description="Email address; trimmed and lower-cased.")]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
DisplayName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_DISPLAY_NAME_LENGTH * 2,
        description=f"Shown to others; runs of whitespace collapse, 1-{MAX_DISPLAY_NAME_LENGTH} characters.",
    ),
]
RefreshTokenText = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_SECRET_LENGTH, description="A refresh token from /auth/token.")
]


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Annotated[
        str,
        msgspec.Meta(
            max_length=MAX_PASSWORD_LENGTH,
            description="At least 10 characters, not the email, not a commonly used password.",
        ),
    ]
    display_name: DisplayName


class UserResponse(msgspec.Struct):
    id: uuid.UUID
    email: str
    display_name: str
    role: Annotated[
        Role,
        msgspec.Meta(
            description="`admin`, `moderator`, `creator` or `viewer`; permissions follow from it (docs/API.md)."
        ),
    ]
    tier: Annotated[Tier, msgspec.Meta(description="`free` or `pro`: the default rate limits and budgets.")]
    is_active: Annotated[bool, msgspec.Meta(description="False once deactivated: the account cannot sign in.")]
    created_at: datetime
    bio: Annotated[str, msgspec.Meta(description="A few lines about them; empty when none.")]
    avatar_url: Annotated[
        str | None,
        msgspec.Meta(
            description="Their avatar (`GET` it, `&size=64` for the small one); null when none. The URL changes "
            "with every upload."
        ),
    ]
    permissions: Annotated[
        list[str],
        msgspec.Meta(
            description="What the role allows (`chat:use`, `knowledge:publish`, `moderation:manage`, ...), sorted: "
            "clients show or hide features by these, never by the role's name."
        ),
    ]

    @classmethod
    def of(cls, view: UserView) -> UserResponse:
        return cls(
            id=view.id,
            email=view.email,
            display_name=view.display_name,
            role=view.role,
            tier=view.tier,
            is_active=view.is_active,
            created_at=view.created_at,
            bio=view.bio,
            avatar_url=avatar_url(view),
            permissions=sorted(permission.value for permission in permissions_of(view.role)),
        )


def avatar_url(view: UserView) -> str | None:
    if view.avatar_version is None:
        return None
    return f"/api/v1/users/{view.id}/avatar?size=256&v={view.avatar_version}"


class UserPage(msgspec.Struct):
    items: list[UserResponse]
    total: Annotated[int, msgspec.Meta(description="Users matching the query, on every page.")]
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Page[UserView]) -> UserPage:
        return cls(
            items=[UserResponse.of(v) for v in page.items], total=page.total, limit=page.limit, offset=page.offset
        )


class TokenRequest(msgspec.Struct):
    """The OAuth2 token request (RFC 6749 sections 4.3 and 6), form-encoded or JSON."""

    grant_type: Annotated[str, msgspec.Meta(description="`password` or `refresh_token`.")]
    username: Annotated[str | None, msgspec.Meta(description="The email (password grant).")] = None
    password: Annotated[str | None, msgspec.Meta(description="The password (password grant).")] = None
    refresh_token: Annotated[str | None, msgspec.Meta(description="The refresh token (refresh_token grant).")] = None
    scope: Annotated[str | None, msgspec.Meta(description="Ignored: Parley has no OAuth2 scopes.")] = None


class TokenResponse(msgspec.Struct):
    """RFC 6749 section 5.1."""

    access_token: Annotated[str, msgspec.Meta(description="A JWT for `Authorization: Bearer ...`.")]
    token_type: Annotated[str, msgspec.Meta(description="Always `bearer`.")]
    expires_in: Annotated[int, msgspec.Meta(description="Seconds until the access token expires.")]
    refresh_token: Annotated[
        str, msgspec.Meta(description="Exchange it at /auth/token for a new pair; each use rotates it.")
    ]

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        return cls(
            access_token=pair.access_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
            refresh_token=pair.refresh_token,
        )


OAuthErrorCode = Literal["invalid_request", "invalid_grant", "unsupported_grant_type"]


class OAuthError(msgspec.Struct, omit_defaults=True):
    """RFC 6749 section 5.2."""

    error: OAuthErrorCode
    error_description: str | None = None


class LogoutRequest(msgspec.Struct, forbid_unknown_fields=True):
    refresh_token: RefreshTokenText


class LogoutAllRequest(msgspec.Struct, forbid_unknown_fields=True):
    revoke_api_keys: Annotated[
        bool,
        msgspec.Meta(description="Also revoke every API key of the caller (API keys survive signing out by default)."),
    ] = False


class SignedOut(msgspec.Struct):
    revoked_sessions: Annotated[int, msgspec.Meta(description="Sessions (refresh-token families) ended.")]


class UpdateProfileRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent change."""

    display_name: DisplayName | None = None
    bio: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=MAX_BIO_LENGTH * 2,
                description=f"About you, at most {MAX_BIO_LENGTH} characters once trimmed; line breaks are kept, "
                "other control characters refused (422 `invalid_bio`). An empty string clears it.",
            ),
        ]
        | None
    ) = None


class ChangePasswordRequest(msgspec.Struct, forbid_unknown_fields=True):
    current_password: Password
    new_password: Annotated[
        str,
        msgspec.Meta(
            max_length=MAX_PASSWORD_LENGTH,
            description="At least 10 characters, not the email, not a commonly used password.",
        ),
    ]


class AdminUpdateUserRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent change."""

    role: Role | None = None
    tier: Tier | None = None
    is_active: (
        Annotated[bool, msgspec.Meta(description="False deactivates (and signs out everywhere); true reactivates.")]
        | None
    ) = None


class CreateApiKeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="What the key is for.")]
    expires_in_days: (
        Annotated[
            int, msgspec.Meta(ge=1, le=3650, description="Days until the key stops working; never when left out.")
        ]
        | None
    ) = None


class ApiKeyResponse(msgspec.Struct):
    id: uuid.UUID
    name: str
    prefix: Annotated[str, msgspec.Meta(description="The key's first characters, to tell keys apart.")]
    created_at: datetime
    last_used_at: Annotated[datetime | None, msgspec.Meta(description="Updated at most once a minute.")]
    expires_at: datetime | None

    @classmethod
    def of(cls, view: ApiKeyView) -> ApiKeyResponse:
        return cls(
            id=view.id,
            name=view.name,
            prefix=view.prefix,
            created_at=view.created_at,
            last_used_at=view.last_used_at,
            expires_at=view.expires_at,
        )


class CreatedApiKeyResponse(msgspec.Struct):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    key: Annotated[
        str,
        msgspec.Meta(description="The whole key (`pk_...`), shown this once: only its digest is stored."),
    ]

    @classmethod
    def of(cls, created: CreatedApiKey) -> CreatedApiKeyResponse:
        view = created.key
        return cls(
            id=view.id,
            name=view.name,
            prefix=view.prefix,
            created_at=view.created_at,
            last_used_at=view.last_used_at,
            expires_at=view.expires_at,
            key=created.secret,
        )


class ApiKeyList(msgspec.Struct):
    items: Annotated[list[ApiKeyResponse], msgspec.Meta(description="Your keys, revoked ones excluded.")]
    total: int
