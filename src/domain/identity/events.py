"""What happens to accounts that other contexts (notifications, mail) react to."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from src.domain.shared.events import DomainEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class UserRegistered(DomainEvent):
    user_id: UUID
    display_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PasswordChanged(DomainEvent):
    user_id: UUID
    #: ``self`` (the user changed it) or ``admin`` (an administrator reset it).
    by: str = "self"


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshTokenReuseDetected(DomainEvent):
    """A rotated refresh token came back: it was copied, and the whole session was revoked."""

    user_id: UUID
    family_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKeyCreated(DomainEvent):
    user_id: UUID
    key_id: UUID
    name: str
    prefix: str
