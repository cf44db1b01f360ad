"""ListTemplates: the templates Generate knows."""

from __future__ import annotations

from collections.abc import Sequence

from src.application.ai.ports import TemplateCatalog
from src.domain.ai.model import (
    ToolTemplate,
)


class ListTemplates:
    def __init__(self, templates: TemplateCatalog) -> None:
        self._templates = templates

    def __call__(self) -> Sequence[ToolTemplate]:
        return self._templates.templates()
