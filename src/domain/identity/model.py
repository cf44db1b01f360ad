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
    """What a person does on the platform; what they may do follows from it (``ROLE_PERMISSIONS``)."""

    ADMIN = "admin"
    #: Works the moderation queue and reads the analytics; writes and publishes like a creator.
    MODERATOR = "moderator"
    #: Publishes articles and uses AI generation: what every account was before roles were split.
    CREATOR = "creator"
    #: Reads, chats and keeps a private knowledge base; cannot publish or generate.
    VIEWER = "viewer"

    @classmethod
    def from_issued(cls, value: str) -> Role:
        """The role named in something issued before the upgrade that split roles (an access token):
        ``member`` was the one non-admin role then, and the migration made every member a creator.
        Input from people (API, CLI) is parsed with ``Role(value)``: ``member`` is refused there."""
        return cls.CREATOR if value == LEGACY_MEMBER_ROLE else cls(value)


class Tier(enum.StrEnum):
    FREE = "free"
    PRO = "pro"


class Permission(enum.StrEnum):
    CHAT_USE = "chat:use"
    KNOWLEDGE_READ = "knowledge:read"
    KNOWLEDGE_WRITE = "knowledge:write"
    API_KEYS_MANAGE = "api_keys:manage"
    USERS_MANAGE = "users:manage"
    RATE_LIMIT_EXEMPT = "ratelimit:exempt"
    #: Make an article public (published and visible to everyone), or change one that is.
    KNOWLEDGE_PUBLISH = "knowledge:publish"
    #: ``/ai/generate``: write new content from a template.
    AI_GENERATE = "ai:generate"
    #: Work the moderation queue: read flagged items, dismiss, hide, delete.
    MODERATION_MANAGE = "moderation:manage"
    #: Read the platform analytics (usage, users, content), without changing anything.
    ANALYTICS_READ = "analytics:read"
    #: Read the audit log (who changed what, from where).
    AUDIT_READ = "audit:read"
    #: Read the system's status (instances, dependencies, queues, breakers).
    SYSTEM_READ = "system:read"


LEGACY_MEMBER_ROLE = "member"

_VIEWER = frozenset(
    {Permission.CHAT_USE, Permission.KNOWLEDGE_READ, Permission.KNOWLEDGE_WRITE, Permission.API_KEYS_MANAGE}
)
_CREATOR = _VIEWER | {Permission.KNOWLEDGE_PUBLISH, Permission.AI_GENERATE}

#: Guards check permissions, never role names.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: _VIEWER,
    Role.CREATOR: _CREATOR,
    Role.MODERATOR: _CREATOR | {Permission.MODERATION_MANAGE, Permission.ANALYTICS_READ},
    Role.ADMIN: frozenset(Permission),
}


def permissions_of(role: Role) -> frozenset[Permission]:
    return ROLE_PERMISSIONS[role]


MAX_EMAIL_LENGTH = 254
MAX_DISPLAY_NAME_LENGTH = 100
#: Characters of a profile's bio (after trimming).
MAX_BIO_LENGTH = 500
#: An uploaded avatar, before it is re-encoded.
MAX_AVATAR_BYTES = 2 * 1024 * 1024
#: Pixels a side of the square pictures kept of an avatar, the largest first.
AVATAR_SIZES: tuple[int, ...] = (256, 64)
#: What an upload may be, told by its first bytes (never by its name or declared type).
AVATAR_FORMATS = ("png", "jpeg", "webp")


def sniff_image_format(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``webp`` from the file's signature; ``None`` for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_avatar_upload(data: bytes) -> str:
    """The upload's format, or the reason it is refused (size, then signature)."""
    from src.domain.identity.errors import ImageTooLarge, InvalidImage

    if len(data) > MAX_AVATAR_BYTES:
        raise ImageTooLarge(f"an avatar may be at most {MAX_AVATAR_BYTES // (1024 * 1024)} MiB")
    if not data:
        raise InvalidImage("the request body is empty: send the picture's bytes")
    image_format = sniff_image_format(data)
    if image_format is None:
        raise InvalidImage("an avatar must be a PNG, JPEG or WebP picture")
    return image_format


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
    #: A few lines about themselves, shown on their profile; empty when none.
    bio: str = ""
    #: Names the current avatar (a digest of its pictures): ``None`` without one. It changes with
    #: every upload, so it is the avatar's ETag and busts caches holding the previous one.
    avatar_version: str | None = None

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

    def describe(self, bio: str, *, now: datetime) -> None:
        self.bio = clean_bio(bio)
        self.updated_at = now

    def set_avatar(self, version: str | None, *, now: datetime) -> None:
        self.avatar_version = version
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


def clean_bio(raw: str) -> str:
    """Trimmed; line breaks kept (a bio may have paragraphs), NUL and other control characters refused."""
    from src.domain.identity.errors import InvalidBio

    bio = raw.replace("\r\n", "\n").strip()
    if len(bio) > MAX_BIO_LENGTH:
        raise InvalidBio(f"bio must be at most {MAX_BIO_LENGTH} characters")
    if any((ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in bio):
        raise InvalidBio("bio must not contain NUL or other control characters")
    return bio


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
