"""Conversation context: the running-summary job (``summarize_conversation``, wired in chat.py). The
reply path queues it through the outbox (``ReplyContext.request_summary``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from src.application.chat.summarize_conversation import SummarizeConversation, SummarizeConversationCommand
from src.infrastructure.queue.catalog import JobSpec
from src.infrastructure.queue.schedule import SUMMARIZE_CONVERSATION


def context_jobs(summarize: SummarizeConversation) -> list[JobSpec]:
    async def summarize_conversation(payload: Mapping[str, Any]) -> dict[str, Any]:
        command = SummarizeConversationCommand(
            conversation_id=uuid.UUID(str(payload["conversation_id"])),
            below_token_start=int(payload["below_token_start"]),
        )
        result = await summarize(command)
        return {"source": result.source, "turns": result.turns, "summary_token_end": result.summary_token_end}

    return [JobSpec.of(SUMMARIZE_CONVERSATION, summarize_conversation)]
