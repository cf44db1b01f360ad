"""What the identity use cases take and return: frozen dataclasses, no secrets except where a
secret is shown exactly once (a new refresh token, a new API key)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from src.domain.identity.model import ApiKey, Role, Tier, User

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class UserView:
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    tier: Tier
    is_active: bool
    created_at: datetime
    bio: str = ""
    #: ``None`` without an avatar; otherwise what names the current one (its ETag).
    avatar_version: str | None = None

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.display_name,
            role=user.role,
            tier=user.tier,
            is_active=user.is_active,
            created_at=user.created_at,
            bio=user.bio,
            avatar_version=user.avatar_version,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenPair:
    """An OAuth2 token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    #: Seconds until the access token expires.
    expires_in: int
    refresh_token: str


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    id: uuid.UUID
    name: str
    #: ``pk_`` and the next 8 characters: enough to tell keys apart, useless to an attacker.
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            expires_at=key.expires_at,
        )


@dataclass(frozen=True, slots=True)
class CreatedApiKey:
    key: ApiKeyView
    #: The whole key; shown this once, only its digest is stored.
    secret: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class RegisterUserCommand:
    email: str
    password: str
    display_name: str
    #: ``None``: the platform's default role for new accounts (``DEFAULT_ROLE``).
    role: Role | None = None
    tier: Tier = Tier.FREE


@dataclass(frozen=True, slots=True)
class SignInCommand:
    email: str
    password: str
    #: The client's address, for throttling failed attempts per (address, email).
    client_ip: str
