"""The audit log: record an event in the caller's transaction, read pages of it, prune old ones.

Use cases that change who may do what (roles, tiers, budgets, accounts, API keys), publish to
everyone, moderate content, or notice an attack (sign-in throttling, a reused refresh token) call
``record_audit`` inside their own unit of work, so the event commits with the change or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from src.application.admin.ports import AuditTransaction
from src.application.shared.ids import new_id
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.admin.audit import AuditAction, AuditActor, AuditEvent, AuditQuery, AuditTarget
from src.domain.identity.errors import Forbidden
from src.domain.identity.model import Permission, Principal


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


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditEvent]
    limit: int
    #: Pass as ``before`` for the next (older) page; ``None`` on the last page.
    next_before: uuid.UUID | None


class ListAuditEvents:
    """A page of the log, newest first; with ``query.after``, the events after it, oldest first (``audit:read``)."""

    def __init__(self, uow: UnitOfWorkFactory[AuditTransaction]) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, query: AuditQuery) -> AuditPage:
        if not principal.can(Permission.AUDIT_READ):
            raise Forbidden("This needs the audit:read permission")
        async with self._uow(read_only=True) as tx:
            # One more than asked: whether an older page exists, without counting the whole log.
            found = await tx.audit.page(query, limit=query.limit + 1)
        items = found[: query.limit]
        more = len(found) > query.limit and query.after is None
        return AuditPage(items=items, limit=query.limit, next_before=items[-1].id if more else None)


@dataclass(frozen=True, slots=True)
class AuditPruneResult:
    deleted: int


class PruneAuditEvents:
    """Deletes events older than the retention (``AUDIT_RETENTION_DAYS``), in committed batches."""

    def __init__(
        self, uow: UnitOfWorkFactory[AuditTransaction], clock: Clock, retention: timedelta, *, max_batches: int = 100
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._retention = retention
        self._max_batches = max_batches

    async def __call__(self, batch_size: int = 1000) -> AuditPruneResult:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        cutoff = self._clock.now() - self._retention
        deleted = 0
        for _ in range(self._max_batches):
            async with self._uow() as tx:
                removed = await tx.audit.delete_before(cutoff, batch_size=batch_size)
            deleted += removed
            if removed < batch_size:
                break
        return AuditPruneResult(deleted=deleted)
