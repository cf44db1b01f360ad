"""Generate: a draft from a named template and its parameters (ai:generate)."""

from __future__ import annotations

from dataclasses import dataclass, field

from src.application.ai.ports import TemplateCatalog
from src.application.ai.runner import OFFLINE_PROVIDER, Bill, ToolOutcome, ToolRunner
from src.application.ai.tools import bill_of, offline_bill
from src.domain.ai.errors import InvalidToolInput, TemplateNotFound
from src.domain.ai.model import (
    GenerationResult,
)
from src.domain.identity.model import Permission, Principal
from src.domain.shared.errors import PermissionDenied


class Generate:
    def __init__(self, runner: ToolRunner, templates: TemplateCatalog) -> None:
        self._runner = runner
        self._templates = templates

    async def __call__(self, principal: Principal, command: GenerateCommand) -> ToolOutcome[GenerationResult]:
        if not principal.can(Permission.AI_GENERATE):
            raise PermissionDenied(f"Generation needs the {Permission.AI_GENERATE.value} permission")
        model = self._runner.model_for(principal, command.model)
        template = self._templates.get(command.template)
        if template is None:
            raise TemplateNotFound(
                f"no template {command.template!r}",
                extra={"templates": [t.name for t in self._templates.templates()]},
            )
        params = template.bind(command.params)
        if sum(len(v) for v in params.values()) > self._runner.settings.max_input_chars:
            raise InvalidToolInput(f"parameters are longer than {self._runner.settings.max_input_chars:,} characters")

        async def answer() -> tuple[GenerationResult, Bill]:
            if model.provider == OFFLINE_PROVIDER:
                draft = template.render_draft(params)
                return GenerationResult(template.name, draft), offline_bill(model, template.render(params), draft)
            system = "You write what the user's brief asks for, ready to use, without a preamble or a comment."
            completion = await self._runner.complete(model, system, template.render(params), template.max_output_tokens)
            return GenerationResult(template.name, completion.text.strip()), bill_of(completion)

        request = {"template": template.name, "params": params}
        user_input = "\n".join(params.values())
        return await self._runner.run(
            principal, "generate", model, request, GenerationResult, answer, user_input=user_input
        )


@dataclass(frozen=True, slots=True)
class GenerateCommand:
    template: str
    params: dict[str, str] = field(default_factory=dict)
    model: str | None = None
