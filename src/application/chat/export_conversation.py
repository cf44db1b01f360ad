"""ExportConversation: a whole conversation as JSON or Markdown (the REST export and the CLI)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from src.application.chat.access import owned_conversation
from src.application.chat.ports import ChatTransaction
from src.application.chat.views import ConversationExport, ConversationView, MessageView, iso
from src.application.shared.ports import Clock, UnitOfWorkFactory
from src.domain.chat.errors import ConversationNotFound, InvalidExportFormat
from src.domain.identity.model import Principal
from src.domain.llm.model import MessageRole
from src.domain.usage.model import micros_to_dollars

ExportFormat = Literal["json", "markdown"]
EXPORT_FORMATS: tuple[str, ...] = ("json", "markdown")
#: Messages are read in pages of this many, in one read-only transaction.
EXPORT_BATCH = 500


@dataclass(frozen=True, slots=True)
class ExportedConversation:
    export: ConversationExport
    format: ExportFormat
    #: The document: JSON text or Markdown.
    content: str
    media_type: str
    filename: str


@dataclass(frozen=True, slots=True)
class ExportConversationQuery:
    conversation_id: uuid.UUID
    #: ``json`` or ``markdown`` (anything else is ``invalid_export_format``).
    format: str


class ExportConversation:
    def __init__(self, uow: UnitOfWorkFactory[ChatTransaction], clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, principal: Principal, query: ExportConversationQuery) -> ExportedConversation:
        conversation_id, format = query.conversation_id, query.format
        if format not in EXPORT_FORMATS:
            raise InvalidExportFormat(f"format must be one of {', '.join(EXPORT_FORMATS)}")
        now = self._clock.now()
        messages: list[MessageView] = []
        async with self._uow(read_only=True) as tx:
            if principal.is_system:
                # The operator at the CLI exports any conversation (over HTTP, only one's own).
                found = await tx.conversations.get(conversation_id)
                if found is None:
                    raise ConversationNotFound()
                conversation = found
            else:
                conversation = await owned_conversation(tx, principal, conversation_id)
            after = 0
            while True:
                batch = await tx.messages.head(conversation.id, after_seq=after, limit=EXPORT_BATCH)
                messages.extend(MessageView.of(m) for m in batch)
                if len(batch) < EXPORT_BATCH:
                    break
                after = batch[-1].seq
        export = ConversationExport(
            conversation=ConversationView.of(conversation, now), messages=messages, exported_at=now
        )
        stem = f"conversation-{conversation.id}"
        if format == "json":
            return ExportedConversation(
                export,
                "json",
                json.dumps(export.to_json(), ensure_ascii=False, indent=2),
                "application/json",
                f"{stem}.json",
            )
        return ExportedConversation(export, "markdown", render_markdown(export), "text/markdown", f"{stem}.md")


def render_markdown(export: ConversationExport) -> str:
    """A readable transcript: the title, the settings, then each message under its speaker."""
    conversation = export.conversation
    lines = [f"# {conversation.title or 'Untitled conversation'}", ""]
    lines.append(f"- Model: `{conversation.model}`")
    lines.append(f"- Started: {iso(conversation.created_at)}")
    lines.append(f"- Exported: {iso(export.exported_at)}")
    if conversation.system_prompt:
        lines += ["", "## System prompt", "", conversation.system_prompt]
    total_cost = sum(m.cost_micros for m in export.messages)
    for message in export.messages:
        speaker = "You" if message.role is MessageRole.USER else "Assistant"
        lines += ["", f"## {speaker}", ""]
        lines.append(message.content if message.content else "_(no text)_")
        if message.citations:
            lines += ["", "Sources:", ""]
            lines += [_source_line(citation) for citation in message.citations]
        if message.role is MessageRole.ASSISTANT:
            details = [f"`{message.model}`"] if message.model else []
            if message.finish_reason is not None and message.finish_reason.value != "stop":
                details.append(f"finish: {message.finish_reason.value}")
            if message.usage is not None:
                details.append(f"{message.usage.input_tokens} in / {message.usage.output_tokens} out tokens")
            if message.cost_micros:
                details.append(f"${micros_to_dollars(message.cost_micros)}")
            if details:
                lines += ["", f"<sub>{' · '.join(details)}</sub>"]
    lines += ["", "---", f"{len(export.messages)} messages, ${micros_to_dollars(total_cost)} in total.", ""]
    return "\n".join(lines)


def _source_line(citation: Mapping[str, Any]) -> str:
    """``- [1] Pasta (article)``: a passage the reply was given, and whether its text cites it."""
    kind = str(citation.get("kind") or "passage")
    title = citation.get("title")
    name = f"{title} ({kind})" if title else kind
    return f"- [{citation.get('n')}] {name}" + ("" if citation.get("cited") else " (not cited)")
