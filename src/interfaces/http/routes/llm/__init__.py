"""The language model routes under ``/api/v1``."""

from __future__ import annotations

from src.interfaces.http.routes.llm.models import ModelsController

LLM_CONTROLLERS = [ModelsController]
