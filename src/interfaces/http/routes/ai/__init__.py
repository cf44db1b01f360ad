"""The ``ai`` routes under ``/api/v1``: the safety scanner and the AI tools."""

from __future__ import annotations

from src.interfaces.http.routes.ai.safety import SafetyController
from src.interfaces.http.routes.ai.tools import AiToolsController, AiToolStatsController

AI_CONTROLLERS = [SafetyController, AiToolsController, AiToolStatsController]
