"""Wiring of the admin console's audit log and moderation queue: their use cases and the audit prune job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from src.application.admin.list_audit_events import ListAuditEvents
from src.application.admin.list_moderation_items import ListModerationItems
from src.application.admin.prune_audit_events import PruneAuditEvents, PruneAuditEventsCommand
from src.application.admin.report_content import ReportContent
from src.application.admin.resolve_moderation_item import ResolveModerationItem
from src.infrastructure.queue.schedule import PRUNE_AUDIT

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from src.application.shared.ports import Clock
    from src.application.unit_of_work import AppUnitOfWorkFactory
    from src.infrastructure.queue.catalog import JobSpec
    from src.infrastructure.settings import Settings


@dataclass(slots=True)
class AuditModerationServices:
    list_audit_events: ListAuditEvents
    prune_audit_events: PruneAuditEvents
    list_moderation_items: ListModerationItems
    resolve_moderation_item: ResolveModerationItem
    report_content: ReportContent


def build_audit_moderation(
    settings: Settings, uow: AppUnitOfWorkFactory, clock: Clock, *, mask_excerpt: Callable[[str], str]
) -> AuditModerationServices:
    """``mask_excerpt``: the personal-data masker the scanners' queue excerpts go through too."""
    return AuditModerationServices(
        list_audit_events=ListAuditEvents(uow),
        prune_audit_events=PruneAuditEvents(uow, clock, timedelta(days=settings.admin.audit_retention_days)),
        list_moderation_items=ListModerationItems(uow),
        resolve_moderation_item=ResolveModerationItem(uow, clock),
        report_content=ReportContent(uow, clock, mask_excerpt=mask_excerpt),
    )


def audit_moderation_jobs(services: AuditModerationServices) -> list[JobSpec]:
    # The job catalog loads OpenTelemetry: imported here, not when the CLI builds the services.
    from src.infrastructure.queue.catalog import JobSpec

    async def prune(payload: Mapping[str, Any]) -> dict[str, int]:
        result = await services.prune_audit_events(
            PruneAuditEventsCommand(batch_size=int(payload.get("batch_size", 1000)))
        )
        return {"audit_events": result.deleted}

    return [JobSpec.of(PRUNE_AUDIT, prune)]
