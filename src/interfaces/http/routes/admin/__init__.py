"""The admin console's routes under ``/api/v1``: analytics, system status, the audit log, the
moderation queue, and members' reports that feed it."""

from __future__ import annotations

from src.interfaces.http.routes.admin.analytics import AnalyticsController, SystemStatusController
from src.interfaces.http.routes.admin.audit_moderation import (
    AuditLogController,
    ModerationController,
    ReportsController,
)

AUDIT_MODERATION_CONTROLLERS = [AuditLogController, ModerationController, ReportsController]
ADMIN_CONTROLLERS = [AnalyticsController, SystemStatusController]
