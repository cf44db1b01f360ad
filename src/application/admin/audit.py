"""The audit log: record an event in the caller's transaction (``list_audit_events`` reads pages of
it, ``prune_audit_events`` removes old ones).

Use cases that change who may do what (roles, tiers, budgets, accounts, API keys), publish to
everyone, moderate content, or notice an attack (sign-in throttling, a reused refresh token) call
``record_audit`` inside their own unit of work, so the event commits with the change or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from src.application.admin.ports import AuditTransaction
from src.application.shared.ids import new_id
from src.domain.admin.audit import AuditAction, AuditActor, AuditEvent, AuditTarget
from src.domain.identity.model import Principal


def actor_of(principal: Principal) -> AuditActor:
    """The CLI operator is no user's account: recorded with no actor id and ``via: system``."""
    return AuditActor(
        user_id=None if principal.is_system else principal.user_id, ip=principal.client_ip, via=principal.via
    )


async def record_audit(
    tx: AuditTransaction,
    actor: Principal | AuditActor,
    action: AuditAction,
    target_type: AuditTarget,
    target_id: uuid.UUID | str | None,
    *,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent.of(
        id=new_id(now),
        at=now,
        actor=actor_of(actor) if isinstance(actor, Principal) else actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=data,
    )
    await tx.audit.add(event)
    return event
