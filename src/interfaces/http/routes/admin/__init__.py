"""The admin console's routes under ``/api/v1/admin``: analytics and system status."""

from __future__ import annotations

from src.interfaces.http.routes.admin.analytics import AnalyticsController, SystemStatusController

ADMIN_CONTROLLERS = [AnalyticsController, SystemStatusController]
