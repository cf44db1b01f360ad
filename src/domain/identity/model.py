"""Identity: users, their roles, tiers and permissions, sessions (refresh-token families), API keys.

Pure: no I/O, no clocks (times are passed in), no hashing library (hashes are computed by ports
and compared here as opaque strings).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from src.domain.identity.errors import (
    AccountInactive,
    InvalidEmail,
    RefreshTokenReused,
    SessionExpired,
    SessionRevoked,
)


class Role(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class Tier(enum.StrEnum):
    FREE = "free"
    PRO = "pro"


class Permission(enum.StrEnum):
    CHAT_USE = "chat:use"
    KNOWLEDGE_READ = "knowledge:read"
    KNOWLEDGE_WRITE = "knowledge:write"
    API_KEYS_MANAGE = "api_keys:manage"
    USERS_MANAGE = "users:manage"
    USAGE_READ_ALL = "usage:read_all"
    RATE_LIMIT_EXEMPT = "ratelimit:exempt"
    #: Work the moderation queue: read flagged items, dismiss, hide, delete.
    MODERATION_MANAGE = "moderation:manage"
    #: Read the audit log (who changed what, from where).
    AUDIT_READ = "audit:read"


#: Guards check permissions, never role names.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.MEMBER: frozenset(
        {Permission.CHAT_USE, Permission.KNOWLEDGE_READ, Permission.KNOWLEDGE_WRITE, Permission.API_KEYS_MANAGE}
    ),
    Role.ADMIN: frozenset(Permission),
}


def permissions_of(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


MAX_EMAIL_LENGTH = 254
MAX_DISPLAY_NAME_LENGTH = 100


def normalise_email(raw: str) -> str:
    """Trimmed and lower-cased; one ``@`` with something on both sides and a dot in the domain."""
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or "@" in domain
        or "." not in domain.strip(".")
        or domain.startswith(".")
        or domain.endswith(".")
        or any(c.isspace() for c in email)
        or len(email) > MAX_EMAIL_LENGTH
    ):
        raise InvalidEmail(f"{raw.strip()!r} is not an email address")
    return email


@dataclass(slots=True)
class User:
    id: uuid.UUID
    email: str
    display_name: str
    password_hash: str
    role: Role
    tier: Tier
    is_active: bool
    created_at: datetime
    updated_at: datetime
    #: Bumped whenever existing access must end now (deactivation, password change, role change):
    #: access tokens carry the version they were issued under.
    token_version: int = 0

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.role)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def ensure_active(self) -> None:
        if not self.is_active:
            raise AccountInactive()

    def rename(self, display_name: str, *, now: datetime) -> None:
        self.display_name = clean_display_name(display_name)
        self.updated_at = now

    def change_password_hash(self, password_hash: str, *, now: datetime) -> None:
        self.password_hash = password_hash
        self.token_version += 1
        self.updated_at = now

    def rehash(self, password_hash: str, *, now: datetime) -> None:
        """Same password, stronger parameters: existing sessions stay valid."""
        self.password_hash = password_hash
        self.updated_at = now

    def set_role(self, role: Role, *, now: datetime) -> None:
        if role != self.role:
            self.role = role
            self.token_version += 1  # permissions in issued tokens are stale
            self.updated_at = now

    def set_tier(self, tier: Tier, *, now: datetime) -> None:
        self.tier = tier
        self.updated_at = now

    def end_access_tokens(self, *, now: datetime) -> None:
        """Every access token issued so far stops working (sign-out everywhere)."""
        self.token_version += 1
        self.updated_at = now

    def deactivate(self, *, now: datetime) -> None:
        if self.is_active:
            self.is_active = False
            self.token_version += 1
            self.updated_at = now

    def activate(self, *, now: datetime) -> None:
        if not self.is_active:
            self.is_active = True
            self.updated_at = now


def clean_display_name(raw: str) -> str:
    from src.domain.identity.errors import InvalidDisplayName

    name = " ".join(raw.split())
    if not name or len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidDisplayName(f"display_name must be 1-{MAX_DISPLAY_NAME_LENGTH} characters")
    return name


@dataclass(slots=True)
class RefreshToken:
    """One link of a session's refresh-token chain. Only the hash of the token is ever stored.

    A sign-in starts a family; each refresh rotates the current token (it is marked used and a
    successor is issued in the same family). Presenting a used token again means it was copied:
    the whole family is revoked.
    """

    id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def start_family(
        cls,
        *,
        user_id: uuid.UUID,
        token_hash: str,
        now: datetime,
        lifetime: timedelta,
        id: uuid.UUID,
        family_id: uuid.UUID,
    ) -> RefreshToken:
        return cls(
            id=id,
            family_id=family_id,
            user_id=user_id,
            token_hash=token_hash,
            issued_at=now,
            expires_at=now + lifetime,
        )

    def check_usable(self, now: datetime) -> None:
        """Raise when this token may not be exchanged (reuse is checked first: it is the alarm)."""
        if self.revoked_at is not None:
            raise SessionRevoked()
        if self.used_at is not None:
            raise RefreshTokenReused()
        if now >= self.expires_at:
            raise SessionExpired()

    def rotate(
        self, *, successor_hash: str, successor_id: uuid.UUID, now: datetime, lifetime: timedelta
    ) -> RefreshToken:
        self.check_usable(now)
        self.used_at = now
        return replace(
            self,
            id=successor_id,
            token_hash=successor_hash,
            issued_at=now,
            expires_at=now + lifetime,
            used_at=None,
            revoked_at=None,
        )

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now


API_KEY_PREFIX = "pk_"


@dataclass(slots=True)
class ApiKey:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    #: The first characters of the key (``pk_`` and 8 more), shown in lists to tell keys apart.
    prefix: str
    key_hash: str
    created_at: datetime
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def revoke(self, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is making a request, as every front door and use case sees it."""

    user_id: uuid.UUID
    email: str
    role: Role
    tier: Tier
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    #: ``access_token``, ``api_key`` or ``system`` (the CLI).
    via: str = "access_token"
    api_key_id: uuid.UUID | None = None
    #: The sign-in (refresh-token family) behind an access token; ``None`` for API keys.
    session_id: uuid.UUID | None = None
    #: The address the request came from, as the front door saw it (``None`` at the CLI): the audit
    #: log records it beside the actor.
    client_ip: str | None = None

    @classmethod
    def system(cls) -> Principal:
        """An operator at the CLI: every permission, and the nil UUID (it is no user's account)."""
        return cls(
            user_id=uuid.UUID(int=0),
            email="system@parley.invalid",
            role=Role.ADMIN,
            tier=Tier.PRO,
            permissions=frozenset(Permission),
            via="system",
        )

    @property
    def id(self) -> uuid.UUID:
        """The user id (front doors key per-user rate limits and caches on ``id``)."""
        return self.user_id

    @property
    def is_system(self) -> bool:
        """The operator at the CLI (``Principal.system()``), who may act on anyone's data; never a user."""
        return self.via == "system" and self.user_id.int == 0

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions
