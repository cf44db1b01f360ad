"""The usage routes under ``/api/v1``: your usage and budget; per-user budgets for admins."""

from __future__ import annotations

from src.interfaces.http.routes.usage.usage import BudgetsController, UsageController

USAGE_CONTROLLERS = [UsageController, BudgetsController]
