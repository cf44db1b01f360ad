"""The ``generate`` templates: one TOML file each in ``templates/`` (name, description, parameters,
prompt, the offline draft). Read once; a malformed file fails at start-up, naming the file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from src.domain.ai.model import TemplateParameter, ToolTemplate

TEMPLATES_DIR = Path(__file__).with_name("templates")


class TemplateFileError(ValueError):
    pass


def _template(path: Path, data: dict[str, Any]) -> ToolTemplate:
    try:
        parameters = tuple(
            TemplateParameter(name, str(spec.get("description", "")), bool(spec.get("required", True)))
            for name, spec in data.get("parameters", {}).items()
        )
        template = ToolTemplate(
            name=path.stem,
            description=str(data["description"]),
            parameters=parameters,
            prompt=str(data["prompt"]),
            draft=str(data["draft"]),
            max_output_tokens=int(data.get("max_output_tokens", 600)),
        )
        sample = {p.name: "x" for p in parameters}
        template.render(sample)
        template.render_draft(sample)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateFileError(f"{path}: {exc!r}") from exc
    return template


class FileTemplateCatalog:
    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self._templates = {
            path.stem: _template(path, tomllib.loads(path.read_text(encoding="utf-8")))
            for path in sorted(directory.glob("*.toml"))
        }

    def templates(self) -> list[ToolTemplate]:
        return list(self._templates.values())

    def get(self, name: str) -> ToolTemplate | None:
        return self._templates.get(name)
