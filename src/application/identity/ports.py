"""Ports of the identity context. Adapters: src/infrastructure/persistence (repositories),
src/infrastructure/security (hashing, tokens); fakes: tests/fakes/identity.py."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from src.application.admin.ports import AuditTransaction
from src.application.shared.ports import Transaction
from src.domain.identity.model import ApiKey, RefreshToken, Role, Tier, User


class AvatarRenderer(Protocol):
    """Turns an upload into the avatar's pictures (CPU work: adapters run it off the event loop)."""

    async def render(self, data: bytes, image_format: str, sizes: tuple[int, ...]) -> dict[int, bytes]:
        """A square WebP picture per size, cropped to the centre, without metadata; raises
        ``InvalidImage`` when ``data`` does not decode as ``image_format`` or is too large to decode."""
        ...


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Store a new user; raises ``EmailTaken`` when the email is already registered."""
        ...

    async def get(self, user_id: uuid.UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None:
        """``email`` is already normalised (trimmed, lower-case)."""
        ...

    async def save(self, user: User) -> None:
        """Persist changes to an existing user."""
        ...

    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[User], int]:
        """Users whose email or display name contains ``query`` (case-insensitive), newest first,
        and the total number matching."""
        ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        """The token with this hash, locked for update for the rest of the transaction where the
        database can (two concurrent refreshes with one token must not both rotate it)."""
        ...

    async def save(self, token: RefreshToken) -> None: ...

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> int:
        """Revoke every token of the family not revoked yet (rotated ones too); how many."""
        ...

    async def revoke_all_for_user(
        self, user_id: uuid.UUID, now: datetime, *, except_family: uuid.UUID | None = None
    ) -> int:
        """Revoke every token of the user's families but ``except_family``; the number of sessions
        (families) that were still live, i.e. had an unused, unrevoked token."""
        ...

    async def delete_expired(self, now: datetime, *, batch_size: int) -> int: ...

    async def ended_families(self, user_id: uuid.UUID, *, since: datetime) -> list[uuid.UUID]:
        """The user's sessions (families) revoked at or after ``since``: their access tokens may still
        be unexpired, and must be refused."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def get(self, key_id: uuid.UUID) -> ApiKey | None: ...

    async def get_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def list_for_user(self, user_id: uuid.UUID) -> list[ApiKey]: ...

    async def save(self, key: ApiKey) -> None: ...


class IdentityTransaction(Transaction, Protocol):
    """The identity context's repositories, in one transaction."""

    @property
    def users(self) -> UserRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...


class PasswordHasher(Protocol):
    """argon2id in production. Slow on purpose: adapters run it off the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Whether it matches, and a new hash when the stored one uses outdated parameters."""
        ...

    async def verify_dummy(self, password: str) -> None:
        """Spend the time a real verification takes (unknown users answer as slowly as known ones)."""
        ...


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    role: Role
    token_version: int
    jti: str
    issued_at: datetime
    expires_at: datetime
    #: The sign-in (refresh-token family) the token was issued for.
    session_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    expires_in: int


class AccessTokenIssuer(Protocol):
    """Signed, short-lived access tokens (JWT in production)."""

    def issue(self, user: User, *, now: datetime, session_id: uuid.UUID | None = None) -> IssuedAccessToken: ...

    def verify(self, token: str, *, now: datetime, allow_expired: bool = False) -> AccessClaims:
        """The claims of a valid token; raises ``InvalidToken`` for anything else. ``allow_expired``
        accepts a token whose lifetime is over (an open WebSocket re-checking who it serves)."""
        ...


class SecretGenerator(Protocol):
    """Opaque secrets (refresh tokens, API keys) and their one-way digests."""

    def refresh_token(self) -> str:
        """At least 256 random bits, URL-safe."""
        ...

    def api_key(self) -> str:
        """``pk_`` followed by at least 256 random bits, URL-safe."""
        ...

    def digest(self, secret: str) -> str:
        """The stored form of a secret (a keyed or plain SHA-256; never reversible)."""
        ...


class CommonPasswords(Protocol):
    def __contains__(self, password: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class UserAccessState:
    """What must be checked on every request, cached between requests."""

    is_active: bool
    token_version: int
    role: Role
    tier: Tier
    email: str
    #: Sessions (refresh-token families, as strings) signed out while their access tokens may still
    #: be unexpired: a token whose ``sid`` is listed is refused.
    ended_sessions: tuple[str, ...] = ()

    def to_dict(self) -> Mapping[str, object]:
        return {
            "is_active": self.is_active,
            "token_version": self.token_version,
            "role": self.role.value,
            "tier": self.tier.value,
            "email": self.email,
            "ended_sessions": list(self.ended_sessions),
        }


class AccessChanges(Protocol):
    """Tells every instance that a user's access state changed (an open WebSocket of theirs checks
    its credentials again, and closes when they no longer hold). Best effort, never raises."""

    async def access_changed(self, user_id: uuid.UUID) -> None: ...


class AuditedIdentityTransaction(IdentityTransaction, AuditTransaction, Protocol):
    """Identity's repositories and the audit log: for the use cases that record who did what."""
