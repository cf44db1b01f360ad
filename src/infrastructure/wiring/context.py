"""Conversation context: the running-summary job (``summarize_conversation``), built from the
container's adapters. The reply path queues it through the outbox (``ReplyLauncher.request_summary``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from src.application.chat.summarize_conversation import (
    SUMMARY_JOB,
    SummarizeConversation,
    SummarizeConversationCommand,
)
from src.application.llm.ports import ChatModel, ModelCatalog
from src.application.shared.ports import Clock
from src.application.unit_of_work import AppUnitOfWorkFactory
from src.infrastructure.queue.catalog import JobSpec
from src.infrastructure.settings import Settings


def build_summarize_conversation(
    settings: Settings, *, uow: AppUnitOfWorkFactory, chat_model: ChatModel, catalog: ModelCatalog, clock: Clock
) -> SummarizeConversation:
    return SummarizeConversation(
        uow,
        chat_model,
        catalog,
        clock,
        context_tokens=settings.chat_context_tokens,
        enabled=settings.chat_context_summary,
    )


def context_jobs(summarize: SummarizeConversation) -> list[JobSpec]:
    async def summarize_conversation(payload: Mapping[str, Any]) -> dict[str, Any]:
        command = SummarizeConversationCommand(
            conversation_id=uuid.UUID(str(payload["conversation_id"])),
            below_token_start=int(payload["below_token_start"]),
        )
        result = await summarize(command)
        return {"source": result.source, "turns": result.turns, "summary_token_end": result.summary_token_end}

    # Queued by a reply once a batch of turns fell out of its context; a retry is harmless (the
    # summary is stored only if it still ends where the job found it).
    return [JobSpec(name=SUMMARY_JOB, handler=summarize_conversation, timeout_seconds=120, retries=2)]
