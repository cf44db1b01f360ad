"""Request and response bodies of the chat routes, with their OpenAPI descriptions.

``MessageResponse`` is the JSON of ``MessageView.to_json()`` (the reply-stream events carry that
form; a test keeps the two equal).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec

from src.application.chat.views import (
    ConversationExport,
    ConversationPage,
    ConversationView,
    MessagePage,
    MessageView,
)
from src.domain.ai.injection import scan_prompt_injection
from src.domain.chat.defaults import DEFAULT_MAX_MESSAGE_CHARS
from src.domain.chat.errors import InvalidConversation
from src.domain.chat.model import MAX_SYSTEM_PROMPT_CHARS, MAX_TITLE_LENGTH, Grounding
from src.domain.llm.model import MessageRole

ModelId = Annotated[
    str, msgspec.Meta(min_length=3, max_length=200, description="`provider/model`, e.g. `offline/echo`.")
]
Title = Annotated[str, msgspec.Meta(max_length=MAX_TITLE_LENGTH * 2, description="Shown in lists; blank is none.")]
SystemPrompt = Annotated[str, msgspec.Meta(max_length=MAX_SYSTEM_PROMPT_CHARS + 1000)]
Temperature = Annotated[float, msgspec.Meta(ge=0.0, le=2.0, description="0 (focused) to 2 (varied).")]
ContextTokens = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        description=(
            "The most tokens of history a reply sends (the latest messages that fit), at most the model's "
            "context window; `null`: the deployment's `CHAT_CONTEXT_TOKENS`."
        ),
    ),
]


Knowledge = Annotated[
    bool | list[Annotated[str, msgspec.Meta(max_length=100)]] | None,
    msgspec.Meta(
        description=(
            "Ground the replies in your knowledge: `true` (your articles and the paragraphs), a list of tags "
            "(your articles carrying one of them), or `false`/`null` (not grounded)."
        )
    ),
]


class GroundingBody(msgspec.Struct):
    """Which of your knowledge grounds the replies: `true` for all of it, or a list of tags."""

    knowledge: Knowledge = None

    @classmethod
    def of(cls, grounding: Grounding | None) -> GroundingBody | None:
        return cls(knowledge=grounding.knowledge) if grounding is not None else None


BOTH_GROUNDINGS = "send either knowledge or grounding (two spellings of one setting), not both"


class CreateConversationRequest(msgspec.Struct, forbid_unknown_fields=True):
    title: Title | None = None
    model: ModelId | None = None
    system_prompt: SystemPrompt | None = None
    temperature: Temperature | None = None
    #: The issue's spelling, ``knowledge: true | [tags]``; ``grounding: {knowledge}`` is the same.
    knowledge: Knowledge = None
    grounding: GroundingBody | None = None

    def chosen_knowledge(self) -> bool | list[str] | None:
        if self.grounding is not None and self.knowledge is not None:
            raise InvalidConversation(BOTH_GROUNDINGS)
        return self.grounding.knowledge if self.grounding is not None else self.knowledge


class UpdateConversationRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Only the fields sent change; `null` clears `title`, `system_prompt`, `temperature` and `grounding`."""

    title: Title | msgspec.UnsetType | None = msgspec.UNSET
    model: ModelId | msgspec.UnsetType = msgspec.UNSET
    system_prompt: SystemPrompt | msgspec.UnsetType | None = msgspec.UNSET
    temperature: Temperature | msgspec.UnsetType | None = msgspec.UNSET
    knowledge: Knowledge | msgspec.UnsetType = msgspec.UNSET
    grounding: GroundingBody | msgspec.UnsetType | None = msgspec.UNSET
    archived: bool | msgspec.UnsetType = msgspec.UNSET
    context_tokens: ContextTokens | msgspec.UnsetType | None = msgspec.UNSET
    summarize: Annotated[
        bool | msgspec.UnsetType,
        msgspec.Meta(description="Keep a running summary of the turns beyond the cap and send it with replies."),
    ] = msgspec.UNSET

    def chosen_knowledge(self) -> bool | list[str] | msgspec.UnsetType | None:
        """The grounding sent (as ``knowledge`` or ``grounding``), ``UNSET`` when neither was."""
        if self.grounding is not msgspec.UNSET and self.knowledge is not msgspec.UNSET:
            raise InvalidConversation(BOTH_GROUNDINGS)
        if self.grounding is not msgspec.UNSET:
            return self.grounding.knowledge if self.grounding is not None else None
        return self.knowledge


class ConversationResponse(msgspec.Struct):
    id: uuid.UUID
    title: str | None
    model: str
    system_prompt: str | None
    temperature: float | None
    archived: bool
    grounding: GroundingBody | None
    created_at: datetime
    updated_at: datetime
    last_activity_at: Annotated[datetime, msgspec.Meta(description="The last message or reply: lists sort by it.")]
    generating_message_id: Annotated[
        uuid.UUID | None,
        msgspec.Meta(description="The reply being generated now, if any: follow it at `.../messages/{id}/stream`."),
    ]
    context_tokens: Annotated[
        int | None,
        msgspec.Meta(
            description="The conversation's cap on the history a reply sends; `null`: the deployment's "
            "`CHAT_CONTEXT_TOKENS`. Always held to the model's context window."
        ),
    ]
    summarize: Annotated[
        bool,
        msgspec.Meta(description="Whether older turns are folded into the running `summary` and sent with replies."),
    ]
    summary: Annotated[
        str | None,
        msgspec.Meta(description="The running summary of the turns beyond the cap (written by a background job)."),
    ]
    summary_through: Annotated[
        uuid.UUID | None,
        msgspec.Meta(description="The last message the summary covers; later ones are sent as they are."),
    ]
    summary_updated_at: datetime | None

    @classmethod
    def of(cls, view: ConversationView) -> ConversationResponse:
        return cls(
            id=view.id,
            title=view.title,
            model=view.model,
            system_prompt=view.system_prompt,
            temperature=view.temperature,
            archived=view.archived,
            grounding=GroundingBody.of(view.grounding),
            created_at=view.created_at,
            updated_at=view.updated_at,
            last_activity_at=view.last_activity_at,
            generating_message_id=view.generating_message_id,
            context_tokens=view.context_tokens,
            summarize=view.summarize,
            summary=view.summary,
            summary_through=view.summary_through,
            summary_updated_at=view.summary_updated_at,
        )


class ConversationPageResponse(msgspec.Struct):
    items: list[ConversationResponse]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: ConversationPage) -> ConversationPageResponse:
        return cls(
            items=[ConversationResponse.of(c) for c in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )


class UsageBody(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    estimated: Annotated[bool, msgspec.Meta(description="True when the provider reported none and Parley counted.")]


class CitationBody(msgspec.Struct):
    """A passage of your knowledge the model was given for a grounded reply."""

    n: Annotated[int, msgspec.Meta(description="Its number in the prompt: the reply cites it as `[n]`.")]
    kind: Annotated[str, msgspec.Meta(description="`article` or `paragraph`.")]
    id: uuid.UUID
    title: Annotated[str | None, msgspec.Meta(description="The article's title; null for a paragraph.")]
    snippet: Annotated[str, msgspec.Meta(description="About 200 characters, HTML-escaped, matches in `<mark>`.")]
    cited: Annotated[bool, msgspec.Meta(description="Whether the reply's text cites `[n]`.")]


class SafetyBody(msgspec.Struct):
    """Why a user message was flagged (``PROMPT_INJECTION_POLICY=flag``); left out when it was not."""

    prompt_injection: Annotated[
        dict[str, Any], msgspec.Meta(description="`{flagged, score, reasons}`, as `POST /safety/scan` says.")
    ]


def safety_of(view: MessageView, scan: bool) -> SafetyBody | None:
    if not scan or view.role is not MessageRole.USER:
        return None
    verdict = scan_prompt_injection(view.content)
    if not verdict.flagged:
        return None
    return SafetyBody({"flagged": True, "score": verdict.score, "reasons": list(verdict.reasons)})


class MessageResponse(msgspec.Struct, omit_defaults=True):
    id: uuid.UUID
    conversation_id: uuid.UUID
    role: Annotated[str, msgspec.Meta(description="`user` or `assistant`.")]
    content: str
    status: Annotated[str, msgspec.Meta(description="`generating` while a reply streams, then `complete`.")]
    model: str | None
    provider: str | None
    finish_reason: Annotated[
        str | None, msgspec.Meta(description="`stop`, `length`, `content_filter`, `cancelled` or `error`.")
    ]
    usage: UsageBody | None
    cost_micros: Annotated[int, msgspec.Meta(description="Micro-dollars, from the catalog's prices.")]
    latency_ms: int | None
    ttft_ms: Annotated[int | None, msgspec.Meta(description="Milliseconds from the request to the first text.")]
    error_code: Annotated[str | None, msgspec.Meta(description="Why a reply ended with `error`.")]
    citations: Annotated[
        list[CitationBody],
        msgspec.Meta(description="The passages a grounded reply was given, in prompt order; empty otherwise."),
    ]
    created_at: datetime
    safety: Annotated[
        SafetyBody | None,
        msgspec.Meta(description="Present on a user message the prompt-injection scanner flagged."),
    ] = None

    @classmethod
    def of(cls, view: MessageView, *, scan: bool = False) -> MessageResponse:
        """``scan``: say whether the prompt-injection scanner flags a user message (policy ``flag``)."""
        usage = view.usage
        return cls(
            id=view.id,
            conversation_id=view.conversation_id,
            role=view.role.value,
            content=view.content,
            status=view.status.value,
            model=view.model,
            provider=view.provider,
            finish_reason=view.finish_reason.value if view.finish_reason is not None else None,
            usage=UsageBody(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cached_tokens=usage.cached_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                estimated=usage.estimated,
            )
            if usage is not None
            else None,
            cost_micros=view.cost_micros,
            latency_ms=view.latency_ms,
            ttft_ms=view.ttft_ms,
            error_code=view.error_code,
            citations=[msgspec.convert(c, CitationBody) for c in view.citations],
            created_at=view.created_at,
            safety=safety_of(view, scan),
        )


class MessagePageResponse(msgspec.Struct):
    items: list[MessageResponse]
    total: int
    limit: int
    offset: Annotated[int, msgspec.Meta(description="Newer messages before this page.")]
    next_before: Annotated[
        uuid.UUID | None, msgspec.Meta(description="Pass as `before` for the next (older) page; null on the last.")
    ]

    @classmethod
    def of(cls, page: MessagePage, *, scan: bool = False) -> MessagePageResponse:
        return cls(
            items=[MessageResponse.of(m, scan=scan) for m in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            next_before=page.next_before,
        )


_CONTENT = f"1 to MAX_MESSAGE_CHARS characters ({DEFAULT_MAX_MESSAGE_CHARS:,} by default)."


class SendMessageRequest(msgspec.Struct, forbid_unknown_fields=True):
    content: Annotated[str, msgspec.Meta(description=_CONTENT)]
    model: ModelId | None = None


class RegenerateRequest(msgspec.Struct, forbid_unknown_fields=True):
    model: ModelId | None = None


class SentMessagesResponse(msgspec.Struct):
    user_message: MessageResponse
    assistant_message: MessageResponse


class StopResponse(msgspec.Struct):
    message_id: uuid.UUID
    status: Annotated[str, msgspec.Meta(description="`stopping`: the reply ends with `finish_reason` `cancelled`.")]


class ConversationExportResponse(msgspec.Struct):
    conversation: ConversationResponse
    messages: list[MessageResponse]
    exported_at: datetime

    @classmethod
    def of(cls, export: ConversationExport) -> ConversationExportResponse:
        return cls(
            conversation=ConversationResponse.of(export.conversation),
            messages=[MessageResponse.of(m) for m in export.messages],
            exported_at=export.exported_at,
        )
