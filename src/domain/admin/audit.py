"""The audit log: who changed what, when and from where, kept append-only.

Events are written by the use cases in the same transaction as the change they record, so a change
without its event (or an event without its change) cannot be committed. Nothing edits an event;
only the retention prune (``AUDIT_RETENTION_DAYS``) deletes old ones.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from src.domain.shared.errors import InvalidInput

#: A page of the log holds at most this many events.
MAX_AUDIT_PAGE = 200
#: The filters' longest accepted text (an action name, a target id).
MAX_FILTER_LENGTH = 100


class AuditAction(enum.StrEnum):
    """What happened. Stable strings: people filter on them and tools parse them."""

    USER_ROLE_CHANGED = "user.role_changed"
    USER_TIER_CHANGED = "user.tier_changed"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_PASSWORD_RESET = "user.password_reset"  # noqa: S105 - an action name, not a secret
    USER_BUDGET_CHANGED = "user.budget_changed"
    ANNOUNCEMENT_PUBLISHED = "announcement.published"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    SIGN_IN_THROTTLED = "auth.sign_in_throttled"
    REFRESH_TOKEN_REUSED = "auth.refresh_token_reused"  # noqa: S105 - an action name, not a secret
    MODERATION_DISMISSED = "moderation.dismissed"
    MODERATION_HIDDEN = "moderation.hidden"
    MODERATION_DELETED = "moderation.deleted"


class AuditTarget(enum.StrEnum):
    """What an event is about (``target_id`` names which one)."""

    USER = "user"
    API_KEY = "api_key"
    ANNOUNCEMENT = "announcement"
    SESSION = "session"
    MODERATION_ITEM = "moderation_item"


@dataclass(frozen=True, slots=True)
class AuditActor:
    """Who acted: a user (``user_id``), the CLI operator or nobody known (``user_id`` None), from where."""

    user_id: uuid.UUID | None
    ip: str | None = None
    #: ``access_token``, ``api_key``, ``system`` (the CLI) or ``anonymous`` (before sign-in).
    via: str = "anonymous"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_ip: str | None
    action: AuditAction
    target_type: AuditTarget
    target_id: str | None
    #: Plain JSON: what changed (``{"from": "free", "to": "pro"}``), never a secret.
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        id: uuid.UUID,
        at: datetime,
        actor: AuditActor,
        action: AuditAction,
        target_type: AuditTarget,
        target_id: uuid.UUID | str | None,
        data: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        details = dict(data or {})
        details.setdefault("via", actor.via)
        return cls(
            id=id,
            at=at,
            actor_id=actor.user_id,
            actor_ip=actor.ip,
            action=action,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            data=details,
        )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """A page of the log, newest first; ``before`` is the last event id of the previous page."""

    actor_id: uuid.UUID | None = None
    action: AuditAction | None = None
    target_id: str | None = None
    before: uuid.UUID | None = None
    limit: int = 50
    #: Several actions at once (the CLI's repeated ``--action``); ``action`` is one of them.
    actions: tuple[AuditAction, ...] = ()
    #: Following the log: only events newer than this id, OLDEST first (``before`` is then ignored).
    after: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_AUDIT_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_AUDIT_PAGE}", extra={"field": "limit"})
        if self.target_id is not None and not 1 <= len(self.target_id) <= MAX_FILTER_LENGTH:
            raise InvalidInput(f"target must be 1-{MAX_FILTER_LENGTH} characters", extra={"field": "target"})

    @property
    def action_filter(self) -> tuple[AuditAction, ...]:
        return tuple(dict.fromkeys((*self.actions, *((self.action,) if self.action else ()))))


def parse_action(raw: str) -> AuditAction:
    try:
        return AuditAction(raw.strip())
    except ValueError:
        known = ", ".join(a.value for a in AuditAction)
        raise InvalidInput(f"unknown audit action {raw!r}; known: {known}", extra={"field": "action"}) from None


def first_id_at(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of ``moment``'s millisecond: every event id from then on sorts after it
    (followers re-read a few seconds back with it, so an event that committed late is not missed)."""
    millis = int(moment.timestamp() * 1000) & ((1 << 48) - 1)
    return uuid.UUID(int=millis << 80 | 0x7 << 76 | 0b10 << 62)
