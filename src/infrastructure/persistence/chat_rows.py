"""Chat rows as the domain's entities: a ``ConversationModel`` / ``ChatMessageModel`` or a Core row of
their tables (same column names). Shared by the chat repositories and the message search."""

from __future__ import annotations

from typing import Any

from src.domain.chat.model import Conversation, Grounding, Message, MessageStatus
from src.domain.llm.model import FinishReason, MessageRole, PromptMessage, Usage


def conversation_of(row: Any) -> Conversation:
    """``row``: a ``ConversationModel`` or a Core row of its table (same names)."""
    return Conversation(
        id=row.id,
        user_id=row.user_id,
        title=row.title,
        model=row.model,
        system_prompt=row.system_prompt,
        temperature=row.temperature,
        archived=row.archived,
        grounding=Grounding.from_json(row.grounding),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_activity_at=row.last_activity_at,
        generating_message_id=row.generating_message_id,
        generating_until=row.generating_until,
        token_total=int(row.token_total),
        next_seq=row.next_seq,
        title_requested_at=row.title_requested_at,
        context_tokens=row.context_tokens,
        summarize=bool(row.summarize),
        summary=row.summary,
        summary_token_end=int(row.summary_token_end or 0),
        summary_through_id=row.summary_through_id,
        summary_updated_at=row.summary_updated_at,
        summary_requested_at=row.summary_requested_at,
    )


#: Roles by their stored value: a dict lookup, not an enum call, per row of a reply's context.
_ROLES = {role.value: role for role in MessageRole}


def prompt_message_of(row: Any) -> PromptMessage:
    return prompt_message(row.role, row.content, row.token_count)


def prompt_message(role: str, content: str, token_count: int | None) -> PromptMessage:
    """A context message of a message row's role, content and token count."""
    return PromptMessage(_ROLES.get(role) or MessageRole(role), content, token_count or None)


def message_of(row: Any) -> Message:
    """``row``: a ``ChatMessageModel`` or a Core row of its table (same names)."""
    usage = (
        Usage(
            input_tokens=row.input_tokens or 0,
            output_tokens=row.output_tokens or 0,
            cached_tokens=row.cached_tokens or 0,
            reasoning_tokens=row.reasoning_tokens or 0,
            estimated=bool(row.usage_estimated),
        )
        if row.input_tokens is not None
        else None
    )
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        user_id=row.user_id,
        seq=row.seq,
        role=MessageRole(row.role),
        content=row.content,
        status=MessageStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        model=row.model,
        provider=row.provider,
        finish_reason=FinishReason(row.finish_reason) if row.finish_reason else None,
        usage=usage,
        cost_micros=int(row.cost_micros),
        latency_ms=row.latency_ms,
        ttft_ms=row.ttft_ms,
        error_code=row.error_code,
        citations=tuple(dict(c) for c in row.citations or ()),
        token_start=int(row.token_start) if row.token_start is not None else None,
        token_count=row.token_count,
        last_event_id=row.last_event_id,
    )
