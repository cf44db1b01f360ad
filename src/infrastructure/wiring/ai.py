"""The ``ai`` context's adapters and use cases, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from src.application.ai.chat_guard import ChatModerator, ChatSafetyGuard
from src.application.ai.classify import Classify
from src.application.ai.generate import Generate
from src.application.ai.get_tool_stats import GetToolStats
from src.application.ai.list_templates import ListTemplates
from src.application.ai.moderate import Moderate
from src.application.ai.pii_stream import ChatPiiPolicy
from src.application.ai.ports import ModerationQueue
from src.application.ai.runner import ToolRunner
from src.application.ai.safety import PiiScanner
from src.application.ai.scan_text import ScanText
from src.application.ai.settings import ToolSettings
from src.application.ai.summarize import Summarize
from src.application.shared.ports import Cache, Clock
from src.infrastructure.ai.decoder import MsgspecAnswerDecoder
from src.infrastructure.ai.metrics import PrometheusToolMetrics
from src.infrastructure.ai.moderation_queue import SqlModerationQueue
from src.infrastructure.ai.pii_recognizers import NationalIdRecognizer, PhoneNumberRecognizer
from src.infrastructure.ai.templates import FileTemplateCatalog
from src.infrastructure.persistence.unit_of_work import SqlAlchemyUnitOfWorkFactory
from src.infrastructure.settings import Settings
from src.infrastructure.wiring.llm import ModelAccess

if TYPE_CHECKING:  # the OpenAI SDK is imported only when a key is set
    from src.infrastructure.ai.moderation import OpenAIModeration


@dataclass(slots=True)
class AiUseCases:
    pii: PiiScanner
    scan_text: ScanText
    summarize: Summarize
    classify: Classify
    moderate: Moderate
    generate: Generate
    list_templates: ListTemplates
    tool_stats: GetToolStats
    moderation_queue: ModerationQueue
    #: Prompt-injection policy on chat messages and the moderation queue (SendMessage uses it).
    chat_guard: ChatSafetyGuard
    #: ``PII_REDACTION`` on chat prompts and replies (the reply launcher uses it).
    chat_pii: ChatPiiPolicy
    #: OpenAI's moderation endpoint when a key is set (its HTTP client is closed by ``aclose``).
    moderation_service: OpenAIModeration | None = None

    async def aclose(self) -> None:
        """Close the HTTP clients of the context (the container's shutdown)."""
        if self.moderation_service is not None:
            await self.moderation_service.aclose()


def build_moderation_service(settings: Settings) -> OpenAIModeration | None:
    """OpenAI's moderation endpoint when an OpenAI key is set (it is free), else none."""
    openai = settings.llm.provider_access("openai")
    if not openai.api_key:
        return None
    from src.infrastructure.ai.moderation import OpenAIModeration

    return OpenAIModeration(
        api_key=openai.api_key,
        base_url=openai.base_url,
        timeout=settings.llm.read_timeout,
        connect_timeout=settings.llm.connect_timeout,
    )


def build_ai(
    settings: Settings,
    *,
    uow: SqlAlchemyUnitOfWorkFactory,
    models: ModelAccess,
    cache: Cache,
    clock: Clock,
) -> AiUseCases:
    chat_model, catalog, limiter, budgets = models.chat_model, models.catalog, models.limiter, models.budgets
    pii = PiiScanner([PhoneNumberRecognizer(), NationalIdRecognizer()])
    templates = FileTemplateCatalog()
    queue = SqlModerationQueue(uow)
    moderation_service = build_moderation_service(settings)
    guard = ChatSafetyGuard(
        settings.ai.prompt_injection_policy,
        queue,
        pii,
        clock,
        moderator=ChatModerator(moderation_service) if settings.ai.moderate_chat else None,
    )
    runner = ToolRunner(
        uow,
        chat_model,
        catalog,
        cache,
        MsgspecAnswerDecoder(),
        PrometheusToolMetrics(),
        limiter=limiter,
        budgets=budgets,
        clock=clock,
        settings=ToolSettings(
            cache_ttl_seconds=settings.ai.tools_cache_ttl_seconds,
            shared_cache=settings.ai.tools_cache_shared,
            max_input_chars=settings.ai.tools_max_input_chars,
        ),
        guard=guard,
    )
    return AiUseCases(
        pii=pii,
        scan_text=ScanText(pii),
        summarize=Summarize(runner),
        classify=Classify(runner),
        moderate=Moderate(runner, moderation_service),
        generate=Generate(runner, templates),
        list_templates=ListTemplates(templates),
        tool_stats=GetToolStats(runner),
        moderation_queue=queue,
        chat_guard=guard,
        chat_pii=ChatPiiPolicy(pii, settings.ai.pii_redaction),
        moderation_service=moderation_service,
    )
