"""The AI tools: summarize, classify, moderate, generate; the templates; per-tool counts for admins."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, SkipValidation
from litestar.status_codes import HTTP_200_OK

from src.application.ai.classify import ClassifyCommand
from src.application.ai.generate import GenerateCommand
from src.application.ai.moderate import ModerateCommand
from src.application.ai.summarize import SummarizeCommand
from src.domain.identity.model import Permission, Principal
from src.infrastructure.container import Container
from src.interfaces.http.auth import SECURITY, requires
from src.interfaces.http.routes.ai.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    GenerateRequest,
    GenerateResponse,
    ModerateRequest,
    ModerateResponse,
    SummarizeRequest,
    SummarizeResponse,
    TemplateList,
    TemplateResponse,
    ToolStatResponse,
    ToolStatsResponse,
)

CHARGED = (
    " Charged to your usage and budget and limited like chat (429 `rate_limited` or `budget_exceeded`); an "
    "identical request of yours is answered from the cache (`cached: true`, free). Needs `chat:use`."
)


class AiToolsController(Controller):
    path = "/ai"
    tags = ["ai"]
    security = SECURITY

    @post(
        "/summarize", status_code=HTTP_200_OK, summary="Summarize a text", description="At most `max_words`." + CHARGED
    )
    async def summarize(
        self,
        data: JSONBody[SummarizeRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> SummarizeResponse:
        command = SummarizeCommand(data.text, data.max_words, data.format, data.model)
        return SummarizeResponse.of(await container.ai.summarize(principal, command))

    @post(
        "/classify",
        status_code=HTTP_200_OK,
        summary="Classify a text",
        description="A category (yours with `labels`, else billing, technical, shipping, account, feedback, other) "
        "and the sentiment. A model's answer that is not the expected JSON twice is 502 `invalid_model_output`."
        + CHARGED,
    )
    async def classify(
        self,
        data: JSONBody[ClassifyRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ClassifyResponse:
        command = ClassifyCommand(data.text, tuple(data.labels or ()), data.model)
        return ClassifyResponse.of(await container.ai.classify(principal, command))

    @post(
        "/moderate",
        status_code=HTTP_200_OK,
        summary="Moderate a text",
        description="OpenAI's moderation endpoint when an OpenAI key is set, else the model, else Parley's rules "
        "(`source`)." + CHARGED,
    )
    async def moderate(
        self,
        data: JSONBody[ModerateRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> ModerateResponse:
        return ModerateResponse.of(await container.ai.moderate(principal, ModerateCommand(data.text, data.model)))

    @post(
        "/generate",
        status_code=HTTP_200_OK,
        summary="Write from a template",
        description="`params` fill the template's parameters (`GET /ai/templates`): a missing required one or an "
        "unknown one is 422 `invalid_template_parameters`; an unknown template is 404." + CHARGED,
        responses={404: ResponseSpec(None, description="`template_not_found`: no template of that name")},
    )
    async def generate(
        self,
        data: JSONBody[GenerateRequest],
        principal: SkipValidation[Principal],
        container: SkipValidation[Container],
    ) -> GenerateResponse:
        command = GenerateCommand(data.template, dict(data.params), data.model)
        return GenerateResponse.of(await container.ai.generate(principal, command))

    @get("/templates", summary="The generation templates", description="Each with its parameters.")
    async def templates(self, container: SkipValidation[Container]) -> TemplateList:
        items = [TemplateResponse.of(t) for t in container.ai.list_templates()]
        return TemplateList(items, len(items))


class AiToolStatsController(Controller):
    path = "/admin/ai-tools"
    tags = ["admin"]
    security = SECURITY
    guards = [requires(Permission.ANALYTICS_READ)]

    @get(
        "/stats",
        summary="AI tool counts",
        description="Successes, failures and cache hits per tool since this API process started (the same "
        "counts as `parley_ai_tool_requests_total` in `/metrics`). Needs `analytics:read`.",
    )
    async def stats(
        self, principal: SkipValidation[Principal], container: SkipValidation[Container]
    ) -> ToolStatsResponse:
        stats = container.ai.tool_stats(principal)
        return ToolStatsResponse(
            [ToolStatResponse(s.tool, s.success, s.failure, s.cache_hit) for s in stats], scope="process"
        )
